// systemd's notify protocol (sd_notify(3)) for a Type=notify unit. Every
// call is a no-op when NOTIFY_SOCKET is not set (ballast run by hand or
// under another supervisor), so the server calls it unconditionally.
//   READY=1                 after the first health round (what /readyz says)
//   RELOADING=1 ... READY=1 around a reload (failed or not)
//   STOPPING=1              when a drain begins
//   MAINPID=N + READY=1     hot upgrade: the old process names the new one
//                           once it is ready; from then on the old process
//                           says nothing more (it is no longer the main PID)
//   WATCHDOG=1              every WATCHDOG_USEC / 2 from a loop timer, so a
//                           hung loop misses its pings and systemd restarts it
#pragma once

#include <uv.h>
#include <sys/types.h>

#include <cstdint>

namespace ballast {

class SystemdNotifier {
 public:
  // Starts the watchdog timer on `loop` when systemd asked for one (the
  // timer is unreferenced: it never keeps the loop alive).
  explicit SystemdNotifier(uv_loop_t* loop);
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;
  // Closes the timer; the object may be deleted only after the loop ran the
  // close callback (the server closes it with its other handles).
  void close();
  uv_handle_t* timerHandle() { return reinterpret_cast<uv_handle_t*>(&watchdog_); }

  // READY=1 once (later calls do nothing); also after a reload.
  void ready();
  void reloading();
  void reloaded();
  void stopping();
  // Hot upgrade, old side: `pid` is the main process from now on.
  void handOver(pid_t pid);
  // The watchdog interval in microseconds (0: none).
  uint64_t watchdogUsec() const { return watchdog_usec_; }

 private:
  static void onWatchdog(uv_timer_t* h);
  void send(const char* state);

  uv_timer_t watchdog_;
  uint64_t watchdog_usec_ = 0;
  bool ready_sent_ = false;
  bool handed_over_ = false;  // not the main process any more: silent
};

}  // namespace ballast
