// workers: N (N > 1). The supervisor does no proxying: it binds every
// listener once per worker (SO_REUSEPORT: the kernel spreads connections
// over the workers' sockets), starts N worker processes (this binary, same
// arguments, each exactly the single-process server with its loop) and
// hands each its sockets; it keeps a copy of every socket, so a worker that
// dies loses no queued connection: its replacement accepts from the same
// socket.
//
//   supervisor -> workers (uv_process, a LineChannel each, a restart timer)
//              -> its copies of the listening sockets (one per listener and worker)
//              -> the admin listener (admin.listen): every request is
//                 forwarded to the workers' own admin ports (AdminFetcher)
//                 and the answers merged (lb/admin/worker_merge.h)
//
// Health: worker 0 alone probes. Each change it sees goes to the supervisor
// ("health" lines on its channel), which keeps the latest status of every
// backend and forwards it to the other workers; a worker that starts (or
// reloads, or discovers new members) gets the whole table. So backends see
// the probe load of one instance, and every worker routes on the same view.
//
// Signals: SIGHUP, SIGUSR1 are forwarded to every worker (each reloads or
// reopens its logs); SIGTERM/SIGINT are forwarded (each worker drains) and
// the supervisor exits once all have exited (a second one is forwarded too:
// stop now); SIGUSR2 starts a new supervisor of the new binary with every
// socket (hot upgrade; the old workers drain once the new ones are ready).
//
// A worker whose loop stops answering (worker_watchdog: the supervisor pings
// each ready worker on its channel; no pong for that long) is killed with
// SIGKILL (`worker_hung` event) and restarted like one that died: a stuck
// worker would otherwise keep its share of new connections waiting forever.
//
// A worker that exits unasked is restarted: at once if it had run for
// kStableMs, else after a backoff doubling from kFirstBackoffMs to
// kMaxBackoffMs (a worker that keeps dying does not spin). Each exit is a
// `worker_exited` event and counts in ballast_worker_restarts_total.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <csignal>
#include <functional>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lb/server/admin_fetch.h"

namespace ballast {

class AdminServer;
class HotUpgrade;
class LineChannel;
class SystemdNotifier;
struct AdminRequest;
struct AdminReply;

class Supervisor {
 public:
  static constexpr uint64_t kStableMs = 10000;
  static constexpr uint64_t kFirstBackoffMs = 100;
  static constexpr uint64_t kMaxBackoffMs = 30000;

  Supervisor(const config::Config& cfg, std::string config_path, int argc, char** argv);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Binds, starts the workers, runs until the last worker exited after a
  // drain. Returns the exit code (0 clean, 1 start-up failure).
  int run();

 private:
  struct Worker {
    int index = 0;
    uv_process_t* proc = nullptr;  // heap: closed on exit, deleted by its close callback
    int pid = 0;
    LineChannel* channel = nullptr;
    int admin_port = 0;
    bool ready = false;
    uint64_t started_ms = 0;
    uint64_t restarts = 0;   // exits restarted so far
    uint32_t quick_exits = 0;  // exits in a row before kStableMs
    uv_timer_t restart_timer;
    Supervisor* owner = nullptr;
    bool ping_outstanding = false;  // worker_watchdog: a ping not answered yet
    uint64_t ping_sent_ms = 0;
  };
  // One configured listener: its socket for each worker.
  struct Socket {
    std::string text;  // as configured (the workers' hand-over key)
    std::vector<int> fds;
  };

  bool bindSockets();
  void startWorker(Worker& w);
  void onWorkerExit(Worker& w, int64_t status, int sig);
  void onWorkerLine(Worker& w, std::string_view line);
  void sendHealthTable(Worker& w);
  void checkAllReady();
  void forward(int signum);
  void beginDrain(bool upgrade);
  void checkExited();
  void stop();
  void hotUpgrade();
  void closeSockets();

  // ---- admin ----
  void onAdmin(const AdminRequest& req, std::function<void(AdminReply&)> respond);
  // One admin request sent to several workers: their answers as they come.
  struct FanOut {
    std::string path;
    bool get = false;
    std::function<void(AdminReply&)> respond;
    std::vector<int> workers;  // worker indexes asked, in order
    std::vector<AdminFetchResult> results;
    size_t pending = 0;
  };
  // All answered: merges (/metrics, /status, /readyz), picks (other GETs)
  // or checks that they agree (changes), and responds.
  void answerFanOut(FanOut& fan);
  static std::string requestBytes(const AdminRequest& req);
  std::string ownMetrics() const;
  std::string ownStatus();
  bool allRunning(std::string* which) const;

  static void onSignal(uv_signal_t* h, int signum);
  // worker_watchdog: pings every ready worker; kills one silent too long.
  static void onWatchdog(uv_timer_t* t);

  uv_loop_t loop_;
  config::Config cfg_;
  std::string config_path_;
  std::vector<std::string> args_;
  std::vector<Worker> workers_;
  std::vector<Socket> sockets_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<AdminFetcher> fetcher_;
  std::unique_ptr<HotUpgrade> upgrade_;
  std::unique_ptr<SystemdNotifier> notify_;
  // The latest status of each backend as worker 0 published it:
  // (pool, backend) -> the status line's fields.
  std::map<std::pair<std::string, std::string>, std::string> health_;
  bool health_done_ = false;
  // Worker 0's operator state (a state file's text: overrides with reason
  // and expiry), sent to every worker that (re)starts.
  std::string state_;
  bool all_ready_once_ = false;
  bool draining_ = false;
  bool stopped_ = false;
  bool loop_closed_ = false;
  int exit_code_ = 0;
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR1, SIGHUP, SIGUSR2};
  uv_signal_t signals_[std::size(kSignals)];
  uv_prepare_t prepare_;  // flushes the log once per loop turn
  uv_timer_t watchdog_;
};

}  // namespace ballast
