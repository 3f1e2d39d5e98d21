// A named pool of backends with its balancer, its failover policy (backups,
// panic threshold, all-unknown start-up), its outlier detector and its retry
// budget. Built from config; membership is fixed for its lifetime (a reload
// builds a new Pool and carries the state of unchanged backends over).
//
// The health checker computes (rise/fall) and publishes each probe result;
// the pool acts (onProbe): updates the backend, logs one event line, closes
// idle connections of a backend that left rotation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/tls/client_context.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/balancer.h"
#include "lb/upstream/outlier.h"
#include "lb/upstream/retry_budget.h"

namespace ballast {

class Pool {
 public:
  // `now_ms`: loop time, the start of every backend's "since last change".
  // `previous`: the pool of the same name in the config being replaced (or
  // null). Its backends with the same address are reused as they are
  // (state, statistics, idle connections), with weight and role updated.
  Pool(const config::PoolConfig& cfg, uint64_t now_ms = 0, const Pool* previous = nullptr);
  const std::string& name() const { return cfg_.name; }
  const config::PoolConfig& config() const { return cfg_; }
  const std::vector<BackendPtr>& backends() const { return backends_; }
  // The client TLS context when the pool speaks TLS to its backends
  // (connections and health probes), else null. Set once after building.
  const std::shared_ptr<tls::ClientContext>& tls() const { return tls_; }
  void setTls(std::shared_ptr<tls::ClientContext> ctx) { tls_ = std::move(ctx); }
  // The backend with this configured address, or nullptr.
  Backend* find(std::string_view address) const;

  // Picks a backend not in `tried` according to the pool's current mode
  // (see mode()) and counts a request on it; nullptr when nothing may take
  // traffic. Every non-null pick is followed by exactly one release().
  Backend* pick(const TriedSet& tried);
  void release(Backend& b, AttemptOutcome outcome);
  // Normal while some primary is available (Panic if their share is under
  // panic_threshold); else Unknown while every primary awaits its first
  // probe; else Backup if a backup is available; else Unknown if some
  // primary still awaits its first probe (better than a certain 503); else
  // Panic if a threshold is set; else Normal (which finds nothing: 503).
  PickMode mode() const;
  size_t availableCount() const;
  static const char* modeName(PickMode m);

  // ---- active health (from the checker) ----
  void onProbe(Backend& b, const ProbeResult& r, uint64_t now_ms);

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

  config::PoolConfig cfg_;
  std::shared_ptr<tls::ClientContext> tls_;
  std::vector<BackendPtr> backends_;
  BalancerPtr balancer_;
  std::optional<OutlierDetector> outlier_;
  RetryBudget budget_;
  PoolStats stats_;
};

using PoolPtr = std::shared_ptr<Pool>;

}  // namespace ballast
