// Loads a config file for a reload without blocking the loop and without
// trusting the file.
//
// 1. `ballast --check` runs in a child process, which limits itself (CPU
//    time and address space, see check_limits.h) and is killed after
//    kWallTimeout: a file that would hang the YAML parser or make it
//    allocate without bound costs only that child, never the proxy.
// 2. If it passed, the same bytes (the child prints their hash; a file
//    replaced in between is refused) are read and parsed again in libuv's
//    thread pool, so even a big valid file costs the loop nothing.
// 3. The result is handed back on the loop.
//
// Why both: the child is the only bound on a parser we do not own (a
// thread cannot be stopped); the thread pool keeps a slow but valid load
// off the loop without shipping a parsed config between processes.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace ballast {

class ConfigLoadJob {
 public:
  static constexpr uint64_t kWallTimeoutMs = 30000;

  struct Result {
    std::optional<config::Config> config;  // set when valid
    std::vector<std::string> errors;       // "FILE:LINE:COL: PATH: MESSAGE" or a sentence
    std::string hash;                      // FNV-1a of the bytes loaded
    std::string text;                      // those bytes (for the config history)
  };
  using Done = std::function<void(Result&&)>;

  // `exe`: the binary to run with --check ("/proc/self/exe": the running one).
  ConfigLoadJob(uv_loop_t* loop, std::string exe, std::string path, Done done);
  ~ConfigLoadJob();
  ConfigLoadJob(const ConfigLoadJob&) = delete;
  ConfigLoadJob& operator=(const ConfigLoadJob&) = delete;

  void start();
  // Shutdown: kills the child, forgets the callback; the job still runs to
  // its end (handles closed, thread-pool work returned) before it may be
  // deleted.
  void cancel();
  // Every handle is closed and no work is queued: the object may be deleted.
  bool finished() const { return finished_; }

 private:
  struct Pipe {
    ConfigLoadJob* job = nullptr;
    uv_pipe_t handle;
    std::string data;
    bool open = false;
  };

  void startWork();
  void complete(Result&& r);
  void maybeClose();
  void childDone();
  static void onExit(uv_process_t* p, int64_t status, int signal);
  static void onTimer(uv_timer_t* t);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWork(uv_work_t* w);
  static void onWorkDone(uv_work_t* w, int status);
  static void onHandleClosed(uv_handle_t* h);

  uv_loop_t* loop_;
  std::string exe_;
  std::string path_;
  Done done_;
  uv_process_t process_;
  uv_timer_t timer_;
  Pipe out_;
  Pipe err_;
  uv_work_t work_;
  char read_buf_[8192];
  int open_handles_ = 0;
  bool spawned_ = false;
  bool exited_ = false;
  bool timed_out_ = false;
  bool work_queued_ = false;
  bool finished_ = false;
  int64_t exit_status_ = 0;
  int exit_signal_ = 0;
  std::string checked_hash_;  // from the child's "configuration OK (hash ...)"
  Result work_result_;         // filled by the thread-pool work
};

}  // namespace ballast
