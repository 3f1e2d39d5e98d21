#include "lb/server/hot_upgrade.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/server/spawn.h"

namespace ballast {

void HotUpgrade::setCommandLine(int argc, char** argv) {
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

int HotUpgrade::takeInherited(const std::string& key) {
  for (auto& [k, fd] : inherited_) {
    if (k == key && fd >= 0) {
      int out = fd;
      fd = -1;
      return out;
    }
  }
  return -1;
}

void HotUpgrade::closeUnusedInherited() {
  for (auto& [k, fd] : inherited_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void HotUpgrade::reportReady() {
  if (ready_fd_ < 0) return;
  ssize_t w = ::write(ready_fd_, "ready\n", 6);
  (void)w;
  ::close(ready_fd_);
  ready_fd_ = -1;
}

void HotUpgrade::close() {
  if (pipe_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    pipe_ = nullptr;
  }
  if (proc_ != nullptr) {
    // The new process is detached: closing our handle does not stop it.
    uv_close(reinterpret_cast<uv_handle_t*>(proc_), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    proc_ = nullptr;
  }
}

bool HotUpgrade::start(const std::vector<std::pair<std::string, int>>& sockets, std::function<void()> on_ready) {
  if (proc_ != nullptr) {
    logEvent(LogLevel::Warn, "upgrade_refused", "an upgrade is already running");
    return false;
  }
  SpawnSpec spec;
  spec.file = exe_path_;
  spec.args = args_;
  std::string inherit;
  for (const auto& [key, fd] : sockets) {
    if (fd < 0) continue;
    if (!inherit.empty()) inherit += ';';
    inherit += key + "=" + std::to_string(childFd(spec.fds.size()));
    spec.fds.push_back(fd);
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    logEvent(LogLevel::Error, "upgrade_failed", std::strerror(errno));
    return false;
  }
  const int ready_child_fd = childFd(spec.fds.size());
  spec.fds.push_back(pipefd[1]);
  // systemd's watchdog names the main PID (ours); the new process pings
  // too, and becomes the main PID at the handover (sd_notify.h).
  spec.drop = {"BALLAST_INHERIT=", "BALLAST_READY_FD=", "WATCHDOG_PID="};
  spec.add = {"BALLAST_INHERIT=" + inherit, "BALLAST_READY_FD=" + std::to_string(ready_child_fd)};
  proc_ = new uv_process_t();
  proc_->data = this;
  int err = spawnInheriting(loop_, proc_, spec, [](uv_process_t* p, int64_t status, int sig) {
    auto* self = static_cast<HotUpgrade*>(p->data);
    if (!self->ready_) {
      auto& j = log().eventLine(LogLevel::Error, "upgrade_failed");
      j.str("reason", "the new process exited before it was ready").num("exit_status", status).num("signal", sig);
      log().emit(LogLevel::Error);
      self->close();
    }
  });
  ::close(pipefd[1]);
  if (err != 0) {
    ::close(pipefd[0]);
    auto& j = log().eventLine(LogLevel::Error, "upgrade_failed");
    j.str("exe", exe_path_).str("error", uv_strerror(err));
    log().emit(LogLevel::Error);
    uv_close(reinterpret_cast<uv_handle_t*>(proc_), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    proc_ = nullptr;
    return false;
  }
  ready_ = false;
  on_ready_ = std::move(on_ready);
  pipe_ = new uv_pipe_t();
  uv_pipe_init(loop_, pipe_, 0);
  pipe_->data = this;
  uv_pipe_open(pipe_, pipefd[0]);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(pipe_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char b[64];
        buf->base = b;
        buf->len = sizeof b;
      },
      [](uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
        auto* self = static_cast<HotUpgrade*>(st->data);
        if (n > 0 && std::string_view(buf->base, static_cast<size_t>(n)).find("ready") != std::string_view::npos) {
          self->ready_ = true;
          auto& j = log().eventLine(LogLevel::Info, "upgrade_handover");
          j.num("new_pid", static_cast<int64_t>(self->proc_ ? self->proc_->pid : 0));
          log().emit(LogLevel::Info);
          if (self->on_ready_) self->on_ready_();
        } else if (n < 0 && !self->ready_) {
          // The new process closed the pipe without being ready: it died
          // or failed to start (its exit callback says more).
          uv_read_stop(st);
        }
      });
  auto& j = log().eventLine(LogLevel::Info, "upgrade_started");
  j.str("exe", exe_path_).num("new_pid", static_cast<int64_t>(proc_->pid));
  log().emit(LogLevel::Info);
  return true;
}

}  // namespace ballast
