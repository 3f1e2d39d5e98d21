#include "lb/pool.h"

#include <algorithm>

#include "config/duration.h"
#include "lb/balancer_round_robin.h"
#include "lb/log.h"

namespace ballast {

Pool::Pool(const config::PoolConfig& cfg, uint64_t now_ms, const Pool* previous) : cfg_(cfg) {
  std::vector<Backend*> raw;
  backends_.reserve(cfg.backends.size());
  health::HealthStatus initial = health::HealthStatus::Healthy;
  if (cfg.health_check) {
    switch (cfg.health_check->initial) {
      case config::HealthCheckConfig::Initial::Unknown: initial = health::HealthStatus::Unknown; break;
      case config::HealthCheckConfig::Initial::Healthy: initial = health::HealthStatus::Healthy; break;
      case config::HealthCheckConfig::Initial::Unhealthy: initial = health::HealthStatus::Unhealthy; break;
    }
  }
  for (const auto& bc : cfg.backends) {
    BackendPtr kept;
    if (previous) {
      for (const auto& b : previous->backends()) {
        if (b->name() == bc.address.text) kept = b;
      }
    }
    if (kept) {
      kept->reconfigure(bc);
      // Without probes a backend is healthy by definition; with them it
      // keeps the state it had (a down backend stays down).
      if (!cfg.health_check) kept->setHealth(health::HealthStatus::Healthy);
      backends_.push_back(std::move(kept));
    } else {
      backends_.push_back(std::make_shared<Backend>(cfg.name, bc));
      backends_.back()->setHealth(initial);
      backends_.back()->markChanged(now_ms);
    }
    raw.push_back(backends_.back().get());
  }
  switch (cfg.balance) {
    case config::Balance::RoundRobin:
      balancer_ = std::make_unique<RoundRobinBalancer>(raw);
      break;
  }
}

PickMode Pool::mode() const {
  size_t primaries = 0, available = 0, unknown = 0, backups = 0;
  for (const auto& b : backends_) {
    if (b->backup()) {
      if (b->available()) ++backups;
      continue;
    }
    ++primaries;
    if (b->available()) {
      ++available;
    } else if (b->health() == health::HealthStatus::Unknown) {
      ++unknown;
    }
  }
  uint32_t panic = cfg_.panic_threshold;
  if (available > 0) {
    if (panic > 0 && available * 100 < panic * primaries) return PickMode::Panic;
    return PickMode::Normal;
  }
  // Primaries that all still await their first probe keep the traffic:
  // start-up must not fail over to backups (and back) for nothing.
  if (primaries > 0 && unknown == primaries) return PickMode::Unknown;
  if (backups > 0) return PickMode::Backup;
  // Nothing proven healthy, but some primaries are still awaiting their
  // first probe: trying them beats a certain 503.
  if (unknown > 0) return PickMode::Unknown;
  if (panic > 0) return PickMode::Panic;
  return PickMode::Normal;
}

const char* Pool::modeName(PickMode m) {
  switch (m) {
    case PickMode::Normal: return "normal";
    case PickMode::Backup: return "backup";
    case PickMode::Unknown: return "unknown";
    case PickMode::Panic: return "panic";
  }
  return "normal";
}

size_t Pool::availableCount() const {
  size_t n = 0;
  for (const auto& b : backends_) n += b->available() ? 1 : 0;
  return n;
}

Backend* Pool::pick(const TriedSet& tried) { return balancer_->pick(tried, mode()); }

void Pool::logTransition(Backend& b, const char* old_state, std::string_view reason, uint64_t now_ms) {
  const char* new_state = b.stateName();
  uint64_t since = now_ms >= b.lastChangeMs() ? now_ms - b.lastChangeMs() : 0;
  b.markChanged(now_ms);
  auto level = std::string_view(new_state) == "healthy" ? config::LogLevel::Info : config::LogLevel::Warn;
  auto& j = log().eventLine(level, "backend_state");
  j.str("pool", cfg_.name).str("backend", b.name()).str("old", old_state).str("new", new_state);
  j.str("reason", reason).num("since_last_change_ms", since);
  j.num("available_in_pool", static_cast<uint64_t>(availableCount()));
  log().emit(level);
}

void Pool::onHealthChanged(Backend& b, health::HealthStatus status, std::string_view reason, uint64_t now_ms) {
  const char* old = b.stateName();
  b.setHealth(status);
  logTransition(b, old, reason, now_ms);
  // Requests in flight finish; pooled connections to a backend out of
  // rotation are closed.
  if (!b.available()) b.idle().closeAll();
}

void Pool::onProbePassed(Backend& b, uint64_t probe_started_ms, uint64_t now_ms) {
  if (!b.ejected_ || !cfg_.outlier_detection || !cfg_.outlier_detection->uneject_on_probe_pass) return;
  if (probe_started_ms < b.ejected_at_ms_) return;  // the probe predates the ejection
  uneject(b, "active probe passed after ejection", now_ms);
}

void Pool::recordFailure(Backend& b, std::string_view reason, uint64_t now_ms) {
  if (!cfg_.outlier_detection || b.ejected_) return;
  const auto& od = *cfg_.outlier_detection;
  if (++b.consecutive_failures_ < od.consecutive_failures) return;
  uint32_t failures = b.consecutive_failures_;
  b.consecutive_failures_ = 0;
  size_t ejected = 0;
  for (const auto& x : backends_) ejected += x->ejected_ ? 1 : 0;
  if ((ejected + 1) * 100 > static_cast<size_t>(od.max_ejected_percent) * backends_.size()) {
    auto& j = log().eventLine(config::LogLevel::Warn, "ejection_suppressed");
    j.str("pool", cfg_.name).str("backend", b.name()).str("reason", "max_ejected_percent reached");
    j.num("ejected", static_cast<uint64_t>(ejected)).num("max_ejected_percent", static_cast<uint64_t>(od.max_ejected_percent));
    log().emit(config::LogLevel::Warn);
    return;
  }
  const char* old = b.stateName();
  ++b.ejections_;
  ++b.stats().ejections;
  uint64_t base = static_cast<uint64_t>(od.base_ejection.count());
  uint64_t dur = std::min<uint64_t>(base * b.ejections_, static_cast<uint64_t>(od.max_ejection.count()));
  b.ejected_ = true;
  b.ejected_at_ms_ = now_ms;
  b.ejected_until_ms_ = now_ms + dur;
  std::string why = std::to_string(failures) + " consecutive failures: " + std::string(reason) + "; ejected for " +
                    config::formatDuration(config::Duration(dur));
  logTransition(b, old, why, now_ms);
  b.idle().closeAll();
}

void Pool::uneject(Backend& b, std::string_view reason, uint64_t now_ms) {
  const char* old = b.stateName();
  b.ejected_ = false;
  b.consecutive_failures_ = 0;
  logTransition(b, old, reason, now_ms);
}

void Pool::sweepEjections(uint64_t now_ms) {
  for (const auto& b : backends_) {
    if (b->ejected_ && now_ms >= b->ejected_until_ms_) {
      uneject(*b, "ejection of " + config::formatDuration(config::Duration(b->ejected_until_ms_ - b->ejected_at_ms_)) + " ended", now_ms);
    }
  }
}


}  // namespace ballast
