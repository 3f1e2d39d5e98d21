// Errors ballast generates itself (4xx for bad requests, 5xx for backend
// failures) and what happens when a backend dies mid-response.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// ballast's own error responses: the status, Content-Type: text/plain and a
// non-empty body, properly framed.
void checkPlainError(const Response& r, int status) {
  INFO(r.describe());
  REQUIRE(r.status == status);
  CHECK(r.complete);
  CHECK(toLower(r.headerOr("Content-Type")).rfind("text/plain", 0) == 0);
  CHECK_FALSE(r.body.empty());
}

}  // namespace

TEST_CASE("a malformed request line gets 400 and the connection is closed", "[errors]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  Response r = c.roundTrip("GARBAGE\r\n\r\n");
  checkPlainError(r, 400);
  CHECK(c.readUntilClose(5000ms).empty());
}

TEST_CASE("a request with both Content-Length and Transfer-Encoding gets 400 and a close", "[errors]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  Response r = c.roundTrip(
      request("POST", "/smuggle?echo=head", {"Content-Length: 5", "Transfer-Encoding: chunked"}, "0\r\n\r\n"));
  checkPlainError(r, 400);
  CHECK(c.readUntilClose(5000ms).empty());
}

TEST_CASE("a request no route matches gets 404", "[errors][routing]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "routes:\n  - { match: { host: api.example.com }, pool: web }\n"));

  checkPlainError(fetch(lb.port(), request("GET", "/", {}, "", "other.example.org")), 404);
  // The matching host still works.
  Response ok = fetch(lb.port(), request("GET", "/", {}, "", "api.example.com"));
  INFO(ok.describe());
  CHECK(ok.status == 200);
}

TEST_CASE("a request head not completed within client_header gets 408", "[errors][timeouts]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "timeouts: { client_header: 300ms }\n"));

  Client c(lb.port());
  c.setTimeout(5000ms);  // the 408 must arrive well within this
  auto start = Clock::now();
  c.sendAll("GET / HTTP/1.1\r\nHost: test.local\r\nX-Partial: ");
  Response r = c.readResponse();
  auto elapsed = std::chrono::duration_cast<Ms>(Clock::now() - start);
  INFO("408 after " << elapsed.count() << " ms");
  checkPlainError(r, 408);
  CHECK(elapsed >= 200ms);
  CHECK(elapsed < 5000ms);
}

TEST_CASE("a Content-Length above max_body_bytes gets 413", "[errors][limits]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "limits: { max_body_bytes: 1000 }\n"));

  // At the limit: accepted.
  Response ok = fetch(lb.port(), request("POST", "/", {}, std::string(1000, 'x')));
  INFO(ok.describe());
  REQUIRE(ok.status == 200);
  CHECK(ok.headerOr("X-Body-Bytes") == "1000");

  Response r = fetch(lb.port(), request("POST", "/", {}, std::string(1001, 'x')));
  checkPlainError(r, 413);
  CHECK(r.headerOr("X-Backend") == "<absent>");
}

TEST_CASE("a chunked body growing beyond max_body_bytes gets 413", "[errors][limits]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "limits: { max_body_bytes: 1000 }\n"));

  const std::string chunk500 = "1f4\r\n" + std::string(500, 'y') + "\r\n";
  // 2 x 500 bytes: at the limit, accepted.
  Response ok = fetch(lb.port(), request("POST", "/", {"Transfer-Encoding: chunked"}, chunk500 + chunk500 + "0\r\n\r\n"));
  INFO(ok.describe());
  REQUIRE(ok.status == 200);
  CHECK(ok.headerOr("X-Body-Bytes") == "1000");

  // 3 x 500 bytes: too large.
  Response r = fetch(lb.port(), request("POST", "/", {"Transfer-Encoding: chunked"},
                                        chunk500 + chunk500 + chunk500 + "0\r\n\r\n"));
  checkPlainError(r, 413);
  CHECK(r.headerOr("X-Backend") == "<absent>");
}

TEST_CASE("a request head above max_header_bytes gets 431", "[errors][limits]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "limits: { max_header_bytes: 2048 }\n"));

  Response ok = fetch(lb.port(), get("/", {"X-Big: " + std::string(1024, 'a')}));
  INFO(ok.describe());
  REQUIRE(ok.status == 200);

  checkPlainError(fetch(lb.port(), get("/", {"X-Big: " + std::string(4096, 'a')})), 431);
}

TEST_CASE("a backend that refuses connections gives 502", "[errors][backend]") {
  TempDir dir;
  DeadPort dead;
  Ballast lb(dir, webConfig({dead.address()}));

  auto start = Clock::now();
  checkPlainError(fetch(lb.port(), get("/")), 502);
  CHECK(Clock::now() - start < 3s);
}

TEST_CASE("a backend that resets the connection gives 502", "[errors][backend]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  checkPlainError(fetch(lb.port(), get("/?reset=1")), 502);
  // The backend is still fine for normal requests.
  Response ok = fetch(lb.port(), get("/"));
  INFO(ok.describe());
  CHECK(ok.status == 200);
}

TEST_CASE("a backend that answers with something that is not HTTP gives 502", "[errors][backend]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response r = fetch(lb.port(), get("/?garbage=1"));
  checkPlainError(r, 502);
  CHECK(r.body.find("THIS IS NOT HTTP") == std::string::npos);
}

TEST_CASE("a pool without backends gives 503", "[errors]") {
  TempDir dir;
  Ballast lb(dir, configYaml({PoolSpec{"web", {}}}));

  checkPlainError(fetch(lb.port(), get("/")), 503);
}

TEST_CASE("a backend slower than backend_response gives 504", "[errors][timeouts]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "timeouts: { backend_response: 300ms }\n"));

  Client c(lb.port());
  c.setTimeout(5000ms);
  auto start = Clock::now();
  Response r = c.roundTrip(get("/?delay=3000"));
  auto elapsed = std::chrono::duration_cast<Ms>(Clock::now() - start);
  INFO("504 after " << elapsed.count() << " ms");
  checkPlainError(r, 504);
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 2500ms);
}

TEST_CASE("a backend dying mid-response closes the client connection with a short body", "[errors][backend]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  Response r = c.roundTrip(get("/?size=1000000&partial=1"));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.headerOr("Content-Length") == "1000000");
  CHECK_FALSE(r.complete);
  CHECK(r.peer_closed);
  CHECK(r.body_bytes < 1000000);
  // What did arrive is the start of the real body: no error page or second
  // response appended to it.
  CHECK(r.body == demoBody(r.body_bytes));
  CHECK(c.buffered().empty());
}
