// DNS discovery wired into the server: one DnsWatcher per pool with
// `discovery`, and a change of its members applied like a reload of that
// pool alone: Runtime::build with the runtime in force carries every kept
// backend over (health, connections, overrides, statistics), new members
// start unknown and are probed before they take traffic from a pool that
// has available members, and removed members retire (in-flight requests
// finish on the runtime they hold; idle connections close).
#include <algorithm>

#include "lb/server/server.h"

namespace ballast {

namespace {

bool sameDiscovery(const config::DnsDiscoveryConfig& a, const config::DnsDiscoveryConfig& b) {
  if (a.name != b.name || a.type != b.type || a.family != b.family || a.port != b.port || a.refresh != b.refresh ||
      a.keep_last_good != b.keep_last_good || a.allow_empty != b.allow_empty || a.servers.size() != b.servers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.servers.size(); ++i) {
    if (a.servers[i].text != b.servers[i].text) return false;
  }
  return true;
}

}  // namespace

void Server::syncDiscovery(const config::Config& cfg) {
  std::vector<DnsWatcherPtr> next;
  for (const auto& pc : cfg.pools) {
    if (!pc.discovery) continue;
    auto same = std::find_if(discovery_.begin(), discovery_.end(), [&](const DnsWatcherPtr& w) {
      return w && w->pool() == pc.name && sameDiscovery(w->config(), *pc.discovery);
    });
    if (same != discovery_.end()) {
      next.push_back(std::move(*same));
      continue;
    }
    auto w = std::make_unique<DnsWatcher>(&loop_, pc.name, *pc.discovery,
                                          [this](DnsWatcher& changed) { onDiscoveryChange(changed); });
    // A changed block: the pool keeps the members the old discovery found
    // (same addresses, so the same backends with their health, connections
    // and overrides) until the new one's first answer replaces them.
    auto previous = std::find_if(discovery_.begin(), discovery_.end(),
                                 [&](const DnsWatcherPtr& o) { return o && o->pool() == pc.name; });
    if (previous != discovery_.end()) {
      w->inherit(**previous);
      auto& j = log().eventLine(LogLevel::Info, "discovery_replaced");
      j.str("pool", pc.name).str("name", pc.discovery->name).str("previous_name", (*previous)->config().name);
      j.num("members_kept", static_cast<uint64_t>(w->state().members().size()));
      log().emit(LogLevel::Info);
    }
    const std::string err = w->start();
    if (!err.empty()) {
      auto& j = log().eventLine(LogLevel::Error, "discovery_failed");
      j.str("pool", pc.name).str("error", err);
      log().emit(LogLevel::Error);
      DnsWatcher::close(std::move(w));
      continue;
    }
    next.push_back(std::move(w));
  }
  for (auto& old : discovery_) {
    if (old) DnsWatcher::close(std::move(old));
  }
  discovery_ = std::move(next);
}

void Server::stopDiscovery() {
  for (auto& w : discovery_) DnsWatcher::close(std::move(w));
  discovery_.clear();
}

config::Config Server::withDiscovered(const config::Config& cfg) const {
  config::Config out = cfg;
  for (auto& pc : out.pools) {
    // Idempotent: members discovered earlier are replaced, never doubled.
    std::erase_if(pc.backends, [](const config::BackendConfig& b) { return b.discovered; });
    if (!pc.discovery) continue;
    for (const auto& w : discovery_) {
      if (!w || w->pool() != pc.name) continue;
      for (config::BackendConfig& b : w->backends()) {
        // A static backend with the same address wins (it has its own settings).
        const bool taken = std::any_of(pc.backends.begin(), pc.backends.end(),
                                       [&](const config::BackendConfig& s) { return s.address.text == b.address.text; });
        if (taken) continue;
        b.discovered = true;
        b.zone.clear();
        pc.backends.push_back(std::move(b));
      }
    }
  }
  return out;
}

void Server::onDiscoveryChange(DnsWatcher& w) {
  if (stopping_) return;
  std::shared_ptr<Runtime> old = runtime();
  uv_update_time(&loop_);
  proxy_->setRuntime(Runtime::build(withDiscovered(*old->config), uv_now(&loop_), old.get(), zone_override_, &tls_));
  const Runtime& rt = *runtime();
  const Pool* now_pool = rt.findPool(w.pool());
  const Pool* old_pool = old->findPool(w.pool());
  size_t added = 0;
  size_t removed = 0;
  size_t kept = 0;
  const auto holds = [](const Pool* p, const Backend* b) {
    if (p == nullptr) return false;
    return std::any_of(p->backends().begin(), p->backends().end(), [&](const BackendPtr& x) { return x.get() == b; });
  };
  if (now_pool != nullptr) {
    for (const auto& b : now_pool->backends()) (holds(old_pool, b.get()) ? kept : added) += 1;
  }
  if (old_pool != nullptr) {
    for (const auto& b : old_pool->backends()) {
      if (holds(now_pool, b.get())) continue;
      ++removed;
      b->retire();  // no new requests; in-flight ones finish on the old runtime
    }
  }
  // Only this pool's probes change: a session for each added backend
  // (probed at once), none for the removed ones; kept backends and every
  // other pool keep their probe schedule and state (the other pools'
  // backends are the same objects in the new runtime).
  if (now_pool != nullptr && now_pool->config().health_check) {
    auto c = std::find_if(checkers_.begin(), checkers_.end(),
                          [&](const auto& x) { return x->poolName() == w.pool(); });
    if (c != checkers_.end()) {
      (*c)->update(now_pool->backends());
    } else if (!now_pool->backends().empty()) {
      startChecker(*now_pool);
    }
  }
  requestHealthResync();  // a worker other than 0: statuses of new members
  auto& j = log().eventLine(LogLevel::Info, "discovery_applied");
  j.str("pool", w.pool()).num("backends_added", static_cast<uint64_t>(added));
  j.num("backends_removed", static_cast<uint64_t>(removed)).num("backends_kept", static_cast<uint64_t>(kept));
  log().emit(LogLevel::Info);
}

}  // namespace ballast
