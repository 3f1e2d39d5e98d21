// One backend server of a pool: its address, weight, role (primary/backup),
// its health as decided by the active checker and the outlier detector, and
// its idle keep-alive connections. Shared-owned: the pool holds it, and
// every upstream connection holds it too, so a backend removed by a reload
// stays alive until its last connection is closed.
//
// Who writes what: the pool applies the health checker's transitions and
// the outlier detector's ejections; the admin API sets the admin state. The
// balancer only reads.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "lb/base/clock.h"
#include "lb/stats/stats.h"
#include "lb/upstream/health_status.h"
#include "lb/upstream/idle_pool.h"
#include "lb/upstream/probe_traffic.h"

namespace ballast {

class Pool;

// Operator's runtime control (admin API): Draining takes no new requests
// and lets in-flight ones finish; Disabled takes none at all.
enum class AdminState : uint8_t { Enabled, Draining, Disabled };
const char* toString(AdminState s);  // "enabled", "draining", "disabled"

// Why the admin state is what it is (admin API `reason`, `by`, `for`). Kept
// with the backend, so across reloads that keep it.
struct AdminOverride {
  std::string reason;
  std::string by;             // who: `by`, else the client address
  double since_unix = 0;      // wall clock, for people
  uint64_t since_ms = 0;      // loop time
  uint64_t expires_ms = 0;    // loop time the backend is enabled again; 0 = until enabled by hand
  double expires_unix = 0;
  bool stale = false;         // no expiry and older than overrides.warn_after (event sent)
};

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend(std::string pool_name, const config::BackendConfig& cfg);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& name() const { return address_.text; }  // "host:port" as configured
  const std::string& poolName() const { return pool_name_; }
  const config::Address& address() const { return address_; }
  const sockaddr* sockAddr() const { return reinterpret_cast<const sockaddr*>(&address_.addr); }
  uint32_t weight() const { return weight_; }
  // A reload kept this backend: take the new weight, role, zone and limit.
  void reconfigure(const config::BackendConfig& cfg) {
    weight_ = cfg.weight;
    backup_ = cfg.backup;
    zone_ = cfg.zone;
    max_connections_ = cfg.max_connections;
  }
  const std::string& zone() const { return zone_; }
  // Concurrent requests allowed (0 = no limit), and whether one more fits.
  uint32_t maxConnections() const { return max_connections_; }
  bool hasCapacity() const { return max_connections_ == 0 || active_requests_ < max_connections_; }
  // The sticky-cookie value naming this backend: 16 hex digits derived from
  // the pool name and the address (stable across reloads, not the address).
  const std::string& stickyId() const { return sticky_id_; }

  // ---- slow start, managed by the pool ----
  // Loop time it last became available (the ramp's start), and whether the
  // pool saw it available at its last refresh.
  uint64_t rampStartMs() const { return ramp_start_ms_; }
  bool seenAvailable() const { return seen_available_; }
  void noteAvailability(bool available, uint64_t now_ms) {
    if (available && !seen_available_) ramp_start_ms_ = now_ms;
    seen_available_ = available;
  }
  // The pool of the current config that holds this backend (a reload moves
  // it to the new pool; borrowed, cleared by that pool's destructor). A
  // request of an older config releasing a slot here lets that pool's
  // queue know.
  Pool* homePool() const { return home_pool_; }
  void setHomePool(Pool* p) { home_pool_ = p; }

  // Effective weight share in permille (100..1000) last computed by the pool.
  uint32_t rampPermille() const { return ramp_permille_; }
  void setRampPermille(uint32_t p) { ramp_permille_ = p; }
  bool backup() const { return backup_; }

  // Healthy, not ejected, enabled: takes traffic in normal operation.
  bool available() const { return enabled() && health_ == HealthStatus::Healthy && !ejected_; }
  // Shorthand for tests: Enabled or Disabled.
  void setAvailable(bool v) { admin_ = v ? AdminState::Enabled : AdminState::Disabled; }
  // May take new requests as far as the operator is concerned.
  bool enabled() const { return admin_ == AdminState::Enabled; }
  AdminState adminState() const { return admin_; }
  void setAdminState(AdminState s) { admin_ = s; }
  // Drill (POST /drills, simulate_down): until this loop time, every probe
  // of this backend counts as failed, so traffic fails over with the real
  // detection timing; 0 = no drill.
  uint64_t drillDownUntilMs() const { return drill_down_until_ms_; }
  void setDrillDownUntilMs(uint64_t ms) { drill_down_until_ms_ = ms; }
  // Probes versus real traffic (probe_traffic.h), as last judged.
  ProbeTraffic probeTraffic() const { return probe_traffic_; }
  uint64_t probeTrafficSinceMs() const { return probe_traffic_since_ms_; }
  void setProbeTraffic(ProbeTraffic v, uint64_t now_ms) {
    probe_traffic_ = v;
    probe_traffic_since_ms_ = now_ms;
  }
  // Meaningful while the admin state is not Enabled.
  AdminOverride& adminOverride() { return override_; }
  const AdminOverride& adminOverride() const { return override_; }

  HealthStatus health() const { return health_; }
  void setHealth(HealthStatus h) { health_ = h; }
  bool ejected() const { return ejected_; }

  // Every state name stateName() can return, for the state metric.
  static constexpr std::array<const char*, 7> kStateNames = {"healthy",  "unhealthy", "unknown", "ejected",
                                                             "draining", "drained",   "disabled"};
  // One word for events, /status and the state metric (one of kStateNames).
  const char* stateName() const;

  // Loop time (ms) of the last state change, for "time since last change".
  uint64_t lastChangeMs() const { return last_change_ms_; }
  void markChanged(uint64_t now_ms) { last_change_ms_ = now_ms; }

  // A reload removed it: requests in flight finish, nothing is pooled any
  // more (their connections close when they end).
  void retire() {
    retired_ = true;
    idle_.closeAll();
  }
  bool retired() const { return retired_; }

  IdlePool& idle() { return idle_; }
  const IdlePool& idle() const { return idle_; }
  BackendStats& stats() { return stats_; }
  const BackendStats& stats() const { return stats_; }

  // Requests currently using this backend. Counted by the pool from pick()
  // to release() (least-request balancing and metrics read it).
  uint32_t activeRequests() const { return active_requests_; }
  void requestStarted() {
    ++active_requests_;
    ++picks_;
    last_pick_ns_ = nowNs();
    if (first_pick_ns_ == 0) first_pick_ns_ = last_pick_ns_;
  }
  // Requests picked for it since it was created, the monotonic time of the
  // last one, and of the first one since armFirstPick() (0: none yet): a
  // drill watches these to tell when a backend stopped (failover) and
  // started again (recovery) getting traffic.
  uint64_t picks() const { return picks_; }
  uint64_t lastPickNs() const { return last_pick_ns_; }
  uint64_t firstPickNs() const { return first_pick_ns_; }
  void armFirstPick() { first_pick_ns_ = 0; }
  void requestFinished() { --active_requests_; }

  // ---- outlier detection state, managed by the pool's OutlierDetector ----
  uint32_t consecutive_failures_ = 0;
  uint32_t ejections_ = 0;  // times ejected so far (multiplies the ejection time)
  uint64_t ejected_until_ms_ = 0;
  uint64_t ejected_at_ms_ = 0;
  bool ejected_ = false;

 private:
  std::string pool_name_;
  config::Address address_;
  uint32_t weight_;
  bool backup_;
  std::string zone_;
  uint32_t max_connections_;
  std::string sticky_id_;
  uint64_t ramp_start_ms_ = 0;
  bool seen_available_ = false;
  uint32_t ramp_permille_ = 1000;
  Pool* home_pool_ = nullptr;
  AdminState admin_ = AdminState::Enabled;
  AdminOverride override_;
  uint64_t drill_down_until_ms_ = 0;
  uint64_t picks_ = 0;
  uint64_t last_pick_ns_ = 0;
  uint64_t first_pick_ns_ = 1;  // not armed
  ProbeTraffic probe_traffic_ = ProbeTraffic::Agree;
  uint64_t probe_traffic_since_ms_ = 0;
  bool retired_ = false;
  HealthStatus health_ = HealthStatus::Healthy;
  uint64_t last_change_ms_ = 0;
  uint32_t active_requests_ = 0;
  IdlePool idle_;
  BackendStats stats_;
};

using BackendPtr = std::shared_ptr<Backend>;

}  // namespace ballast
