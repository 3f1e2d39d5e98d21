#include "lb/upstream/pool.h"

#include "config/duration.h"
#include "lb/base/log.h"
#include "lb/upstream/balancer_round_robin.h"

namespace ballast {

Pool::Pool(const config::PoolConfig& cfg, uint64_t now_ms, const Pool* previous) : cfg_(cfg), budget_(cfg.retries) {
  std::vector<Backend*> raw;
  backends_.reserve(cfg.backends.size());
  const HealthStatus initial =
      cfg.health_check ? initialHealth(cfg.health_check->initial) : HealthStatus::Healthy;
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
      if (!cfg.health_check) kept->setHealth(HealthStatus::Healthy);
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
  if (cfg.outlier_detection) outlier_.emplace(*cfg.outlier_detection);
}

Backend* Pool::find(std::string_view address) const {
  for (const auto& b : backends_) {
    if (b->name() == address) return b.get();
  }
  return nullptr;
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
    } else if (b->health() == HealthStatus::Unknown) {
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

Backend* Pool::pick(const TriedSet& tried) {
  Backend* b = balancer_->pick(tried, mode());
  if (b != nullptr) b->requestStarted();
  return b;
}

void Pool::release(Backend& b, AttemptOutcome outcome) {
  b.requestFinished();
  balancer_->release(b, outcome);
}

void Pool::logTransition(Backend& b, const char* old_state, std::string_view reason, uint64_t now_ms) {
  const char* new_state = b.stateName();
  uint64_t since = now_ms >= b.lastChangeMs() ? now_ms - b.lastChangeMs() : 0;
  b.markChanged(now_ms);
  auto level = std::string_view(new_state) == "healthy" ? LogLevel::Info : LogLevel::Warn;
  auto& j = log().eventLine(level, "backend_state");
  j.str("pool", cfg_.name).str("backend", b.name()).str("old", old_state).str("new", new_state);
  j.str("reason", reason).num("since_last_change_ms", since);
  j.num("available_in_pool", static_cast<uint64_t>(availableCount()));
  log().emit(level);
}

void Pool::onProbe(Backend& b, const ProbeResult& r, uint64_t now_ms) {
  BackendStats& bs = b.stats();
  ++(r.passed ? bs.health_pass : bs.health_fail);
  stats_.health_check_duration.observe(r.latency_ms / 1000.0);
  if (r.passed && outlier_ && outlier_->probeEndsEjection(b, r.started_ms)) {
    uneject(b, "active probe passed after ejection", now_ms);
  }
  if (!r.changed) return;
  const char* old = b.stateName();
  b.setHealth(r.status);
  logTransition(b, old, r.reason, now_ms);
  // Requests in flight finish; pooled connections to a backend out of
  // rotation are closed.
  if (!b.available()) b.idle().closeAll();
}

void Pool::recordSuccess(Backend& b) {
  if (outlier_) outlier_->recordSuccess(b);
}

void Pool::recordFailure(Backend& b, std::string_view reason, uint64_t now_ms) {
  if (!outlier_ || b.ejected_) return;
  size_t ejected = 0;
  for (const auto& x : backends_) ejected += x->ejected_ ? 1 : 0;
  const char* old = b.stateName();
  auto d = outlier_->recordFailure(b, ejected, backends_.size(), now_ms);
  using Kind = OutlierDetector::Decision::Kind;
  if (d.kind == Kind::Suppressed) {
    auto& j = log().eventLine(LogLevel::Warn, "ejection_suppressed");
    j.str("pool", cfg_.name).str("backend", b.name()).str("reason", "max_ejected_percent reached");
    j.num("ejected", static_cast<uint64_t>(ejected))
        .num("max_ejected_percent", static_cast<uint64_t>(outlier_->config().max_ejected_percent));
    log().emit(LogLevel::Warn);
    return;
  }
  if (d.kind != Kind::Ejected) return;
  std::string why = std::to_string(d.failures) + " consecutive failures: " + std::string(reason) + "; ejected for " +
                    config::formatDuration(config::Duration(d.duration_ms));
  logTransition(b, old, why, now_ms);
  b.idle().closeAll();
}

void Pool::uneject(Backend& b, std::string_view reason, uint64_t now_ms) {
  const char* old = b.stateName();
  OutlierDetector::uneject(b);
  logTransition(b, old, reason, now_ms);
}

void Pool::sweepEjections(uint64_t now_ms) {
  for (const auto& b : backends_) {
    if (OutlierDetector::expired(*b, now_ms)) {
      uneject(*b,
              "ejection of " + config::formatDuration(config::Duration(b->ejected_until_ms_ - b->ejected_at_ms_)) +
                  " ended",
              now_ms);
    }
  }
}

}  // namespace ballast
