#include "lb/upstream/probe_traffic.h"

#include <algorithm>

#include "lb/base/log.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

constexpr uint64_t kMinRequests = 20;

}  // namespace

const char* toString(ProbeTraffic d) {
  switch (d) {
    case ProbeTraffic::Agree: return "agree";
    case ProbeTraffic::ProbesPassTrafficFails: return "probes_pass_traffic_fails";
    case ProbeTraffic::ProbesFailTrafficOk: return "probes_fail_traffic_ok";
  }
  return "?";
}

ProbeTraffic judgeProbeTraffic(const Backend& b, uint64_t now_ms) {
  const BackendStats& s = b.stats();
  const uint64_t responses = s.requests_1m.sum(now_ms);
  const uint64_t errors = s.errors_1m.sum(now_ms);
  // Errors also count failed attempts that were retried elsewhere (no
  // response from this backend): the outcomes are whichever is larger.
  const uint64_t outcomes = std::max(responses, errors);
  if (outcomes < kMinRequests) return ProbeTraffic::Agree;
  if (b.health() == HealthStatus::Healthy && errors * 2 >= outcomes) return ProbeTraffic::ProbesPassTrafficFails;
  if (b.health() == HealthStatus::Unhealthy && responses >= kMinRequests && errors * 10 <= outcomes) {
    return ProbeTraffic::ProbesFailTrafficOk;
  }
  return ProbeTraffic::Agree;
}

void sweepProbeTraffic(Pool& pool, uint64_t now_ms) {
  if (!pool.config().health_check) return;
  for (const auto& bp : pool.backends()) {
    Backend& b = *bp;
    // A simulate_down drill fails the probes on purpose: no verdict on it
    // while it runs, nor after it until the backend is back up (the drill
    // registry clears the mark then).
    if (b.drillDownUntilMs() != 0) continue;
    const ProbeTraffic now = judgeProbeTraffic(b, now_ms);
    if (now == b.probeTraffic()) continue;
    const ProbeTraffic was = b.probeTraffic();
    b.setProbeTraffic(now, now_ms);
    const BackendStats& s = b.stats();
    const bool disagrees = now != ProbeTraffic::Agree;
    const auto level = disagrees ? LogLevel::Warn : LogLevel::Info;
    auto& j = log().eventLine(level, disagrees ? "health_check_disagrees" : "health_check_agrees");
    j.str("pool", pool.name()).str("backend", b.name());
    j.str("verdict", toString(disagrees ? now : was)).str("health", toString(b.health()));
    j.num("responses_1m", s.requests_1m.sum(now_ms)).num("errors_1m", s.errors_1m.sum(now_ms));
    if (disagrees) {
      j.str("hint", now == ProbeTraffic::ProbesPassTrafficFails
                        ? "the health check passes but real requests fail: it does not test what clients use"
                        : "the health check fails but real requests succeed: check the probe's path, host and "
                          "expected status");
    }
    log().emit(level);
  }
}

}  // namespace ballast
