// Regression tests for what the libFuzzer campaign found (issue 9); the
// reproducers themselves are in tests/fuzz/known and replayed by the fuzz
// targets. Each case here failed before its fix.
#include <catch2/catch.hpp>

#include <thread>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("fuzz finding: an absolute-form target with a query and no path goes to the backend as /?query",
          "[fuzz_findings]") {
  std::mutex mu;
  std::vector<std::string> heads;
  RawBackend backend([&](RawConn& c) {
    while (auto r = c.readRequest()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        heads.push_back(r->head);
      }
      if (!c.send(okResponse("ok"))) return;
    }
  });
  TempDir dir;
  Ballast lb(dir, webConfig({backend.address()}));
  Client c(lb.port());
  Response r = c.roundTrip("GET http://t:80?x=1 HTTP/1.1\r\nHost: t:80\r\n\r\n");
  CHECK(r.status == 200);
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(heads.size() == 1);
  INFO(heads[0]);
  CHECK(heads[0].rfind("GET /?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(heads[0].find("\r\nHost: t:80\r\n") != std::string::npos);
}

TEST_CASE("fuzz finding: an absolute-form target without a host is refused, not forwarded", "[fuzz_findings]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Client c(lb.port());
  Response r = c.roundTrip("GET http:///user/x HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(r.body.find("absolute-form without a host") != std::string::npos);
}

TEST_CASE("fuzz finding: a HEAD refused before its head was complete gets no body", "[fuzz_findings]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  // Obsolete line folding: refused with 400 while the head is parsed.
  Client c(lb.port());
  c.sendAll("HEAD /h HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n");
  const std::string all = c.readUntilClose(5000ms);
  INFO(all);
  REQUIRE(all.rfind("HTTP/1.1 400 ", 0) == 0);
  const size_t end = all.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  CHECK(all.size() == end + 4);  // nothing after the head
}

TEST_CASE("fuzz finding: a backend status outside 100-599 is a 502, never passed on", "[fuzz_findings]") {
  RawBackend backend([](RawConn& c) {
    if (c.readRequest()) c.send("HTTP/1.1 7 X\r\nContent-Length: 2\r\n\r\nok");
  });
  RawBackend big([](RawConn& c) {
    if (c.readRequest()) c.send("HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok");
  });
  TempDir dir;
  for (const auto* b : {&backend, &big}) {
    Ballast lb(dir, webConfig({b->address()}));
    Client c(lb.port());
    Response r = c.roundTrip(get("/"));
    CHECK(r.status == 502);
  }
}

TEST_CASE("fuzz finding: a long trailer field sent in small pieces is not counted as header lines", "[fuzz_findings]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  const std::string trailer = "X-" + std::string(3000, 't') + ": v\r\n";
  {
    Client c(lb.port());
    c.sendAll("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n");
    // The trailer in 20-byte pieces: each arrives as its own read.
    for (size_t i = 0; i < trailer.size(); i += 20) {
      c.sendAll(trailer.substr(i, 20));
      std::this_thread::sleep_for(1ms);
    }
    c.sendAll("\r\n");
    Response r = c.readResponse();
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(r.headerOr("X-Body-Bytes") == "3");
  }
  {
    // Trailers are still bounded: past limits.max_header_bytes, 431.
    Client c(lb.port());
    c.sendAll(std::string("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n") + "X-Big: " +
              std::string(20000, 'b') + "\r\n\r\n");
    Response r = c.readResponse();
    CHECK(r.status == 431);
  }
}
