// Probes versus real traffic. A health check that passes while the
// backend's real requests fail (a /healthz that only says the process is
// up), or one that fails while real requests succeed, misleads the people
// on call; the BackendDown runbook used to ask them to check this by hand.
// Over the last minute of a backend's traffic:
//   probes_pass_traffic_fails: healthy by its probes, and at least
//     kMinRequests outcomes of which at least half failed (5xx, connect
//     failures, resets, timeouts);
//   probes_fail_traffic_ok: unhealthy by its probes, yet at least
//     kMinRequests responses of which at most 10% failed (panic mode or a
//     backup role still sends it traffic).
// A flag clears when the condition no longer holds. Only pools with active
// health checks are judged.
#pragma once

#include <cstdint>

namespace ballast {

class Pool;
class Backend;

enum class ProbeTraffic : uint8_t { Agree, ProbesPassTrafficFails, ProbesFailTrafficOk };
const char* toString(ProbeTraffic d);  // "agree", "probes_pass_traffic_fails", "probes_fail_traffic_ok"

// What the last minute of `b` says now (pure; for the sweep and tests).
ProbeTraffic judgeProbeTraffic(const Backend& b, uint64_t now_ms);

// Re-judges every backend of `pool`; a change of verdict is one event
// (health_check_disagrees, or health_check_agrees when it ends).
void sweepProbeTraffic(Pool& pool, uint64_t now_ms);

}  // namespace ballast
