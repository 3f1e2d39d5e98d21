// Backend connection reuse: keep-alive to the backend, honouring a backend's
// Connection: close, and transparent retry when a pooled connection turns
// out to be dead.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("sequential requests from different clients reuse one backend connection", "[backend][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  std::string conn_id;
  for (int i = 1; i <= 3; ++i) {
    Response r = fetch(lb.port(), get("/reuse"));  // a new client connection each time
    INFO("request " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    if (i == 1) conn_id = r.headerOr("X-Conn-Id");
    CHECK(r.headerOr("X-Conn-Id") == conn_id);
    CHECK(r.headerOr("X-Conn-Requests") == std::to_string(i));
  }
}

TEST_CASE("a backend's Connection: close is honoured", "[backend][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response r1 = fetch(lb.port(), get("/?close=1"));
  INFO(r1.describe());
  REQUIRE(r1.status == 200);
  CHECK(r1.body == "a\n");
  const std::string first = r1.headerOr("X-Conn-Id");

  // The next request goes over a new backend connection...
  Response r2 = fetch(lb.port(), get("/"));
  INFO(r2.describe());
  REQUIRE(r2.status == 200);
  CHECK(r2.headerOr("X-Conn-Id") != first);
  CHECK(r2.headerOr("X-Conn-Requests") == "1");

  // ...which is then kept alive again.
  Response r3 = fetch(lb.port(), get("/"));
  INFO(r3.describe());
  REQUIRE(r3.status == 200);
  CHECK(r3.headerOr("X-Conn-Id") == r2.headerOr("X-Conn-Id"));
  CHECK(r3.headerOr("X-Conn-Requests") == "2");
}

TEST_CASE("a pooled connection the backend drops is retried once on a fresh one", "[backend][retry]") {
  TempDir dir;
  // Each backend connection answers one request; the second request sent on it
  // is read and the connection closed without a response.
  DemoBackend a(dir, "a", {"--drop-after", "1"});
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  std::set<std::string> conn_ids;
  for (int i = 0; i < 5; ++i) {
    Response r = c.roundTrip(get("/drop" + std::to_string(i)));
    INFO("request " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.body == "a\n");
    CHECK(r.headerOr("X-Conn-Requests") == "1");
    conn_ids.insert(r.headerOr("X-Conn-Id"));
  }
  CHECK(conn_ids.size() == 5);
}

TEST_CASE("a pooled connection the backend closed while idle is not used or is retried", "[backend][retry]") {
  TempDir dir;
  DemoBackend a(dir, "a", {"--idle-close", "50"});
  Ballast lb(dir, webConfig({a.address()}));

  Response first = fetch(lb.port(), get("/"));
  INFO(first.describe());
  REQUIRE(first.status == 200);
  const std::string first_id = first.headerOr("X-Conn-Id");

  // Poll with growing gaps until a request lands after the backend's idle
  // close (seen as a new X-Conn-Id); every request must succeed meanwhile.
  auto deadline = Clock::now() + 5s;
  Ms gap{10};
  for (int i = 0;; ++i) {
    std::this_thread::sleep_for(gap);
    Response r = fetch(lb.port(), get("/poll" + std::to_string(i)));
    INFO("poll " << i << " after " << gap.count() << " ms\n" << r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.body == "a\n");
    if (r.headerOr("X-Conn-Id") != first_id) break;
    REQUIRE(Clock::now() < deadline);
    gap = std::min(gap * 2, Ms(400));
  }
}

TEST_CASE("steady keep-alive load reuses upstream connections at least 99.9% of the time", "[backend][keepalive][metrics]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  // Two clients, each sending its requests one after another on one
  // keep-alive connection: at most two upstream connections are ever needed.
  constexpr int kPerClient = 2500;
  std::atomic<int> ok{0};
  auto run = [&] {
    Client c(lb.port());
    for (int i = 0; i < kPerClient; ++i)
      if (c.roundTrip(get("/reuse")).status == 200) ++ok;
  };
  std::thread t1(run), t2(run);
  t1.join();
  t2.join();
  REQUIRE(ok == 2 * kPerClient);

  const std::string m = metricsText(lb.adminPort());
  const double reused = metricSum(m, "ballast_upstream_connections_reused_total", {"pool=\"web\""}).value_or(-1);
  const double fresh = metricSum(m, "ballast_upstream_connections_new_total", {"pool=\"web\""}).value_or(-1);
  INFO(metricLines(m, "ballast_upstream_connections_reused_total") << metricLines(m, "ballast_upstream_connections_new_total"));
  CHECK(reused + fresh == 2 * kPerClient);  // one count per attempt, no retries here
  CHECK(fresh >= 1);
  CHECK(reused / (reused + fresh) >= 0.999);
}
