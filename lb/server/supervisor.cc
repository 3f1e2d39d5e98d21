#include "lb/server/supervisor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>

#include "lb/admin/admin_request.h"
#include "lb/admin/admin_server.h"
#include "lb/admin/worker_merge.h"
#include "lb/base/address.h"
#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/base/line_channel.h"
#include "lb/base/listener.h"
#include "lb/base/log.h"
#include "lb/server/admin_fetch.h"
#include "lb/server/hot_upgrade.h"
#include "lb/server/sd_notify.h"
#include "lb/server/spawn.h"

namespace ballast {

namespace {

constexpr uint64_t kGetTimeoutMs = 10000;
// A reload runs the config check (up to 30 s) and a preflight probes.
constexpr uint64_t kPostTimeoutMs = 100000;
constexpr int kBacklog = 1024;

void setReply(AdminReply& out, const AdminFetchResult& r, int worker) {
  if (r.status == 0) {
    jsonError(out, 502, "worker " + std::to_string(worker) + ": " + r.error);
    return;
  }
  out.status = r.status;
  if (!r.content_type.empty()) out.content_type = r.content_type;
  out.headers = r.headers;
  out.body = r.body;
}

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Supervisor::Supervisor(const config::Config& cfg, std::string config_path, int argc, char** argv)
    : cfg_(cfg), config_path_(std::move(config_path)), args_(argv, argv + argc) {
  uv_loop_init(&loop_);
  fetcher_ = std::make_unique<AdminFetcher>(&loop_);
  upgrade_ = std::make_unique<HotUpgrade>(&loop_);
  upgrade_->setCommandLine(argc, argv);
  notify_ = std::make_unique<SystemdNotifier>(&loop_);
  workers_.resize(cfg.workers);
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    w.index = static_cast<int>(i);
    w.owner = this;
    uv_timer_init(&loop_, &w.restart_timer);
    w.restart_timer.data = &w;
  }
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    uv_signal_init(&loop_, &signals_[i]);
    signals_[i].data = this;
  }
  uv_prepare_init(&loop_, &prepare_);
  uv_timer_init(&loop_, &watchdog_);
  watchdog_.data = this;
}

Supervisor::~Supervisor() {
  if (!stopped_) {
    stop();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  admin_.reset();
  if (!loop_closed_) uv_loop_close(&loop_);
}

bool Supervisor::bindSockets() {
  const size_t n = workers_.size();
  for (const auto& addr : cfg_.listen) {
    Socket s;
    s.text = addr.text;
    sockaddr_storage where = addr.addr;
    // A single process before a hot upgrade had one socket (no
    // SO_REUSEPORT, so no sibling can bind beside it): every worker
    // shares it until the next full restart.
    const int single = upgrade_->takeInherited(addr.text);
    for (size_t i = 0; i < n; ++i) {
      int fd = -1;
      if (single >= 0) {
        fd = i == 0 ? single : ::fcntl(single, F_DUPFD_CLOEXEC, 3);
      } else {
        fd = upgrade_->takeInherited(addr.text + "#" + std::to_string(i));
        if (fd < 0) fd = openReusePortSocket(reinterpret_cast<const sockaddr*>(&where), kBacklog);
      }
      if (fd < 0) {
        auto& j = log().eventLine(LogLevel::Error, "bind_failed");
        j.str("kind", "proxy").str("address", addr.text).num("worker", static_cast<uint64_t>(i));
        j.str("error", uv_strerror(fd));
        log().emit(LogLevel::Error);
        for (int x : s.fds) ::close(x);
        return false;
      }
      if (i == 0) {
        // Port 0: the kernel's choice for the first socket is every worker's.
        socklen_t len = sizeof where;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&where), &len);
      }
      s.fds.push_back(fd);
    }
    auto& j = log().eventLine(LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", formatSockaddr(reinterpret_cast<const sockaddr*>(&where)));
    j.num("workers", static_cast<uint64_t>(n)).boolean("shared_socket", single >= 0);
    log().emit(LogLevel::Info);
    sockets_.push_back(std::move(s));
  }
  admin_ = std::make_unique<AdminServer>(&loop_, cfg_.admin.listen,
                                         [this](const AdminRequest& req, std::function<void(AdminReply&)> respond) {
                                           onAdmin(req, std::move(respond));
                                         });
  const int admin_fd = upgrade_->takeInherited("admin@" + cfg_.admin.listen.text);
  const int err = admin_fd >= 0 ? admin_->adopt(admin_fd) : admin_->bind();
  upgrade_->closeUnusedInherited();
  if (err != 0) {
    auto& j = log().eventLine(LogLevel::Error, "bind_failed");
    j.str("kind", "admin").str("address", cfg_.admin.listen.text).str("error", uv_strerror(err));
    log().emit(LogLevel::Error);
    return false;
  }
  auto& j = log().eventLine(LogLevel::Info, "listening");
  j.str("kind", "admin").str("address", admin_->boundAddress());
  log().emit(LogLevel::Info);
  return true;
}

int Supervisor::run() {
  for (size_t i = 0; i < std::size(kSignals); ++i) uv_signal_start(&signals_[i], &Supervisor::onSignal, kSignals[i]);
  uv_prepare_start(&prepare_, [](uv_prepare_t*) { log().flush(); });
  if (!bindSockets()) {
    exit_code_ = 1;
    stop();
  } else {
    auto& j = log().eventLine(LogLevel::Info, "supervisor_started");
    j.str("version", BALLAST_VERSION).num("pid", static_cast<int64_t>(getpid()));
    j.num("workers", static_cast<uint64_t>(workers_.size()));
    log().emit(LogLevel::Info);
    // Our addresses are in the log before any worker can write a line.
    log().flush();
    for (Worker& w : workers_) startWorker(w);
    const uint64_t wd = static_cast<uint64_t>(cfg_.worker_watchdog.count());
    if (wd > 0) uv_timer_start(&watchdog_, &Supervisor::onWatchdog, wd / 4, wd / 4);
  }
  log().flush();
  uv_run(&loop_, UV_RUN_DEFAULT);
  loop_closed_ = closeLoopOrReport(&loop_);
  if (!loop_closed_ && exit_code_ == 0) exit_code_ = 1;
  if (exit_code_ == 0) logEvent(LogLevel::Info, "stopped");
  log().flush();
  return exit_code_;
}

void Supervisor::startWorker(Worker& w) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    auto& j = log().eventLine(LogLevel::Error, "worker_start_failed");
    j.num("worker", static_cast<int64_t>(w.index)).str("error", std::strerror(errno));
    log().emit(LogLevel::Error);
    w.started_ms = uv_now(&loop_);  // counts as a quick exit: backoff, not a spin
    onWorkerExit(w, -1, 0);
    return;
  }
  SpawnSpec spec;
  // The binary this supervisor runs, even if a package replaced the file.
  spec.file = "/proc/self/exe";
  spec.args = args_;
  std::string inherit;
  for (const Socket& s : sockets_) {
    if (!inherit.empty()) inherit += ';';
    inherit += s.text + "=" + std::to_string(childFd(spec.fds.size()));
    spec.fds.push_back(s.fds[static_cast<size_t>(w.index)]);
  }
  const int channel_fd = childFd(spec.fds.size());
  spec.fds.push_back(sv[1]);
  // systemd talks to the supervisor only; hand-over variables are ours.
  spec.drop = {"BALLAST_INHERIT=", "BALLAST_READY_FD=", "BALLAST_WORKER=", "NOTIFY_SOCKET=", "WATCHDOG_", "LISTEN_"};
  spec.add = {"BALLAST_INHERIT=" + inherit,
              "BALLAST_WORKER=" + std::to_string(w.index) + ":" + std::to_string(channel_fd)};
  w.proc = new uv_process_t();
  w.proc->data = &w;
  // A session of its own (spawnInheriting): a terminal's Ctrl-C reaches the
  // supervisor only, which forwards it once (a second copy would mean "stop now").
  const int err = spawnInheriting(&loop_, w.proc, spec, [](uv_process_t* p, int64_t status, int sig) {
    auto* worker = static_cast<Worker*>(p->data);
    worker->owner->onWorkerExit(*worker, status, sig);
  });
  ::close(sv[1]);
  if (err != 0) {
    ::close(sv[0]);
    uv_close(reinterpret_cast<uv_handle_t*>(w.proc), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    w.proc = nullptr;
    auto& j = log().eventLine(LogLevel::Error, "worker_start_failed");
    j.num("worker", static_cast<int64_t>(w.index)).str("error", uv_strerror(err));
    log().emit(LogLevel::Error);
    w.started_ms = uv_now(&loop_);  // counts as a quick exit: backoff, not a spin
    onWorkerExit(w, -1, 0);
    return;
  }
  w.pid = w.proc->pid;
  w.started_ms = uv_now(&loop_);
  w.ready = false;
  w.ping_outstanding = false;
  w.admin_port = 0;
  w.channel = LineChannel::open(
      &loop_, sv[0], [this, &w](std::string_view line) { onWorkerLine(w, line); },
      [&w] {
        // The worker closed its end: it is exiting (its exit callback says how).
        if (w.channel != nullptr) w.channel->close();
        w.channel = nullptr;
      });
  auto& j = log().eventLine(LogLevel::Info, "worker_started");
  j.num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
  log().emit(LogLevel::Info);
  // /status names our admin address, not the worker's loopback one.
  if (admin_) w.channel->send("admin_address\t" + LineChannel::escapeField(admin_->boundAddress()));
  if (!state_.empty()) w.channel->send("state\t" + state_);
  if (w.index != 0) sendHealthTable(w);
}

void Supervisor::onWorkerExit(Worker& w, int64_t status, int sig) {
  const uint64_t now = uv_now(&loop_);
  const uint64_t ran = now - w.started_ms;
  if (w.proc != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(w.proc), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    w.proc = nullptr;
  }
  if (w.channel != nullptr) w.channel->close();
  w.channel = nullptr;
  w.ready = false;
  w.admin_port = 0;
  if (draining_ || stopped_) {
    auto& j = log().eventLine(LogLevel::Info, "worker_exited");
    j.num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
    j.num("exit_status", status).num("signal", static_cast<int64_t>(sig));
    log().emit(LogLevel::Info);
    w.pid = 0;
    checkExited();
    return;
  }
  uint64_t delay = 0;
  if (ran >= kStableMs) {
    w.quick_exits = 0;
  } else {
    ++w.quick_exits;
    delay = std::min<uint64_t>(kFirstBackoffMs << std::min<uint32_t>(w.quick_exits - 1, 20), kMaxBackoffMs);
  }
  auto& j = log().eventLine(LogLevel::Error, "worker_exited");
  j.num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
  j.num("exit_status", status).num("signal", static_cast<int64_t>(sig)).num("ran_ms", ran);
  j.num("restart_in_ms", delay).num("exits_in_a_row", static_cast<uint64_t>(w.quick_exits));
  log().emit(LogLevel::Error);
  w.pid = 0;
  uv_timer_start(
      &w.restart_timer,
      [](uv_timer_t* t) {
        auto* worker = static_cast<Worker*>(t->data);
        Supervisor* self = worker->owner;
        if (self->draining_ || self->stopped_) return;
        ++worker->restarts;
        self->startWorker(*worker);
      },
      delay, 0);
}

void Supervisor::onWorkerLine(Worker& w, std::string_view line) {
  const auto f = LineChannel::split(line);
  if (f[0] == "admin" && f.size() == 2) {
    w.admin_port = std::atoi(std::string(f[1]).c_str());
    return;
  }
  if (f[0] == "pong") {
    w.ping_outstanding = false;
    return;
  }
  if (f[0] == "ready") {
    w.ready = true;
    w.ping_outstanding = false;
    auto& j = log().eventLine(LogLevel::Info, "worker_ready");
    j.num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
    log().emit(LogLevel::Info);
    checkAllReady();
    return;
  }
  if (f[0] == "health" && f.size() == 4 && w.index == 0) {
    health_[{std::string(f[1]), std::string(f[2])}] = std::string(f[3]);
    for (Worker& o : workers_) {
      if (o.index != 0 && o.channel != nullptr) o.channel->send(line);
    }
    return;
  }
  if (f[0] == "health_done" && w.index == 0) {
    if (!health_done_) {
      health_done_ = true;
      for (Worker& o : workers_) {
        if (o.index != 0 && o.channel != nullptr) o.channel->send("health_done");
      }
    }
    return;
  }
  if (f[0] == "state" && f.size() == 2 && w.index == 0) {
    state_ = std::string(f[1]);  // kept escaped: sent on as it came
    return;
  }
  if (f[0] == "resync") {
    sendHealthTable(w);
    return;
  }
  if (f[0] == "listeners" && w.index == 0) {
    // After a reload: our copies of removed listeners' sockets close (else
    // the kernel would queue connections nobody accepts).
    std::vector<std::string> keep;
    for (size_t i = 1; i < f.size(); ++i) keep.push_back(LineChannel::unescapeField(f[i]));
    for (auto it = sockets_.begin(); it != sockets_.end();) {
      if (std::find(keep.begin(), keep.end(), it->text) != keep.end()) {
        ++it;
        continue;
      }
      for (int fd : it->fds) ::close(fd);
      auto& j = log().eventLine(LogLevel::Info, "listener_released");
      j.str("address", it->text);
      log().emit(LogLevel::Info);
      it = sockets_.erase(it);
    }
    return;
  }
  if (f[0] == "settings" && w.index == 0) {
    // After a reload: what only a restart (or a hot upgrade) changes.
    for (size_t i = 1; i < f.size(); ++i) {
      const std::string kv = LineChannel::unescapeField(f[i]);
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
      const std::string running =
          key == "workers" ? std::to_string(workers_.size()) : key == "admin.listen" ? cfg_.admin.listen.text : value;
      if (value == running) continue;
      auto& j = log().eventLine(LogLevel::Warn, "reload_needs_restart");
      j.str("key", key).str("running", running).str("configured", value);
      j.str("effect", "kept as running until the next start or hot upgrade (SIGUSR2)");
      log().emit(LogLevel::Warn);
    }
    return;
  }
  auto& j = log().eventLine(LogLevel::Warn, "worker_channel_unknown");
  j.num("worker", static_cast<int64_t>(w.index)).str("line", line.substr(0, 200));
  log().emit(LogLevel::Warn);
}

void Supervisor::sendHealthTable(Worker& w) {
  if (w.channel == nullptr || w.index == 0) return;
  for (const auto& [key, status] : health_) {
    w.channel->send("health\t" + key.first + "\t" + key.second + "\t" + status);
  }
  if (health_done_) w.channel->send("health_done");
}

void Supervisor::checkAllReady() {
  if (all_ready_once_) return;
  for (const Worker& w : workers_) {
    if (!w.ready) return;
  }
  all_ready_once_ = true;
  auto& j = log().eventLine(LogLevel::Info, "workers_ready");
  j.num("workers", static_cast<uint64_t>(workers_.size()));
  log().emit(LogLevel::Info);
  notify_->ready();
  upgrade_->reportReady();  // started by a hot upgrade: the old generation drains now
}

void Supervisor::forward(int signum) {
  // On the channel, not as a signal: a worker ignores signals from anyone
  // else (`kill -TERM $(pidof ballast)` reaches every process once; a
  // second SIGTERM to a worker would mean "stop now").
  const char* name = signum == SIGHUP ? "HUP" : signum == SIGUSR1 ? "USR1" : "TERM";
  for (Worker& w : workers_) {
    if (w.proc == nullptr) continue;
    if (w.channel != nullptr) {
      w.channel->send(std::string("signal\t") + name);
    } else {
      uv_process_kill(w.proc, signum);  // its channel is gone: it is exiting
    }
  }
}

void Supervisor::closeSockets() {
  for (Socket& s : sockets_) {
    for (int fd : s.fds) ::close(fd);
  }
  sockets_.clear();
}

void Supervisor::beginDrain(bool upgrade) {
  if (draining_) return;
  draining_ = true;
  if (!upgrade) notify_->stopping();
  auto& j = log().eventLine(LogLevel::Info, "draining");
  j.num("workers", static_cast<uint64_t>(std::count_if(workers_.begin(), workers_.end(),
                                                       [](const Worker& w) { return w.proc != nullptr; })));
  j.boolean("upgrade", upgrade);
  log().emit(LogLevel::Info);
  for (Worker& w : workers_) uv_timer_stop(&w.restart_timer);
  forward(SIGTERM);
  // The workers keep their copies until their drain delay ends; ours would
  // keep the sockets listening after the last worker stopped accepting.
  closeSockets();
  checkExited();
}

void Supervisor::checkExited() {
  if (!draining_ || stopped_) return;
  for (const Worker& w : workers_) {
    if (w.proc != nullptr) return;
  }
  logEvent(LogLevel::Info, "drained");
  stop();
}

void Supervisor::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (Worker& w : workers_) {
    if (w.proc != nullptr) {
      // Start-up failure or the end: no worker outlives us unasked.
      uv_process_kill(w.proc, SIGKILL);
      uv_close(reinterpret_cast<uv_handle_t*>(w.proc), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
      w.proc = nullptr;
    }
    if (w.channel != nullptr) w.channel->close();
    w.channel = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&w.restart_timer), nullptr);
  }
  closeSockets();
  if (admin_) admin_->close();
  fetcher_->closeAll();
  upgrade_->close();
  notify_->close();
  for (auto& s : signals_) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
}

void Supervisor::onWatchdog(uv_timer_t* t) {
  auto* self = static_cast<Supervisor*>(t->data);
  if (self->draining_ || self->stopped_) return;
  const uint64_t now = uv_now(&self->loop_);
  const uint64_t limit = static_cast<uint64_t>(self->cfg_.worker_watchdog.count());
  for (Worker& w : self->workers_) {
    if (w.proc == nullptr || w.channel == nullptr || !w.ready) continue;
    if (!w.ping_outstanding) {
      w.ping_outstanding = true;
      w.ping_sent_ms = now;
      w.channel->send("ping");
      continue;
    }
    if (now - w.ping_sent_ms < limit) continue;
    auto& j = log().eventLine(LogLevel::Error, "worker_hung");
    j.num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
    j.num("silent_ms", now - w.ping_sent_ms).str("action", "SIGKILL, then restarted");
    log().emit(LogLevel::Error);
    w.ping_outstanding = false;
    uv_process_kill(w.proc, SIGKILL);  // its exit callback restarts it
  }
}

void Supervisor::hotUpgrade() {
  if (draining_) {
    logEvent(LogLevel::Warn, "upgrade_refused", "shutting down");
    return;
  }
  std::vector<std::pair<std::string, int>> sockets;
  for (const Socket& s : sockets_) {
    for (size_t i = 0; i < s.fds.size(); ++i) sockets.emplace_back(s.text + "#" + std::to_string(i), s.fds[i]);
  }
  if (admin_) sockets.emplace_back("admin@" + cfg_.admin.listen.text, admin_->fd());
  upgrade_->start(sockets, [this] {
    notify_->handOver(upgrade_->childPid());
    // The new supervisor's workers accept on the same sockets: ours drain.
    if (admin_) admin_->retire();
    beginDrain(true);
  });
}

void Supervisor::onSignal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Supervisor*>(h->data);
  switch (signum) {
    case SIGHUP:
      logEvent(LogLevel::Info, "reload_forwarded", "SIGHUP to every worker");
      self->forward(SIGHUP);
      return;
    case SIGUSR1:
      log().reopen();
      logEvent(LogLevel::Info, "logs_reopened");
      self->forward(SIGUSR1);
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
  if (self->draining_) {
    // Second signal: the workers stop at once.
    logEvent(LogLevel::Warn, "shutdown_now", "second signal: forwarded to every worker");
    self->forward(SIGTERM);
    return;
  }
  self->beginDrain(false);
}

// ---- admin ----

std::string Supervisor::requestBytes(const AdminRequest& req) {
  std::string out;
  out.reserve(256 + req.body.size());
  out.append(req.method).append(" ").append(req.path);
  if (!req.query.empty()) out.append("?").append(req.query);
  out.append(" HTTP/1.1\r\nHost: ").append(req.host.empty() ? std::string_view("127.0.0.1") : req.host);
  if (!req.authorization.empty()) out.append("\r\nAuthorization: ").append(req.authorization);
  if (!req.origin.empty()) out.append("\r\nOrigin: ").append(req.origin);
  if (!req.fetch_site.empty()) out.append("\r\nSec-Fetch-Site: ").append(req.fetch_site);
  if (!req.body.empty()) out.append("\r\nContent-Type: application/json");
  out.append("\r\nContent-Length: ").append(std::to_string(req.body.size()));
  out.append("\r\nConnection: close\r\n\r\n").append(req.body);
  return out;
}

bool Supervisor::allRunning(std::string* which) const {
  for (const Worker& w : workers_) {
    if (w.admin_port == 0) {
      if (which) *which = "worker " + std::to_string(w.index) + (w.proc ? " is starting" : " is not running (restart pending)");
      return false;
    }
  }
  return true;
}

std::string Supervisor::ownMetrics() const {
  uint64_t ready = 0, starting = 0, down = 0;
  for (const Worker& w : workers_) {
    if (w.proc == nullptr) {
      ++down;
    } else if (w.ready) {
      ++ready;
    } else {
      ++starting;
    }
  }
  std::string out;
  out += "# HELP ballast_workers Worker processes of the supervisor, by state.\n";
  out += "# TYPE ballast_workers gauge\n";
  out += "ballast_workers{state=\"ready\"} " + std::to_string(ready) + "\n";
  out += "ballast_workers{state=\"starting\"} " + std::to_string(starting) + "\n";
  out += "ballast_workers{state=\"down\"} " + std::to_string(down) + "\n";
  out += "# HELP ballast_worker_restarts_total Worker processes restarted after an exit nobody asked for.\n";
  out += "# TYPE ballast_worker_restarts_total counter\n";
  for (const Worker& w : workers_) {
    out += "ballast_worker_restarts_total{worker=\"" + std::to_string(w.index) + "\"} " + std::to_string(w.restarts) + "\n";
  }
  return out;
}

std::string Supervisor::ownStatus() {
  JsonWriter j;
  j.beginObject().num("pid", static_cast<int64_t>(getpid())).num("workers", static_cast<uint64_t>(workers_.size()));
  j.boolean("draining", draining_).key("processes").beginArray();
  const uint64_t now = uv_now(&loop_);
  for (const Worker& w : workers_) {
    j.beginObject().num("worker", static_cast<int64_t>(w.index)).num("pid", static_cast<int64_t>(w.pid));
    j.str("state", w.proc == nullptr ? "down" : w.ready ? "ready" : "starting");
    j.num("restarts", w.restarts);
    if (w.proc != nullptr) j.dbl("uptime_s", static_cast<double>(now - w.started_ms) / 1000.0, 1);
    j.endObject();
  }
  j.endArray().endObject();
  return j.take();
}

void Supervisor::onAdmin(const AdminRequest& req, std::function<void(AdminReply&)> respond) {
  const std::string_view path = req.path;
  const bool get = req.method == "GET";
  if (path == "/healthz") {
    AdminReply out;
    if (!get) {
      methodNotAllowed(out, "GET, HEAD");
    } else {
      plainReply(out, 200, draining_ ? "stopping" : "ok");
    }
    respond(out);
    return;
  }
  if (path == "/readyz" && get && draining_) {
    AdminReply out;
    plainReply(out, 503, "not ready: draining");
    respond(out);
    return;
  }
  // Which workers answer: GETs and most POSTs go to every worker that runs;
  // the incident record lives in worker 0.
  std::vector<int> targets;
  const bool to_first = startsWith(path, "/incidents");
  std::string missing;
  const bool all = allRunning(&missing);
  for (const Worker& w : workers_) {
    if (w.admin_port != 0 && (!to_first || w.index == 0)) targets.push_back(w.index);
  }
  const bool changes = !get;
  if (targets.empty() || (changes && !to_first && !all && path != "/reload") || (path == "/readyz" && !all)) {
    AdminReply out;
    if (path == "/readyz") {
      plainReply(out, 503, "not ready: " + (missing.empty() ? std::string("no worker answers") : missing));
    } else {
      jsonError(out, 503, (missing.empty() ? std::string("no worker answers") : missing) +
                              (changes ? ": nothing applied, try again" : ""));
    }
    respond(out);
    return;
  }
  auto fan = std::make_shared<FanOut>();
  fan->path = std::string(path);
  fan->get = get;
  fan->respond = std::move(respond);
  fan->workers = targets;
  fan->results.resize(targets.size());
  fan->pending = targets.size();
  const std::string bytes = requestBytes(req);
  for (size_t i = 0; i < targets.size(); ++i) {
    const Worker& w = workers_[static_cast<size_t>(targets[i])];
    fetcher_->fetch(w.admin_port, bytes, get ? kGetTimeoutMs : kPostTimeoutMs, [this, fan, i](AdminFetchResult r) {
      fan->results[i] = std::move(r);
      if (--fan->pending == 0) answerFanOut(*fan);
    });
  }
}

void Supervisor::answerFanOut(FanOut& fan) {
  AdminReply out;
  const size_t n = fan.workers.size();
  // The first answer that is not a plain success decides for the merged
  // documents (a 401 from every worker, a worker that did not answer).
  if (fan.get && (fan.path == "/metrics" || fan.path == "/status" || fan.path == "/readyz")) {
    for (size_t i = 0; i < n; ++i) {
      if (fan.results[i].status != 200) {
        setReply(out, fan.results[i], fan.workers[i]);
        if (fan.path == "/readyz" && out.status != 503) {
          plainReply(out, 503, "not ready: worker " + std::to_string(fan.workers[i]) + ": " + fan.results[i].error);
        }
        fan.respond(out);
        return;
      }
    }
    std::vector<WorkerDoc> docs;
    for (size_t i = 0; i < n; ++i) {
      const Worker& w = workers_[static_cast<size_t>(fan.workers[i])];
      docs.push_back(WorkerDoc{w.index, w.pid, std::move(fan.results[i].body)});
    }
    out.status = 200;
    out.content_type = fan.results[0].content_type;
    if (fan.path == "/metrics") {
      out.body = mergeMetrics(docs) + ownMetrics();
    } else if (fan.path == "/status") {
      out.body = mergeStatus(docs, ownStatus());
    } else {
      plainReply(out, 200, "ready (" + std::to_string(n) + " workers)");
    }
    fan.respond(out);
    return;
  }
  if (fan.get) {
    // Worker 0's answer, unless it does not know the thing asked for and
    // another does (a request explained by the worker that served it).
    size_t pick = 0;
    for (size_t i = 0; i < n && fan.results[pick].status == 404; ++i) {
      if (fan.results[i].status != 404 && fan.results[i].status != 0) pick = i;
    }
    setReply(out, fan.results[pick], fan.workers[pick]);
    fan.respond(out);
    return;
  }
  bool same = true;
  for (size_t i = 1; i < n; ++i) same = same && fan.results[i].status == fan.results[0].status;
  if (same) {
    setReply(out, fan.results[0], fan.workers[0]);
    out.headers.emplace_back("X-Ballast-Workers", std::to_string(n));
    fan.respond(out);
    return;
  }
  // Applied by some workers and not others: say exactly who did what.
  JsonWriter j;
  j.beginObject().str("error", "the workers answered differently; see each one").key("workers").beginArray();
  for (size_t i = 0; i < n; ++i) {
    const AdminFetchResult& r = fan.results[i];
    j.beginObject().num("worker", static_cast<int64_t>(fan.workers[i])).num("status", static_cast<int64_t>(r.status));
    j.str("body", r.status == 0 ? r.error : r.body).endObject();
  }
  j.endArray().endObject();
  out.status = 502;
  out.content_type = "application/json";
  out.body = j.take() + "\n";
  fan.respond(out);
}

}  // namespace ballast
