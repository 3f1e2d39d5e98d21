#include "health/health_checker.h"

#include <random>

#include "health/health_session.h"
#include "lb/log.h"
#include "lb/backend.h"
#include "lb/pool.h"

namespace ballast::health {

HealthChecker::HealthChecker(uv_loop_t* loop, std::shared_ptr<Pool> pool) : loop_(loop), pool_(std::move(pool)) {
  std::random_device rd;
  const auto& cfg = *pool_->config().health_check;
  for (const auto& b : pool_->backends()) {
    uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    sessions_.push_back(new HealthSession(*this, b, cfg, loop_, seed));
    // A backend carried over by a reload keeps its status; rise/fall start
    // over from it.
    if (b->health() != HealthStatus::Unknown) sessions_.back()->seed(b->health());
  }
}

HealthChecker::~HealthChecker() { close(); }

bool HealthChecker::firstRoundDone() const {
  for (const auto* s : sessions_) {
    // A backend carried over by a reload already has its status: a reload
    // must not make the instance unready.
    if (!s->hasStatus()) return false;
  }
  return true;
}

void HealthChecker::start() {
  for (auto* s : sessions_) s->start();
}

void HealthChecker::close() {
  for (auto* s : sessions_) s->close();
  sessions_.clear();
}

void HealthChecker::report(HealthSession& s, bool passed, HealthTransition t, const std::string& reason,
                           uint64_t probe_started_ms) {
  uint64_t now = uv_now(loop_);
  Backend& b = s.backend();
  if (passed) {
    ++b.stats().health_pass;
  } else {
    ++b.stats().health_fail;
  }
  pool_->stats().health_check_duration.observe(s.lastLatencyMs() / 1000.0);
  if (log().enabled(config::LogLevel::Debug)) {
    auto& j = log().eventLine(config::LogLevel::Debug, "probe");
    j.str("pool", pool_->name()).str("backend", b.name()).boolean("passed", passed).str("reason", reason);
    j.dbl("latency_ms", s.lastLatencyMs()).str("health", toString(s.state().status()));
    log().emit(config::LogLevel::Debug);
  }
  if (passed) pool_->onProbePassed(b, probe_started_ms, now);
  if (t != HealthTransition::Changed) return;
  const auto& cfg = *pool_->config().health_check;
  HealthStatus st = s.state().status();
  bool from_unknown = b.health() == HealthStatus::Unknown;
  std::string why;
  if (st == HealthStatus::Healthy) {
    why = from_unknown ? "first probe passed: " + reason : std::to_string(cfg.rise) + " consecutive passes: " + reason;
  } else {
    why = from_unknown ? "first probe failed: " + reason
                       : std::to_string(cfg.fall) + " consecutive failures: " + reason;
  }
  pool_->onHealthChanged(b, st, why, now);
}

}  // namespace ballast::health
