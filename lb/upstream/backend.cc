#include "lb/upstream/backend.h"

namespace ballast {

const char* toString(AdminState s) {
  switch (s) {
    case AdminState::Enabled: return "enabled";
    case AdminState::Draining: return "draining";
    case AdminState::Disabled: return "disabled";
  }
  return "enabled";
}

Backend::Backend(std::string pool_name, const config::BackendConfig& cfg)
    : pool_name_(std::move(pool_name)), address_(cfg.address), weight_(cfg.weight), backup_(cfg.backup) {}

Backend::~Backend() = default;

const char* Backend::stateName() const {
  if (admin_ == AdminState::Disabled) return kStateNames[6];
  if (admin_ == AdminState::Draining) return active_requests_ > 0 ? kStateNames[4] : kStateNames[5];
  if (ejected_) return kStateNames[3];
  switch (health_) {
    case HealthStatus::Healthy: return kStateNames[0];
    case HealthStatus::Unhealthy: return kStateNames[1];
    case HealthStatus::Unknown: break;
  }
  return kStateNames[2];
}

}  // namespace ballast
