// Route conditions (RouteMatch, RouteRequest), CIDR blocks, header edits,
// traffic splits and the rate limiter: no loop, no sockets. Routes come
// from YAML through the real loader, so what is tested is what an operator
// writes.

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/http/http_message.h"
#include "lb/proxy/header_edit.h"
#include "lb/proxy/rate_limiter.h"
#include "lb/proxy/route_match.h"
#include "lb/proxy/router.h"
#include "lb/proxy/traffic_split.h"

using ballast::ClientAddress;
using ballast::Header;
using ballast::HeaderEdits;
using ballast::Pool;
using ballast::RateLimiter;
using ballast::Route;
using ballast::RouteDecision;
using ballast::Router;
using ballast::RouteRequest;
using ballast::TrafficSplit;
namespace config = ballast::config;

namespace {

config::Config loadRoutes(const std::string& routes_yaml) {
  const std::string yaml =
      "pools:\n"
      "  - { name: a, backends: [{ address: 127.0.0.1:9001 }] }\n"
      "  - { name: b, backends: [{ address: 127.0.0.1:9002 }] }\n"
      "  - { name: c, backends: [{ address: 127.0.0.1:9003 }] }\n"
      "routes:\n" +
      routes_yaml;
  config::LoadResult r = config::loadConfigString(yaml);
  std::string errors;
  for (const auto& e : r.errors) errors += e.format() + "\n";
  INFO(errors);
  REQUIRE(r.ok());
  return std::move(*r.config);
}

// Distinct, never dereferenced Pool pointers: the addresses of ints.
struct FakePools {
  int storage[3] = {};
  std::vector<Pool*> pools;
  FakePools() {
    for (int& i : storage) pools.push_back(reinterpret_cast<Pool*>(&i));
  }
  std::string nameOf(const Pool* p) const {
    for (size_t i = 0; i < pools.size(); ++i) {
      if (pools[i] == p) return std::string(1, static_cast<char>('a' + i));
    }
    return "?";
  }
};

// A request as the router sees it; header lines are "Name: value".
struct Req {
  std::string host = "example.com";
  std::string target = "/";
  std::string method = "GET";
  std::vector<std::string> header_lines;
  std::string client = "192.0.2.10";

  std::vector<Header> headers;
  RouteRequest view() {
    headers.clear();
    for (const std::string& line : header_lines) {
      const size_t colon = line.find(':');
      std::string_view l(line);
      headers.push_back(Header{l.substr(0, colon), ballast::trimOws(l.substr(colon + 1))});
    }
    return RouteRequest(host, target, method, headers, client);
  }
};

// Name of the route `req` matches ("" for none): the routes in these
// tests are all named.
std::string routeName(const Router& router, Req req) {
  const Route* r = router.match(req.view());
  return r == nullptr ? "" : r->name;
}

}  // namespace

TEST_CASE("route conditions: each kind, alone and together", "[route_match]") {
  const config::Config cfg = loadRoutes(R"(
  - { name: exact-path, match: { path: /login }, pool: a }
  - { name: regex, match: { path_regex: "/users/[0-9]+" }, pool: a }
  - { name: methods, match: { path_prefix: /write, methods: [POST, PUT] }, pool: a }
  - { name: header-equals, match: { path_prefix: /h, headers: { X-Canary: "1" } }, pool: a }
  - { name: header-present, match: { path_prefix: /p, headers: { x-debug: { present: true } } }, pool: a }
  - { name: header-absent, match: { path_prefix: /n, headers: { x-debug: { present: false } } }, pool: a }
  - { name: header-regex, match: { path_prefix: /r, headers: { user-agent: { regex: ".*Mobile.*" } } }, pool: a }
  - { name: query, match: { path_prefix: /q, query: { debug: "1", "a b": { present: true } } }, pool: a }
  - { name: query-regex, match: { path_prefix: /qr, query: { id: { regex: "[a-f]+" } } }, pool: a }
  - { name: client, match: { path_prefix: /c, client: [10.0.0.0/8, "2001:db8::/32"] }, pool: a }
  - { name: all, match: { host: "*.example.com", path_prefix: /all, methods: [GET], headers: { x-a: "1" }, query: { b: "2" }, client: [192.0.2.0/24] }, pool: a }
  - { name: fallback, pool: b }
)");
  FakePools fp;
  Router router;
  router.build(cfg, fp.pools);

  struct Row {
    const char* what;
    Req req;
    const char* route;
  };
  auto req = [](std::string target, std::vector<std::string> headers = {}, std::string method = "GET",
                std::string client = "192.0.2.10", std::string host = "example.com") {
    Req r;
    r.target = std::move(target);
    r.header_lines = std::move(headers);
    r.method = std::move(method);
    r.client = std::move(client);
    r.host = std::move(host);
    return r;
  };
  const std::vector<Row> rows = {
      {"exact path", req("/login"), "exact-path"},
      {"exact path ignores the query", req("/login?next=/x"), "exact-path"},
      {"exact path is not a prefix", req("/login/x"), "fallback"},
      {"regex matches the whole path", req("/users/42"), "regex"},
      {"regex: not a partial match", req("/users/42/edit"), "fallback"},
      {"regex: query not part of the path", req("/users/42?x=y"), "regex"},
      {"method in the list", req("/write", {}, "PUT"), "methods"},
      {"method not in the list", req("/write", {}, "GET"), "fallback"},
      {"header equals (name case-insensitive)", req("/h", {"x-canary: 1"}), "header-equals"},
      {"header value differs", req("/h", {"X-Canary: 2"}), "fallback"},
      {"header: any of several lines", req("/h", {"X-Canary: 0", "X-Canary: 1"}), "header-equals"},
      {"header missing", req("/h"), "fallback"},
      {"header present, empty value", req("/p", {"X-Debug:"}), "header-present"},
      {"header present: missing", req("/p"), "fallback"},
      {"header absent", req("/n"), "header-absent"},
      {"header absent: present", req("/n", {"X-DEBUG: 0"}), "fallback"},
      {"header regex", req("/r", {"User-Agent: Foo Mobile Bar"}), "header-regex"},
      {"header regex: no match", req("/r", {"User-Agent: Desktop"}), "fallback"},
      {"query both", req("/q?debug=1&a%20b"), "query"},
      {"query decoded value", req("/q?a+b=&debug=%31&a%20b=x"), "query"},
      {"query value differs", req("/q?debug=2&a%20b"), "fallback"},
      {"query parameter missing", req("/q?debug=1"), "fallback"},
      {"no query at all", req("/q"), "fallback"},
      {"query regex", req("/qr?id=abc"), "query-regex"},
      {"query regex: whole value", req("/qr?id=abcx"), "fallback"},
      {"client in an IPv4 block", req("/c", {}, "GET", "10.200.3.4"), "client"},
      {"client as IPv4-mapped IPv6", req("/c", {}, "GET", "::ffff:10.1.1.1"), "client"},
      {"client in an IPv6 block", req("/c", {}, "GET", "2001:db8:1::5"), "client"},
      {"client outside", req("/c", {}, "GET", "11.0.0.1"), "fallback"},
      {"client outside (IPv6)", req("/c", {}, "GET", "2001:db9::1"), "fallback"},
      {"every condition", req("/all?b=2", {"X-A: 1"}, "GET", "192.0.2.99", "x.example.com"), "all"},
      {"every condition but the host", req("/all?b=2", {"X-A: 1"}, "GET", "192.0.2.99", "example.com"), "fallback"},
      {"every condition but the method", req("/all?b=2", {"X-A: 1"}, "HEAD", "192.0.2.99", "x.example.com"), "fallback"},
      {"every condition but the header", req("/all?b=2", {}, "GET", "192.0.2.99", "x.example.com"), "fallback"},
      {"every condition but the query", req("/all?b=3", {"X-A: 1"}, "GET", "192.0.2.99", "x.example.com"), "fallback"},
      {"every condition but the client", req("/all?b=2", {"X-A: 1"}, "GET", "192.0.3.1", "x.example.com"), "fallback"},
  };
  for (const Row& row : rows) {
    INFO(row.what << ": " << row.req.method << " " << row.req.target);
    CHECK(routeName(router, row.req) == row.route);
  }
}

TEST_CASE("router index: first match wins across hosts, wildcards and path kinds", "[route_match]") {
  // Interleaved so that a later, more specific route in another index list
  // must lose to an earlier one.
  const config::Config cfg = loadRoutes(R"(
  - { name: r0, match: { host: api.example.com, path_prefix: /v1/admin, headers: { x-admin: "1" } }, pool: a }
  - { name: r1, match: { path_prefix: /v1/ }, pool: a }
  - { name: r2, match: { host: api.example.com, path_prefix: /v1 }, pool: a }
  - { name: r3, match: { host: "*.example.com", path: /exact }, pool: a }
  - { name: r4, match: { host: api.example.com }, pool: a }
  - { name: r5, match: { host: "*.b.example.com" }, pool: a }
  - { name: r6, match: { host: "*.example.com" }, pool: a }
  - { name: r7, match: { path_regex: "/x.*" }, pool: a }
)");
  FakePools fp;
  Router router;
  router.build(cfg, fp.pools);
  auto route = [&](std::string host, std::string target, std::vector<std::string> headers = {}) {
    Req r;
    r.host = std::move(host);
    r.target = std::move(target);
    r.header_lines = std::move(headers);
    return routeName(router, r);
  };
  CHECK(route("api.example.com", "/v1/admin/x", {"x-admin: 1"}) == "r0");
  CHECK(route("api.example.com", "/v1/admin/x") == "r1");  // r0's header fails; r1 (any host) comes next
  CHECK(route("api.example.com", "/v1") == "r2");
  CHECK(route("API.EXAMPLE.COM:443", "/exact?q") == "r3");
  CHECK(route("api.example.com", "/exactly") == "r4");
  CHECK(route("a.b.example.com", "/") == "r5");
  CHECK(route("a.c.example.com", "/") == "r6");
  CHECK(route("b.example.com", "/") == "r6");  // "*.b.example.com" needs a label before ".b"
  CHECK(route("other.org", "/v1/x") == "r1");
  CHECK(route("other.org", "/xyz") == "r7");
  CHECK(route("other.org", "/y") == "");
  CHECK(route(std::string(300, 'a') + ".example.com", "/x1") == "r7");  // over-long host: host-less routes only
}

TEST_CASE("router index agrees with a plain first-match scan on many routes", "[route_match]") {
  // 300 routes over a few hosts, wildcards and prefixes of many lengths;
  // every request is checked against the obvious linear definition.
  std::string yaml;
  const char* hosts[] = {"", "a.test", "*.test", "*.a.test", "b.test"};
  for (int i = 0; i < 300; ++i) {
    std::string match;
    const std::string host = hosts[i % 5];
    if (!host.empty()) match += "host: \"" + host + "\", ";
    if (i % 3 == 0) {
      match += "path: /p" + std::to_string(i % 17);
    } else if (i % 3 == 1) {
      match += "path_prefix: /p" + std::to_string(i % 23);
    } else {
      match += "methods: [" + std::string(i % 2 ? "GET" : "POST") + "]";
    }
    yaml += "  - { name: r" + std::to_string(i) + ", match: { " + match + " }, pool: a }\n";
  }
  const config::Config cfg = loadRoutes(yaml);
  FakePools fp;
  Router router;
  router.build(cfg, fp.pools);

  auto linear = [&](const Req& q) -> std::string {
    std::string host(Router::stripPort(q.host));
    for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string path = q.target.substr(0, q.target.find('?'));
    for (const config::RouteConfig& rc : cfg.routes) {
      if (!rc.host.empty()) {
        if (rc.host[0] == '*') {
          const std::string suffix = rc.host.substr(1);
          if (host.size() <= suffix.size() || host.compare(host.size() - suffix.size(), suffix.size(), suffix) != 0) {
            continue;
          }
        } else if (host != rc.host) {
          continue;
        }
      }
      if (!rc.path.empty() && path != rc.path) continue;
      if (!rc.path_prefix.empty() && q.target.compare(0, rc.path_prefix.size(), rc.path_prefix) != 0) continue;
      if (!rc.methods.empty() && rc.methods[0] != q.method) continue;
      return rc.name;
    }
    return "";
  };
  int checked = 0;
  for (const char* host : {"a.test", "x.a.test", "b.test", "c.test", "test", "A.TEST:80", "z.y.a.test"}) {
    for (int p = 0; p < 25; ++p) {
      for (const char* suffix : {"", "/x", "?q=1", "0"}) {
        for (const char* method : {"GET", "POST", "PUT"}) {
          Req q;
          q.host = host;
          q.target = "/p" + std::to_string(p) + suffix;
          q.method = method;
          INFO(q.host << " " << q.method << " " << q.target);
          REQUIRE(routeName(router, q) == linear(q));
          ++checked;
        }
      }
    }
  }
  CHECK(checked == 7 * 25 * 4 * 3);
}

TEST_CASE("CIDR blocks and client addresses", "[route_match]") {
  const config::Config cfg = loadRoutes(R"(
  - { name: r, match: { client: [10.0.0.0/8, 192.168.1.128/25, 203.0.113.7, "::1", "fd00::/8", 0.0.0.0/0] }, pool: a }
)");
  const auto& blocks = cfg.routes[0].client;
  REQUIRE(blocks.size() == 6);
  auto in = [&](size_t i, const char* ip) { return ballast::cidrContains(blocks[i], ballast::parseClientAddress(ip)); };
  CHECK(in(0, "10.255.255.255"));
  CHECK_FALSE(in(0, "11.0.0.0"));
  CHECK(in(1, "192.168.1.128"));
  CHECK(in(1, "192.168.1.255"));
  CHECK_FALSE(in(1, "192.168.1.127"));
  CHECK(in(2, "203.0.113.7"));  // a bare address is a /32
  CHECK_FALSE(in(2, "203.0.113.8"));
  CHECK(in(3, "::1"));
  CHECK_FALSE(in(3, "::2"));
  CHECK(in(4, "fdff::1"));
  CHECK_FALSE(in(4, "fe00::1"));
  CHECK(in(5, "8.8.8.8"));
  CHECK_FALSE(in(5, "::8"));           // families never mix
  CHECK(in(0, "::ffff:10.0.0.1"));     // IPv4-mapped counts as IPv4
  CHECK_FALSE(in(0, "not an address"));
  CHECK(ballast::parseClientAddress("").family == 0);
}

TEST_CASE("header edits on a serialised head", "[header_edit]") {
  config::HeaderEditConfig c;
  c.set = {{"X-Env", "prod"}, {"Server", "ballast"}};
  c.add = {{"Vary", "X-Canary"}};
  c.remove = {"x-internal", "x-conn-id"};
  const HeaderEdits edits(c);
  std::string msg =
      "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Internal: secret\r\nVary: Accept\r\nx-env: dev\r\nX-ENV: dev2\r\n"
      "X-Conn-Id: 7\r\nContent-Length: 5\r\n\r\nhello";
  std::string scratch;
  edits.apply(msg, scratch);
  CHECK(msg ==
        "HTTP/1.1 200 OK\r\nVary: Accept\r\nContent-Length: 5\r\nX-Env: prod\r\nServer: ballast\r\nVary: X-Canary\r\n"
        "\r\nhello");

  SECTION("no edits: untouched") {
    std::string m = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    HeaderEdits().apply(m, scratch);
    CHECK(m == "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  SECTION("a name that is a prefix of another is not removed") {
    config::HeaderEditConfig r;
    r.remove = {"x-a"};
    std::string m = "GET / HTTP/1.1\r\nX-Ab: 1\r\nX-A: 2\r\n\r\n";
    HeaderEdits(r).apply(m, scratch);
    CHECK(m == "GET / HTTP/1.1\r\nX-Ab: 1\r\n\r\n");
  }
}

TEST_CASE("traffic split: smooth weights without a key, stable by key", "[split]") {
  SECTION("95/5 over 1,000 requests is exactly 950/50, spread out") {
    TrafficSplit s({95, 5});
    int second = 0;
    int longest_gap = 0;
    int gap = 0;
    for (int i = 0; i < 1000; ++i) {
      if (s.next() == 1) {
        ++second;
        longest_gap = std::max(longest_gap, gap);
        gap = 0;
      } else {
        ++gap;
      }
    }
    CHECK(second == 50);
    CHECK(longest_gap <= 20);  // never a burst of the small side
  }
  SECTION("weight 0 gets nothing") {
    TrafficSplit s({0, 3, 1});
    std::map<size_t, int> n;
    for (int i = 0; i < 400; ++i) ++n[s.next()];
    CHECK(n[0] == 0);
    CHECK(n[1] == 300);
    CHECK(n[2] == 100);
  }
  SECTION("by key: the same key always picks the same side; keys spread by weight") {
    TrafficSplit s({90, 10});
    std::map<size_t, int> n;
    for (int i = 0; i < 100000; ++i) {
      const std::string key = "user-" + std::to_string(i);
      const size_t side = s.forKey(key);
      ++n[side];
      if (i % 1000 == 0) REQUIRE(s.forKey(key) == side);
    }
    CHECK(std::abs(n[1] - 10000) < 600);  // 10% within 0.6 points
  }
}

TEST_CASE("rate limiter: burst, refill, Retry-After, bounded keys", "[rate_limiter]") {
  constexpr uint64_t kSec = 1'000'000'000;
  SECTION("burst then refusals; one token back per 1/rate") {
    RateLimiter rl(2.0, 3, 100);  // 2 per second, burst 3
    const uint64_t t0 = 10 * kSec;
    for (int i = 0; i < 3; ++i) CHECK(rl.take("k", t0).allowed);
    RateLimiter::Result r = rl.take("k", t0);
    CHECK_FALSE(r.allowed);
    CHECK(r.retry_after_s == 1);  // 0.5 s to the next token, rounded up
    CHECK_FALSE(rl.take("k", t0 + kSec / 4).allowed);
    CHECK(rl.take("k", t0 + kSec / 2).allowed);  // one token back after 0.5 s
    CHECK_FALSE(rl.take("k", t0 + kSec / 2).allowed);
    // Other keys have their own bucket.
    CHECK(rl.take("other", t0).allowed);
    // A long pause refills up to the burst, not beyond.
    const uint64_t t1 = t0 + 100 * kSec;
    for (int i = 0; i < 3; ++i) CHECK(rl.take("k", t1).allowed);
    CHECK_FALSE(rl.take("k", t1).allowed);
  }
  SECTION("Retry-After covers the wait for a slow rate") {
    RateLimiter rl(0.1, 1, 10);  // one request per 10 s
    CHECK(rl.take("k", kSec).allowed);
    const RateLimiter::Result r = rl.take("k", kSec);
    CHECK_FALSE(r.allowed);
    CHECK(r.retry_after_s == 10);
    CHECK(rl.take("k", 2 * kSec).retry_after_s == 9);
    CHECK(rl.take("k", 11 * kSec).allowed);
  }
  SECTION("the key table stays bounded; the least recently used key goes") {
    RateLimiter rl(1.0, 1, 3);
    CHECK(rl.take("a", kSec).allowed);
    CHECK(rl.take("b", kSec).allowed);
    CHECK(rl.take("c", kSec).allowed);
    CHECK_FALSE(rl.take("a", kSec).allowed);  // "a" is now the most recently used
    CHECK(rl.take("d", kSec).allowed);        // evicts "b"
    CHECK(rl.keys() == 3);
    CHECK(rl.evictions() == 1);
    CHECK_FALSE(rl.take("a", kSec).allowed);  // "a" was kept: still empty
    CHECK(rl.take("b", kSec).allowed);        // "b" was forgotten: a full bucket again (evicts "c")
    CHECK(rl.evictions() == 2);
    for (int i = 0; i < 10000; ++i) rl.take(std::to_string(i).append("k"), kSec);
    CHECK(rl.keys() == 3);
  }
}

TEST_CASE("route decisions: deny, allow, rate limit, return, rewrite, split key", "[route_match]") {
  const config::Config cfg = loadRoutes(R"(
  - name: guarded
    match: { path_prefix: /g }
    deny: [192.0.2.66]
    allow: [192.0.2.0/24]
    rate_limit: { requests_per_second: 1, burst: 2, key: "header:X-User" }
    pool: a
  - { name: moved, match: { path_prefix: /old }, rewrite: { path_prefix: /new }, return: { status: 308, location: "https://{host}{path}" } }
  - { name: down, match: { path: /m }, return: { status: 503, body: "maintenance" } }
  - { name: rw, match: { path: /exact }, rewrite: { path_prefix: /inner, host: backend.internal }, pool: b }
  - { name: canary, split: [{ pool: a, weight: 1 }, { pool: b, weight: 1 }, { pool: c, weight: 0 }], split_key: "cookie:uid" }
)");
  FakePools fp;
  Router router;
  router.build(cfg, fp.pools);
  RouteDecision d;
  auto decide = [&](Req q, uint64_t now = 1'000'000'000) {
    const RouteRequest view = q.view();
    const Route* r = router.match(view);
    REQUIRE(r != nullptr);
    r->decide(view, now, d);
    return r;
  };
  using Action = RouteDecision::Action;
  Req q;
  q.target = "/g";
  q.client = "192.0.2.66";
  const Route* guarded = decide(q);
  CHECK(d.action == Action::Denied);
  CHECK(d.status == 403);
  q.client = "198.51.100.1";
  decide(q);
  CHECK(d.action == Action::Denied);  // not in allow
  CHECK(guarded->stats->denied == 2);
  q.client = "192.0.2.1";
  q.header_lines = {"X-User: alice"};
  decide(q);
  CHECK(d.action == Action::Proxy);
  CHECK(fp.nameOf(d.pool) == "a");
  decide(q);
  CHECK(d.action == Action::Proxy);
  decide(q);
  CHECK(d.action == Action::RateLimited);
  CHECK(d.status == 429);
  CHECK(d.retry_after_s == 1);
  q.header_lines = {"X-User: bob"};  // another key, another bucket
  decide(q);
  CHECK(d.action == Action::Proxy);
  CHECK(guarded->stats->rate_limited == 1);
  // Without the header, the client address is the key.
  q.header_lines = {};
  decide(q);
  CHECK(d.action == Action::Proxy);
  decide(q);
  CHECK(d.action == Action::Proxy);
  decide(q);
  CHECK(d.action == Action::RateLimited);
  q.client = "192.0.2.2";
  decide(q);
  CHECK(d.action == Action::Proxy);
  CHECK(guarded->limiter->keys() == 4);

  Req old;
  old.host = "Example.com:8080";
  old.target = "/old/a?b=1";
  decide(old);
  CHECK(d.action == Action::Return);
  CHECK(d.status == 308);
  CHECK(d.location == "https://Example.com/new/a?b=1");
  old.host = "[2001:db8::1]:8443";
  decide(old);
  CHECK(d.location == "https://[2001:db8::1]/new/a?b=1");

  Req m;
  m.target = "/m";
  decide(m);
  CHECK(d.action == Action::Return);
  CHECK(d.status == 503);
  REQUIRE(d.body != nullptr);
  CHECK(d.body->value_or("") == "maintenance");

  Req rw;
  rw.target = "/exact?x=1";
  decide(rw);
  CHECK(d.action == Action::Proxy);
  CHECK(d.rewrite_target);
  CHECK(d.target == "/inner?x=1");
  CHECK(d.host == "backend.internal");
  CHECK(fp.nameOf(d.pool) == "b");

  // The same cookie always lands on the same side; weight 0 never.
  std::map<std::string, int> sides;
  for (int i = 0; i < 200; ++i) {
    Req c;
    c.target = "/anything";
    c.header_lines = {"Cookie: a=1; uid=user" + std::to_string(i % 20) + "; z=2"};
    decide(c);
    const std::string side = fp.nameOf(d.pool);
    ++sides[side];
    Req again = c;
    decide(again);
    CHECK(fp.nameOf(d.pool) == side);
  }
  CHECK(sides["c"] == 0);
  CHECK(sides["a"] + sides["b"] == 200);
  CHECK(sides["a"] > 0);
  CHECK(sides["b"] > 0);
}

TEST_CASE("rate limiter: long keys stay distinct and bounded", "[rate_limiter]") {
  RateLimiter rl(1.0, 1, 100);
  const std::string a(10000, 'a');
  std::string b = a;
  b.back() = 'b';  // same first 64 bytes, differs at the end
  CHECK(rl.take(a, 1).allowed);
  CHECK_FALSE(rl.take(a, 1).allowed);
  CHECK(rl.take(b, 1).allowed);  // its own bucket
  CHECK_FALSE(rl.take(b, 1).allowed);
  CHECK(rl.take(a.substr(0, 64), 1).allowed);  // the short key the compact form starts with
  CHECK(rl.keys() == 3);
}

TEST_CASE("route decisions: timeouts and retries over the config's and each pool's", "[route_match]") {
  const std::string yaml =
      "timeouts: { connect: 2s, backend_response: 30s, backend_idle: 45s }\n"
      "pools:\n"
      "  - { name: a, backends: [{ address: 127.0.0.1:9001 }], retries: { attempts: 3, budget_percent: 40 } }\n"
      "  - { name: b, backends: [{ address: 127.0.0.1:9002 }] }\n"
      "routes:\n"
      "  - { match: { path: /t }, timeouts: { connect: 300ms }, pool: a }\n"
      "  - match: { path: /r }\n"
      "    retries: { on: [timeout], replay_buffer: 1KiB }\n"
      "    split: [{ pool: a, weight: 1 }, { pool: b, weight: 1 }]\n"
      "    split_key: query:user\n"
      "  - { pool: b }\n";
  config::LoadResult loaded = config::loadConfigString(yaml);
  REQUIRE(loaded.ok());
  const config::Config& cfg = *loaded.config;
  FakePools fp;
  Router router;
  router.build(cfg, fp.pools);
  RouteDecision d;
  auto decide = [&](std::string target) {
    Req q;
    q.target = std::move(target);
    const RouteRequest view = q.view();
    router.match(view)->decide(view, 1, d);
  };
  decide("/t");
  REQUIRE(d.timeouts != nullptr);
  CHECK(d.timeouts->connect == std::chrono::milliseconds(300));
  CHECK(d.timeouts->backend_response == std::chrono::milliseconds(30000));  // the config's
  CHECK(d.timeouts->backend_idle == std::chrono::milliseconds(45000));
  CHECK(d.retries == nullptr);  // the pool's own

  // Each side of the split gets the route's overrides over its own pool's retries.
  std::map<std::string, const config::RetryConfig*> by_pool;
  for (int u = 0; u < 40; ++u) {
    decide("/r?user=u" + std::to_string(u));
    by_pool[fp.nameOf(d.pool)] = d.retries;
    const std::string side = fp.nameOf(d.pool);
    decide("/r?user=u" + std::to_string(u));
    CHECK(fp.nameOf(d.pool) == side);  // keyed by the query parameter
  }
  REQUIRE(by_pool.size() == 2);
  REQUIRE(by_pool["a"] != nullptr);
  REQUIRE(by_pool["b"] != nullptr);
  CHECK(by_pool["a"]->attempts == 3);  // pool a's
  CHECK(by_pool["b"]->attempts == 1);  // the default
  CHECK(by_pool["a"]->budget_percent == 40);
  for (const auto& [pool, retries] : by_pool) {
    CHECK(retries->on == std::vector<config::RetryOn>{config::RetryOn::Timeout});
    CHECK(retries->replay_buffer == 1024);
  }
  decide("/other");
  CHECK(d.timeouts->connect == std::chrono::milliseconds(2000));
  CHECK(d.retries == nullptr);
}
