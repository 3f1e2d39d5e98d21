// Process lifecycle: clean exit on SIGTERM/SIGINT, and max_connections.
#include <catch2/catch.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

void exitsCleanlyOn(int sig) {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Response r = fetch(lb.port(), get("/"));
  INFO(r.describe());
  REQUIRE(r.status == 200);

  lb.process().signal(sig);
  auto code = lb.process().waitExit(5000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(lb.process().waitForLine(Stream::Stderr, R"re("event"\s*:\s*"stopped")re", 0ms).has_value());
}

}  // namespace

TEST_CASE("SIGTERM makes ballast exit 0 with a stopped event", "[lifecycle]") { exitsCleanlyOn(SIGTERM); }

TEST_CASE("SIGINT makes ballast exit 0 with a stopped event", "[lifecycle]") { exitsCleanlyOn(SIGINT); }

TEST_CASE("SIGTERM with an idle keep-alive client still exits promptly", "[lifecycle]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Client c(lb.port());
  Response r = c.roundTrip(get("/"));
  REQUIRE(r.status == 200);

  lb.process().signal(SIGTERM);
  auto code = lb.process().waitExit(5000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(c.readUntilClose(2000ms).empty());
}

TEST_CASE("max_connections: a client over the limit waits until a slot frees up", "[lifecycle][limits]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "limits: { max_connections: 2 }\n"));

  Client c1(lb.port());
  Client c2(lb.port());
  REQUIRE(c1.roundTrip(get("/1")).status == 200);
  REQUIRE(c2.roundTrip(get("/2")).status == 200);

  // The kernel completes the handshake (listen backlog), but ballast must not
  // serve a third connection while two are open.
  Client c3(lb.port());
  c3.sendAll(get("/3"));
  CHECK(c3.quietFor(500ms));

  c1.close();
  c3.setTimeout(5000ms);
  Response r3 = c3.readResponse();
  INFO(r3.describe());
  CHECK(r3.status == 200);
  // The remaining client is unaffected.
  CHECK(c2.roundTrip(get("/2b")).status == 200);
}
