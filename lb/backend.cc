#include "lb/backend.h"

namespace ballast {

Backend::Backend(std::string pool_name, const config::BackendConfig& cfg)
    : pool_name_(std::move(pool_name)), address_(cfg.address), weight_(cfg.weight), backup_(cfg.backup) {}

Backend::~Backend() = default;

const char* Backend::stateName() const {
  if (!enabled_) return "disabled";
  if (ejected_) return "ejected";
  return health::toString(health_);
}

}  // namespace ballast
