// The server owns the loop, signals, listeners, the runtime config (pools,
// backends, router) and every live connection. It is the root of the
// ownership tree:
//   Server -> listeners, admin, Runtime (-> pools -> backends -> idle connections)
//          -> client connections (-> their current ProxyRequest)
//          -> upstream connections (self-owned, listed here for shutdown)
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/pool.h"
#include "lb/router.h"
#include "lb/uv_util.h"

namespace ballast {

namespace health {
class HealthChecker;
}

class AdminServer;
class DownstreamConnection;
class Listener;
class UpstreamConnection;

// Everything derived from one config. Requests hold a shared_ptr to the
// Runtime they started with, so a reload can swap in a new one while old
// requests finish on the pools and backends they began with.
struct Runtime {
  std::shared_ptr<const config::Config> config;
  std::vector<PoolPtr> pools;
  Router router;

  // `previous` (may be null): backends with the same pool name and address
  // are carried over as the same objects, with their health, ejection,
  // admin state, statistics and idle connections.
  static std::shared_ptr<Runtime> build(const config::Config& cfg, uint64_t now_ms, const Runtime* previous = nullptr);
};

class Server {
 public:
  explicit Server(const config::Config& cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener, runs the loop until stop() and every handle has
  // closed. Returns the process exit code (0 clean, 1 start-up failure).
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
  bool stopping() const { return stopping_; }

  // Re-reads the config file, validates it completely and applies it only if
  // everything (including binding new listeners) succeeds; otherwise the
  // running config is untouched. `trigger` names the cause in the event log.
  struct ReloadResult {
    bool ok = false;
    std::vector<std::string> errors;
  };
  ReloadResult reload(std::string_view trigger);
  void setConfigPath(std::string path) { config_path_ = std::move(path); }

  // Hot binary upgrade. SIGUSR2 (or hotUpgrade()) starts the binary found at
  // the path this one was started from, with the same arguments, handing it
  // the listening sockets (inherited descriptors, named in BALLAST_INHERIT).
  // The new process probes its backends, starts accepting on the shared
  // sockets once ready and says so on a pipe (BALLAST_READY_FD); the old one
  // then drains and exits. Both accept from the same sockets meanwhile, so
  // no connection is refused or lost.
  void setCommandLine(int argc, char** argv);
  // --watch: reload when the config file changes. Watches the file's
  // directory, so an editor's or Kubernetes' atomic rename/symlink swap is
  // seen; events are debounced and a reload happens only if the bytes changed.
  void setWatch(bool on) { watch_ = on; }
  void hotUpgrade();

  uv_loop_t* loop() { return &loop_; }
  const config::Config& config() const { return *runtime_->config; }
  const std::shared_ptr<Runtime>& runtime() const { return runtime_; }

  // A listener has a connection waiting. Accepts it unless at
  // max_connections, in which case the listener stays paused (libuv stops
  // polling it until we accept) and is resumed when a connection closes.
  void onConnectionPending(Listener& l);

  void linkDownstream(DownstreamConnection* c);
  void unlinkDownstream(DownstreamConnection* c);
  void linkUpstream(UpstreamConnection* c);
  void unlinkUpstream(UpstreamConnection* c);
  size_t clientConnections() const { return downstream_.size(); }

  // Listeners bound and every health checker finished its first round
  // (each backend has a probe result, or a status kept across a reload);
  // false while stopping/draining.
  bool ready() const;
  const std::vector<std::unique_ptr<health::HealthChecker>>& checkers() const { return checkers_; }
  const std::vector<std::unique_ptr<Listener>>& listeners() const { return listeners_; }
  // Loop time at start-up, and wall-clock start (process_start_time_seconds).
  uint64_t startedMs() const { return started_ms_; }
  double startTime() const { return start_time_; }

  // A UUID v4 string for X-Request-Id, written into `out`.
  void newRequestId(std::string& out);

 private:
  bool bindListeners();
  void closeHandles();
  void resumePausedListeners();

  static void onSignal(uv_signal_t* h, int signum);
  static void onPrepare(uv_prepare_t* h);
  static void onSweep(uv_timer_t* h);
  static void onDrainTimer(uv_timer_t* h);
  void checkDrained();
  static void onHandoverTimer(uv_timer_t* h);
  void closeUpgradeHandles();
  void startHealthChecks();

  uv_loop_t loop_;
  uv_signal_t sigint_;
  uv_signal_t sigterm_;
  uv_signal_t sigusr1_;
  uv_signal_t sighup_;
  uv_signal_t sigusr2_;
  uv_prepare_t prepare_;
  uv_timer_t sweep_;  // outlier ejection expiry
  uv_timer_t drain_timer_;
  enum class DrainPhase : uint8_t { None, Delay, Waiting } drain_phase_ = DrainPhase::None;
  std::string config_path_;
  // Hot upgrade, old side: the new process and the pipe it reports on.
  std::string exe_path_;
  std::vector<std::string> args_;
  uv_process_t* upgrade_proc_ = nullptr;
  uv_pipe_t* upgrade_pipe_ = nullptr;
  bool upgrade_ready_ = false;
  // Hot upgrade, new side: inherited sockets by address, and the pipe to
  // report readiness on.
  std::vector<std::pair<std::string, int>> inherited_;
  int ready_fd_ = -1;
  std::vector<Listener*> deferred_;  // adopted, accepting once ready
  uv_timer_t handover_timer_;
  bool watch_ = false;
  uv_fs_event_t watch_handle_;
  uv_timer_t watch_debounce_;
  std::string watched_hash_;
  void startWatch();
  static void onWatchEvent(uv_fs_event_t* h, const char* filename, int events, int status);
  static void onWatchDebounce(uv_timer_t* h);
  // Listeners and admin servers replaced by a reload: closed, kept until
  // their close callbacks ran (destroyed with the server).
  std::vector<std::unique_ptr<Listener>> retired_listeners_;
  std::vector<std::unique_ptr<AdminServer>> retired_admins_;
  bool stopping_ = false;  // draining or stopped: not ready, no keep-alive
  bool stopped_ = false;   // stop() ran: every handle is closing
  bool bound_ = false;
  bool loop_closed_ = false;
  uint64_t started_ms_ = 0;
  double start_time_ = 0;

  std::shared_ptr<Runtime> runtime_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<AdminServer> admin_;
  std::vector<std::unique_ptr<health::HealthChecker>> checkers_;

  IntrusiveList<DownstreamConnection> downstream_;
  IntrusiveList<UpstreamConnection> upstream_;

  std::mt19937_64 rng_;
};

}  // namespace ballast
