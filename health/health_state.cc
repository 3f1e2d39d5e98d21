#include "health/health_state.h"

#include <algorithm>

namespace ballast::health {

HealthState::HealthState(uint32_t rise, uint32_t fall, config::HealthCheckConfig::Initial initial)
    : rise_(std::max<uint32_t>(rise, 1)), fall_(std::max<uint32_t>(fall, 1)), status_(initialHealth(initial)) {}

HealthTransition HealthState::onResult(bool passed) {
  // A result ends the opposite run; the counters saturate rather than wrap
  // for a backend that has answered the same way for years.
  if (passed) {
    failures_ = 0;
    if (passes_ < UINT32_MAX) ++passes_;
  } else {
    passes_ = 0;
    if (failures_ < UINT32_MAX) ++failures_;
  }

  switch (status_) {
    case HealthStatus::Unknown:
      status_ = passed ? HealthStatus::Healthy : HealthStatus::Unhealthy;
      return HealthTransition::Changed;
    case HealthStatus::Healthy:
      if (passed) return HealthTransition::Unchanged;
      if (failures_ < fall_) return HealthTransition::ChangePending;
      status_ = HealthStatus::Unhealthy;
      return HealthTransition::Changed;
    case HealthStatus::Unhealthy:
      if (!passed) return HealthTransition::Unchanged;
      if (passes_ < rise_) return HealthTransition::ChangePending;
      status_ = HealthStatus::Healthy;
      return HealthTransition::Changed;
  }
  return HealthTransition::Unchanged;
}

void HealthState::set(HealthStatus s) {
  status_ = s;
  passes_ = 0;
  failures_ = 0;
}

}  // namespace ballast::health
