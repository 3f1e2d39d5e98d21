// Server::reload: validate the new config completely (in a child process,
// then in the thread pool: config_job.h), bind what it adds, and only then
// swap it in; any failure leaves the running config as it was.
#include <algorithm>
#include <ctime>

#include "lb/admin/admin_server.h"
#include "lb/admin/drills.h"
#include "lb/base/address.h"
#include "lb/base/clock.h"
#include "lb/base/line_channel.h"
#include "lb/base/log.h"
#include "lb/proxy/explain.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"
#include "lb/server/config_job.h"
#include "lb/server/preflight.h"
#include "lb/server/sd_notify.h"
#include "lb/server/server.h"
#include "lb/server/watch.h"

namespace ballast {

namespace {

bool sameAddress(const config::Address& a, const Listener& l) {
  return sameSockaddr(reinterpret_cast<const sockaddr*>(&a.addr), l.sockAddr());
}

}  // namespace

void Server::reload(std::string_view trigger, ReloadDone done) {
  ReloadResult refused;
  if (stopping_) refused.errors.push_back("shutting down: reload refused");
  if (config_path_.empty()) refused.errors.push_back("no configuration file to reload");
  if (!refused.errors.empty()) {
    failReload(trigger, refused);
    if (done) done(refused);
    return;
  }
  reload_waiters_.push_back(ReloadWaiter{std::string(trigger), std::move(done)});
  if (reload_job_ == nullptr) startReloadJob();
}

void Server::startReloadJob() {
  std::vector<ReloadWaiter> waiters = std::move(reload_waiters_);
  reload_waiters_.clear();
  std::string trigger;
  for (const auto& w : waiters) {
    if (trigger.find(w.trigger) != std::string::npos) continue;
    if (!trigger.empty()) trigger += ",";
    trigger += w.trigger;
  }
  if (watch_) watch_->acknowledge();
  notify_->reloading();
  // The running binary checks: /proc/self/exe is this program even if its
  // file was replaced (a hot upgrade is the way to run a new one).
  reload_job_ = std::make_unique<ConfigLoadJob>(
      &loop_, "/proc/self/exe", config_path_,
      [this, waiters = std::move(waiters), trigger](ConfigLoadJob::Result&& loaded) {
        // The job may not be deleted from inside its own callback.
        retired_jobs_.push_back(std::move(reload_job_));
        housekeeping_ = true;
        // The load took a while: timers started from here (probes, the
        // new listeners' connections) measure from now, not from before.
        uv_update_time(&loop_);
        ReloadResult res;
        if (!loaded.config) {
          res.errors = std::move(loaded.errors);
          res = failReload(trigger, std::move(res));
        } else {
          res = applyConfig(*loaded.config, trigger, loaded.hash);
          if (res.ok) {
            previous_text_ = std::move(config_text_);
            config_text_ = std::move(loaded.text);
            recordHistory(trigger);
          }
        }
        if (!stopping_) notify_->reloaded();
        for (const auto& w : waiters) {
          if (w.done) w.done(res);
        }
        if (!reload_waiters_.empty() && !stopping_) startReloadJob();
      });
  reload_job_->start();
}

ReloadResult Server::failReload(std::string_view trigger, ReloadResult res) {
  ++processStats().reloads_failure;
  processStats().last_reload_failure = wallSeconds();
  std::string joined;
  for (const auto& e : res.errors) {
    if (!joined.empty()) joined += "; ";
    joined += e;
  }
  auto& j = log().eventLine(LogLevel::Error, "config_reload_failed");
  j.str("trigger", trigger).str("file", config_path_).num("error_count", static_cast<uint64_t>(res.errors.size()));
  j.str("errors", joined).str("result", "the running configuration is unchanged");
  log().emit(LogLevel::Error);
  res.ok = false;
  return res;
}

ReloadResult Server::applyConfig(const config::Config& cfg, std::string_view trigger, const std::string& hash) {
  ReloadResult res;
  if (stopping_) {
    res.errors.push_back("shutting down: reload refused");
    return failReload(trigger, std::move(res));
  }
  // 0. TLS: every certificate, key and CA file is read again and checked;
  //    a bad one refuses the reload (the running contexts keep serving).
  //    Listeners that stay keep their session ticket keys.
  tls::TlsContexts next_tls;
  std::vector<config::ConfigError> tls_errors;
  if (!tls::buildTlsContexts(cfg, static_cast<int64_t>(std::time(nullptr)), tls_errors, next_tls, &tls_)) {
    for (const auto& e : tls_errors) res.errors.push_back(e.format());
    return failReload(trigger, std::move(res));
  }

  // 1. Listeners: the same address keeps its socket (no refused connection,
  //    no accept gap); new ones are bound now, and any bind failure fails
  //    the whole reload before anything changed. Addresses compare as
  //    resolved ("localhost:80" is "127.0.0.1:80").
  std::vector<std::unique_ptr<Listener>> next;
  std::vector<Listener*> fresh;
  for (const auto& addr : cfg.listen) {
    auto it = std::find_if(listeners_.begin(), listeners_.end(),
                           [&](const auto& l) { return l && !l->closed() && sameAddress(addr, *l); });
    if (it != listeners_.end()) {
      next.push_back(std::move(*it));
      continue;
    }
    auto l = makeListener(addr);
    int err = worker_index_ >= 0 ? l->bindReusePort() : l->bind();
    if (err != 0) {
      res.errors.push_back(config_path_ + ": listen " + addr.text + ": cannot bind: " + uv_strerror(err));
      retire(std::move(l));
      break;
    }
    fresh.push_back(l.get());
    next.push_back(std::move(l));
  }
  std::unique_ptr<AdminServer> new_admin;
  // A worker's admin stays on its loopback port (the supervisor serves
  // admin.listen).
  if (res.errors.empty() && worker_index_ < 0 && !sameAddress(cfg.admin.listen, admin_->listener())) {
    new_admin = std::make_unique<AdminServer>(*this, cfg.admin.listen);
    int err = new_admin->bind();
    if (err != 0) {
      res.errors.push_back(config_path_ + ": admin.listen " + cfg.admin.listen.text + ": cannot bind: " +
                           uv_strerror(err));
      new_admin->close();
      retired_admins_.push_back(std::move(new_admin));
      housekeeping_ = true;
    }
  }
  std::string log_err;
  if (res.errors.empty() && !log().configure(logOptions(cfg.log), &log_err)) {
    res.errors.push_back(config_path_ + ": log: " + log_err);
  }
  if (res.errors.empty() && !configureJournal(cfg.journal, &log_err)) {
    res.errors.push_back(config_path_ + ": journal: " + log_err);
  }
  if (!res.errors.empty()) {
    // Roll back: give kept listeners back, close the fresh ones.
    for (auto& l : next) {
      if (std::find(fresh.begin(), fresh.end(), l.get()) != fresh.end()) {
        retire(std::move(l));
        continue;
      }
      auto slot = std::find(listeners_.begin(), listeners_.end(), nullptr);
      *slot = std::move(l);
    }
    if (new_admin) {
      new_admin->close();
      retired_admins_.push_back(std::move(new_admin));
      housekeeping_ = true;
    }
    return failReload(trigger, std::move(res));
  }

  // 2. Commit. From here nothing can fail.
  size_t listeners_removed = 0;
  for (auto& l : listeners_) {
    if (!l) continue;
    // Removed address: stop accepting; its connections finish on their own.
    retire(std::move(l));
    ++listeners_removed;
  }
  listeners_ = std::move(next);
  for (Listener* l : fresh) {
    auto& j = log().eventLine(LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress());
    log().emit(LogLevel::Info);
  }
  if (new_admin) {
    // The request that asked for this reload may be on the old admin
    // server: it still gets its answer (retire closes only idle readers).
    retire(std::move(admin_));
    admin_ = std::move(new_admin);
    auto& j = log().eventLine(LogLevel::Info, "listening");
    j.str("kind", "admin").str("address", admin_->boundAddress());
    log().emit(LogLevel::Info);
  }

  tls_ = std::move(next_tls);
  publishTlsStats(cfg);
  if (watch_) watch_->setExtraFiles(tlsFiles(cfg));

  std::shared_ptr<Runtime> old = runtime();
  const std::string old_hash = processStats().config_hash;
  // Discovered members stay: a watcher whose pool keeps its discovery
  // config survives with its set (a changed one starts over).
  if (bound_) syncDiscovery(cfg);
  proxy_->setRuntime(Runtime::build(withDiscovered(cfg), uv_now(&loop_), old.get(), zone_override_, &tls_));
  explainLog().setCapacity(cfg.explain_buffer);
  incidents_->configure(cfg.incidents.threshold_percent, static_cast<uint64_t>(cfg.incidents.settle.count()));
  if (prober()) notifier_->configure(cfg.notify, tls_.notify);
  for (const auto& p : runtime()->pools) notifier_->setPoolTotal(p->name(), static_cast<uint32_t>(p->backends().size()));
  const auto& rt = *runtime();
  size_t added = 0, removed = 0, kept_backends = 0;
  const auto holds = [](const Runtime& r, const Backend* b) {
    for (const auto& p : r.pools) {
      for (const auto& x : p->backends()) {
        if (x.get() == b) return true;
      }
    }
    return false;
  };
  for (const auto& p : rt.pools) {
    for (const auto& b : p->backends()) (holds(*old, b.get()) ? kept_backends : added) += 1;
  }
  for (const auto& op : old->pools) {
    for (const auto& ob : op->backends()) {
      if (holds(rt, ob.get())) continue;
      // Removed: no new requests (not in the new runtime); in-flight ones
      // finish on the old runtime they hold; pooled connections close, and
      // so do the in-flight ones when their request ends.
      ++removed;
      ob->retire();
    }
  }
  stopHealthChecks();
  uv_update_time(&loop_);
  startHealthChecks();
  requestHealthResync();  // a worker other than 0: statuses of new backends
  if (worker_channel_ != nullptr && prober()) {
    // The supervisor closes its sockets of listeners no longer configured.
    std::string line = "listeners";
    for (const auto& l : listeners_) line.append("\t").append(LineChannel::escapeField(l->text()));
    worker_channel_->send(line);
    // What only a restart changes: the supervisor says so if it differs.
    std::string settings = "settings\tworkers=";
    settings.append(std::to_string(cfg.workers)).append("\tadmin.listen=");
    settings.append(LineChannel::escapeField(cfg.admin.listen.text));
    worker_channel_->send(settings);
  }

  ++processStats().reloads_success;
  processStats().last_reload_success = wallSeconds();
  processStats().config_hash = hash;
  previous_config_ = old->config;
  previous_hash_ = old_hash;
  auto& j = log().eventLine(LogLevel::Info, "config_reloaded");
  j.str("trigger", trigger).str("file", config_path_).str("hash", hash);
  j.num("pools", static_cast<uint64_t>(rt.pools.size()));
  j.num("backends_added", static_cast<uint64_t>(added)).num("backends_removed", static_cast<uint64_t>(removed));
  j.num("backends_kept", static_cast<uint64_t>(kept_backends));
  j.num("listeners_added", static_cast<uint64_t>(fresh.size()));
  j.num("listeners_removed", static_cast<uint64_t>(listeners_removed));
  log().emit(LogLevel::Info);
  applyConfigDrills(*runtime(), uv_now(&loop_), wallSeconds());  // after config_reloaded: its drills start
  // A rollback is not itself guarded (it goes back to what ran before).
  if (trigger.find("rollback") == std::string_view::npos) {
    // Compared with what runs (discovered members included), so discovery
    // alone never makes a pool look changed.
    armReloadGuard(*runtime()->config, old->config.get());
  } else {
    guard_pools_.clear();
    guard_until_ms_ = 0;
  }
  res.ok = true;
  return res;
}

void Server::rollback(std::string_view trigger, ReloadDone done) {
  ReloadResult res;
  if (stopping_) res.errors.push_back("shutting down: rollback refused");
  if (!previous_config_) res.errors.push_back("no previous configuration to roll back to (none applied since start)");
  if (!res.errors.empty()) {
    res = failReload(trigger, std::move(res));
  } else {
    // Copies: applyConfig replaces previous_config_ with the one in force.
    std::shared_ptr<const config::Config> cfg = previous_config_;
    const std::string hash = previous_hash_;
    res = applyConfig(*cfg, trigger, hash);
    if (res.ok) {
      std::swap(config_text_, previous_text_);
      recordHistory(trigger);
    }
  }
  if (done) done(res);
}

void Server::recordHistory(std::string_view trigger) {
  const std::string& dir = config().history_dir;
  if (dir.empty()) {
    history_.reset();
    return;
  }
  if (!history_ || history_->dir() != dir) history_ = std::make_unique<ConfigHistory>(dir, config().history_keep);
  const std::string err = history_->record(config_text_, processStats().config_hash, std::string(trigger), wallSeconds());
  if (!err.empty()) {
    auto& j = log().eventLine(LogLevel::Error, "config_history_write_failed");
    j.str("error", err);
    log().emit(LogLevel::Error);
  }
}

std::vector<ConfigHistoryEntry> Server::configHistory() const {
  return history_ ? history_->entries() : std::vector<ConfigHistoryEntry>{};
}

std::optional<std::string> Server::configText(const std::string& hash) const {
  if (!history_) return std::nullopt;
  return history_->text(hash);
}


void Server::preflight(PreflightDone done) {
  PreflightResult refused;
  if (stopping_) refused.errors.push_back("shutting down: dry run refused");
  if (config_path_.empty()) refused.errors.push_back("no configuration file to check");
  if (!refused.errors.empty()) {
    if (done) done(refused);
    return;
  }
  // Validated exactly as a reload is (bounded child, then the thread pool).
  const uint64_t id = ++preflight_seq_;
  auto job = std::make_unique<ConfigLoadJob>(&loop_, "/proc/self/exe", config_path_, [this, done, id](
                                                                                          ConfigLoadJob::Result&& loaded) {
    // The job may not be deleted from inside its own callback.
    for (auto& [jid, j] : preflight_jobs_) {
      if (jid == id && j) retired_jobs_.push_back(std::move(j));
    }
    preflight_jobs_.erase(std::remove_if(preflight_jobs_.begin(), preflight_jobs_.end(),
                                         [](const auto& e) { return e.second == nullptr; }),
                          preflight_jobs_.end());
    housekeeping_ = true;
    PreflightResult res;
    res.hash = loaded.hash;
    tls::TlsContexts next_tls;
    std::vector<config::ConfigError> tls_errors;
    if (loaded.config &&
        !tls::buildTlsContexts(*loaded.config, static_cast<int64_t>(std::time(nullptr)), tls_errors, next_tls, &tls_)) {
      for (const auto& e : tls_errors) loaded.errors.push_back(e.format());
      loaded.config.reset();
    }
    if (!loaded.config || stopping_) {
      res.errors = std::move(loaded.errors);
      if (stopping_) res.errors.push_back("shutting down: dry run stopped");
      if (done) done(res);
      return;
    }
    res.valid = true;
    res.changes = configChanges(config(), *loaded.config);
    // Probed: the pools this config adds or changes (the others run today).
    std::vector<std::string> probe;
    for (const auto& p : loaded.config->pools) {
      const auto it = std::find_if(config().pools.begin(), config().pools.end(),
                                   [&](const config::PoolConfig& o) { return o.name == p.name; });
      if (it == config().pools.end() || poolChanged(p, *it)) probe.push_back(p.name);
    }
    if (probe.empty()) {
      if (done) done(res);
      return;
    }
    auto slot = std::make_shared<Preflight*>(nullptr);
    *slot = Preflight::start(&loop_, *loaded.config, next_tls, probe,
                             [this, done, res, slot](std::vector<PreflightPool> pools) mutable {
                               preflights_.erase(std::remove(preflights_.begin(), preflights_.end(), *slot),
                                                 preflights_.end());
                               res.probes = std::move(pools);
                               if (done) done(res);
                             });
    preflights_.push_back(*slot);
  });
  job->start();
  preflight_jobs_.emplace_back(id, std::move(job));
}

void Server::armReloadGuard(const config::Config& cfg, const config::Config* old) {
  guard_pools_.clear();
  guard_until_ms_ = 0;
  if (!cfg.reload_guard || old == nullptr) return;
  for (const auto& p : cfg.pools) {
    const auto it = std::find_if(old->pools.begin(), old->pools.end(),
                                 [&](const config::PoolConfig& o) { return o.name == p.name; });
    if (it == old->pools.end() || poolChanged(p, *it)) guard_pools_.push_back(p.name);
  }
  if (guard_pools_.empty()) return;
  guard_until_ms_ = uv_now(&loop_) + static_cast<uint64_t>(cfg.reload_guard->window.count());
  guard_hash_ = processStats().config_hash;
  auto& j = log().eventLine(LogLevel::Info, "reload_guard_armed");
  std::string pools;
  for (const auto& n : guard_pools_) pools += (pools.empty() ? "" : ",") + n;
  j.str("pools", pools).num("window_ms", static_cast<uint64_t>(cfg.reload_guard->window.count()));
  j.num("min_available_percent", static_cast<uint64_t>(cfg.reload_guard->min_available_percent));
  log().emit(LogLevel::Info);
}

void Server::checkReloadGuard(uint64_t now_ms) {
  if (guard_pools_.empty() || stopping_) return;
  const auto& guard = config().reload_guard;
  if (!guard || now_ms >= guard_until_ms_) {
    auto& j = log().eventLine(LogLevel::Info, "reload_guard_passed");
    j.str("hash", guard_hash_);
    log().emit(LogLevel::Info);
    guard_pools_.clear();
    return;
  }
  for (const auto& name : guard_pools_) {
    Pool* pool = runtime()->findPool(name);
    if (pool == nullptr || pool->backends().empty()) continue;
    size_t known = 0;
    for (const auto& b : pool->backends()) known += b->health() != HealthStatus::Unknown ? 1 : 0;
    // Judge once every backend has a verdict: new backends start unknown.
    if (known < pool->backends().size()) continue;
    const size_t available = pool->availableCount();
    const size_t size = pool->backends().size();
    if (available * 100 >= static_cast<size_t>(guard->min_available_percent) * size) continue;
    auto& j = log().eventLine(LogLevel::Error, "reload_rolled_back");
    j.str("pool", name).num("available", static_cast<uint64_t>(available)).num("backends", static_cast<uint64_t>(size));
    j.num("min_available_percent", static_cast<uint64_t>(guard->min_available_percent));
    j.str("from_hash", guard_hash_).str("to_hash", previous_hash_);
    j.str("note", "the config file still holds the rejected config: fix it before the next reload");
    log().emit(LogLevel::Error);
    ++processStats().rollbacks;
    guard_pools_.clear();
    rollback("guard_rollback", nullptr);
    return;
  }
}

}  // namespace ballast
