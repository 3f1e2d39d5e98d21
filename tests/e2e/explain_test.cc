// Why did this request fail? (issue 13): GET /requests/{X-Request-Id}
// explains a recent request: route, pool, every attempt with its backend,
// timing and outcome, the pool's backends and why each was not used, the
// retry budget and the config hash.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("explain: a retried request shows both attempts, the refused backend and why", "[explain]") {
  TempDir dir;
  DeadPort dead;
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({dead.address(), b.address()}));
  // Round robin alternates: among four requests, two start on the dead one.
  std::string retried;
  for (int i = 0; i < 4; ++i) {
    Client c(lb.port());
    const std::string id = "explain-" + std::to_string(i);
    Response r = c.roundTrip(get("/x" + std::to_string(i), {"X-Request-Id: " + id}));
    REQUIRE(r.status == 200);
    Response e = adminRequest(lb.adminPort(), "GET", "/requests/" + id);
    INFO(e.describe());
    REQUIRE(e.status == 200);
    if (has(e.body, "\"outcome\":\"connect_failure\"")) retried = e.body;
  }
  INFO(retried);
  REQUIRE_FALSE(retried.empty());
  CHECK(has(retried, "\"status\":200"));
  CHECK(has(retried, "\"pool\":\"web\""));
  CHECK(has(retried, "\"failed_or_retried\":true"));
  CHECK(has(retried, "{\"backend\":\"" + dead.address() + "\",\"start_ms\":"));
  CHECK(has(retried, "\"outcome\":\"response\",\"http_status\":200"));
  // The pool's backends, with the refused one marked as tried.
  CHECK(has(retried, "\"backend\":\"" + dead.address() + "\",\"state\":\"healthy\",\"available\":true,"
                     "\"at_max_connections\":false,\"tried\":true,\"skipped_because\":\"tried\""));
  CHECK(has(retried, "\"retry_budget\":{\"tokens\":"));
  CHECK(has(retried, "\"config_hash\":\""));
}

TEST_CASE("explain: an unknown id is a 404 saying what is kept, and explain.buffer: 0 turns it off", "[explain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  {
    Ballast lb(dir, webConfig({a.address()}));
    Response e = adminRequest(lb.adminPort(), "GET", "/requests/never-seen");
    CHECK(e.status == 404);
    CHECK(has(e.body, "no recent request"));
  }
  {
    Ballast lb(dir, webConfig({a.address()}, "explain: { buffer: 0 }"));
    Client c(lb.port());
    REQUIRE(c.roundTrip(get("/", {"X-Request-Id: off-1"})).status == 200);
    Response e = adminRequest(lb.adminPort(), "GET", "/requests/off-1");
    CHECK(e.status == 404);
    CHECK(has(e.body, "explanations are off"));
  }
}
