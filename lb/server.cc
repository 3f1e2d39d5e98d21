#include "lb/server.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>

#include <cassert>

#include "health/health_checker.h"
#include "lb/admin.h"
#include "lb/downstream_connection.h"
#include "lb/listener.h"
#include "config/config_loader.h"
#include "lb/log.h"
#include "lb/metrics.h"
#include "lb/upstream_connection.h"

namespace ballast {

std::shared_ptr<Runtime> Runtime::build(const config::Config& cfg, uint64_t now_ms, const Runtime* previous) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::make_shared<const config::Config>(cfg);
  std::vector<Pool*> raw;
  for (const auto& pc : rt->config->pools) {
    const Pool* old = nullptr;
    if (previous) {
      for (const auto& p : previous->pools) {
        if (p->name() == pc.name) old = p.get();
      }
    }
    rt->pools.push_back(std::make_shared<Pool>(pc, now_ms, old));
    raw.push_back(rt->pools.back().get());
  }
  rt->router.build(rt->config->routes, raw);
  return rt;
}

Server::Server(const config::Config& cfg) {
  uv_loop_init(&loop_);
  started_ms_ = uv_now(&loop_);
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  start_time_ = static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  runtime_ = Runtime::build(cfg, uv_now(&loop_));
  std::random_device rd;
  rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ uv_hrtime());
}

Server::~Server() {
  retired_listeners_.clear();
  retired_admins_.clear();
  // run() closed every handle and the loop; a Server that never ran (tests,
  // start-up failure before run) still owns the loop's internal resources.
  if (!loop_closed_) uv_loop_close(&loop_);
  listeners_.clear();
  admin_.reset();
  runtime_.reset();
}

bool Server::bindListeners() {
  auto takeInherited = [this](const std::string& key) {
    for (auto& [k, fd] : inherited_) {
      if (k == key && fd >= 0) {
        int out = fd;
        fd = -1;
        return out;
      }
    }
    return -1;
  };
  for (const auto& addr : config().listen) {
    auto l = std::make_unique<Listener>(&loop_, addr, "proxy", [this](Listener& x) { onConnectionPending(x); });
    int inherited = takeInherited(addr.text);
    int err = 0;
    if (inherited >= 0) {
      // Hot upgrade: the old process keeps accepting on this same socket
      // until we are ready (see onHandoverTimer).
      err = l->adopt(inherited, false);
      if (err == 0) deferred_.push_back(l.get());
    } else {
      err = l->bind();
    }
    if (err != 0) {
      auto& j = log().eventLine(config::LogLevel::Error, "bind_failed");
      j.str("kind", "proxy").str("address", addr.text).str("error", uv_strerror(err));
      log().emit(config::LogLevel::Error);
      l->close();
      listeners_.push_back(std::move(l));
      return false;
    }
    auto& j = log().eventLine(config::LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress());
    log().emit(config::LogLevel::Info);
    listeners_.push_back(std::move(l));
  }
  admin_ = std::make_unique<AdminServer>(*this, config().admin.listen);
  int admin_fd = takeInherited("admin@" + config().admin.listen.text);
  int err = admin_fd >= 0 ? admin_->adopt(admin_fd) : admin_->bind();
  // Inherited sockets the new config does not use.
  for (auto& [k, fd] : inherited_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  if (err != 0) {
    auto& j = log().eventLine(config::LogLevel::Error, "bind_failed");
    j.str("kind", "admin").str("address", config().admin.listen.text).str("error", uv_strerror(err));
    log().emit(config::LogLevel::Error);
    return false;
  }
  auto& j = log().eventLine(config::LogLevel::Info, "listening");
  j.str("kind", "admin").str("address", admin_->boundAddress());
  log().emit(config::LogLevel::Info);
  return true;
}

int Server::run() {
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigusr1_);
  sigint_.data = sigterm_.data = sigusr1_.data = this;
  uv_signal_start(&sigint_, &Server::onSignal, SIGINT);
  uv_signal_start(&sigterm_, &Server::onSignal, SIGTERM);
  uv_signal_start(&sigusr1_, &Server::onSignal, SIGUSR1);
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, &Server::onPrepare);
  uv_timer_init(&loop_, &sweep_);
  sweep_.data = this;
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;
  uv_signal_init(&loop_, &sighup_);
  sighup_.data = this;
  uv_signal_start(&sighup_, &Server::onSignal, SIGHUP);
  uv_signal_init(&loop_, &sigusr2_);
  sigusr2_.data = this;
  uv_signal_start(&sigusr2_, &Server::onSignal, SIGUSR2);
  uv_timer_init(&loop_, &handover_timer_);
  handover_timer_.data = this;
  uv_fs_event_init(&loop_, &watch_handle_);
  watch_handle_.data = this;
  uv_timer_init(&loop_, &watch_debounce_);
  watch_debounce_.data = this;

  int exit_code = 0;
  if (!bindListeners()) {
    exit_code = 1;
    stop();
  } else {
    bound_ = true;
    startHealthChecks();
    if (!deferred_.empty() || ready_fd_ >= 0) uv_timer_start(&handover_timer_, &Server::onHandoverTimer, 0, 20);
    if (watch_) startWatch();
    auto& j = log().eventLine(config::LogLevel::Info, "started");
    j.str("version", BALLAST_VERSION).num("pid", static_cast<int64_t>(getpid()));
    j.num("pools", static_cast<uint64_t>(runtime_->pools.size()));
    j.num("routes", static_cast<uint64_t>(runtime_->router.routes().size()));
    log().emit(config::LogLevel::Info);
  }
  log().flush();
  uv_run(&loop_, UV_RUN_DEFAULT);

  int rc = uv_loop_close(&loop_);
  loop_closed_ = rc == 0;
  if (rc != 0) {
    // A handle was left open: a lifetime bug. Say so loudly (tests look for it).
    auto& j = log().eventLine(config::LogLevel::Error, "loop_not_closed");
    j.str("error", uv_strerror(rc));
    log().emit(config::LogLevel::Error);
    uv_walk(&loop_, [](uv_handle_t* h, void*) {
      auto& e = log().eventLine(config::LogLevel::Error, "open_handle");
      e.str("type", uv_handle_type_name(h->type));
      log().emit(config::LogLevel::Error);
    }, nullptr);
    if (exit_code == 0) exit_code = 1;
  }
  if (exit_code == 0) logEvent(config::LogLevel::Info, "stopped");
  log().flush();
  return exit_code;
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  drain_phase_ = DrainPhase::None;
  if (!listeners_.empty()) logEvent(config::LogLevel::Info, "stopping");
  for (auto& l : listeners_) l->close();
  if (admin_) admin_->close();
  for (auto& c : checkers_) c->close();
  checkers_.clear();
  // close() unlinks nothing synchronously (objects leave the lists from their
  // close callbacks), so walking the lists here is safe.
  downstream_.forEach([](DownstreamConnection* c) { c->close(); });
  upstream_.forEach([](UpstreamConnection* c) { c->close(); });
  closeUpgradeHandles();
  for (auto* h : {reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigterm_),
                  reinterpret_cast<uv_handle_t*>(&sigusr1_), reinterpret_cast<uv_handle_t*>(&prepare_),
                  reinterpret_cast<uv_handle_t*>(&sweep_), reinterpret_cast<uv_handle_t*>(&drain_timer_),
                  reinterpret_cast<uv_handle_t*>(&sighup_), reinterpret_cast<uv_handle_t*>(&sigusr2_),
                  reinterpret_cast<uv_handle_t*>(&handover_timer_), reinterpret_cast<uv_handle_t*>(&watch_handle_),
                  reinterpret_cast<uv_handle_t*>(&watch_debounce_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

Server::ReloadResult Server::reload(std::string_view trigger) {
  ReloadResult res;
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  const double now_unix = static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  auto fail = [&]() {
    ++processStats().reloads_failure;
    processStats().last_reload_failure = now_unix;
    std::string joined;
    for (const auto& e : res.errors) {
      if (!joined.empty()) joined += "; ";
      joined += e;
    }
    auto& j = log().eventLine(config::LogLevel::Error, "config_reload_failed");
    j.str("trigger", trigger).str("file", config_path_).num("error_count", static_cast<uint64_t>(res.errors.size()));
    j.str("errors", joined).str("result", "the running configuration is unchanged");
    log().emit(config::LogLevel::Error);
    return res;
  };
  if (stopping_) {
    res.errors.push_back("shutting down: reload refused");
    return fail();
  }
  if (config_path_.empty()) {
    res.errors.push_back("no configuration file to reload");
    return fail();
  }
  auto loaded = config::loadConfigFile(config_path_);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) res.errors.push_back(e.format());
    return fail();
  }
  const config::Config& cfg = *loaded.config;

  // 1. Listeners: same address keeps its socket (no refused connection, no
  //    accept gap); new ones are bound now, and any bind failure fails the
  //    whole reload before anything changed.
  std::vector<std::unique_ptr<Listener>> next;
  std::vector<bool> kept(listeners_.size(), false);
  std::vector<Listener*> fresh;
  for (const auto& addr : cfg.listen) {
    bool found = false;
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (!kept[i] && listeners_[i] && listeners_[i]->address().text == addr.text && !listeners_[i]->closed()) {
        kept[i] = true;
        next.push_back(std::move(listeners_[i]));
        found = true;
        break;
      }
    }
    if (found) continue;
    auto l = std::make_unique<Listener>(&loop_, addr, "proxy", [this](Listener& x) { onConnectionPending(x); });
    int err = l->bind();
    if (err != 0) {
      res.errors.push_back(config_path_ + ": listen " + addr.text + ": cannot bind: " + uv_strerror(err));
      l->close();
      retired_listeners_.push_back(std::move(l));
      break;
    }
    fresh.push_back(l.get());
    next.push_back(std::move(l));
  }
  std::unique_ptr<AdminServer> new_admin;
  if (res.errors.empty() && cfg.admin.listen.text != config().admin.listen.text) {
    new_admin = std::make_unique<AdminServer>(*this, cfg.admin.listen);
    int err = new_admin->bind();
    if (err != 0) {
      res.errors.push_back(config_path_ + ": admin.listen " + cfg.admin.listen.text + ": cannot bind: " + uv_strerror(err));
      new_admin->close();
      retired_admins_.push_back(std::move(new_admin));
    }
  }
  std::string log_err;
  if (res.errors.empty() && !log().configure(cfg.log, &log_err)) {
    res.errors.push_back(config_path_ + ": log: " + log_err);
  }
  if (!res.errors.empty()) {
    // Roll back: give kept listeners back, close the fresh ones.
    for (auto& l : next) {
      if (!l) continue;
      bool is_fresh = false;
      for (Listener* f : fresh) is_fresh = is_fresh || f == l.get();
      if (is_fresh) {
        l->close();
        retired_listeners_.push_back(std::move(l));
        continue;
      }
      for (size_t i = 0; i < listeners_.size(); ++i) {
        if (!listeners_[i] && kept[i]) {
          listeners_[i] = std::move(l);
          break;
        }
      }
    }
    if (new_admin) {
      new_admin->close();
      retired_admins_.push_back(std::move(new_admin));
    }
    return fail();
  }

  // 2. Commit. From here nothing can fail.
  size_t listeners_added = fresh.size();
  size_t listeners_removed = 0;
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i]) {
      // Removed address: stop accepting; its connections finish on their own.
      listeners_[i]->close();
      retired_listeners_.push_back(std::move(listeners_[i]));
      ++listeners_removed;
    }
  }
  listeners_ = std::move(next);
  for (Listener* l : fresh) {
    auto& j = log().eventLine(config::LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress());
    log().emit(config::LogLevel::Info);
  }
  if (new_admin) {
    admin_->close();
    retired_admins_.push_back(std::move(admin_));
    admin_ = std::move(new_admin);
    auto& j = log().eventLine(config::LogLevel::Info, "listening");
    j.str("kind", "admin").str("address", admin_->boundAddress());
    log().emit(config::LogLevel::Info);
  }

  std::shared_ptr<Runtime> old = runtime_;
  runtime_ = Runtime::build(cfg, uv_now(&loop_), old.get());
  size_t added = 0, removed = 0, kept_backends = 0;
  for (const auto& p : runtime_->pools) {
    for (const auto& b : p->backends()) {
      bool was = false;
      for (const auto& op : old->pools) {
        for (const auto& ob : op->backends()) was = was || ob == b;
      }
      (was ? kept_backends : added) += 1;
    }
  }
  for (const auto& op : old->pools) {
    for (const auto& ob : op->backends()) {
      bool still = false;
      for (const auto& p : runtime_->pools) {
        for (const auto& b : p->backends()) still = still || ob == b;
      }
      if (!still) {
        // Removed: no new requests (not in the new runtime); in-flight ones
        // finish on the old runtime they hold; pooled connections close.
        ++removed;
        ob->idle().closeAll();
      }
    }
  }
  for (auto& c : checkers_) c->close();
  checkers_.clear();
  uv_timer_stop(&sweep_);
  startHealthChecks();

  ++processStats().reloads_success;
  processStats().last_reload_success = now_unix;
  processStats().config_hash = hashFile(config_path_);
  auto& j = log().eventLine(config::LogLevel::Info, "config_reloaded");
  j.str("trigger", trigger).str("file", config_path_).str("hash", processStats().config_hash);
  j.num("pools", static_cast<uint64_t>(runtime_->pools.size()));
  j.num("backends_added", static_cast<uint64_t>(added)).num("backends_removed", static_cast<uint64_t>(removed));
  j.num("backends_kept", static_cast<uint64_t>(kept_backends));
  j.num("listeners_added", static_cast<uint64_t>(listeners_added));
  j.num("listeners_removed", static_cast<uint64_t>(listeners_removed));
  log().emit(config::LogLevel::Info);
  res.ok = true;
  return res;
}

void Server::startWatch() {
  watched_hash_ = hashFile(config_path_);
  std::string dir = config_path_;
  size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  int err = uv_fs_event_start(&watch_handle_, &Server::onWatchEvent, dir.c_str(), 0);
  auto level = err == 0 ? config::LogLevel::Info : config::LogLevel::Error;
  auto& j = log().eventLine(level, err == 0 ? "watching" : "watch_failed");
  j.str("file", config_path_).str("directory", dir);
  if (err != 0) j.str("error", uv_strerror(err));
  log().emit(level);
}

void Server::onWatchEvent(uv_fs_event_t* h, const char* filename, int, int status) {
  auto* self = static_cast<Server*>(h->data);
  if (status < 0 || self->stopping_) return;
  std::string_view name = filename ? filename : "";
  std::string_view base = self->config_path_;
  size_t slash = base.rfind('/');
  if (slash != std::string_view::npos) base.remove_prefix(slash + 1);
  // The file itself, or Kubernetes' ..data symlink swap (ConfigMap volumes),
  // or an unnamed event (some file systems): debounce, then compare bytes.
  if (!name.empty() && name != base && name.substr(0, 2) != "..") return;
  uv_timer_start(&self->watch_debounce_, &Server::onWatchDebounce, 200, 0);
}

void Server::onWatchDebounce(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  std::string hash = hashFile(self->config_path_);
  if (hash == self->watched_hash_) return;  // touched, not changed
  self->watched_hash_ = hash;
  self->reload("watch");
}

void Server::setCommandLine(int argc, char** argv) {
  args_.assign(argv, argv + argc);
  // The path, not /proc/self/exe: after `cp new-ballast /usr/bin/ballast`
  // the path names the new binary, /proc/self/exe the old (deleted) one.
  char resolved[PATH_MAX];
  if (argc > 0 && std::strchr(argv[0], '/') != nullptr && ::realpath(argv[0], resolved) != nullptr) {
    exe_path_ = resolved;
  } else {
    size_t n = sizeof resolved;
    if (uv_exepath(resolved, &n) == 0) exe_path_.assign(resolved, n);
  }
  // New side of a hot upgrade: sockets and readiness pipe from the old process.
  if (const char* inh = std::getenv("BALLAST_INHERIT")) {
    std::string_view rest = inh;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view item = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      size_t eq = item.rfind('=');
      if (eq == std::string_view::npos) continue;
      inherited_.emplace_back(std::string(item.substr(0, eq)), std::atoi(std::string(item.substr(eq + 1)).c_str()));
    }
    ::unsetenv("BALLAST_INHERIT");
  }
  if (const char* r = std::getenv("BALLAST_READY_FD")) {
    ready_fd_ = std::atoi(r);
    ::unsetenv("BALLAST_READY_FD");
  }
}

void Server::onHandoverTimer(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  if (self->stopping_) {
    uv_timer_stop(h);
    return;
  }
  if (!self->ready()) return;  // first health round not done yet
  uv_timer_stop(h);
  for (Listener* l : self->deferred_) {
    int err = l->startListening();
    auto& j = log().eventLine(err == 0 ? config::LogLevel::Info : config::LogLevel::Error, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress()).boolean("inherited", true);
    if (err != 0) j.str("error", uv_strerror(err));
    log().emit(err == 0 ? config::LogLevel::Info : config::LogLevel::Error);
  }
  self->deferred_.clear();
  if (self->ready_fd_ >= 0) {
    ssize_t w = ::write(self->ready_fd_, "ready\n", 6);
    (void)w;
    ::close(self->ready_fd_);
    self->ready_fd_ = -1;
  }
  logEvent(config::LogLevel::Info, "upgrade_ready", "accepting on the inherited sockets; the old process drains");
}

void Server::closeUpgradeHandles() {
  if (upgrade_pipe_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(upgrade_pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    upgrade_pipe_ = nullptr;
  }
  if (upgrade_proc_ != nullptr) {
    // The new process is detached: closing our handle does not stop it.
    uv_close(reinterpret_cast<uv_handle_t*>(upgrade_proc_), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    upgrade_proc_ = nullptr;
  }
}

void Server::hotUpgrade() {
  if (stopping_ || upgrade_proc_ != nullptr) {
    logEvent(config::LogLevel::Warn, "upgrade_refused", stopping_ ? "shutting down" : "an upgrade is already running");
    return;
  }
  std::vector<uv_stdio_container_t> stdio(3);
  for (int i = 0; i < 3; ++i) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = i;
  }
  std::string inherit;
  auto hand = [&](const std::string& key, int fd) {
    if (fd < 0) return;
    uv_stdio_container_t c;
    c.flags = UV_INHERIT_FD;
    c.data.fd = fd;
    if (!inherit.empty()) inherit += ';';
    inherit += key + "=" + std::to_string(stdio.size());
    stdio.push_back(c);
  };
  for (auto& l : listeners_) hand(l->address().text, l->fd());
  if (admin_) hand("admin@" + config().admin.listen.text, admin_->fd());
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    logEvent(config::LogLevel::Error, "upgrade_failed", std::strerror(errno));
    return;
  }
  size_t ready_child_fd = stdio.size();
  uv_stdio_container_t rc;
  rc.flags = UV_INHERIT_FD;
  rc.data.fd = pipefd[1];
  stdio.push_back(rc);

  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BALLAST_INHERIT=", 16) == 0 || std::strncmp(*e, "BALLAST_READY_FD=", 17) == 0) continue;
    env_store.emplace_back(*e);
  }
  env_store.push_back("BALLAST_INHERIT=" + inherit);
  env_store.push_back("BALLAST_READY_FD=" + std::to_string(ready_child_fd));
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);

  uv_process_options_t opts{};
  opts.file = exe_path_.c_str();
  opts.args = argv.data();
  opts.env = envp.data();
  opts.stdio = stdio.data();
  opts.stdio_count = static_cast<int>(stdio.size());
  opts.flags = UV_PROCESS_DETACHED;
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) {
    auto* self = static_cast<Server*>(p->data);
    if (!self->upgrade_ready_) {
      auto& j = log().eventLine(config::LogLevel::Error, "upgrade_failed");
      j.str("reason", "the new process exited before it was ready").num("exit_status", status).num("signal", sig);
      log().emit(config::LogLevel::Error);
      self->closeUpgradeHandles();
    }
  };
  upgrade_proc_ = new uv_process_t();
  upgrade_proc_->data = this;
  int err = uv_spawn(&loop_, upgrade_proc_, &opts);
  ::close(pipefd[1]);
  if (err != 0) {
    ::close(pipefd[0]);
    auto& j = log().eventLine(config::LogLevel::Error, "upgrade_failed");
    j.str("exe", exe_path_).str("error", uv_strerror(err));
    log().emit(config::LogLevel::Error);
    uv_close(reinterpret_cast<uv_handle_t*>(upgrade_proc_), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    upgrade_proc_ = nullptr;
    return;
  }
  upgrade_ready_ = false;
  upgrade_pipe_ = new uv_pipe_t();
  uv_pipe_init(&loop_, upgrade_pipe_, 0);
  upgrade_pipe_->data = this;
  uv_pipe_open(upgrade_pipe_, pipefd[0]);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(upgrade_pipe_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char b[64];
        buf->base = b;
        buf->len = sizeof b;
      },
      [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
        auto* self = static_cast<Server*>(st->data);
        if (n > 0 && std::string_view(buf->base, static_cast<size_t>(n)).find("ready") != std::string_view::npos) {
          self->upgrade_ready_ = true;
          auto& j = log().eventLine(config::LogLevel::Info, "upgrade_handover");
          j.num("new_pid", static_cast<int64_t>(self->upgrade_proc_ ? self->upgrade_proc_->pid : 0));
          log().emit(config::LogLevel::Info);
          self->beginShutdown();
        } else if (n < 0 && !self->upgrade_ready_) {
          // The new process closed the pipe without being ready: it died
          // or failed to start (its exit callback says more).
          uv_read_stop(st);
        }
      });
  auto& j = log().eventLine(config::LogLevel::Info, "upgrade_started");
  j.str("exe", exe_path_).num("new_pid", static_cast<int64_t>(upgrade_proc_->pid));
  log().emit(config::LogLevel::Info);
}

void Server::beginShutdown() {
  if (stopping_) {
    // Second signal: now.
    logEvent(config::LogLevel::Warn, "shutdown_now", "second signal: closing every connection");
    stop();
    return;
  }
  stopping_ = true;  // /readyz: 503 from now on
  const auto& d = config().drain;
  auto& j = log().eventLine(config::LogLevel::Info, "draining");
  j.num("delay_ms", static_cast<int64_t>(d.delay.count())).num("timeout_ms", static_cast<int64_t>(d.timeout.count()));
  j.num("client_connections", static_cast<uint64_t>(downstream_.size()));
  log().emit(config::LogLevel::Info);
  drain_phase_ = DrainPhase::Delay;
  uv_timer_start(&drain_timer_, &Server::onDrainTimer, static_cast<uint64_t>(d.delay.count()), 0);
}

void Server::onDrainTimer(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  if (self->drain_phase_ == DrainPhase::Delay) {
    // Stop accepting; close what is idle; let in-flight requests finish.
    self->drain_phase_ = DrainPhase::Waiting;
    for (auto& l : self->listeners_) l->close();
    for (auto& c : self->checkers_) c->close();
    self->checkers_.clear();
    // Idle keep-alive clients: closed after a short grace rather than at
    // once, so a request already on its way (sent just before our close
    // would reach the client) is still served, with Connection: close.
    self->downstream_.forEach([](DownstreamConnection* c) { c->drainIdle(kIdleDrainGraceMs); });
    for (const auto& p : self->runtime_->pools) {
      for (const auto& b : p->backends()) b->idle().closeAll();
    }
    uv_timer_start(&self->drain_timer_, &Server::onDrainTimer,
                   static_cast<uint64_t>(self->config().drain.timeout.count()), 0);
    self->checkDrained();
    return;
  }
  // drain.timeout: cut what is left.
  auto& j = log().eventLine(config::LogLevel::Warn, "drain_timeout");
  j.num("connections_cut", static_cast<uint64_t>(self->downstream_.size()));
  log().emit(config::LogLevel::Warn);
  self->stop();
}

constexpr uint64_t Server::kIdleDrainGraceMs;

void Server::checkDrained() {
  // Every client connection is gone (closing ones count until their close
  // callback ran): nothing left to wait for.
  if (drain_phase_ == DrainPhase::Waiting && downstream_.size() == 0) {
    logEvent(config::LogLevel::Info, "drained");
    stop();
  }
}

void Server::onSignal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Server*>(h->data);
  if (signum == SIGUSR1) {
    log().reopen();
    logEvent(config::LogLevel::Info, "logs_reopened");
    return;
  }
  if (signum == SIGHUP) {
    self->reload("SIGHUP");
    return;
  }
  if (signum == SIGUSR2) {
    self->hotUpgrade();
    return;
  }
  auto& j = log().eventLine(config::LogLevel::Info, "signal");
  j.str("signal", signum == SIGINT ? "SIGINT" : "SIGTERM");
  log().emit(config::LogLevel::Info);
  self->beginShutdown();
}

void Server::onPrepare(uv_prepare_t*) { log().flush(); }

bool Server::ready() const {
  if (!bound_ || stopping_) return false;
  for (const auto& c : checkers_) {
    if (!c->firstRoundDone()) return false;
  }
  return true;
}

void Server::startHealthChecks() {
  bool outlier = false;
  for (const auto& p : runtime_->pools) {
    if (p->config().outlier_detection) outlier = true;
    if (!p->config().health_check || p->backends().empty()) continue;
    checkers_.push_back(std::make_unique<health::HealthChecker>(&loop_, p));
    checkers_.back()->start();
  }
  // Ejections end on time: a coarse sweep is enough (ejections last seconds).
  if (outlier) uv_timer_start(&sweep_, &Server::onSweep, 100, 100);
}

void Server::onSweep(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  uint64_t now = uv_now(&self->loop_);
  for (const auto& p : self->runtime_->pools) p->sweepEjections(now);
}

void Server::onConnectionPending(Listener& l) {
  // Still accepting during drain.delay; stopped_ means the listener is closing.
  if (stopped_ || l.closed()) return;
  if (downstream_.size() >= config().limits.max_connections) {
    // Leave it in the kernel's queue; libuv stops polling this listener
    // until we accept (resumePausedListeners).
    if (!l.paused()) {
      auto& j = log().eventLine(config::LogLevel::Warn, "accept_paused");
      j.str("address", l.boundAddress()).num("max_connections", static_cast<uint64_t>(config().limits.max_connections));
      log().emit(config::LogLevel::Warn);
    }
    l.setPaused(true);
    return;
  }
  DownstreamConnection::accept(*this, l.stream());
}

void Server::resumePausedListeners() {
  for (auto& l : listeners_) {
    if (!l->paused() || l->closed()) continue;
    if (downstream_.size() >= config().limits.max_connections) return;
    l->setPaused(false);
    // Accepting the pending connection also re-arms polling of the listener.
    DownstreamConnection::accept(*this, l->stream());
  }
}

void Server::linkDownstream(DownstreamConnection* c) { downstream_.push(c); }

void Server::unlinkDownstream(DownstreamConnection* c) {
  downstream_.erase(c);
  if (!stopping_) {
    resumePausedListeners();
  } else if (drain_phase_ == DrainPhase::Waiting) {
    checkDrained();
  }
}

void Server::linkUpstream(UpstreamConnection* c) { upstream_.push(c); }

void Server::unlinkUpstream(UpstreamConnection* c) { upstream_.erase(c); }

void Server::newRequestId(std::string& out) {
  static const char* hex = "0123456789abcdef";
  uint64_t a = rng_();
  uint64_t b = rng_();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char s[36];
  int pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[pos++] = '-';
    uint64_t v = i < 8 ? a : b;
    unsigned byte = static_cast<unsigned>((v >> (56 - 8 * (i % 8))) & 0xff);
    s[pos++] = hex[byte >> 4];
    s[pos++] = hex[byte & 15];
  }
  out.assign(s, 36);
}

}  // namespace ballast
