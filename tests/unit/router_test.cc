// Router: (Host, path) -> pool, first match wins. The router only stores the
// Pool pointers, so the tests pass distinct fake pointers and compare them.

#include <cstdio>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/proxy/router.h"

using ballast::Pool;
using ballast::Route;
using ballast::Router;
namespace config = ballast::config;

namespace {

config::RouteConfig route(std::string host, std::string path_prefix, size_t pool_index) {
  config::RouteConfig rc;
  rc.host = std::move(host);
  rc.path_prefix = std::move(path_prefix);
  // Formatted into a char buffer: g++ 12 -O2 warns falsely (-Wrestrict,
  // GCC PR105329) on short string literal assignment inlined here.
  char name[32];
  int n = std::snprintf(name, sizeof name, "p%zu", pool_index);
  rc.pool.assign(name, static_cast<size_t>(n));
  rc.pool_index = pool_index;
  return rc;
}

// Distinct, never dereferenced Pool pointers: the addresses of ints.
struct FakePools {
  int storage[8] = {};
  std::vector<Pool*> pools;
  FakePools() {
    for (int& i : storage) pools.push_back(reinterpret_cast<Pool*>(&i));
  }
  Pool* operator[](size_t i) const { return pools.at(i); }
};

// A Router over `routes` (kept alive in `cfg`, which the router borrows).
void build(Router& r, config::Config& cfg, std::vector<config::RouteConfig> routes, const FakePools& fp) {
  cfg.routes = std::move(routes);
  r.build(cfg, fp.pools);
}

const std::vector<ballast::Header> kNoHeaders;

const Route* matchOf(const Router& r, std::string_view host, std::string_view path) {
  return r.match(ballast::RouteRequest(host, path, "GET", kNoHeaders, "127.0.0.1"));
}

// Index of the pool that (host, path) routes to, or -1 for no match.
int routeIndex(const Router& r, const FakePools& fp, std::string_view host, std::string_view path) {
  const Route* route = matchOf(r, host, path);
  if (route == nullptr) return -1;
  for (size_t i = 0; i < fp.pools.size(); ++i) {
    if (fp.pools[i] == route->pool) return static_cast<int>(i);
  }
  return -2;  // a route with a pointer we never passed in
}

}  // namespace

TEST_CASE("Router::stripPort", "[router]") {
  struct Row {
    std::string_view in;
    std::string_view out;
  };
  const std::vector<Row> rows = {
      {"example.com", "example.com"},
      {"example.com:8080", "example.com"},
      {"API.Example.com:8080", "API.Example.com"},  // case is left to match()
      {"example.com.", "example.com"},
      {"example.com.:8080", "example.com"},
      {"example.com:", "example.com"},
      {"[::1]:8080", "::1"},
      {"[::1]", "::1"},
      {"[2001:db8::1]:443", "2001:db8::1"},
      {"[::1", "[::1"},  // unterminated bracket: left as is (cannot match a route)
      {"::1", "::1"},    // several colons without brackets: not a port
      {"  example.com:80 ", "example.com"},
      {"127.0.0.1:9000", "127.0.0.1"},
      {"", ""},
  };
  for (const auto& row : rows) {
    INFO("host \"" << row.in << "\"");
    CHECK(Router::stripPort(row.in) == row.out);
  }
}

TEST_CASE("Router::build stores lower-case hosts, wildcard suffixes and pools", "[router]") {
  FakePools fp;
  Router r;
  config::Config cfg;
  build(r, cfg, {route("API.Example.COM", "", 0), route("*.Example.com", "/x", 1), route("", "", 7),
           route("a", "", 99)},
          fp);
  const auto& routes = r.routes();
  REQUIRE(routes.size() == 4);
  CHECK(routes[0].host == "api.example.com");
  CHECK_FALSE(routes[0].wildcard);
  CHECK(routes[0].pool == fp[0]);
  CHECK(routes[1].host == ".example.com");
  CHECK(routes[1].wildcard);
  CHECK(routes[1].path_prefix == "/x");
  CHECK(routes[1].pool == fp[1]);
  CHECK(routes[2].host.empty());
  CHECK(routes[2].pool == fp[7]);
  CHECK(routes[3].pool == nullptr);  // out-of-range index: no pool, never a wild pointer

  // Rebuilding replaces the table rather than appending to it.
  build(r, cfg, {route("", "", 3)}, fp);
  REQUIRE(r.routes().size() == 1);
  CHECK(r.routes()[0].pool == fp[3]);
}

TEST_CASE("Router::match table", "[router]") {
  FakePools fp;
  Router r;
  config::Config cfg;
  // Order matters: first match wins.
  build(r, cfg,
      {
          route("api.example.com", "/v2/", 0),  // more specific first
          route("api.example.com", "", 1),
          route("*.example.com", "/static", 2),
          route("*.example.com", "", 3),
          route("::1", "", 4),
          route("localhost", "/admin", 5),
          route("", "/health", 6),
      },
      fp);

  struct Row {
    std::string_view host;
    std::string_view path;
    int pool;  // -1: no route
  };
  const std::vector<Row> rows = {
      // Exact host, case-insensitive, port ignored.
      {"api.example.com", "/", 1},
      {"API.EXAMPLE.COM", "/", 1},
      {"Api.Example.Com:8080", "/", 1},
      {"API.example.com:8080", "/users", 1},
      {"api.example.com.", "/", 1},       // trailing dot: same host
      {"API.example.com.:443", "/", 1},   // trailing dot before the port
      // Path prefix on the same host; first match wins.
      {"api.example.com", "/v2/users", 0},
      {"api.example.com", "/v2/", 0},
      {"api.example.com", "/v2", 1},      // "/v2" is not under "/v2/"
      {"api.example.com", "/V2/users", 1},  // path prefixes are case-sensitive
      // Wildcards: any depth of subdomain, never the apex nor a look-alike.
      {"a.example.com", "/", 3},
      {"a.b.example.com", "/", 3},
      {"A.B.EXAMPLE.COM:80", "/", 3},
      {"www.example.com", "/static/app.js", 2},
      {"www.example.com.", "/static/app.js", 2},
      {"example.com", "/", -1},
      {"badexample.com", "/", -1},
      {".example.com", "/", -1},          // empty label is not a subdomain
      {"example.com.evil.org", "/", -1},
      {"a.example.co", "/", -1},
      // IPv6 literal in brackets, with and without a port.
      {"[::1]:8080", "/", 4},
      {"[::1]", "/", 4},
      {"[::2]:8080", "/", -1},
      // Host + prefix.
      {"localhost", "/admin/x", 5},
      {"LOCALHOST:9100", "/admin", 5},
      {"localhost", "/", -1},
      // Any-host route with a prefix.
      {"whatever.org", "/health", 6},
      {"", "/healthz", 6},  // prefix, not a path segment match
      {"", "/", -1},
      {"whatever.org", "/", -1},
  };
  for (const auto& row : rows) {
    INFO("Host \"" << row.host << "\" path \"" << row.path << "\"");
    CHECK(routeIndex(r, fp, row.host, row.path) == row.pool);
  }
}

TEST_CASE("Router::match: catch-all, empty table, first match wins", "[router]") {
  FakePools fp;
  SECTION("catch-all route matches anything, including no Host") {
    Router r;
    config::Config cfg;
    build(r, cfg, {route("", "", 2)}, fp);
    for (std::string_view host : {"", "x", "a.b.c:1", "[::1]:80", "EXAMPLE.COM."}) {
      INFO("Host \"" << host << "\"");
      CHECK(routeIndex(r, fp, host, "/anything") == 2);
      CHECK(routeIndex(r, fp, host, "") == 2);
    }
  }
  SECTION("catch-all placed first shadows every later route") {
    Router r;
    config::Config cfg;
    build(r, cfg, {route("", "", 0), route("api.example.com", "", 1)}, fp);
    CHECK(routeIndex(r, fp, "api.example.com", "/") == 0);
  }
  SECTION("catch-all placed last only takes what nothing else matched") {
    Router r;
    config::Config cfg;
    build(r, cfg, {route("api.example.com", "", 1), route("", "", 0)}, fp);
    CHECK(routeIndex(r, fp, "api.example.com", "/") == 1);
    CHECK(routeIndex(r, fp, "other.example.com", "/") == 0);
  }
  SECTION("two identical routes: the first one is returned") {
    Router r;
    config::Config cfg;
    build(r, cfg, {route("*.example.com", "", 4), route("*.example.com", "", 5)}, fp);
    const Route* m = matchOf(r, "a.example.com", "/");
    REQUIRE(m != nullptr);
    CHECK(m == &r.routes()[0]);
    CHECK(m->pool == fp[4]);
  }
  SECTION("empty table: nothing matches") {
    Router r;
    config::Config cfg;
    build(r, cfg, {}, fp);
    CHECK(matchOf(r, "example.com", "/") == nullptr);
    CHECK(matchOf(r, "", "") == nullptr);
  }
  SECTION("a default-constructed router matches nothing") {
    Router r;
    CHECK(matchOf(r, "example.com", "/") == nullptr);
  }
}
