#include "lb/server/server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "lb/admin/admin_server.h"
#include "lb/admin/backend_control.h"
#include "lb/admin/drills.h"
#include "lb/server/preflight.h"
#include "lb/server/state_file.h"
#include "lb/proxy/explain.h"
#include "lb/upstream/pool_sample.h"
#include "lb/upstream/probe_traffic.h"
#include "lb/base/clock.h"
#include "lb/base/journal.h"
#include "lb/base/line_channel.h"
#include "lb/proxy/downstream_connection.h"
#include "lb/server/config_job.h"
#include "lb/server/hot_upgrade.h"
#include "lb/server/sd_notify.h"
#include "lb/server/watch.h"
#include "lb/stats/local_resources.h"
#include "lb/stats/tls_stats.h"
#include "lb/upstream/upstream_connection.h"

namespace ballast {

LogOptions logOptions(const config::LogConfig& cfg) {
  LogOptions o;
  switch (cfg.level) {
    case config::LogLevel::Trace: o.level = LogLevel::Trace; break;
    case config::LogLevel::Debug: o.level = LogLevel::Debug; break;
    case config::LogLevel::Info: o.level = LogLevel::Info; break;
    case config::LogLevel::Warn: o.level = LogLevel::Warn; break;
    case config::LogLevel::Error: o.level = LogLevel::Error; break;
  }
  o.access = cfg.access;
  o.events = cfg.events;
  return o;
}

bool configureJournal(const config::JournalConfig& cfg, std::string* err) {
  Journal& j = journal();
  // The log hands every event to the journal even without a file: the
  // incident tracker reads them from there.
  log().setJournal(&j);
  if (cfg.path.empty()) {
    j.close();
    return true;
  }
  if (j.isOpen() && j.path() == cfg.path) {
    j.setLimits(cfg.max_size, cfg.keep);
  } else if (!j.open(cfg.path, cfg.max_size, cfg.keep, err)) {
    return false;
  }
  return true;
}

Server::Server(const config::Config& cfg, tls::TlsContexts tls, std::string zone_override)
    : zone_override_(std::move(zone_override)), tls_(std::move(tls)) {
  uv_loop_init(&loop_);
  started_ms_ = uv_now(&loop_);
  start_time_ = wallSeconds();
  proxy_ = std::make_unique<ProxyContext>(&loop_);
  proxy_->setRuntime(Runtime::build(cfg, uv_now(&loop_), nullptr, zone_override_, &tls_));
  explainLog().setCapacity(cfg.explain_buffer);
  incidents_ = std::make_unique<IncidentTracker>(latencyBuckets());
  incidents_->configure(cfg.incidents.threshold_percent, static_cast<uint64_t>(cfg.incidents.settle.count()));
  notifier_ = std::make_unique<notify::Notifier>(&loop_);
  notifier_->configure(cfg.notify, tls_.notify);
  for (const auto& p : runtime()->pools) notifier_->setPoolTotal(p->name(), static_cast<uint32_t>(p->backends().size()));
  journal().setObserver([this](std::string_view line) {
    incidents_->onEvent(line);
    notifier_->onEvent(line);
  });
  log().setJournal(&journal());
  proxy_->on_client_closed = [this] { onClientClosed(); };
  upgrade_ = std::make_unique<HotUpgrade>(&loop_);
  notify_ = std::make_unique<SystemdNotifier>(&loop_);
  publishTlsStats(cfg);
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    uv_signal_init(&loop_, &signals_[i]);
    signals_[i].data = this;
  }
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  for (uv_timer_t* t : {&ejection_sweep_, &override_sweep_, &drain_timer_, &handover_timer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
}

Server::~Server() {
  if (!stopped_) {
    // Never ran (a test, or a start-up failure before run): close what the
    // constructor opened and let the loop run the close callbacks.
    stop();
    uv_run(&loop_, UV_RUN_DEFAULT);
    while (proxy_->deferred().runRemaining()) uv_run(&loop_, UV_RUN_DEFAULT);
  }
  journal().setObserver(nullptr);
  log().setIncidentTag({});
  retired_listeners_.clear();
  retired_admins_.clear();
  retired_jobs_.clear();
  reload_job_.reset();
  listeners_.clear();
  admin_.reset();
  if (!loop_closed_) uv_loop_close(&loop_);
}

void Server::publishTlsStats(const config::Config& cfg) {
  auto& all = tlsListenerStats();
  for (auto it = all.begin(); it != all.end();) {
    const bool kept = std::any_of(cfg.listen.begin(), cfg.listen.end(),
                                  [&](const config::ListenConfig& l) { return l.tls && l.text == it->first; });
    it = kept ? std::next(it) : all.erase(it);
  }
  for (size_t i = 0; i < cfg.listen.size(); ++i) {
    if (i >= tls_.listeners.size() || !tls_.listeners[i]) continue;
    TlsListenerStats& st = all[cfg.listen[i].text];
    st.certificates.clear();
    for (const auto& c : tls_.listeners[i]->certificates()) {
      st.certificates.push_back({c.label, static_cast<double>(c.not_after)});
    }
  }
}

std::vector<std::string> Server::tlsFiles(const config::Config& cfg) {
  std::vector<std::string> files;
  for (const auto& l : cfg.listen) {
    if (!l.tls) continue;
    for (const auto& c : l.tls->certificates) {
      files.push_back(c.cert_path);
      files.push_back(c.key_path);
    }
  }
  for (const auto& p : cfg.pools) {
    if (p.usesTls() && !p.tls->ca_path.empty()) files.push_back(p.tls->ca_path);
  }
  return files;
}

void Server::setCommandLine(int argc, char** argv) { upgrade_->setCommandLine(argc, argv); }

void Server::setWorker(int index, int channel_fd) {
  worker_index_ = index;
  log().setWorkerIndex(index);
  worker_channel_ = LineChannel::open(
      &loop_, channel_fd, [this](std::string_view line) { onWorkerLine(line); },
      [this] {
        // The supervisor is gone (killed, or crashed): nobody serves the
        // admin API or restarts us any more. Drain like SIGTERM.
        if (worker_channel_ != nullptr) worker_channel_->close();
        worker_channel_ = nullptr;
        if (stopping_) return;
        logEvent(LogLevel::Warn, "supervisor_lost", "the supervisor's channel closed: draining");
        beginShutdown();
      });
  if (!prober()) {
    // Worker 0 alone pages and keeps the incident record (one page, one
    // record, whatever the number of workers).
    journal().setObserver(nullptr);
    notifier_->configure(config::NotifyConfig{}, {});
  }
}

void Server::onWorkerLine(std::string_view line) {
  const auto f = LineChannel::split(line);
  if (f[0] == "health" && f.size() == 4 && !prober()) {
    // health <pool> <backend> <status>
    Pool* pool = runtime()->findPool(LineChannel::unescapeField(f[1]));
    if (pool == nullptr) return;  // not (yet) in our config: a resync follows our reload
    Backend* b = pool->find(LineChannel::unescapeField(f[2]));
    if (b == nullptr) return;
    const int st = std::atoi(std::string(f[3]).c_str());
    if (st < 0 || st > static_cast<int>(HealthStatus::Unhealthy)) return;
    const auto status = static_cast<HealthStatus>(st);
    const bool was = b->health() == HealthStatus::Healthy;
    pool->applySharedHealth(*b, status, uv_now(&loop_));
    if (was && status == HealthStatus::Unhealthy && pool->config().health_check &&
        pool->config().health_check->close_tunnels_on_unhealthy) {
      closeTunnelsTo(*b);
    }
    return;
  }
  if (f[0] == "state" && f.size() == 2) {
    // A restarted worker: the overrides in force (drain, disable, with
    // their reason and expiry), as worker 0 last had them. Health comes
    // from the probes (worker 0) or the health table (the others).
    StateApplied applied;
    std::string error;
    if (!applyState(LineChannel::unescapeField(f[1]), *runtime(), wallSeconds(), uv_now(&loop_), 0, applied, error)) {
      auto& j = log().eventLine(LogLevel::Warn, "worker_state_ignored");
      j.str("error", error);
      log().emit(LogLevel::Warn);
      return;
    }
    auto& j = log().eventLine(LogLevel::Info, "worker_state_applied");
    j.num("overrides", static_cast<uint64_t>(applied.overrides));
    j.num("overrides_expired", static_cast<uint64_t>(applied.expired));
    log().emit(LogLevel::Info);
    return;
  }
  if (f[0] == "signal" && f.size() == 2) {
    // Forwarded by the supervisor: what the operator sent it.
    const int sig = f[1] == "HUP" ? SIGHUP : f[1] == "USR1" ? SIGUSR1 : f[1] == "TERM" ? SIGTERM : 0;
    if (sig != 0) {
      handleSignal(sig);
      return;
    }
  }
  if (f[0] == "admin_address" && f.size() == 2) {
    if (admin_) admin_->setAdvertisedAddress(LineChannel::unescapeField(f[1]));
    return;
  }
  if (f[0] == "ping") {
    // worker_watchdog: the loop turns.
    if (worker_channel_ != nullptr) worker_channel_->send("pong");
    return;
  }
  if (f[0] == "health_done" && !prober()) {
    shared_health_ready_ = true;
    return;
  }
  auto& j = log().eventLine(LogLevel::Warn, "worker_channel_unknown");
  j.str("line", line.substr(0, 200));
  log().emit(LogLevel::Warn);
}

void Server::publishHealth(const Pool& p, const Backend& b) {
  if (worker_channel_ == nullptr) return;
  std::string line = "health\t" + LineChannel::escapeField(p.name()) + "\t" + LineChannel::escapeField(b.name()) +
                     "\t" + std::to_string(static_cast<int>(b.health()));
  worker_channel_->send(line);
}

void Server::requestHealthResync() {
  if (worker_channel_ != nullptr && !prober()) worker_channel_->send("resync");
}

std::unique_ptr<Listener> Server::makeListener(const config::Address& addr) {
  auto l = std::make_unique<Listener>(&loop_, addr.addr, addr.text, "proxy",
                                      [this](Listener& x) { onConnectionPending(x); });
  l->setErrorHandler([this](Listener& x, int status) {
    if (isLocalResourceError(status)) {
      // Out of descriptors: libuv drops the pending connection (its EMFILE
      // reserve) rather than spinning; say so once a second.
      noteLocalResourceError(ResourceSite::Accept, status, uv_now(&loop_), x.boundAddress().c_str());
      return;
    }
    auto& j = log().eventLine(LogLevel::Warn, "accept_error");
    j.str("kind", "proxy").str("address", x.boundAddress()).str("error", uv_strerror(status));
    log().emit(LogLevel::Warn);
  });
  return l;
}

void Server::checkDescriptorLimit() {
  // Like nginx's worker_rlimit_nofile and HAProxy's automatic sizing: take
  // the whole hard limit, and say so when the config cannot fit in it.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t ceiling = rl.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : rl.rlim_max;
  if (rl.rlim_cur < ceiling) {
    rlimit raised{ceiling, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = ceiling;
  }
  // Each client connection may hold an upstream one; each probed backend a
  // probe; plus listeners, the admin, logs and a margin.
  uint64_t probes = 0;
  for (const auto& p : runtime()->pools) {
    if (p->config().health_check) probes += p->backends().size();
  }
  const uint64_t needed = uint64_t{config().limits.max_connections} * 2 + probes + 64;
  descriptor_limit_ = static_cast<uint64_t>(rl.rlim_cur);
  if (needed <= descriptor_limit_) return;
  auto& j = log().eventLine(LogLevel::Warn, "fd_limit_low");
  j.num("limit", descriptor_limit_).num("needed", needed);
  j.num("max_connections", static_cast<uint64_t>(config().limits.max_connections)).num("probed_backends", probes);
  j.str("effect", "at the limit new connections wait in the kernel's queue and probes are skipped (not failed)");
  j.str("fix", "raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower limits.max_connections");
  log().emit(LogLevel::Warn);
}

bool Server::bindListeners() {
  for (const auto& addr : config().listen) {
    auto l = makeListener(addr);
    int inherited = upgrade_->takeInherited(addr.text);
    // A hot upgrade from a supervisor (workers: N) to one process: worker
    // 0's socket is ours; the others close once their old worker drained.
    if (inherited < 0 && worker_index_ < 0) inherited = upgrade_->takeInherited(addr.text + "#0");
    int err = 0;
    if (inherited >= 0) {
      // Hot upgrade: the old process keeps accepting on this same socket
      // until we are ready (see onHandoverTimer).
      err = l->adopt(inherited, false);
      if (err == 0) deferred_listeners_.push_back(l.get());
    } else {
      // A worker shares the address with the other workers.
      err = worker_index_ >= 0 ? l->bindReusePort() : l->bind();
    }
    if (err != 0) {
      auto& j = log().eventLine(LogLevel::Error, "bind_failed");
      j.str("kind", "proxy").str("address", addr.text).str("error", uv_strerror(err));
      log().emit(LogLevel::Error);
      listeners_.push_back(std::move(l));
      return false;
    }
    auto& j = log().eventLine(LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress());
    log().emit(LogLevel::Info);
    listeners_.push_back(std::move(l));
  }
  if (worker_index_ >= 0) {
    // The supervisor serves admin.listen; this worker answers it on a
    // loopback port of its own.
    config::Address internal;
    internal.text = "127.0.0.1:0";
    uv_ip4_addr("127.0.0.1", 0, reinterpret_cast<sockaddr_in*>(&internal.addr));
    admin_ = std::make_unique<AdminServer>(*this, internal);
  } else {
    admin_ = std::make_unique<AdminServer>(*this, config().admin.listen);
  }
  int admin_fd = worker_index_ >= 0 ? -1 : upgrade_->takeInherited("admin@" + config().admin.listen.text);
  int err = admin_fd >= 0 ? admin_->adopt(admin_fd) : admin_->bind();
  upgrade_->closeUnusedInherited();
  if (err == 0 && worker_channel_ != nullptr) {
    const std::string& a = admin_->boundAddress();
    worker_channel_->send("admin\t" + a.substr(a.rfind(':') + 1));
  }
  if (err != 0) {
    auto& j = log().eventLine(LogLevel::Error, "bind_failed");
    j.str("kind", "admin").str("address", config().admin.listen.text).str("error", uv_strerror(err));
    log().emit(LogLevel::Error);
    return false;
  }
  auto& j = log().eventLine(LogLevel::Info, "listening");
  // A worker's own admin port is the supervisor's business, not an operator's.
  j.str("kind", worker_index_ >= 0 ? "worker_admin" : "admin").str("address", admin_->boundAddress());
  log().emit(LogLevel::Info);
  return true;
}

int Server::run() {
  checkDescriptorLimit();
  for (size_t i = 0; i < std::size(kSignals); ++i) uv_signal_start(&signals_[i], &Server::onSignal, kSignals[i]);
  uv_prepare_start(&prepare_, &Server::onPrepare);

  int exit_code = 0;
  if (!bindListeners()) {
    exit_code = 1;
    stop();
  } else {
    bound_ = true;
    notify_ready_pending_ = !upgrade_->waitingForReady();
    recordHistory("start");
    loadState();
    startHealthChecks();
    syncDiscovery(config());
    // Overrides end on time (to a quarter second; they last minutes to hours).
    uv_timer_start(&override_sweep_, &Server::onOverrideSweep, 250, 250);
    if (!deferred_listeners_.empty() || upgrade_->waitingForReady() || worker_channel_ != nullptr) {
      uv_timer_start(&handover_timer_, &Server::onHandoverTimer, 0, 20);
    }
    if (watch_enabled_) {
      watch_ = std::make_unique<ConfigWatch>(&loop_, config_path_, [this] { reload("watch", nullptr); });
      watch_->setExtraFiles(tlsFiles(config()));
      watch_->start();
    }
    auto& j = log().eventLine(LogLevel::Info, "started");
    j.str("version", BALLAST_VERSION).num("pid", static_cast<int64_t>(getpid()));
    j.num("pools", static_cast<uint64_t>(runtime()->pools.size()));
    j.num("routes", static_cast<uint64_t>(runtime()->router.routes().size()));
    log().emit(LogLevel::Info);
    applyConfigDrills(*runtime(), uv_now(&loop_), wallSeconds());
  }
  log().flush();
  // Deferred work posted after the queue's handle closed (connections
  // deleted during shutdown) runs once the loop is done, and may start
  // more close callbacks: run the loop again until nothing is left.
  do {
    uv_run(&loop_, UV_RUN_DEFAULT);
  } while (proxy_->deferred().runRemaining());
  sweepRetired();

  loop_closed_ = closeLoopOrReport(&loop_);
  if (!loop_closed_ && exit_code == 0) exit_code = 1;
  if (exit_code == 0) logEvent(LogLevel::Info, "stopped");
  log().flush();
  return exit_code;
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  proxy_->setDraining();
  drain_phase_ = DrainPhase::None;
  if (bound_) {
    logEvent(LogLevel::Info, "stopping");
    saveState(true);  // fresh for the next start (or the new process of a hot upgrade)
  }
  for (auto& l : listeners_) l->close();
  for (auto& l : retired_listeners_) l->close();
  if (admin_) admin_->close();
  for (auto& a : retired_admins_) a->close();
  stopHealthChecks();
  stopDiscovery();
  // close() unlinks nothing synchronously (objects leave the lists from their
  // close callbacks), and forEach tolerates it anyway.
  proxy_->clients().forEach([](DownstreamConnection* c) { c->kill(); });
  proxy_->upstream().closeAll();
  upgrade_->close();
  if (worker_channel_ != nullptr) worker_channel_->close();
  worker_channel_ = nullptr;
  notify_->close();
  notifier_->close();
  if (watch_) watch_->close();
  // A reload in progress: its child is killed; its handles close on their own.
  if (reload_job_) reload_job_->cancel();
  for (auto& [id, job] : preflight_jobs_) {
    if (job) job->cancel();
  }
  for (Preflight* p : preflights_) p->cancel();
  preflights_.clear();
  reload_waiters_.clear();
  for (auto& s : signals_) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&prepare_), reinterpret_cast<uv_handle_t*>(&ejection_sweep_),
                         reinterpret_cast<uv_handle_t*>(&override_sweep_), reinterpret_cast<uv_handle_t*>(&drain_timer_),
                         reinterpret_cast<uv_handle_t*>(&handover_timer_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
  proxy_->deferred().close();
}

std::vector<ListenerInfo> Server::listeners() const {
  std::vector<ListenerInfo> out;
  for (const auto& l : listeners_) out.push_back(ListenerInfo{l->boundAddress(), l->text()});
  return out;
}

void Server::closeTunnelsTo(const Backend& b) {
  size_t closed = 0;
  proxy_->upstream().live.forEach([&](UpstreamConnection* c) {
    if (!c->tunneling() || &c->backend() != &b) return;
    c->abortTunnel();
    ++closed;
  });
  if (closed == 0) return;
  auto& j = log().eventLine(LogLevel::Warn, "tunnels_closed");
  j.str("backend", b.name()).num("tunnels", static_cast<uint64_t>(closed)).str("reason", "backend unhealthy");
  log().emit(LogLevel::Warn);
}

void Server::retire(std::unique_ptr<Listener> l) {
  housekeeping_ = true;
  l->close();
  retired_listeners_.push_back(std::move(l));
}

void Server::retire(std::unique_ptr<AdminServer> a) {
  housekeeping_ = true;
  a->retire();
  retired_admins_.push_back(std::move(a));
}

void Server::sweepRetired() {
  std::erase_if(retired_listeners_, [](const auto& l) { return l->closeDone(); });
  std::erase_if(retired_admins_, [](const auto& a) { return a->idle(); });
  std::erase_if(retired_jobs_, [](const auto& j) { return j->finished(); });
}

void Server::hotUpgrade() {
  if (worker_index_ >= 0) {
    logEvent(LogLevel::Warn, "upgrade_refused", "a worker: send SIGUSR2 to the supervisor");
    return;
  }
  if (stopping_) {
    logEvent(LogLevel::Warn, "upgrade_refused", "shutting down");
    return;
  }
  std::vector<std::pair<std::string, int>> sockets;
  for (auto& l : listeners_) sockets.emplace_back(l->text(), l->fd());
  if (admin_) sockets.emplace_back("admin@" + config().admin.listen.text, admin_->fd());
  upgrade_->start(sockets, [this] {
    // Before the drain, so systemd never sees this process stopping.
    notify_->handOver(upgrade_->childPid());
    beginShutdown();
  });
}

void Server::onHandoverTimer(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  if (self->stopping_) {
    uv_timer_stop(h);
    return;
  }
  if (!self->ready()) return;  // first health round not done yet
  uv_timer_stop(h);
  for (Listener* l : self->deferred_listeners_) {
    int err = l->startListening();
    auto level = err == 0 ? LogLevel::Info : LogLevel::Error;
    auto& j = log().eventLine(level, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress()).boolean("inherited", true);
    if (err != 0) j.str("error", uv_strerror(err));
    log().emit(level);
  }
  self->deferred_listeners_.clear();
  if (self->worker_channel_ != nullptr) {
    self->worker_channel_->send("ready");
    logEvent(LogLevel::Info, "worker_accepting", "accepting on the supervisor's sockets");
    return;
  }
  self->upgrade_->reportReady();
  logEvent(LogLevel::Info, "upgrade_ready", "accepting on the inherited sockets; the old process drains");
}

void Server::beginShutdown() {
  if (stopping_) {
    // Second signal: now.
    logEvent(LogLevel::Warn, "shutdown_now", "second signal: closing every connection");
    stop();
    return;
  }
  stopping_ = true;  // /readyz: 503 from now on
  notify_->stopping();
  proxy_->setDraining();  // responses close their connections from now on
  const auto& d = config().drain;
  auto& j = log().eventLine(LogLevel::Info, "draining");
  j.num("delay_ms", static_cast<int64_t>(d.delay.count())).num("timeout_ms", static_cast<int64_t>(d.timeout.count()));
  j.num("client_connections", static_cast<uint64_t>(proxy_->clients().size()));
  log().emit(LogLevel::Info);
  drain_phase_ = DrainPhase::Delay;
  uv_timer_start(&drain_timer_, &Server::onDrainTimer, static_cast<uint64_t>(d.delay.count()), 0);
}

void Server::onDrainTimer(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  if (self->drain_phase_ == DrainPhase::Delay) {
    // Stop accepting; close what is idle; let in-flight requests finish.
    self->drain_phase_ = DrainPhase::Waiting;
    for (auto& l : self->listeners_) l->close();
    self->stopHealthChecks();
    // Idle keep-alive clients: closed after a short grace rather than at
    // once, so a request already on its way (sent just before our close
    // would reach the client) is still served, with Connection: close.
    self->proxy_->clients().forEach([](DownstreamConnection* c) { c->drainIdle(kIdleDrainGraceMs); });
    for (const auto& p : self->runtime()->pools) {
      for (const auto& b : p->backends()) b->idle().closeAll();
    }
    uv_timer_start(&self->drain_timer_, &Server::onDrainTimer,
                   static_cast<uint64_t>(self->config().drain.timeout.count()), 0);
    self->checkDrained();
    return;
  }
  // drain.timeout: cut what is left.
  auto& j = log().eventLine(LogLevel::Warn, "drain_timeout");
  j.num("connections_cut", static_cast<uint64_t>(self->proxy_->clients().size()));
  log().emit(LogLevel::Warn);
  self->stop();
}

void Server::checkDrained() {
  // Every client connection is gone (closing ones count until deleted):
  // nothing left to wait for.
  if (drain_phase_ == DrainPhase::Waiting && proxy_->clients().empty()) {
    logEvent(LogLevel::Info, "drained");
    stop();
  }
}

void Server::onClientClosed() {
  if (stopped_) return;
  if (!stopping_) {
    resumePausedListeners();
  } else {
    checkDrained();
  }
}

void Server::onSignal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Server*>(h->data);
  if (self->worker_index_ >= 0) {
    // A worker takes its signals from the supervisor's channel only: one
    // sent to every ballast process (pidof, a control-group kill) would
    // otherwise arrive twice, and a second SIGTERM means "stop now".
    auto& j = log().eventLine(LogLevel::Warn, "signal_ignored");
    j.num("signal", static_cast<int64_t>(signum)).num("supervisor_pid", static_cast<int64_t>(getppid()));
    j.str("message", "a worker: send signals to the supervisor");
    log().emit(LogLevel::Warn);
    return;
  }
  self->handleSignal(signum);
}

void Server::handleSignal(int signum) {
  Server* self = this;
  switch (signum) {
    case SIGUSR1:
      log().reopen();
      logEvent(LogLevel::Info, "logs_reopened");
      return;
    case SIGHUP:
      self->reload("SIGHUP", nullptr);
      return;
    case SIGUSR2:
      self->hotUpgrade();
      return;
    default:
      break;
  }
  auto& j = log().eventLine(LogLevel::Info, "signal");
  j.str("signal", signum == SIGINT ? "SIGINT" : "SIGTERM");
  log().emit(LogLevel::Info);
  self->beginShutdown();
}

void Server::onPrepare(uv_prepare_t* h) {
  auto* self = static_cast<Server*>(h->data);
  log().flush();
  self->accepted_this_turn_ = 0;
  if (!self->health_done_sent_ && self->worker_channel_ != nullptr && self->prober() && self->bound_ &&
      !self->stopping_) {
    bool done = true;
    for (const auto& c : self->checkers_) done = done && c->firstRoundDone();
    if (done) {
      self->health_done_sent_ = true;
      self->worker_channel_->send("health_done");
    }
  }
  if (self->notify_ready_pending_ && self->ready()) {
    self->notify_ready_pending_ = false;
    self->notify_->ready();
  }
  if (!self->housekeeping_) return;  // the usual turn: nothing else to do
  self->housekeeping_ = false;
  if (self->accept_yielded_ && !self->stopped_) {
    self->accept_yielded_ = false;
    if (!self->stopping_ || self->drain_phase_ == DrainPhase::Delay) self->resumePausedListeners();
  }
  self->sweepRetired();
  // Retired objects still closing: look again next turn.
  self->housekeeping_ = !self->retired_listeners_.empty() || !self->retired_admins_.empty() ||
                        !self->retired_jobs_.empty();
}

IncidentTracker::AckResult Server::ackIncident(std::string_view id, std::string_view by, std::string_view note) {
  return incidents_->ack(id, by, note, wallSeconds());
}

bool Server::ready() const {
  if (!bound_ || stopping_) return false;
  if (!prober()) return shared_health_ready_;
  for (const auto& c : checkers_) {
    if (!c->firstRoundDone()) return false;
  }
  return true;
}

void Server::startHealthChecks() {
  if (!prober()) return;  // worker 0 probes for every worker
  bool outlier = false;
  for (const auto& p : runtime()->pools) {
    // Slow start steps on the same sweep.
    if (p->config().outlier_detection || p->config().slow_start.window.count() > 0) outlier = true;
    if (!p->config().health_check || p->backends().empty()) continue;
    startChecker(*p);
  }
  // Ejections end on time: a coarse sweep is enough (ejections last seconds).
  if (outlier) uv_timer_start(&ejection_sweep_, &Server::onEjectionSweep, 100, 100);
}

void Server::startChecker(const Pool& p) {
  // The checker computes; the pool acts on each result.
  checkers_.push_back(std::make_unique<health::HealthChecker>(
      &loop_, p.name(), p.backends(), *p.config().health_check,
      [this, name = p.name()](Backend& b, const ProbeResult& r) {
        Pool* pool = runtime()->findPool(name);
        if (pool == nullptr) return;
        pool->onProbe(b, r, uv_now(&loop_));
        if (r.changed) publishHealth(*pool, b);
        if (r.changed && r.status == HealthStatus::Unhealthy && pool->config().health_check &&
            pool->config().health_check->close_tunnels_on_unhealthy) {
          closeTunnelsTo(b);
        }
      },
      p.tls()));
  checkers_.back()->start();
}

void Server::stopHealthChecks() {
  for (auto& c : checkers_) c->close();
  checkers_.clear();
  uv_timer_stop(&ejection_sweep_);
}

void Server::onOverrideSweep(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  const uint64_t now = uv_now(&self->loop_);
  self->checkReloadGuard(now);
  sweepOverrides(*self->runtime(), now);
  sweepDrills(*self->runtime(), now);
  // Probes versus traffic once a second: it sums each backend's one-minute
  // counters, too much for every tick in a pool of thousands.
  if (++self->sweep_ticks_ % 4 == 0) {
    for (const auto& p : self->runtime()->pools) sweepProbeTraffic(*p, now);
  }
  std::vector<PoolSample> samples;
  for (const auto& p : self->runtime()->pools) {
    samples.push_back(samplePool(*p));
    samples.back().drills = drillsHolding(p->name());  // a simulate_down drill holds an incident open
  }
  // Every backend of the pool counts in "3 of 4" (probed or not yet).
  for (const auto& p : self->runtime()->pools) {
    self->notifier_->setPoolTotal(p->name(), static_cast<uint32_t>(p->backends().size()));
  }
  // workers: worker 0 keeps the incident record (from its share of the
  // traffic and the health it probes for all).
  if (self->prober()) self->incidents_->update(now, wallSeconds(), samples);
  self->saveState(false);
}

void Server::loadState() {
  const std::string& path = config().state_file;
  if (path.empty()) return;
  std::string text;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) {
      logEvent(LogLevel::Info, "state_file_absent");
      return;
    }
    auto& j = log().eventLine(LogLevel::Warn, "state_file_ignored");
    j.str("path", path).str("error", std::strerror(errno));
    log().emit(LogLevel::Warn);
    return;
  }
  constexpr size_t kMaxStateBytes = 64u << 20;
  char buf[65536];
  size_t n;
  bool too_big = false;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (text.size() + n > kMaxStateBytes) {
      too_big = true;
      break;
    }
    text.append(buf, n);
  }
  std::fclose(f);
  StateApplied applied;
  std::string error = too_big ? "larger than 64 MiB" : "";
  if (too_big || !applyState(text, *runtime(), wallSeconds(), uv_now(&loop_),
                             static_cast<uint64_t>(config().state_max_age.count()), applied, error)) {
    // Never fatal: the probes and the config decide, as on a first start.
    auto& j = log().eventLine(LogLevel::Warn, "state_file_ignored");
    j.str("path", path).str("error", error);
    log().emit(LogLevel::Warn);
    return;
  }
  auto& j = log().eventLine(LogLevel::Info, "state_loaded");
  j.str("path", path).dbl("age_seconds", applied.age_seconds, 1).boolean("health_used", !applied.stale);
  j.num("overrides", static_cast<uint64_t>(applied.overrides)).num("overrides_expired", static_cast<uint64_t>(applied.expired));
  j.num("health", static_cast<uint64_t>(applied.health)).num("unknown_backends", static_cast<uint64_t>(applied.unknown));
  log().emit(LogLevel::Info);
}

void Server::saveState(bool force) {
  if (!prober()) return;  // worker 0 writes it for every worker
  const std::string& path = config().state_file;
  if (path.empty() && worker_channel_ == nullptr) return;
  const uint64_t now = uv_now(&loop_);
  std::string body = renderStateBody(*runtime());
  if (worker_channel_ != nullptr && body != shared_state_) {
    // workers: the supervisor keeps the latest, for a worker it restarts
    // (it comes back with the operator's overrides, not without them).
    shared_state_ = body;
    std::string line = "state\t";
    line.append(LineChannel::escapeField(stateHeader(wallSeconds()) + body));
    worker_channel_->send(line);
  }
  if (path.empty()) return;
  // Rewritten when something changed, and often enough that a restart
  // within state_max_age finds it fresh.
  const uint64_t refresh = static_cast<uint64_t>(config().state_max_age.count()) / 2;
  if (!force && body == state_body_ && now - state_written_ms_ < refresh) return;
  const int err = writeFileAtomically(path, stateHeader(wallSeconds()) + body);
  if (err != 0) {
    if (err != state_error_) {
      auto& j = log().eventLine(LogLevel::Error, "state_file_write_failed");
      j.str("path", path).str("error", std::strerror(err));
      log().emit(LogLevel::Error);
    }
    state_error_ = err;
    return;
  }
  state_error_ = 0;
  state_body_ = std::move(body);
  state_written_ms_ = now;
}

void Server::onEjectionSweep(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  uint64_t now = uv_now(&self->loop_);
  for (const auto& p : self->runtime()->pools) {
    p->sweepEjections(now);
    p->tick(now);
  }
}

void Server::onConnectionPending(Listener& l) {
  // Still accepting during drain.delay; stopped_ means the listener is closing.
  if (stopped_ || l.closed()) return;
  if (accepted_this_turn_ >= kMaxAcceptsPerTurn) {
    // Enough for one loop turn (HAProxy's tune.maxaccept): a burst of
    // connections must not hold up the traffic already here. The rest wait
    // in the kernel's queue until the next turn (onPrepare).
    l.setPaused(true);
    accept_yielded_ = true;
    housekeeping_ = true;
    return;
  }
  if (proxy_->openClients() >= config().limits.max_connections) {
    // Leave it in the kernel's queue; libuv stops polling this listener
    // until we accept (resumePausedListeners).
    if (!l.paused()) {
      auto& j = log().eventLine(LogLevel::Warn, "accept_paused");
      j.str("address", l.boundAddress()).num("max_connections", static_cast<uint64_t>(config().limits.max_connections));
      log().emit(LogLevel::Warn);
    }
    l.setPaused(true);
    return;
  }
  ++accepted_this_turn_;
  acceptFrom(l);
}

void Server::acceptFrom(Listener& l) {
  // listeners_ is parallel to the config's listen list, and so is tls_.
  for (size_t i = 0; i < listeners_.size() && i < tls_.listeners.size(); ++i) {
    if (listeners_[i].get() != &l) continue;
    if (tls_.listeners[i]) {
      DownstreamConnection::accept(*proxy_, l.stream(), tls_.listeners[i], tls_.listener_names[i]);
      return;
    }
    break;
  }
  DownstreamConnection::accept(*proxy_, l.stream());
}

void Server::resumePausedListeners() {
  for (auto& l : listeners_) {
    if (!l->paused() || l->closed()) continue;
    if (proxy_->openClients() >= config().limits.max_connections) return;
    l->setPaused(false);
    // Accepting the pending connection also re-arms polling of the listener.
    acceptFrom(*l);
  }
}

}  // namespace ballast
