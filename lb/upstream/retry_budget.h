// A pool's retry budget, as a token bucket (Finagle's RetryBudget): every
// new request deposits budget_percent/100 of a token, every budgeted retry
// withdraws one, so over time retries add at most budget_percent of the
// pool's requests. Up to budget_min retries in flight are always allowed.
// The bucket holds at most kBurstRequests * budget_percent/100 tokens, so a
// calm period cannot bank an unbounded storm.
#pragma once

#include <algorithm>
#include <cstdint>

#include "config/config.h"

namespace ballast {

class RetryBudget {
 public:
  static constexpr double kBurstRequests = 1000;

  explicit RetryBudget(const config::RetryConfig& cfg)
      : percent_(cfg.budget_percent), min_in_flight_(cfg.budget_min) {}

  void onRequest() {
    tokens_ = std::min(tokens_ + percent_ / 100.0, kBurstRequests * percent_ / 100.0);
  }
  bool allows() const { return in_flight_ < min_in_flight_ || tokens_ >= 1.0; }
  void retryStarted() {
    if (in_flight_ >= min_in_flight_) tokens_ -= 1.0;
    ++in_flight_;
  }
  void retryFinished() { --in_flight_; }
  // State, for request explanations.
  double tokens() const { return tokens_; }
  uint32_t inFlight() const { return in_flight_; }
  // Retries refused so far (ballast_retry_budget_exhausted_total).
  uint64_t exhausted() const { return exhausted_; }
  void noteExhausted() { ++exhausted_; }

 private:
  double percent_;
  uint32_t min_in_flight_;
  uint32_t in_flight_ = 0;
  double tokens_ = 0;
  uint64_t exhausted_ = 0;
};

}  // namespace ballast
