// renderMetrics over a Runtime built from a config (no loop, no server):
// every family is present with bounded labels, histograms are cumulative
// with a +Inf bucket, and recorded stats show up with the right labels.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "config/config_loader.h"
#include "lb/admin/metrics_render.h"
#include "lb/proxy/access_log.h"
#include "lb/proxy/runtime.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

using namespace ballast;

namespace {

const char* kConfig = R"(listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
pools:
  - name: web
    health_check: { interval: 1s, timeout: 500ms }
    outlier_detection: {}
    backends:
      - { address: 127.0.0.1:9001 }
      - { address: 127.0.0.1:9002, backup: true }
)";

bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("renderMetrics: every family, labels, histogram shape", "[metrics]") {
  auto r = config::loadConfigString(kConfig);
  REQUIRE(r.ok());
  auto rt = Runtime::build(*r.config, 0);
  auto& pool = *rt->pools[0];
  Backend& b = *pool.backends()[0];
  ++b.stats().responses[200];
  ++b.stats().responses[200];
  ++b.stats().responses[502];
  b.stats().response_duration.observe(0.003);
  pool.stats().request_duration.observe(0.2);
  ++pool.stats().retries[static_cast<size_t>(RetryReason::ConnectFailure)];
  ++processStats().errors[static_cast<size_t>(ErrorKind::NoBackend)];
  ++pool.stats().terminated[terminationSlot(Termination{'S', 'D'})];

  std::string text = renderMetrics(*rt, 1700000000.0);
  if (std::getenv("DUMP_METRICS")) std::fputs(text.c_str(), stdout);
  for (const char* name :
       {"ballast_requests_total", "ballast_request_duration_seconds", "ballast_backend_response_duration_seconds",
        "ballast_backend_up", "ballast_backend_state", "ballast_health_checks_total",
        "ballast_health_check_duration_seconds", "ballast_backend_active_requests", "ballast_backend_connections",
        "ballast_backend_connect_failures_total", "ballast_upstream_connections_reused_total",
        "ballast_upstream_connections_new_total", "ballast_retries_total", "ballast_retry_budget_exhausted_total",
        "ballast_outlier_ejections_total", "ballast_pool_healthy_backends", "ballast_pool_backends",
        "ballast_requests_terminated_total", "ballast_client_connections",
        "ballast_client_connections_accepted_total", "ballast_bytes_total", "ballast_errors_total",
        "ballast_config_reloads_total", "ballast_config_last_reload_success_timestamp_seconds", "ballast_config_hash",
        "ballast_build_info", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "process_start_time_seconds"}) {
    INFO(name);
    CHECK(text.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
  CHECK(hasLine(text, R"(ballast_requests_total{pool="web",backend="127.0.0.1:9001",code="200"} 2)"));
  CHECK(hasLine(text, R"(ballast_requests_total{pool="web",backend="127.0.0.1:9001",code="502"} 1)"));
  CHECK(hasLine(text, R"(ballast_retries_total{pool="web",reason="connect_failure"} 1)"));
  CHECK(hasLine(text, R"(ballast_errors_total{kind="503_no_backend"} 1)"));
  CHECK(hasLine(text, R"(ballast_requests_terminated_total{pool="web",termination="SD"} 1)"));
  CHECK(hasLine(text, "process_start_time_seconds 1700000000"));
  // Before the first probe the backends are unknown and not up.
  CHECK(hasLine(text, R"(ballast_backend_state{pool="web",backend="127.0.0.1:9001",state="unknown"} 1)"));
  CHECK(hasLine(text, R"(ballast_backend_up{pool="web",backend="127.0.0.1:9001"} 0)"));
  // Cumulative buckets ending with +Inf == count.
  CHECK(hasLine(text, R"(ballast_request_duration_seconds_bucket{pool="web",le="0.1"} 0)"));
  CHECK(hasLine(text, R"(ballast_request_duration_seconds_bucket{pool="web",le="0.25"} 1)"));
  CHECK(hasLine(text, R"(ballast_request_duration_seconds_bucket{pool="web",le="+Inf"} 1)"));
  CHECK(hasLine(text, R"(ballast_request_duration_seconds_count{pool="web"} 1)"));
  // No label ever carries a client address or a path.
  CHECK(text.find("path=") == std::string::npos);
  CHECK(text.find("client=") == std::string::npos);
  processStats().errors[static_cast<size_t>(ErrorKind::NoBackend)] = 0;
}

TEST_CASE("RollingMinute forgets events older than a minute", "[metrics]") {
  RollingMinute m;
  m.add(1000);
  m.add(1500, 2);
  m.add(30000);
  CHECK(m.sum(30000) == 4);
  CHECK(m.sum(60999) == 4);   // second 1 is still inside the window [1, 60]
  CHECK(m.sum(61000) == 1);   // second 1 dropped, second 30 left
  CHECK(m.sum(200000) == 0);
}

TEST_CASE("Histogram observe: bucket by upper bound, inclusive", "[metrics]") {
  static const std::vector<double> bounds = {0.1, 1};
  Histogram h(bounds);
  h.observe(0.1);
  h.observe(0.5);
  h.observe(5);
  CHECK(h.counts() == std::vector<uint64_t>{1, 1, 1});
  CHECK(h.count() == 3);
  CHECK(h.sum() == Approx(5.6));
}
