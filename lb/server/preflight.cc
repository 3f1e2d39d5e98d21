#include "lb/server/preflight.h"

#include <algorithm>

#include "lb/upstream/backend.h"

namespace ballast {

Preflight::Preflight(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

Preflight* Preflight::start(uv_loop_t* loop, const config::Config& cfg, const tls::TlsContexts& tls,
                            const std::vector<std::string>& only, Done done) {
  auto* self = new Preflight(loop, std::move(done));
  uint64_t longest = 0;
  for (size_t i = 0; i < cfg.pools.size(); ++i) {
    const config::PoolConfig& pc = cfg.pools[i];
    if (!pc.health_check) continue;
    if (!only.empty() && std::find(only.begin(), only.end(), pc.name) == only.end()) continue;
    const size_t index = self->pools_.size();
    PreflightPool p;
    p.name = pc.name;
    p.backends = pc.backends.size();
    self->pools_.push_back(std::move(p));
    std::vector<BackendPtr> backends;
    for (const auto& bc : pc.backends) {
      auto b = std::make_shared<Backend>(pc.name, bc);
      b->setHealth(HealthStatus::Unknown);  // the first result decides
      backends.push_back(std::move(b));
    }
    self->pending_ += backends.size();
    self->answered_.emplace_back(backends.size(), false);
    self->reasons_.emplace_back(backends.size());
    // A probe that never fails over `rise` passes: one pass is "would pass".
    config::HealthCheckConfig hc = *pc.health_check;
    hc.rise = 1;
    hc.fall = 1;
    longest = std::max<uint64_t>(longest, static_cast<uint64_t>(hc.timeout.count()));
    std::shared_ptr<tls::ClientContext> client = i < tls.pools.size() ? tls.pools[i] : nullptr;
    self->checkers_.push_back(std::make_unique<health::HealthChecker>(
        loop, pc.name, backends, hc,
        [self, index](Backend& b, const ProbeResult& r) { self->onResult(index, b, r); }, client));
    self->backends_.push_back(std::move(backends));
  }
  if (self->pending_ == 0) {
    uv_timer_start(&self->timer_, &Preflight::onTimer, 0, 0);  // nothing to probe: report on the next turn
    return self;
  }
  for (auto& c : self->checkers_) c->start();
  uv_timer_start(&self->timer_, &Preflight::onTimer, longest + 1000, 0);
  return self;
}

void Preflight::onResult(size_t pool, Backend& b, const ProbeResult& r) {
  if (finished_) return;
  auto& list = backends_[pool];
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].get() != &b || answered_[pool][i]) continue;
    answered_[pool][i] = true;
    --pending_;
    if (r.passed) {
      ++pools_[pool].passing;
    } else {
      reasons_[pool][i] = b.name() + ": " + std::string(r.reason);
    }
  }
  // Not from inside the checker's callback: on the next turn.
  if (pending_ == 0) uv_timer_start(&timer_, &Preflight::onTimer, 0, 0);
}

void Preflight::onTimer(uv_timer_t* t) { static_cast<Preflight*>(t->data)->finish(); }

void Preflight::finish() {
  if (finished_) return;
  finished_ = true;
  // Failures in config order (not the order the probes answered); probes
  // still out after the deadline count as failures.
  for (size_t p = 0; p < pools_.size(); ++p) {
    for (size_t i = 0; i < backends_[p].size(); ++i) {
      if (!answered_[p][i]) {
        pools_[p].failures.push_back(backends_[p][i]->name() + ": no probe result in time");
      } else if (!reasons_[p][i].empty()) {
        pools_[p].failures.push_back(reasons_[p][i]);
      }
    }
  }
  Done done = std::move(done_);
  std::vector<PreflightPool> pools = std::move(pools_);
  cancel();  // closes the checkers and the timer; deleted from its close callback
  if (done) done(std::move(pools));
}

void Preflight::cancel() {
  finished_ = true;
  done_ = nullptr;
  for (auto& c : checkers_) c->close();
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) { delete static_cast<Preflight*>(h->data); });
}

bool poolChanged(const config::PoolConfig& a, const config::PoolConfig& b) {
  if (a.backends.size() != b.backends.size() || a.health_check.has_value() != b.health_check.has_value()) return true;
  for (size_t i = 0; i < a.backends.size(); ++i) {
    if (a.backends[i].address.text != b.backends[i].address.text || a.backends[i].weight != b.backends[i].weight ||
        a.backends[i].backup != b.backends[i].backup) {
      return true;
    }
  }
  if (a.health_check) {
    const auto& x = *a.health_check;
    const auto& y = *b.health_check;
    if (x.type != y.type || x.path != y.path || x.host != y.host || x.method != y.method) return true;
  }
  return false;
}

std::vector<std::string> configChanges(const config::Config& current, const config::Config& next) {
  std::vector<std::string> out;
  const auto hasListen = [](const config::Config& c, const std::string& text) {
    return std::any_of(c.listen.begin(), c.listen.end(), [&](const auto& l) { return l.text == text; });
  };
  for (const auto& l : next.listen) {
    if (!hasListen(current, l.text)) out.push_back("listener " + l.text + " added");
  }
  for (const auto& l : current.listen) {
    if (!hasListen(next, l.text)) out.push_back("listener " + l.text + " removed");
  }
  const auto findPool = [](const config::Config& c, const std::string& name) -> const config::PoolConfig* {
    for (const auto& p : c.pools) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  for (const auto& p : next.pools) {
    const config::PoolConfig* old = findPool(current, p.name);
    if (old == nullptr) {
      out.push_back("pool " + p.name + " added (" + std::to_string(p.backends.size()) + " backends)");
      continue;
    }
    const auto hasBackend = [](const config::PoolConfig& pc, const std::string& text) {
      return std::any_of(pc.backends.begin(), pc.backends.end(), [&](const auto& b) { return b.address.text == text; });
    };
    bool listed = false;
    for (const auto& b : p.backends) {
      if (!hasBackend(*old, b.address.text)) {
        out.push_back("pool " + p.name + ": backend " + b.address.text + " added");
        listed = true;
      }
    }
    for (const auto& b : old->backends) {
      // Members found by DNS discovery are not in the file: the new config
      // does not remove them (discovery keeps them up to date).
      if (b.discovered) continue;
      if (!hasBackend(p, b.address.text)) {
        out.push_back("pool " + p.name + ": backend " + b.address.text + " removed");
        listed = true;
      }
    }
    if (!listed && poolChanged(p, *old)) out.push_back("pool " + p.name + ": weights, roles or health check changed");
  }
  for (const auto& p : current.pools) {
    if (findPool(next, p.name) == nullptr) out.push_back("pool " + p.name + " removed");
  }
  if (current.routes.size() != next.routes.size()) {
    out.push_back("routes: " + std::to_string(current.routes.size()) + " -> " + std::to_string(next.routes.size()));
  }
  return out;
}

std::string preflightSummary(const PreflightPool& p) {
  std::string s = "pool " + p.name + ": " + std::to_string(p.passing) + " of " + std::to_string(p.backends) +
                  " would pass";
  if (!p.failures.empty()) {
    s += ": ";
    for (size_t i = 0; i < p.failures.size() && i < 5; ++i) s += (i ? "; " : "") + p.failures[i];
    if (p.failures.size() > 5) s += "; ...";
  }
  return s;
}

}  // namespace ballast
