// A named pool of backends with its balancer, its failover policy (backups,
// panic threshold, all-unknown start-up), its outlier detector and its retry
// budget. Built from config; membership is fixed for its lifetime (a reload
// builds a new Pool and carries the state of unchanged backends over).
//
// The health checker computes (rise/fall) and publishes each probe result;
// the pool acts (onProbe): updates the backend, logs one event line, closes
// idle connections of a backend that left rotation.
//
// Every state change (probe, ejection, admin action, reload, a slow-start
// step) goes through refresh(), which recomputes the mode, the candidate
// set (weight 0 never in it), the slow-start shares and the zone split, and
// hands the candidates to the balancer(s); a pick itself walks nothing.
//
// Capacity: a backend with max_connections takes at most that many requests
// at once. When every candidate is full, pick() says Full and the request
// may wait in the pool's FIFO queue (queue: size, timeout); a release or a
// state change dispatches the queue's head to the backend picked for it.
//
// Zones (zone_aware with the instance's zone set): traffic stays in the
// local zone while its available share of primaries is at least
// zone_min_healthy; below that a proportional part spills to the other
// zones (spill = 1 - share / zone_min_healthy), and all of it when the local
// zone has no candidate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "lb/tls/client_context.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/balancer.h"
#include "lb/upstream/outlier.h"
#include "lb/upstream/retry_budget.h"
#include "lb/upstream/wait_queue.h"

namespace ballast {

enum class PickStatus : uint8_t {
  Picked,     // backend set and counted
  NoBackend,  // nothing may take traffic (or every candidate was tried): 503
  Full,       // candidates exist but all are at max_connections (or others already wait): queue or 503
};
struct PickResult {
  Backend* backend = nullptr;
  PickStatus status = PickStatus::NoBackend;
};

// How the zone-aware split stands (Off: not zone-aware, or no instance zone).
enum class ZoneMode : uint8_t { Off, Local, Spill, Failover };
const char* toString(ZoneMode m);  // "off", "local", "spill", "failover"

// One zone of a pool, for /status and metrics (primaries only).
struct ZoneInfo {
  std::string name;  // "" for backends without a zone
  uint32_t backends = 0;
  uint32_t available = 0;
  bool local = false;
};

class Pool {
 public:
  // `now_ms`: loop time, the start of every backend's "since last change".
  // `previous`: the pool of the same name in the config being replaced (or
  // null). Its backends with the same address are reused as they are
  // (state, statistics, idle connections), with weight and role updated.
  // `local_zone`: this instance's zone (empty = none: zone_aware has no effect).
  Pool(const config::PoolConfig& cfg, uint64_t now_ms = 0, const Pool* previous = nullptr,
       std::string local_zone = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  const std::string& name() const { return cfg_.name; }
  const config::PoolConfig& config() const { return cfg_; }
  const std::vector<BackendPtr>& backends() const { return backends_; }
  // The client TLS context when the pool speaks TLS to its backends
  // (connections and health probes), else null. Set once after building.
  const std::shared_ptr<tls::ClientContext>& tls() const { return tls_; }
  void setTls(std::shared_ptr<tls::ClientContext> ctx) { tls_ = std::move(ctx); }
  // The backend with this configured address, or nullptr.
  Backend* find(std::string_view address) const;
  // The backend whose sticky id (Backend::stickyId) this is, or nullptr.
  Backend* findSticky(std::string_view id) const;

  // Picks a usable candidate for `r` (see PickStatus) and counts a request
  // on it. Every Picked result is followed by exactly one release().
  PickResult pick(const PickRequest& r);
  // Shorthand (tests, plain retries): the backend or nullptr.
  Backend* pick(const TriedSet& tried) {
    PickRequest r;
    r.tried = &tried;
    return pick(r).backend;
  }
  void release(Backend& b, AttemptOutcome outcome);
  // Normal while some primary is available (Panic if their share is under
  // panic_threshold); else Unknown while every primary awaits its first
  // probe; else Backup if a backup is available; else Unknown if some
  // primary still awaits its first probe (better than a certain 503); else
  // Panic if a threshold is set; else Normal (which finds nothing: 503).
  // Kept by refresh().
  PickMode mode() const { return mode_; }
  size_t availableCount() const { return available_; }
  // Recomputes mode, candidates, slow-start shares and zones after a state
  // change made outside the pool's own methods (tests), then dispatches
  // waiting requests if capacity appeared.
  void refresh(uint64_t now_ms);
  // Periodic (the server's 100 ms sweep): slow-start steps, queue timeouts
  // are the requests' own. Cheap when nothing ramps.
  void tick(uint64_t now_ms);
  // The operator's drain/disable/enable.
  void setAdminState(Backend& b, AdminState s, uint64_t now_ms);

  // ---- drills (POST /drills, config `drills:`): injected faults ----
  // The drill registry (lb/admin/drills.cc) owns the drills and sets the
  // whole list of a pool after every change (start, end, reload).
  struct FaultDrill {
    uint64_t id = 0;
    enum class Kind : uint8_t { Abort, Delay } kind = Kind::Abort;
    uint32_t percent = 0;     // of the matching requests
    int status = 503;         // Abort: the answer
    uint64_t delay_ms = 0;    // Delay: how long a picked request is held before it is proxied
    std::string header;       // non-empty: only requests carrying this header
    std::string route;        // non-empty: only requests matched by the route of that name
    uint64_t until_ms = 0;    // loop time it ends at
  };
  const std::vector<FaultDrill>& faultDrills() const { return fault_drills_; }
  void setFaultDrills(std::vector<FaultDrill> d) { fault_drills_ = std::move(d); }

  // ---- queue ----
  bool hasQueue() const { return cfg_.queue.has_value(); }
  size_t queueLength() const { return queue_.size(); }
  // Appends `w` (which asked for `r`); false when the queue is full (or
  // there is none).
  bool enqueue(QueueWaiter& w, const PickRequest& r, uint64_t now_ms);
  // `w` gives up (timeout, client gone); no-op when not queued.
  void leaveQueue(QueueWaiter& w);

  // ---- zones and slow start (for /status, metrics) ----
  const std::string& localZone() const { return local_zone_; }
  ZoneMode zoneMode() const { return zone_mode_; }
  double spillRatio() const { return spill_ratio_; }
  const std::vector<ZoneInfo>& zones() const { return zones_; }
  bool ramping() const { return ramping_; }
  // Slow-start share of `b` in permille at `now_ms` (1000 = full weight).
  uint32_t rampPermille(const Backend& b, uint64_t now_ms) const;
  static const char* modeName(PickMode m);

  // ---- active health (from the checker) ----
  void onProbe(Backend& b, const ProbeResult& r, uint64_t now_ms);
  // workers: a health status published by the worker that probes (the
  // others run no probes). Acts like a changed probe result, without the
  // event line (the prober wrote it once).
  void applySharedHealth(Backend& b, HealthStatus s, uint64_t now_ms);

  // ---- passive health (outlier detection; no-ops without it) ----
  void recordSuccess(Backend& b);
  // `reason` e.g. "connection refused", "status 503".
  void recordFailure(Backend& b, std::string_view reason, uint64_t now_ms);
  // Ends ejections whose time is over. Called periodically.
  void sweepEjections(uint64_t now_ms);

  RetryBudget& retryBudget() { return budget_; }
  const RetryBudget& retryBudget() const { return budget_; }
  PoolStats& stats() { return stats_; }
  const PoolStats& stats() const { return stats_; }

 private:
  void logTransition(Backend& b, const char* old_state, std::string_view reason, uint64_t now_ms);
  void uneject(Backend& b, std::string_view reason, uint64_t now_ms);
  Backend* pickFrom(const PickRequest& r);
  bool someoneFull(const TriedSet& tried) const;
  void count(Backend& b);
  void dispatch();
  void logZoneChange(ZoneMode old_mode, double old_spill);

  config::PoolConfig cfg_;
  std::string local_zone_;
  std::vector<FaultDrill> fault_drills_;
  std::shared_ptr<tls::ClientContext> tls_;
  std::vector<BackendPtr> backends_;
  PickMode mode_ = PickMode::Normal;
  size_t available_ = 0;
  // Candidates of the current mode: the local zone's and the others' when
  // the zone split is on, else all in local_.
  std::vector<Candidate> local_;
  std::vector<Candidate> remote_;
  BalancerPtr balancer_;         // over local_
  BalancerPtr remote_balancer_;  // over remote_ (zone split only)
  bool zone_split_ = false;
  ZoneMode zone_mode_ = ZoneMode::Off;
  double spill_ratio_ = 0;
  std::vector<ZoneInfo> zones_;
  bool ramping_ = false;
  bool refreshed_ = false;  // the first refresh logs no zone change
  WaitQueue queue_;
  bool dispatching_ = false;
  bool refreshing_ = false;       // a stale pick is refreshing the pool (no second round)
  uint64_t last_refresh_ms_ = 0;  // loop time of the last refresh
  FastRandom spill_rng_{0x20e5};
  std::unordered_map<std::string_view, Backend*> by_sticky_id_;  // views into the backends' ids
  std::optional<OutlierDetector> outlier_;
  RetryBudget budget_;
  PoolStats stats_;
};

using PoolPtr = std::shared_ptr<Pool>;

}  // namespace ballast
