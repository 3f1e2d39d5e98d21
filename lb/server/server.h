// The composition root. The server owns the loop, signals, listeners, the
// proxy context (the config in force, live connections), the admin server,
// the health checkers, and wires them together:
//   Server -> listeners, admin (+ retired ones until their last answer),
//          -> ProxyContext (-> Runtime -> pools -> backends -> idle connections,
//                           -> client connections -> their current request,
//                           -> upstream connections, self-owned, listed for shutdown)
//          -> health checkers (-> sessions), publishing into the pools
// Nothing includes this file but main.cc.
#pragma once

#include <uv.h>

#include <csignal>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "health/health_checker.h"
#include "lb/admin/admin_control.h"
#include "lb/base/listener.h"
#include "lb/base/log.h"
#include "lb/proxy/context.h"
#include "lb/notify/notifier.h"
#include "lb/tls/tls_contexts.h"
#include "lb/upstream/dns_watcher.h"
#include "lb/server/config_history.h"

namespace ballast {

class AdminServer;
class ConfigLoadJob;
class ConfigWatch;
class HotUpgrade;
class SystemdNotifier;

// The log settings of a config.
LogOptions logOptions(const config::LogConfig& cfg);
// Opens (or reopens, when the settings changed) the journal of `cfg` and
// hands it to the log; an empty path closes it. On failure returns false
// with a message in *err and keeps the journal as it was.
bool configureJournal(const config::JournalConfig& cfg, std::string* err);

class Server final : public AdminControl {
 public:
  // `tls`: the contexts built (and certificates checked) from `cfg`.
  // `zone_override`: --zone, which replaces the config's `zone` (reloads too).
  Server(const config::Config& cfg, tls::TlsContexts tls, std::string zone_override = {});
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener, runs the loop until stop() and every handle has
  // closed. Returns the process exit code (0 clean, 1 start-up failure or a
  // handle left open).
  int run();
  // Closes everything at once (second signal, start-up failure, end of a
  // drain); run() then returns.
  void stop();
  // Graceful shutdown: /readyz turns 503 at once; after drain.delay the
  // listeners close and idle clients are closed; in-flight requests finish
  // (their connections close after the response); then stop(), or stop()
  // after drain.timeout cutting what is left.
  void beginShutdown();
  // How long an idle keep-alive client may still send one last request once
  // the drain has begun.
  static constexpr uint64_t kIdleDrainGraceMs = 500;

  // Re-reads the config file, validates it completely (in a child process
  // and the thread pool, see config_job.h) and applies it only if
  // everything (including binding new listeners) succeeds; otherwise the
  // running config is untouched. `trigger` names the cause in the event
  // log; `done` gets the result. Reloads asked for while one runs are
  // served together by one more reload after it (the file may have changed
  // since the running one read it).
  void reload(std::string_view trigger, ReloadDone done) override;
  void rollback(std::string_view trigger, ReloadDone done) override;
  void preflight(PreflightDone done) override;
  std::vector<ConfigHistoryEntry> configHistory() const override;
  std::optional<std::string> configText(const std::string& hash) const override;
  // The bytes of the config given at start (for the config history).
  void setConfigText(std::string text) { config_text_ = std::move(text); }
  void setConfigPath(std::string path) { config_path_ = std::move(path); }

  // How this process was started (for a hot upgrade, see hot_upgrade.h),
  // and the sockets an old process handed over.
  void setCommandLine(int argc, char** argv);
  // --watch: reload when the config file changes (see watch.h).
  void setWatch(bool on) { watch_enabled_ = on; }
  // SIGUSR2: start the new binary and hand it the listening sockets.
  void hotUpgrade();
  // workers (lb/server/supervisor.h): this process is worker `index` of a
  // supervisor, linked by the channel socket `fd`. Worker 0 probes and
  // publishes health changes; the others run no probes and apply what it
  // publishes. Every worker answers the admin API on 127.0.0.1, on a port
  // of its own that it tells the supervisor (which serves admin.listen).
  void setWorker(int index, int channel_fd);

  ProxyContext& proxy() { return *proxy_; }
  const config::Config& config() const { return *proxy_->runtime()->config; }

  // ---- AdminControl ----
  uv_loop_t* loop() override { return &loop_; }
  std::shared_ptr<Runtime> runtime() const override { return proxy_->runtime(); }
  const std::vector<std::unique_ptr<health::HealthChecker>>& checkers() const override { return checkers_; }
  const std::vector<DnsWatcherPtr>& discovery() const override { return discovery_; }
  std::vector<ListenerInfo> listeners() const override;
  bool ready() const override;
  int workerIndex() const { return worker_index_; }
  bool stopping() const override { return stopping_; }
  double startTime() const override { return start_time_; }
  uint64_t startedMs() const override { return started_ms_; }
  const IncidentTracker* incidents() const override { return incidents_.get(); }
  IncidentTracker::AckResult ackIncident(std::string_view id, std::string_view by, std::string_view note) override;

 private:
  bool bindListeners();
  // Raises the soft descriptor limit to the hard one; warns (fd_limit_low)
  // when max_connections and the probes cannot fit.
  void checkDescriptorLimit();
  std::unique_ptr<Listener> makeListener(const config::Address& addr);
  void onConnectionPending(Listener& l);
  // Accepts one connection of `l`, over TLS when its config says so.
  void acceptFrom(Listener& l);
  void resumePausedListeners();
  void onClientClosed();
  void checkDrained();
  void startHealthChecks();
  // One pool's checker, started; its listener finds the pool by name in the
  // runtime in force at each result, so a discovery change that rebuilds
  // the runtime does not have to restart the other pools' checkers.
  void startChecker(const Pool& p);
  // config_history: the text of the config in force and of the previous one.
  std::string config_text_;
  std::string previous_text_;
  std::unique_ptr<ConfigHistory> history_;
  void recordHistory(std::string_view trigger);
  // reload.guard: the previous config (what a rollback applies), and the
  // pools the last reload added or changed, watched until guard_until_ms_.
  std::shared_ptr<const config::Config> previous_config_;
  std::string previous_hash_;
  std::vector<std::string> guard_pools_;
  uint64_t guard_until_ms_ = 0;
  std::string guard_hash_;  // the guarded config's hash
  void armReloadGuard(const config::Config& cfg, const config::Config* old);
  void checkReloadGuard(uint64_t now_ms);
  // state_file: read back at start (before the probes), written when it
  // changes (and at least every state_max_age / 2, and at stop).
  void loadState();
  void saveState(bool force);
  std::string state_body_;         // what was last written (without the header)
  uint64_t state_written_ms_ = 0;  // loop time of the last write
  int state_error_ = 0;            // errno of the last failed write (one event per new error)
  // health_check.close_tunnels_on_unhealthy: ends the open tunnels to `b`.
  void closeTunnelsTo(const Backend& b);
  void stopHealthChecks();
  // DNS discovery (discovery.cc). syncDiscovery keeps one watcher per pool
  // with `discovery` (a watcher whose pool keeps the same discovery config
  // survives a reload with its members; one whose block changed is replaced
  // by a watcher that starts from the old one's members until its own first
  // answer); withDiscovered returns `cfg` with each such pool's discovered
  // members beside its static backends.
  void syncDiscovery(const config::Config& cfg);
  void stopDiscovery();
  config::Config withDiscovered(const config::Config& cfg) const;
  void onDiscoveryChange(DnsWatcher& w);
  void startReloadJob();
  // Applies a validated config (listeners, admin, runtime, health checks).
  ReloadResult applyConfig(const config::Config& cfg, std::string_view trigger, const std::string& hash);
  ReloadResult failReload(std::string_view trigger, ReloadResult res);
  void retire(std::unique_ptr<Listener> l);
  void retire(std::unique_ptr<AdminServer> a);
  void sweepRetired();
  // Publishes the certificates of tls_ (expiry metrics) and forgets the
  // TLS statistics of listeners no longer configured.
  void publishTlsStats(const config::Config& cfg);
  // Certificate, key and CA files of `cfg`, for --watch.
  static std::vector<std::string> tlsFiles(const config::Config& cfg);

  // workers: worker 0 (or a single process) probes; the others do not.
  bool prober() const { return worker_index_ <= 0; }
  void onWorkerLine(std::string_view line);
  // Worker 0: tells the supervisor of a health change.
  void publishHealth(const Pool& p, const Backend& b);
  // A worker other than 0: asks the supervisor for every published status
  // (after its runtime changed: new backends).
  void requestHealthResync();
  int worker_index_ = -1;  // -1: not a worker
  class LineChannel* worker_channel_ = nullptr;
  bool shared_health_ready_ = false;  // not worker 0: the prober's first round arrived
  bool health_done_sent_ = false;     // worker 0: told the supervisor its first round is done
  std::string shared_state_;          // worker 0: the state body last sent to the supervisor

  static void onSignal(uv_signal_t* h, int signum);
  // What a signal does (from onSignal, or forwarded on a worker's channel).
  void handleSignal(int signum);
  static void onPrepare(uv_prepare_t* h);
  static void onEjectionSweep(uv_timer_t* h);
  static void onOverrideSweep(uv_timer_t* h);
  static void onDrainTimer(uv_timer_t* h);
  static void onHandoverTimer(uv_timer_t* h);

  uv_loop_t loop_;
  std::unique_ptr<ProxyContext> proxy_;
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGUSR2};
  uv_signal_t signals_[std::size(kSignals)];
  uv_prepare_t prepare_;
  uv_timer_t ejection_sweep_;  // outlier ejection expiry
  uint64_t sweep_ticks_ = 0;  // override_sweep_ runs so far
  uv_timer_t override_sweep_;  // 4 times a second: override expiry and staleness, probes vs traffic
  uv_timer_t drain_timer_;
  uv_timer_t handover_timer_;  // hot upgrade, new side: waits for readiness
  enum class DrainPhase : uint8_t { None, Delay, Waiting } drain_phase_ = DrainPhase::None;
  std::string config_path_;
  bool watch_enabled_ = false;
  std::string zone_override_;  // --zone
  std::unique_ptr<ConfigWatch> watch_;
  std::unique_ptr<HotUpgrade> upgrade_;
  // sd_notify (a no-op without NOTIFY_SOCKET). READY=1 goes out from
  // onPrepare once ready() first holds, unless a hot upgrade started us:
  // then the old process names us (MAINPID=) when we report ready.
  std::unique_ptr<SystemdNotifier> notify_;
  bool notify_ready_pending_ = false;
  std::vector<Listener*> deferred_listeners_;  // adopted, accepting once ready

  std::vector<std::unique_ptr<Listener>> listeners_;
  // TLS contexts of the config in force (parallel to its listen and pools
  // lists); replaced by a reload. Connections hold their own references.
  tls::TlsContexts tls_;
  std::unique_ptr<AdminServer> admin_;
  // Fed by onOverrideSweep (pool counters) and the journal's observer
  // (event lines); see lb/stats/incidents.h.
  std::unique_ptr<IncidentTracker> incidents_;
  // The paging chain (notify:): fed by the same observer and by the sweep
  // (pool sizes); configured at start and by every reload.
  std::unique_ptr<notify::Notifier> notifier_;
  std::vector<std::unique_ptr<health::HealthChecker>> checkers_;
  std::vector<DnsWatcherPtr> discovery_;  // one per pool with `discovery`
  // Replaced by a reload: closed, deleted once their handles (and, for an
  // admin server, its last answer) are gone.
  std::vector<std::unique_ptr<Listener>> retired_listeners_;
  std::vector<std::unique_ptr<AdminServer>> retired_admins_;
  // The reload in progress, the callers waiting for the next one, and
  // finished jobs until their handles are closed.
  struct ReloadWaiter {
    std::string trigger;
    ReloadDone done;
  };
  std::unique_ptr<ConfigLoadJob> reload_job_;
  std::vector<std::pair<uint64_t, std::unique_ptr<ConfigLoadJob>>> preflight_jobs_;  // dry runs validating
  std::vector<class Preflight*> preflights_;  // dry runs probing (self-owned; cancelled at stop)
  uint64_t preflight_seq_ = 0;
  std::vector<ReloadWaiter> reload_waiters_;
  std::vector<std::unique_ptr<ConfigLoadJob>> retired_jobs_;

  bool stopping_ = false;  // draining or stopped: not ready, no keep-alive
  bool stopped_ = false;   // stop() ran: every handle is closing
  bool bound_ = false;
  bool loop_closed_ = false;
  uint64_t started_ms_ = 0;
  double start_time_ = 0;
  uint64_t descriptor_limit_ = 0;
  // Accepts in this loop turn, at most kMaxAcceptsPerTurn; a listener left
  // pending for that is resumed on the next turn.
  static constexpr uint32_t kMaxAcceptsPerTurn = 64;
  uint32_t accepted_this_turn_ = 0;
  bool accept_yielded_ = false;
  // Something for onPrepare to do beyond flushing the logs (a yielded
  // accept, retired objects to free).
  bool housekeeping_ = false;
};

}  // namespace ballast
