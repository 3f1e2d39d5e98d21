// The rise/fall decision for one backend, HAProxy style: a backend changes
// status only after `rise` consecutive passes or `fall` consecutive
// failures, so a single lost probe does not flap it. Pure state, no I/O and
// no clock: health_session feeds it probe results, and the transitions it
// returns are published by health_checker ("the check computes, the state
// machine acts").
#pragma once

#include <cstdint>

#include "config/config.h"
#include "lb/upstream/health_status.h"

namespace ballast::health {

using ballast::HealthStatus;

// What one probe result did (Envoy's naming).
enum class HealthTransition : uint8_t {
  Unchanged,      // the result agrees with the current status
  ChangePending,  // the result disagrees, but the threshold is not reached yet
  Changed,        // status() is now different
};

class HealthState {
 public:
  // `rise` and `fall` come validated from the config (1..100); 0 is
  // treated as 1. `initial` is the status before any result.
  HealthState(uint32_t rise, uint32_t fall, config::HealthCheckConfig::Initial initial);

  // Feeds one probe result and returns whether the status changed. Unknown
  // goes to Healthy or Unhealthy on the first result, whatever rise/fall.
  HealthTransition onResult(bool passed);

  HealthStatus status() const { return status_; }

  // Length of the current run of passes / failures. Exactly one of them is
  // non-zero once any result arrived; both are 0 after construction and
  // set(). They keep counting across a change of status.
  uint32_t consecutivePasses() const { return passes_; }
  uint32_t consecutiveFailures() const { return failures_; }

  // Forces a status (carrying state across a reload) and resets both
  // counters, so rise/fall start over from `s`.
  void set(HealthStatus s);

 private:
  uint32_t rise_;
  uint32_t fall_;
  HealthStatus status_;
  uint32_t passes_ = 0;
  uint32_t failures_ = 0;
};

}  // namespace ballast::health
