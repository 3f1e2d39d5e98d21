// Probes versus real traffic (issue 13): a backend whose health path passes
// while its real requests fail is called out (event, metric, /status), and
// the flag clears once traffic agrees again.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// `n` GETs over one keep-alive connection; returns how many answered `status`.
int send(uint16_t port, int n, int status) {
  Client c(port);
  int matched = 0;
  for (int i = 0; i < n; ++i) {
    Response r = c.roundTrip(get("/pt-" + std::to_string(i)));
    matched += r.status == status ? 1 : 0;
  }
  return matched;
}

}  // namespace

TEST_CASE("probe traffic: /healthz passes while / fails: health_check_disagrees, then agrees again",
          "[probe_traffic][health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, failoverConfig({{a.address()}}, {"health_check: { interval: 100ms, timeout: 80ms, rise: 1, fall: 1 }"}));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));

  demoControl(a.port(), "status=500");  // real requests fail; /healthz still 200
  CHECK(send(lb.port(), 30, 500) == 30);
  JsonObject ev = waitEvent(lb, "health_check_disagrees", {}, 5000ms);
  CHECK(jsonText(ev, "backend") == a.address());
  CHECK(jsonText(ev, "verdict") == "probes_pass_traffic_fails");
  CHECK(jsonText(ev, "health") == "healthy");
  CHECK(metricSum(metricsText(lb.adminPort()), "ballast_backend_probe_traffic_disagreement").value_or(-1) == 1);
  {
    Client c(lb.adminPort());
    Response s = c.roundTrip(get("/status"));
    CHECK(s.body.find("\"probes_vs_traffic\":\"probes_pass_traffic_fails\"") != std::string::npos);
  }

  demoControl(a.port(), "status=200");
  CHECK(send(lb.port(), 40, 200) == 40);
  JsonObject back = waitEvent(lb, "health_check_agrees", {}, 5000ms);
  CHECK(jsonText(back, "backend") == a.address());
  CHECK(metricSum(metricsText(lb.adminPort()), "ballast_backend_probe_traffic_disagreement").value_or(-1) == 0);
}

TEST_CASE("probe traffic: a few failures, or traffic that agrees with the probes, raise nothing", "[probe_traffic]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, failoverConfig({{a.address()}}, {"health_check: { interval: 100ms, timeout: 80ms, rise: 1, fall: 1 }"}));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));
  // Under the minimum of outcomes: 10 failures are not a verdict.
  demoControl(a.port(), "status=500");
  CHECK(send(lb.port(), 10, 500) == 10);
  demoControl(a.port(), "status=200");
  CHECK(send(lb.port(), 30, 200) == 30);
  // The sweep runs 4 times a second: a second is four chances to get it wrong.
  CHECK_FALSE(pollUntil([&] { return countEvents(lb, "health_check_disagrees") > 0; }, 1000ms));
  CHECK(metricSum(metricsText(lb.adminPort()), "ballast_backend_probe_traffic_disagreement").value_or(-1) == 0);
}
