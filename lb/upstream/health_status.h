// A backend's health as far as rotation is concerned. The health checker
// (health/) computes it; the backend stores it; the balancer reads it.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/config.h"

namespace ballast {

enum class HealthStatus : uint8_t {
  Unknown,    // no probe result yet (initial: unknown); the first result decides
  Healthy,    // takes traffic; `fall` consecutive failures make it Unhealthy
  Unhealthy,  // takes no traffic; `rise` consecutive passes make it Healthy
};

const char* toString(HealthStatus s);  // "unknown", "healthy", "unhealthy"

// The status a backend starts with before its first probe result.
HealthStatus initialHealth(config::HealthCheckConfig::Initial initial);

// One active probe result, as the health checker publishes it (the pool
// acts on it).
struct ProbeResult {
  bool passed = false;
  bool changed = false;                         // the backend's health status changed with this result
  HealthStatus status = HealthStatus::Unknown;  // the status after this result
  std::string_view reason;                      // why it changed ("3 consecutive failures: ..."), else the probe's text
  uint64_t started_ms = 0;                      // loop time the probe started
  double latency_ms = 0;
};

}  // namespace ballast
