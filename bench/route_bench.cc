// Route matching cost with 10 and 1,000 routes (issue 11: a config with
// 1,000 routes must add under 1 microsecond per request over 10 routes).
//
//   cmake --build build --target route-bench && build/bin/route-bench
//
// Each benchmark builds routes from YAML through the real loader and
// router, then matches and decides a rotating set of requests: some hit
// early routes, some the last ones, some nothing (a 404 is the full miss).
// Two shapes:
//   hosts    - route i serves host svcI.example.com (every 4th a
//              "*.zoneI.example.com" wildcard), some with a path prefix
//              and a header condition;
//   prefixes - every route on the same host, each with its own path
//              prefix of varying length (the case a per-host list would
//              scan linearly).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/http/http_message.h"
#include "lb/proxy/route_match.h"
#include "lb/proxy/router.h"

namespace {

using ballast::Header;
using ballast::Pool;
using ballast::Route;
using ballast::RouteDecision;
using ballast::Router;
using ballast::RouteRequest;

struct Fixture {
  ballast::config::Config cfg;
  Router router;
  int pool_storage[2] = {};
  std::vector<Pool*> pools{reinterpret_cast<Pool*>(&pool_storage[0]), reinterpret_cast<Pool*>(&pool_storage[1])};

  struct Request {
    std::string host;
    std::string target;
    std::vector<std::string> header_text;
    std::vector<Header> headers;
  };
  std::vector<Request> requests;

  explicit Fixture(const std::string& routes_yaml) {
    const std::string yaml =
        "pools:\n"
        "  - { name: a, backends: [{ address: 127.0.0.1:9001 }] }\n"
        "  - { name: b, backends: [{ address: 127.0.0.1:9002 }] }\n"
        "routes:\n" +
        routes_yaml;
    ballast::config::LoadResult r = ballast::config::loadConfigString(yaml);
    if (!r.ok()) {
      for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.format().c_str());
      std::abort();
    }
    cfg = std::move(*r.config);
    router.build(cfg, pools);
  }

  void addRequest(std::string host, std::string target, std::vector<std::string> headers = {}) {
    Request q{std::move(host), std::move(target), std::move(headers), {}};
    requests.push_back(std::move(q));
  }
  // Header spans point into header_text: fill them once every request is in.
  void finish() {
    for (Request& q : requests) {
      for (const std::string& line : q.header_text) {
        const size_t colon = line.find(':');
        std::string_view l(line);
        q.headers.push_back(Header{l.substr(0, colon), ballast::trimOws(l.substr(colon + 1))});
      }
    }
  }
};

Fixture hostsFixture(int n) {
  std::string yaml;
  for (int i = 0; i < n; ++i) {
    std::string match;
    if (i % 4 == 3) {
      match = "host: \"*.zone" + std::to_string(i) + ".example.com\"";
    } else {
      match = "host: svc" + std::to_string(i) + ".example.com";
    }
    if (i % 2 == 0) match += ", path_prefix: /api/v" + std::to_string(i % 3);
    if (i % 10 == 0) match += ", headers: { x-canary: \"1\" }";
    yaml += "  - { match: { " + match + " }, pool: " + (i % 2 ? "a" : "b") + " }\n";
  }
  Fixture f(yaml);
  for (int k = 0; k < 64; ++k) {
    const int i = (k * 7919) % n;  // spread over the table
    const std::string host = i % 4 == 3 ? "www.zone" + std::to_string(i) + ".example.com"
                                        : "svc" + std::to_string(i) + ".example.com";
    switch (k % 4) {
      case 0: f.addRequest(host + ":8080", "/api/v" + std::to_string(i % 3) + "/users/42?page=2", {"X-Canary: 1"}); break;
      case 1: f.addRequest(host, "/api/v" + std::to_string(i % 3) + "/items"); break;
      case 2: f.addRequest("svc" + std::to_string(n - 1) + ".example.com", "/static/app.js"); break;  // the last route
      default: f.addRequest("unknown.example.org", "/api/v1/users"); break;                            // no match: 404
    }
  }
  f.finish();
  return f;
}

Fixture prefixesFixture(int n) {
  std::string yaml;
  for (int i = 0; i < n; ++i) {
    // Lengths vary: /s0/, /svc1/, /service2/ ... /service998/.
    const std::string name = std::string(i % 3 == 0 ? "s" : i % 3 == 1 ? "svc" : "service") + std::to_string(i);
    yaml += "  - { match: { host: api.example.com, path_prefix: /" + name + "/ }, pool: a }\n";
  }
  Fixture f(yaml);
  for (int k = 0; k < 64; ++k) {
    const int i = (k * 7919) % n;
    const std::string name = std::string(i % 3 == 0 ? "s" : i % 3 == 1 ? "svc" : "service") + std::to_string(i);
    if (k % 4 == 3) {
      f.addRequest("api.example.com", "/nothing/here");  // no match: 404
    } else {
      f.addRequest("api.example.com", "/" + name + "/users/42");
    }
  }
  f.finish();
  return f;
}

void run(benchmark::State& state, Fixture& f) {
  RouteDecision d;
  size_t k = 0;
  uint64_t now = 1;
  for (auto _ : state) {
    const Fixture::Request& q = f.requests[k++ & 63];
    const RouteRequest req(q.host, q.target, "GET", q.headers, "192.0.2.10");
    const Route* r = f.router.match(req);
    if (r != nullptr) r->decide(req, ++now, d);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RouteByHost(benchmark::State& state) {
  Fixture f = hostsFixture(static_cast<int>(state.range(0)));
  run(state, f);
}
BENCHMARK(BM_RouteByHost)->Arg(10)->Arg(1000);

void BM_RouteByPathPrefix(benchmark::State& state) {
  Fixture f = prefixesFixture(static_cast<int>(state.range(0)));
  run(state, f);
}
BENCHMARK(BM_RouteByPathPrefix)->Arg(10)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
