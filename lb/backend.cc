#include "lb/backend.h"

namespace ballast {

Backend::Backend(std::string pool_name, const config::BackendConfig& cfg)
    : pool_name_(std::move(pool_name)), address_(cfg.address), weight_(cfg.weight), backup_(cfg.backup) {}

Backend::~Backend() = default;

const char* Backend::stateName() const {
  if (admin_ == AdminState::Disabled) return "disabled";
  if (admin_ == AdminState::Draining) return active_requests_ > 0 ? "draining" : "drained";
  if (ejected_) return "ejected";
  return health::toString(health_);
}

}  // namespace ballast
