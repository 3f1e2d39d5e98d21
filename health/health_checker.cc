#include "health/health_checker.h"

#include <algorithm>
#include <random>

#include "health/health_session.h"
#include "lb/base/log.h"

namespace ballast::health {

HealthChecker::HealthChecker(uv_loop_t* loop, std::string pool_name, const std::vector<BackendPtr>& backends,
                             const config::HealthCheckConfig& cfg, Listener listener,
                             std::shared_ptr<tls::ClientContext> tls)
    : loop_(loop), pool_name_(std::move(pool_name)), cfg_(cfg), listener_(std::move(listener)), tls_(std::move(tls)) {
  for (const auto& b : backends) addSession(b);
}

HealthSession* HealthChecker::addSession(const BackendPtr& b) {
  static std::random_device rd;
  const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  sessions_.push_back(new HealthSession(*this, b, cfg_, loop_, seed, tls_));
  // A backend carried over by a reload keeps its status; rise/fall start
  // over from it.
  if (b->health() != HealthStatus::Unknown) sessions_.back()->seed(b->health());
  return sessions_.back();
}

HealthChecker::Update HealthChecker::update(const std::vector<BackendPtr>& backends) {
  Update u;
  // Latched before the new sessions exist: they join a finished round.
  first_round_done_ = firstRoundDone();
  // Closed first: a session of a removed backend publishes nothing more.
  std::erase_if(sessions_, [&](HealthSession* s) {
    const bool listed = std::any_of(backends.begin(), backends.end(),
                                    [&](const BackendPtr& b) { return b.get() == &s->backend(); });
    if (listed) return false;
    s->close();
    ++u.removed;
    return true;
  });
  for (const auto& b : backends) {
    if (sessionFor(*b) != nullptr) continue;
    addSession(b)->start();
    ++u.added;
  }
  return u;
}

HealthChecker::~HealthChecker() { close(); }

bool HealthChecker::firstRoundDone() const {
  if (first_round_done_) return true;
  for (const auto* s : sessions_) {
    // A backend carried over by a reload already has its status: a reload
    // must not make the instance unready.
    if (!s->hasStatus()) return false;
  }
  return true;
}

const HealthSession* HealthChecker::sessionFor(const Backend& b) const {
  for (const HealthSession* s : sessions_) {
    if (&s->backend() == &b) return s;
  }
  return nullptr;
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
  Backend& b = s.backend();
  if (!first_round_done_) first_round_done_ = firstRoundDone();
  if (log().enabled(LogLevel::Debug)) {
    auto& j = log().eventLine(LogLevel::Debug, "probe");
    j.str("pool", pool_name_).str("backend", b.name()).boolean("passed", passed).str("reason", reason);
    j.dbl("latency_ms", s.lastLatencyMs()).str("health", toString(s.state().status()));
    log().emit(LogLevel::Debug);
  }
  ProbeResult r;
  r.passed = passed;
  r.changed = t == HealthTransition::Changed;
  r.status = s.state().status();
  r.started_ms = probe_started_ms;
  r.latency_ms = s.lastLatencyMs();
  std::string why;
  if (r.changed) {
    const bool from_unknown = b.health() == HealthStatus::Unknown;
    if (r.status == HealthStatus::Healthy) {
      why = from_unknown ? "first probe passed: " + reason
                         : std::to_string(cfg_.rise) + " consecutive passes: " + reason;
    } else {
      why = from_unknown ? "first probe failed: " + reason
                         : std::to_string(cfg_.fall) + " consecutive failures: " + reason;
    }
    r.reason = why;
  } else {
    r.reason = reason;
  }
  if (listener_) listener_(b, r);
}

}  // namespace ballast::health
