// Hot binary upgrade. The old process (SIGUSR2) starts the binary found at
// the path it was started from, with the same arguments, handing it the
// listening sockets as inherited descriptors named in BALLAST_INHERIT
// ("address=fd;admin@address=fd"). The new process probes its backends,
// starts accepting on the shared sockets once ready and says so on a pipe
// (BALLAST_READY_FD); the old one then drains and exits. Both accept from
// the same sockets meanwhile, so no connection is refused or lost.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ballast {

class HotUpgrade {
 public:
  explicit HotUpgrade(uv_loop_t* loop) : loop_(loop) {}
  HotUpgrade(const HotUpgrade&) = delete;
  HotUpgrade& operator=(const HotUpgrade&) = delete;

  // Remembers how this process was started, and (new side) takes the
  // inherited sockets and the readiness pipe from the environment.
  void setCommandLine(int argc, char** argv);

  // ---- new side ----
  // The inherited socket for `key` ("127.0.0.1:8080", "admin@..."), or -1.
  // Each socket is handed out once.
  int takeInherited(const std::string& key);
  // Closes the inherited sockets nobody took (the new config dropped them).
  void closeUnusedInherited();
  // Started by an old process that waits for our readiness.
  bool waitingForReady() const { return ready_fd_ >= 0; }
  // Tells the old process we accept now (it then drains).
  void reportReady();

  // ---- old side ----
  // Starts the new process with `sockets` (key, fd). `on_ready` runs when it
  // reports ready. False (logged) when it could not start or one is already
  // running.
  bool start(const std::vector<std::pair<std::string, int>>& sockets, std::function<void()> on_ready);
  bool running() const { return proc_ != nullptr; }
  // The new process's PID (0 when none runs).
  int childPid() const { return proc_ ? proc_->pid : 0; }
  // Closes the process handle and the pipe (the new process is detached:
  // it keeps running).
  void close();

 private:
  uv_loop_t* loop_;
  std::string exe_path_;
  std::vector<std::string> args_;
  std::vector<std::pair<std::string, int>> inherited_;
  int ready_fd_ = -1;
  uv_process_t* proc_ = nullptr;
  uv_pipe_t* pipe_ = nullptr;
  bool ready_ = false;
  std::function<void()> on_ready_;
};

}  // namespace ballast
