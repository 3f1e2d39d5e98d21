// A named pool of backends with its balancer, its failover policy (backups,
// panic threshold, all-unknown start-up), its outlier detector and its retry
// budget. Built from config; membership is fixed for its lifetime (a reload
// builds a new Pool and carries the state of unchanged backends over).
//
// The health checker computes (rise/fall) and calls onHealthChanged(); the
// pool acts: updates the backend, logs one event line, closes idle
// connections of a backend that left rotation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/backend.h"
#include "lb/balancer.h"
#include "lb/metrics.h"

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

  // Picks a backend not in `tried` according to the pool's current mode
  // (see mode()); nullptr when nothing may take traffic.
  Backend* pick(const TriedSet& tried);
  // Normal while some primary is available (Panic if their share is under
  // panic_threshold); else Unknown while every primary awaits its first
  // probe; else Backup if a backup is available; else Unknown if some
  // primary still awaits its first probe (better than a certain 503); else
  // Panic if a threshold is set; else Normal (which finds nothing: 503).
  PickMode mode() const;
  size_t availableCount() const;
  static const char* modeName(PickMode m);

  // ---- active health (from the checker) ----
  void onHealthChanged(Backend& b, health::HealthStatus status, std::string_view reason, uint64_t now_ms);
  // Every probe result; un-ejects on a pass that started after the ejection.
  void onProbePassed(Backend& b, uint64_t probe_started_ms, uint64_t now_ms);

  // ---- passive health (outlier detection) ----
  void recordSuccess(Backend& b) { b.consecutive_failures_ = 0; }
  // `reason` e.g. "connection refused", "status 503".
  void recordFailure(Backend& b, std::string_view reason, uint64_t now_ms);
  // Returns backends whose ejection time is over. Called periodically.
  void sweepEjections(uint64_t now_ms);

  // ---- retry budget ----
  // A token bucket (Finagle's RetryBudget): every new request deposits
  // budget_percent/100 of a token, every budgeted retry withdraws one, so
  // over time retries add at most budget_percent of the pool's requests.
  // Up to budget_min retries in flight are always allowed. The bucket holds
  // at most kBurstRequests * budget_percent/100 tokens, so a calm period
  // cannot bank an unbounded storm.
  static constexpr double kBurstRequests = 1000;
  void requestStarted() {
    ++active_requests_;
    retry_tokens_ = std::min(retry_tokens_ + cfg_.retries.budget_percent / 100.0,
                             kBurstRequests * cfg_.retries.budget_percent / 100.0);
  }
  void requestFinished() { --active_requests_; }
  bool retryAllowed() const { return active_retries_ < cfg_.retries.budget_min || retry_tokens_ >= 1.0; }
  void retryStarted() {
    if (active_retries_ >= cfg_.retries.budget_min) retry_tokens_ -= 1.0;
    ++active_retries_;
  }
  void retryFinished() { --active_retries_; }
  PoolStats& stats() { return stats_; }
  uint64_t retryBudgetExhausted() const { return budget_exhausted_; }
  void noteBudgetExhausted() { ++budget_exhausted_; }

 private:
  void logTransition(Backend& b, const char* old_state, std::string_view reason, uint64_t now_ms);
  void uneject(Backend& b, std::string_view reason, uint64_t now_ms);

  config::PoolConfig cfg_;
  std::vector<BackendPtr> backends_;
  BalancerPtr balancer_;
  uint32_t active_requests_ = 0;
  uint32_t active_retries_ = 0;
  double retry_tokens_ = 0;
  PoolStats stats_;
  uint64_t budget_exhausted_ = 0;
};

using PoolPtr = std::shared_ptr<Pool>;


}  // namespace ballast
