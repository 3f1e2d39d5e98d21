// Request header rewriting, observed with echo=head (the backend returns the
// request head exactly as it received it).
#include <catch2/catch.hpp>

#include "tests/support/harness.h"

using namespace ballast::test;

TEST_CASE("hop-by-hop request headers are removed, end-to-end ones kept", "[headers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response r = fetch(lb.port(), request("GET", "/h?echo=head",
                                        {"Connection: keep-alive, X-Drop", "X-Drop: 1", "Keep-Alive: timeout=5",
                                         "Proxy-Connection: keep-alive", "TE: trailers", "Trailer: X-T",
                                         "Upgrade: websocket", "X-Keep: 1"}));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  EchoedHead h = parseEchoedHead(r.body);
  CHECK(h.request_line == "GET /h?echo=head HTTP/1.1");
  for (const char* name : {"X-Drop", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
    INFO("header " << name);
    CHECK(h.headerValues(name).empty());
  }
  // ballast may send its own Connection header, but not the client's list.
  for (const auto& v : h.headerValues("Connection")) CHECK(toLower(v).find("x-drop") == std::string::npos);
  CHECK(h.headerValues("X-Keep") == std::vector<std::string>{"1"});
  CHECK(h.headerValues("Host") == std::vector<std::string>{"test.local"});
}

TEST_CASE("X-Forwarded-For is appended to, or created", "[headers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response with = fetch(lb.port(), get("/?echo=head", {"X-Forwarded-For: 10.1.2.3"}));
  INFO(with.describe());
  REQUIRE(with.status == 200);
  CHECK(parseEchoedHead(with.body).headerValues("X-Forwarded-For") == std::vector<std::string>{"10.1.2.3, 127.0.0.1"});

  Response without = fetch(lb.port(), get("/?echo=head"));
  INFO(without.describe());
  REQUIRE(without.status == 200);
  EchoedHead h = parseEchoedHead(without.body);
  CHECK(h.headerValues("X-Forwarded-For") == std::vector<std::string>{"127.0.0.1"});
  CHECK(h.headerValues("X-Forwarded-Proto") == std::vector<std::string>{"http"});
}

TEST_CASE("X-Request-Id is generated when absent and passed through when present", "[headers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response r1 = fetch(lb.port(), get("/?echo=head"));
  INFO(r1.describe());
  REQUIRE(r1.status == 200);
  const std::string id1 = r1.headerOr("X-Request-Id", "");
  CHECK_FALSE(id1.empty());
  CHECK(parseEchoedHead(r1.body).headerValues("X-Request-Id") == std::vector<std::string>{id1});

  // Generated ids are unique.
  Response r2 = fetch(lb.port(), get("/?echo=head"));
  REQUIRE(r2.status == 200);
  CHECK(r2.headerOr("X-Request-Id", "") != id1);
  CHECK(parseEchoedHead(r2.body).headerValues("X-Request-Id") == std::vector<std::string>{r2.headerOr("X-Request-Id")});

  // A client's id reaches the backend unchanged (and is the one echoed back, if any).
  Response r3 = fetch(lb.port(), get("/?echo=head", {"X-Request-Id: client-id-123"}));
  INFO(r3.describe());
  REQUIRE(r3.status == 200);
  CHECK(parseEchoedHead(r3.body).headerValues("X-Request-Id") == std::vector<std::string>{"client-id-123"});
  for (const auto& v : r3.headerValues("X-Request-Id")) CHECK(v == "client-id-123");
}

TEST_CASE("the Host header reaches the backend unchanged", "[headers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response r = fetch(lb.port(), request("GET", "/?echo=head", {}, "", "Shop.Example.com:8443"));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(parseEchoedHead(r.body).headerValues("Host") == std::vector<std::string>{"Shop.Example.com:8443"});
}
