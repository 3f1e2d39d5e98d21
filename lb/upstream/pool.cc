#include "lb/upstream/pool.h"

#include "config/duration.h"
#include "lb/base/log.h"
#include <algorithm>
#include <cmath>

namespace ballast {

const char* toString(ZoneMode m) {
  switch (m) {
    case ZoneMode::Off: return "off";
    case ZoneMode::Local: return "local";
    case ZoneMode::Spill: return "spill";
    case ZoneMode::Failover: return "failover";
  }
  return "off";
}

namespace {

BalancerKind kindOf(config::Balance b) {
  switch (b) {
    case config::Balance::RoundRobin: return BalancerKind::RoundRobin;
    case config::Balance::LeastRequest: return BalancerKind::LeastRequest;
    case config::Balance::P2C: return BalancerKind::P2C;
    case config::Balance::Random: return BalancerKind::Random;
    case config::Balance::ConsistentHash: return BalancerKind::ConsistentHash;
  }
  return BalancerKind::RoundRobin;
}

}  // namespace

Pool::Pool(const config::PoolConfig& cfg, uint64_t now_ms, const Pool* previous, std::string local_zone)
    : cfg_(cfg), local_zone_(std::move(local_zone)), budget_(cfg.retries) {
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
  }
  for (const auto& b : backends_) {
    by_sticky_id_[b->stickyId()] = b.get();
    b->setHomePool(this);
  }
  balancer_ = makeBalancer(kindOf(cfg.balance), cfg.bounded_load);
  zone_split_ = cfg.zone_aware && !local_zone_.empty();
  if (cfg.zone_aware && local_zone_.empty()) {
    auto& j = log().eventLine(LogLevel::Warn, "zone_unset");
    j.str("pool", cfg.name).str("effect", "zone_aware has no effect: this instance has no zone (set zone: or --zone)");
    log().emit(LogLevel::Warn);
  }
  if (zone_split_) remote_balancer_ = makeBalancer(kindOf(cfg.balance), cfg.bounded_load);
  if (cfg.outlier_detection) outlier_.emplace(*cfg.outlier_detection);
  refresh(now_ms);
}

Pool::~Pool() {
  for (const auto& b : backends_) {
    if (b->homePool() == this) b->setHomePool(nullptr);
  }
}

Backend* Pool::find(std::string_view address) const {
  for (const auto& b : backends_) {
    if (b->name() == address) return b.get();
  }
  return nullptr;
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

uint32_t Pool::rampPermille(const Backend& b, uint64_t now_ms) const {
  const uint64_t window = static_cast<uint64_t>(cfg_.slow_start.window.count());
  if (window == 0 || !b.seenAvailable()) return 1000;
  const uint64_t t = now_ms >= b.rampStartMs() ? now_ms - b.rampStartMs() : 0;
  if (t >= window) return 1000;
  const double x = static_cast<double>(t) / static_cast<double>(window);
  const double share = 0.1 + 0.9 * std::pow(x, 1.0 / cfg_.slow_start.aggression);
  return std::clamp<uint32_t>(static_cast<uint32_t>(share * 1000.0), 100, 1000);
}

void Pool::refresh(uint64_t now_ms) {
  last_refresh_ms_ = now_ms;
  size_t primaries = 0, available = 0, unknown = 0, backups = 0, all_available = 0;
  for (const auto& b : backends_) {
    b->noteAvailability(b->available(), now_ms);
    all_available += b->available() ? 1 : 0;
    // Weight 0 takes nothing, so it keeps no traffic from the backups.
    if (b->weight() == 0) continue;
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
  available_ = all_available;
  const uint32_t panic = cfg_.panic_threshold;
  if (available > 0) {
    mode_ = panic > 0 && available * 100 < panic * primaries ? PickMode::Panic : PickMode::Normal;
  } else if (primaries > 0 && unknown == primaries) {
    // Primaries that all still await their first probe keep the traffic:
    // start-up must not fail over to backups (and back) for nothing.
    mode_ = PickMode::Unknown;
  } else if (backups > 0) {
    mode_ = PickMode::Backup;
  } else if (unknown > 0) {
    // Nothing proven healthy, but some primaries are still awaiting their
    // first probe: trying them beats a certain 503.
    mode_ = PickMode::Unknown;
  } else {
    mode_ = panic > 0 ? PickMode::Panic : PickMode::Normal;
  }

  // Zones: the state of each (primaries), and which candidates are local.
  zones_.clear();
  if (cfg_.zone_aware) {
    for (const auto& b : backends_) {
      if (b->backup()) continue;
      auto it = std::find_if(zones_.begin(), zones_.end(), [&](const ZoneInfo& z) { return z.name == b->zone(); });
      if (it == zones_.end()) {
        zones_.push_back(ZoneInfo{b->zone(), 0, 0, zone_split_ && b->zone() == local_zone_});
        it = zones_.end() - 1;
      }
      ++it->backends;
      it->available += b->available() ? 1 : 0;
    }
  }

  local_.clear();
  remote_.clear();
  ramping_ = false;
  for (const auto& b : backends_) {
    const uint32_t permille = rampPermille(*b, now_ms);
    b->setRampPermille(permille);
    if (b->weight() == 0 || !eligible(*b, mode_)) continue;
    ramping_ = ramping_ || permille < 1000;
    const Candidate c{b.get(), b->weight(), permille};
    (zone_split_ && b->zone() != local_zone_ ? remote_ : local_).push_back(c);
  }

  const ZoneMode old_mode = zone_mode_;
  const double old_spill = spill_ratio_;
  if (!zone_split_) {
    zone_mode_ = ZoneMode::Off;
    spill_ratio_ = 0;
  } else {
    uint32_t local_total = 0, local_available = 0;
    for (const ZoneInfo& z : zones_) {
      if (z.local) {
        local_total = z.backends;
        local_available = z.available;
      }
    }
    const double share = local_total == 0 ? 0.0 : static_cast<double>(local_available) / local_total;
    const double min_share = cfg_.zone_min_healthy / 100.0;
    if (local_.empty()) {
      zone_mode_ = remote_.empty() ? ZoneMode::Local : ZoneMode::Failover;
      spill_ratio_ = remote_.empty() ? 0.0 : 1.0;
    } else if (remote_.empty() || share >= min_share) {
      zone_mode_ = ZoneMode::Local;
      spill_ratio_ = 0;
    } else {
      zone_mode_ = ZoneMode::Spill;
      spill_ratio_ = 1.0 - share / min_share;
    }
    remote_balancer_->rebuild(remote_);
  }
  balancer_->rebuild(local_);
  if (refreshed_) logZoneChange(old_mode, old_spill);
  refreshed_ = true;
  dispatch();
}

void Pool::logZoneChange(ZoneMode old_mode, double old_spill) {
  if (old_mode == zone_mode_ && std::fabs(old_spill - spill_ratio_) < 0.005) return;
  const LogLevel level = zone_mode_ == ZoneMode::Local ? LogLevel::Info : LogLevel::Warn;
  auto& j = log().eventLine(level, "zone_state");
  j.str("pool", cfg_.name).str("zone", local_zone_).str("old", toString(old_mode)).str("new", toString(zone_mode_));
  j.dbl("spill_ratio", spill_ratio_, 3);
  for (const ZoneInfo& z : zones_) {
    if (!z.local) continue;
    j.num("local_available", static_cast<uint64_t>(z.available)).num("local_backends", static_cast<uint64_t>(z.backends));
  }
  j.num("min_healthy_percent", static_cast<uint64_t>(cfg_.zone_min_healthy));
  log().emit(level);
}

void Pool::tick(uint64_t now_ms) {
  if (ramping_) refresh(now_ms);
}

void Pool::setAdminState(Backend& b, AdminState s, uint64_t now_ms) {
  if (b.adminState() == s) return;
  b.setAdminState(s);
  b.markChanged(now_ms);
  refresh(now_ms);
}

Backend* Pool::findSticky(std::string_view id) const {
  auto it = by_sticky_id_.find(id);
  return it == by_sticky_id_.end() ? nullptr : it->second;
}

Backend* Pool::pickFrom(const PickRequest& r) {
  if (!r.sticky.empty()) {
    // The cookie's backend while it may take this request; otherwise the
    // policy picks (and the response rewrites the cookie).
    Backend* s = findSticky(r.sticky);
    if (s != nullptr && s->weight() > 0 && eligible(*s, mode_) && r.usable(s)) return s;
  }
  Balancer* first = balancer_.get();
  Balancer* second = nullptr;
  if (zone_split_) {
    Balancer* local = balancer_.get();
    Balancer* remote = remote_balancer_.get();
    bool spill = zone_mode_ == ZoneMode::Failover;
    if (zone_mode_ == ZoneMode::Spill) {
      // A hashed request spills by its key, so one key stays on one side.
      const double u = r.has_hash ? static_cast<double>(mix64(r.hash ^ 0x7a6f6e65ULL) >> 11) * 0x1.0p-53
                                  : spill_rng_.unit();
      spill = u < spill_ratio_;
    }
    first = spill ? remote : local;
    second = spill ? local : remote;
  }
  Backend* b = first->pick(r);
  if (b == nullptr && second != nullptr) b = second->pick(r);
  if (b != nullptr && !eligible(*b, mode_) && !refreshing_) {
    // Only a pool of an older config can be stale (backends are shared, and
    // probes and admin actions reach the current pool): catch up, once.
    refreshing_ = true;
    refresh(last_refresh_ms_);
    b = pickFrom(r);
    refreshing_ = false;
  }
  return b;
}

bool Pool::someoneFull(const TriedSet& tried) const {
  for (const auto* set : {&local_, &remote_}) {
    for (const Candidate& c : *set) {
      if (!c.backend->hasCapacity() && !tried.contains(c.backend)) return true;
    }
  }
  return false;
}

void Pool::count(Backend& b) {
  b.requestStarted();
  // Whichever balancer holds it learns of it (the other ignores it).
  balancer_->started(b);
  if (remote_balancer_) remote_balancer_->started(b);
}

PickResult Pool::pick(const PickRequest& r) {
  PickResult out;
  // First come, first served: while requests wait, a new one waits behind
  // them (a retry, which already holds its place in line, does not).
  if (!queue_.empty() && r.tried->size() == 0) {
    out.status = local_.empty() && remote_.empty() ? PickStatus::NoBackend : PickStatus::Full;
    return out;
  }
  Backend* b = pickFrom(r);
  if (b == nullptr) {
    out.status = someoneFull(*r.tried) ? PickStatus::Full : PickStatus::NoBackend;
    return out;
  }
  count(*b);
  out.backend = b;
  out.status = PickStatus::Picked;
  return out;
}

void Pool::release(Backend& b, AttemptOutcome outcome) {
  b.requestFinished();
  balancer_->release(b, outcome);
  if (remote_balancer_) remote_balancer_->release(b, outcome);
  if (!queue_.empty()) dispatch();
  // A request of an older config freed a slot the current pool's queue may
  // be waiting for.
  if (Pool* home = b.homePool(); home != nullptr && home != this && !home->queue_.empty()) home->dispatch();
}

bool Pool::enqueue(QueueWaiter& w, const PickRequest& r, uint64_t now_ms) {
  if (!cfg_.queue || queue_.size() >= cfg_.queue->size) return false;
  w.pick_ = r;
  queue_.pushBack(&w, now_ms);
  return true;
}

void Pool::leaveQueue(QueueWaiter& w) { queue_.erase(&w); }

void Pool::dispatch() {
  // A dispatched request may finish (or fail) synchronously and release
  // again: the outer loop carries on, the nested call does nothing.
  if (dispatching_) return;
  dispatching_ = true;
  while (QueueWaiter* w = queue_.front()) {
    Backend* b = pickFrom(w->pick_);
    if (b == nullptr) break;
    queue_.erase(w);
    count(*b);
    w->onDispatched(*b);
  }
  dispatching_ = false;
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
  refresh(now_ms);
  logTransition(b, old, r.reason, now_ms);
  // Requests in flight finish; pooled connections to a backend out of
  // rotation are closed.
  if (!b.available()) b.idle().closeAll();
}

void Pool::applySharedHealth(Backend& b, HealthStatus s, uint64_t now_ms) {
  if (b.health() == s) return;
  b.setHealth(s);
  b.markChanged(now_ms);
  refresh(now_ms);
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
  refresh(now_ms);
  logTransition(b, old, why, now_ms);
  b.idle().closeAll();
}

void Pool::uneject(Backend& b, std::string_view reason, uint64_t now_ms) {
  const char* old = b.stateName();
  OutlierDetector::uneject(b);
  refresh(now_ms);
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
