#include "lb/upstream/backend.h"

#include <string_view>

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
    : pool_name_(std::move(pool_name)),
      address_(cfg.address),
      weight_(cfg.weight),
      backup_(cfg.backup),
      zone_(cfg.zone),
      max_connections_(cfg.max_connections) {
  // FNV-1a 64 of "pool\0address": opaque in a cookie, the same after a reload.
  uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(pool_name_);
  mix(std::string_view("\0", 1));
  mix(address_.text);
  static const char kHex[] = "0123456789abcdef";
  sticky_id_.resize(16);
  for (int i = 15; i >= 0; --i, h >>= 4) sticky_id_[static_cast<size_t>(i)] = kHex[h & 15];
}

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
