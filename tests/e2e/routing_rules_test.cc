// Routing rules end to end (issue 11): the real ballast in front of demo
// backends, one pool per backend so X-Backend names the route taken.
// Conditions, splits, rewrites, header edits both ways, redirects and
// maintenance pages, allow/deny, rate limits, per-route timeouts and
// retries, and config errors from `ballast --check`.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <csignal>

#include "tests/support/harness.h"

using namespace ballast::test;

namespace {

// X-Backend of the answer, "403"/"404"/... when ballast answered itself.
std::string routeOf(Client& c, const std::string& method, const std::string& target,
                    const std::vector<std::string>& headers = {}, const std::string& host = "test.local") {
  ReadOptions opts;
  opts.method = method;
  Response r = c.roundTrip(request(method, target, headers, "", host), opts);
  if (r.hasHeader("X-Backend") && r.status == 200) return r.headerOr("X-Backend");
  return std::to_string(r.status);
}

// The value of one series in /metrics text, or -1 when it is absent.
double metricValue(const std::string& metrics, const std::string& series) {
  for (const std::string& line : splitLines(metrics)) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

std::string metricsOf(const Ballast& lb) { return fetch(lb.adminPort(), get("/metrics")).body; }

}  // namespace

TEST_CASE("routing rules: every kind of condition, first match wins", "[routing]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend fallback(dir, "fallback");
  Ballast lb(dir, configYaml({PoolSpec{"a", {{a.address(), 1}}}, PoolSpec{"b", {{b.address(), 1}}},
                              PoolSpec{"fallback", {{fallback.address(), 1}}}},
                             "routes:\n"
                             "  - { match: { path: /exact }, pool: a }\n"
                             "  - { match: { path_regex: \"/items/[0-9]+\" }, pool: b }\n"
                             "  - { match: { path_prefix: /w, methods: [POST, PUT] }, pool: a }\n"
                             "  - { match: { path_prefix: /h, headers: { x-canary: \"1\" } }, pool: b }\n"
                             "  - { match: { path_prefix: /hp, headers: { x-debug: { present: true } } }, pool: a }\n"
                             "  - { match: { path_prefix: /hr, headers: { user-agent: { regex: \".*Mobile.*\" } } }, pool: b }\n"
                             "  - { match: { path_prefix: /q, query: { debug: \"1\" } }, pool: a }\n"
                             "  - { match: { path_prefix: /c, client: [10.0.0.0/8] }, pool: a }\n"
                             "  - { match: { path_prefix: /c, client: [127.0.0.0/8] }, pool: b }\n"
                             "  - { match: { host: \"*.example.com\", path_prefix: /all, methods: [GET], "
                             "headers: { x-a: \"1\" }, query: { b: \"2\" }, client: [127.0.0.1] }, pool: b }\n"
                             "  - { pool: fallback }\n"));
  Client c(lb.port());
  CHECK(routeOf(c, "GET", "/exact") == "a");
  CHECK(routeOf(c, "GET", "/exact?x=1") == "a");
  CHECK(routeOf(c, "GET", "/exact/more") == "fallback");
  CHECK(routeOf(c, "GET", "/items/42") == "b");
  CHECK(routeOf(c, "GET", "/items/42x") == "fallback");
  CHECK(routeOf(c, "PUT", "/w") == "a");
  CHECK(routeOf(c, "GET", "/w") == "fallback");
  CHECK(routeOf(c, "GET", "/h", {"X-Canary: 1"}) == "b");
  CHECK(routeOf(c, "GET", "/h", {"X-Canary: 0"}) == "fallback");
  CHECK(routeOf(c, "GET", "/hp", {"X-Debug: 0"}) == "a");
  CHECK(routeOf(c, "GET", "/hp") == "fallback");
  CHECK(routeOf(c, "GET", "/hr", {"User-Agent: x Mobile y"}) == "b");
  CHECK(routeOf(c, "GET", "/hr", {"User-Agent: desktop"}) == "fallback");
  CHECK(routeOf(c, "GET", "/q?a=0&debug=1") == "a");
  CHECK(routeOf(c, "GET", "/q?debug=2") == "fallback");
  CHECK(routeOf(c, "GET", "/c") == "b");  // the test client is 127.0.0.1, not in 10/8
  CHECK(routeOf(c, "GET", "/all?b=2", {"X-A: 1"}, "x.example.com") == "b");
  CHECK(routeOf(c, "GET", "/all?b=2", {"X-A: 1"}, "example.com") == "fallback");
  CHECK(routeOf(c, "GET", "/all?b=2", {}, "x.example.com") == "fallback");
  CHECK(routeOf(c, "HEAD", "/all?b=2", {"X-A: 1"}, "x.example.com") == "fallback");
}

TEST_CASE("routing rules: a 95/5 split over 10,000 requests, and a sticky split by header", "[routing]") {
  TempDir dir;
  DemoBackend v1(dir, "v1");
  DemoBackend v2(dir, "v2");
  Ballast lb(dir, configYaml({PoolSpec{"v1", {{v1.address(), 1}}}, PoolSpec{"v2", {{v2.address(), 1}}}},
                             "routes:\n"
                             "  - match: { path_prefix: /sticky }\n"
                             "    split: [{ pool: v1, weight: 80 }, { pool: v2, weight: 20 }]\n"
                             "    split_key: header:X-User\n"
                             "  - split: [{ pool: v1, weight: 95 }, { pool: v2, weight: 5 }]\n"));
  std::map<std::string, int> n;
  for (const std::string& backend : backendsOf(lb.port(), 10000, "split")) ++n[backend];
  const double share = n["v2"] / 10000.0;
  // Printed for the note.
  std::printf("split 95/5 over 10000 requests: v1=%d v2=%d (v2 share %.2f%%)\n", n["v1"], n["v2"], share * 100);
  CHECK(n["v1"] + n["v2"] == 10000);
  CHECK(std::abs(share - 0.05) < 0.005);

  // By key: 400 users, each always on the same side; about 20% on v2.
  Client c(lb.port());
  std::map<std::string, std::string> side;
  int on_v2 = 0;
  for (int round = 0; round < 3; ++round) {
    for (int u = 0; u < 400; ++u) {
      const std::string user = "user-" + std::to_string(u);
      const std::string backend = routeOf(c, "GET", "/sticky/x", {"X-User: " + user});
      REQUIRE((backend == "v1" || backend == "v2"));
      if (round == 0) {
        side[user] = backend;
        if (backend == "v2") ++on_v2;
      } else {
        INFO(user);
        CHECK(side[user] == backend);
      }
    }
  }
  std::printf("sticky split 80/20 over 400 users: %d on v2\n", on_v2);
  CHECK(std::abs(on_v2 / 400.0 - 0.2) < 0.08);

  // /status shows what each route does.
  const std::string status = fetch(lb.adminPort(), get("/status")).body;
  CHECK(status.find("\"name\":\"routes[0]\",\"host\":\"\",\"path_prefix\":\"/sticky\"") != std::string::npos);
  CHECK(status.find("\"action\":\"split\",\"split\":[{\"pool\":\"v1\",\"weight\":95},{\"pool\":\"v2\",\"weight\":5}]") !=
        std::string::npos);
}

TEST_CASE("routing rules: rewrites and header edits both ways", "[routing]") {
  TempDir dir;
  DemoBackend be(dir, "be");
  Ballast lb(dir, configYaml({PoolSpec{"web", {{be.address(), 1}}}},
                             "routes:\n"
                             "  - match: { path_prefix: /api/ }\n"
                             "    rewrite: { path_prefix: /v2/, host: backend.internal }\n"
                             "    headers:\n"
                             "      request: { set: { X-Env: prod }, add: { X-Tag: two }, remove: [x-internal] }\n"
                             "      response: { set: { Cache-Control: no-store }, add: { X-Route: api }, remove: [x-conn-id] }\n"
                             "    pool: web\n"
                             "  - match: { path: /exact }\n"
                             "    rewrite: { path_prefix: /inner }\n"
                             "    pool: web\n"
                             "  - pool: web\n"));
  Client c(lb.port());
  Response r = c.roundTrip(request("GET", "/api/users?echo=head", {"X-Env: dev", "X-Tag: one", "X-Internal: secret"},
                                   "", "public.example"));
  REQUIRE(r.status == 200);
  const EchoedHead seen = parseEchoedHead(r.body);
  CHECK(seen.request_line == "GET /v2/users?echo=head HTTP/1.1");
  CHECK(seen.headerOr("Host") == "backend.internal");
  CHECK(seen.headerValues("X-Env") == std::vector<std::string>{"prod"});
  CHECK(seen.headerValues("X-Tag") == std::vector<std::string>{"one", "two"});
  CHECK_FALSE(seen.header("X-Internal").has_value());
  CHECK(seen.header("X-Request-Id").has_value());  // ballast's own headers are still there
  // Response edits.
  CHECK(r.headerOr("Cache-Control") == "no-store");
  CHECK(r.headerOr("X-Route") == "api");
  CHECK_FALSE(r.hasHeader("X-Conn-Id"));
  CHECK(r.headerOr("X-Backend") == "be");

  // An exact path rewritten keeps its query; Host passes unchanged.
  r = c.roundTrip(request("GET", "/exact?echo=head", {}, "", "public.example"));
  REQUIRE(r.status == 200);
  CHECK(parseEchoedHead(r.body).request_line == "GET /inner?echo=head HTTP/1.1");
  CHECK(parseEchoedHead(r.body).headerOr("Host") == "public.example");
  // Other routes are untouched.
  r = c.roundTrip(request("GET", "/other?echo=head", {"X-Internal: kept"}, "", "public.example"));
  REQUIRE(r.status == 200);
  CHECK(parseEchoedHead(r.body).request_line == "GET /other?echo=head HTTP/1.1");
  CHECK(parseEchoedHead(r.body).headerOr("X-Internal") == "kept");
  CHECK(r.hasHeader("X-Conn-Id"));
}

TEST_CASE("routing rules: redirects with {host} and {path}, and a maintenance page", "[routing]") {
  TempDir dir;
  DemoBackend be(dir, "be");
  Ballast lb(dir, configYaml({PoolSpec{"web", {{be.address(), 1}}}},
                             "routes:\n"
                             "  - { match: { path_prefix: /old/ }, rewrite: { path_prefix: /new/ },\n"
                             "      return: { status: 301, location: \"https://{host}{path}\" } }\n"
                             "  - { match: { path: /status.txt }, return: { status: 503, body: \"maintenance\" },\n"
                             "      headers: { response: { set: { Cache-Control: no-store } } } }\n"
                             "  - pool: web\n"));
  Client c(lb.port());
  Response r = c.roundTrip(request("GET", "/old/page?x=1", {}, "", "Shop.Example:8080"));
  CHECK(r.status == 301);
  CHECK(r.headerOr("Location") == "https://Shop.Example/new/page?x=1");
  CHECK(r.hasHeader("X-Request-Id"));
  CHECK(r.headerOr("Connection", "keep-alive") == "keep-alive");
  ReadOptions head;
  head.method = "HEAD";
  r = c.roundTrip(request("HEAD", "/old/a", {}, "", "shop.example"), head);
  CHECK(r.status == 301);
  CHECK(r.headerOr("Location") == "https://shop.example/new/a");
  CHECK(r.body.empty());

  r = c.roundTrip(get("/status.txt"));
  CHECK(r.status == 503);
  CHECK(r.body == "maintenance");
  CHECK(r.headerOr("Content-Length") == "11");
  CHECK(r.headerOr("Cache-Control") == "no-store");
  CHECK_FALSE(r.hasHeader("X-Backend"));
  // The same connection still reaches the backend.
  r = c.roundTrip(get("/status.txt2"));
  CHECK(r.headerOr("X-Backend") == "be");
  // The access log shows who answered: nobody upstream.
  bool logged = false;
  for (const std::string& line : lb.waitAccessLog(4)) {
    const JsonObject o = parseFlatJson(line);
    if (jsonText(o, "path") == "/status.txt") {
      logged = true;
      CHECK(jsonText(o, "status") == "503");
      CHECK(jsonText(o, "backend").empty());
      CHECK(jsonText(o, "termination") == "--");
      CHECK(jsonText(o, "route") == "routes[1]");
    }
  }
  CHECK(logged);
}

TEST_CASE("routing rules: allow and deny answer 403 and are counted", "[routing]") {
  TempDir dir;
  DemoBackend be(dir, "be");
  Ballast lb(dir, configYaml({PoolSpec{"web", {{be.address(), 1}}}},
                             "routes:\n"
                             "  - { name: denied, match: { path_prefix: /d }, deny: [127.0.0.0/8], pool: web }\n"
                             "  - { name: not-allowed, match: { path_prefix: /n }, allow: [10.0.0.0/8, \"::1\"], pool: web }\n"
                             "  - { name: allowed, match: { path_prefix: /a }, allow: [127.0.0.1], deny: [10.0.0.0/8], pool: web }\n"));
  Client c(lb.port());
  Response r = c.roundTrip(get("/d"));
  CHECK(r.status == 403);
  CHECK(r.body.find("not allowed") != std::string::npos);
  CHECK(r.headerOr("Connection", "keep-alive") == "keep-alive");
  CHECK(routeOf(c, "GET", "/n") == "403");
  CHECK(routeOf(c, "GET", "/n") == "403");
  CHECK(routeOf(c, "GET", "/a") == "be");
  const std::string m = metricsOf(lb);
  CHECK(metricValue(m, "ballast_route_denied_total{route=\"denied\"}") == 1);
  CHECK(metricValue(m, "ballast_route_denied_total{route=\"not-allowed\"}") == 2);
  CHECK(metricValue(m, "ballast_route_denied_total{route=\"allowed\"}") == 0);
}

TEST_CASE("routing rules: a rate limit answers 429 with Retry-After after the burst", "[routing]") {
  TempDir dir;
  DemoBackend be(dir, "be");
  // 0.2 per second: no token comes back during the test.
  Ballast lb(dir, configYaml({PoolSpec{"web", {{be.address(), 1}}}},
                             "routes:\n"
                             "  - name: by-user\n"
                             "    match: { path_prefix: /u }\n"
                             "    rate_limit: { requests_per_second: 0.2, burst: 3, key: \"header:X-User\" }\n"
                             "    pool: web\n"
                             "  - name: by-ip\n"
                             "    rate_limit: { requests_per_second: 0.2, burst: 5 }\n"
                             "    pool: web\n"));
  Client c(lb.port());
  for (int i = 0; i < 5; ++i) CHECK(routeOf(c, "GET", "/x") == "be");
  Response r = c.roundTrip(get("/x"));
  CHECK(r.status == 429);
  const int retry_after = std::stoi(r.headerOr("Retry-After", "0"));
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 5);
  CHECK(r.headerOr("Connection", "keep-alive") == "keep-alive");
  // A new connection from the same address shares the bucket.
  CHECK(fetch(lb.port(), get("/y")).status == 429);

  // Keyed by header: each user has its own burst.
  for (int i = 0; i < 3; ++i) CHECK(routeOf(c, "GET", "/u", {"X-User: alice"}) == "be");
  CHECK(routeOf(c, "GET", "/u", {"X-User: alice"}) == "429");
  CHECK(routeOf(c, "GET", "/u", {"X-User: bob"}) == "be");
  const std::string m = metricsOf(lb);
  CHECK(metricValue(m, "ballast_route_rate_limited_total{route=\"by-ip\"}") == 2);
  CHECK(metricValue(m, "ballast_route_rate_limited_total{route=\"by-user\"}") == 1);
  CHECK(metricValue(m, "ballast_route_rate_limit_keys{route=\"by-user\"}") == 2);
  CHECK(metricValue(m, "ballast_route_rate_limit_keys{route=\"by-ip\"}") == 1);
}

TEST_CASE("routing rules: per-route timeouts and retries override the defaults", "[routing]") {
  TempDir dir;
  DemoBackend slow(dir, "slow");
  DemoBackend live(dir, "live");
  DeadPort dead;
  Ballast lb(dir, configYaml({PoolSpec{"slow", {{slow.address(), 1}}},
                              PoolSpec{"mixed", {{dead.address(), 1}, {live.address(), 1}}}},
                             "timeouts: { backend_response: 10s }\n"
                             "routes:\n"
                             "  - { match: { path_prefix: /quick }, timeouts: { backend_response: 200ms }, pool: slow }\n"
                             "  - { match: { path_prefix: /slow }, pool: slow }\n"
                             "  - { match: { path_prefix: /noretry }, retries: { attempts: 0 }, pool: mixed }\n"
                             "  - { pool: mixed }\n"));
  Client c(lb.port());
  const auto t0 = Clock::now();
  Response r = c.roundTrip(get("/quick?delay=3000"));
  CHECK(r.status == 504);
  CHECK(Clock::now() - t0 < Ms(2500));
  r = fetch(lb.port(), get("/slow?delay=400"));
  CHECK(r.status == 200);  // the default 10 s applies

  // Round robin alternates between the dead and the live backend: with the
  // pool's retries every request is served, without them every other one fails.
  int failed = 0;
  for (int i = 0; i < 4; ++i) failed += fetch(lb.port(), get("/retry")).status == 502;
  CHECK(failed == 0);
  for (int i = 0; i < 4; ++i) failed += fetch(lb.port(), get("/noretry")).status == 502;
  CHECK(failed == 2);
}

TEST_CASE("routing rules: config errors name file, line, column and key", "[routing][cli]") {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  writeFile(path,
            "pools: [{ name: web, backends: [] }]\n"
            "routes:\n"
            "  - match: { path_regex: \"/a(b\" }\n"
            "    pool: web\n"
            "  - match: { client: [10.0.0.0/33] }\n"
            "    pool: web\n"
            "  - pool: web\n"
            "    rate_limt: { requests_per_second: 1 }\n");
  CliResult r = runBallastCli(dir, {"--check", "--config", path});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(path + ":3:26: routes[0].match.path_regex: invalid regular expression \"/a(b\": missing ): /a(b") !=
        std::string::npos);
  CHECK(r.err.find(path + ":5:23: routes[1].match.client[0]: prefix length must be between 0 and 32") !=
        std::string::npos);
  CHECK(r.err.find(path + ":8:5: routes[2].rate_limt: unknown key (did you mean \"rate_limit\"?)") != std::string::npos);
  CHECK(r.err.find("3 errors") != std::string::npos);
}

TEST_CASE("routing rules: examples/routing.yaml passes --check", "[routing][cli]") {
  TempDir dir;
  CliResult r = runBallastCli(dir, {"--check", "--config", std::string(BALLAST_SOURCE_DIR) + "/examples/routing.yaml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("routing rules: a reload keeps a route's buckets and counters while its limit stays", "[routing]") {
  TempDir dir;
  DemoBackend be(dir, "be");
  const auto config = [&](const std::string& extra_route, int burst) {
    return configYaml({PoolSpec{"web", {{be.address(), 1}}}},
                      "routes:\n" + extra_route +
                          "  - { name: limited, rate_limit: { requests_per_second: 0.1, burst: " +
                          std::to_string(burst) + " }, pool: web }\n");
  };
  Ballast lb(dir, config("", 2));
  const auto reload = [&](const std::string& yaml) {
    const size_t done = countEvents(lb, "config_reloaded");
    replaceConfig(lb.configPath(), yaml);
    lb.process().signal(SIGHUP);
    waitEvent(lb, "config_reloaded", {}, Ms(5000), done);
  };
  CHECK(fetch(lb.port(), get("/")).status == 200);
  CHECK(fetch(lb.port(), get("/")).status == 200);
  CHECK(fetch(lb.port(), get("/")).status == 429);

  // Another route added in front: "limited" keeps its empty bucket and its count.
  reload(config("  - { match: { path: /other }, pool: web }\n", 2));
  CHECK(fetch(lb.port(), get("/")).status == 429);
  CHECK(metricValue(metricsOf(lb), "ballast_route_rate_limited_total{route=\"limited\"}") == 2);

  // A changed limit starts with full buckets; the count stays.
  reload(config("", 3));
  for (int i = 0; i < 3; ++i) CHECK(fetch(lb.port(), get("/")).status == 200);
  CHECK(fetch(lb.port(), get("/")).status == 429);
  CHECK(metricValue(metricsOf(lb), "ballast_route_rate_limited_total{route=\"limited\"}") == 3);
}
