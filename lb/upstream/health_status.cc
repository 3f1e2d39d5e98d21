#include "lb/upstream/health_status.h"

namespace ballast {

const char* toString(HealthStatus s) {
  switch (s) {
    case HealthStatus::Unknown: return "unknown";
    case HealthStatus::Healthy: return "healthy";
    case HealthStatus::Unhealthy: return "unhealthy";
  }
  return "unknown";
}

HealthStatus initialHealth(config::HealthCheckConfig::Initial initial) {
  switch (initial) {
    case config::HealthCheckConfig::Initial::Healthy: return HealthStatus::Healthy;
    case config::HealthCheckConfig::Initial::Unhealthy: return HealthStatus::Unhealthy;
    case config::HealthCheckConfig::Initial::Unknown: break;
  }
  return HealthStatus::Unknown;
}

}  // namespace ballast
