// Routing: host (case-insensitive, port ignored, *.wildcard), path prefix,
// first match wins, no match -> 404. Each pool has one backend named after
// it, so X-Backend tells which route was taken.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"

using namespace ballast::test;

namespace {

// Sends GET `path` with `host` and returns the backend that answered, or
// "404" when ballast answered 404, or "status N".
std::string routeOf(uint16_t port, const std::string& host, const std::string& path) {
  Response r = fetch(port, request("GET", path, {}, "", host));
  if (r.status == 404 && !r.hasHeader("X-Backend")) return "404";
  if (r.status != 200) return "status " + std::to_string(r.status);
  return r.headerOr("X-Backend");
}

}  // namespace

TEST_CASE("requests are routed by host, wildcard host and path prefix", "[routing]") {
  TempDir dir;
  DemoBackend api(dir, "api");
  DemoBackend wild(dir, "wild");
  DemoBackend v1(dir, "v1");
  DemoBackend stat(dir, "static");
  Ballast lb(dir, configYaml({PoolSpec{"api", {{api.address(), 1}}}, PoolSpec{"wild", {{wild.address(), 1}}},
                              PoolSpec{"v1", {{v1.address(), 1}}}, PoolSpec{"static", {{stat.address(), 1}}}},
                             "routes:\n"
                             "  - { match: { host: api.example.com }, pool: api }\n"
                             "  - { match: { host: \"*.example.com\" }, pool: wild }\n"
                             "  - { match: { host: v.example.org, path_prefix: /v1 }, pool: v1 }\n"
                             "  - { match: { path_prefix: /static }, pool: static }\n"));
  const uint16_t p = lb.port();

  // Exact host, case-insensitive, port ignored.
  CHECK(routeOf(p, "api.example.com", "/") == "api");
  CHECK(routeOf(p, "API.Example.com:8080", "/x") == "api");
  // Wildcard: any subdomain, not the bare domain.
  CHECK(routeOf(p, "a.example.com", "/") == "wild");
  CHECK(routeOf(p, "A.EXAMPLE.COM:80", "/") == "wild");
  CHECK(routeOf(p, "example.com", "/") == "404");
  // First match wins: api.example.com also matches *.example.com and /static.
  CHECK(routeOf(p, "api.example.com", "/static/logo.png") == "api");
  CHECK(routeOf(p, "b.example.com", "/static/logo.png") == "wild");
  // Host and path prefix together.
  CHECK(routeOf(p, "v.example.org", "/v1/users") == "v1");
  CHECK(routeOf(p, "v.example.org", "/v2/users") == "404");
  // Path prefix alone, any host.
  CHECK(routeOf(p, "example.com", "/static/logo.png") == "static");
  CHECK(routeOf(p, "v.example.org", "/static") == "static");
  CHECK(routeOf(p, "other.net", "/") == "404");
}

TEST_CASE("the first matching route wins, in configuration order", "[routing]") {
  TempDir dir;
  DemoBackend api(dir, "api");
  DemoBackend wild(dir, "wild");
  // Same two routes as above, but the wildcard comes first.
  Ballast lb(dir, configYaml({PoolSpec{"api", {{api.address(), 1}}}, PoolSpec{"wild", {{wild.address(), 1}}}},
                             "routes:\n"
                             "  - { match: { host: \"*.example.com\" }, pool: wild }\n"
                             "  - { match: { host: api.example.com }, pool: api }\n"
                             "  - { pool: api }\n"));
  CHECK(routeOf(lb.port(), "api.example.com", "/") == "wild");
  CHECK(routeOf(lb.port(), "x.example.com", "/") == "wild");
  // The catch-all route (no match block) takes the rest.
  CHECK(routeOf(lb.port(), "example.com", "/") == "api");
  CHECK(routeOf(lb.port(), "other.net", "/anything") == "api");
}
