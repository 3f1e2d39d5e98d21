#include "lb/server/sd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

#include "lb/base/log.h"

namespace ballast {

SystemdNotifier::SystemdNotifier(uv_loop_t* loop) {
  uv_timer_init(loop, &watchdog_);
  watchdog_.data = this;
  // 0 unset keeps WATCHDOG_USEC for a hot upgrade's new process. A process
  // started by a hot upgrade has no WATCHDOG_PID (hot_upgrade.cc drops it),
  // so it pings too; systemd ignores it until the handover names it.
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_usec_ = usec;
    uint64_t every_ms = usec / 2000;
    if (every_ms == 0) every_ms = 1;
    uv_timer_start(&watchdog_, &SystemdNotifier::onWatchdog, every_ms, every_ms);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog_));
    auto& j = log().eventLine(LogLevel::Info, "systemd_watchdog");
    j.num("interval_ms", static_cast<uint64_t>(usec / 1000)).num("ping_every_ms", every_ms);
    log().emit(LogLevel::Info);
  }
}

void SystemdNotifier::close() {
  uv_timer_stop(&watchdog_);
  if (!uv_is_closing(timerHandle())) uv_close(timerHandle(), nullptr);
}

void SystemdNotifier::onWatchdog(uv_timer_t* h) {
  auto* self = static_cast<SystemdNotifier*>(h->data);
  self->send("WATCHDOG=1");
}

void SystemdNotifier::send(const char* state) {
  if (handed_over_) return;
  // 0: keep NOTIFY_SOCKET in the environment for a hot upgrade's child.
  int r = sd_notify(0, state);
  if (r < 0) {
    // At most one event per kind of failure would be nicer; a failing
    // notify socket is rare enough that one line per message is fine.
    auto& j = log().eventLine(LogLevel::Warn, "systemd_notify_failed");
    j.str("state", state).num("error", static_cast<int64_t>(-r));
    log().emit(LogLevel::Warn);
  }
}

void SystemdNotifier::ready() {
  if (ready_sent_) return;
  ready_sent_ = true;
  send("READY=1\nSTATUS=ready");
}

void SystemdNotifier::reloading() {
  // MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match the reload.
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::string s = "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" +
                  std::to_string(static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u);
  send(s.c_str());
}

void SystemdNotifier::reloaded() { send("READY=1\nSTATUS=ready"); }

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=draining"); }

void SystemdNotifier::handOver(pid_t pid) {
  std::string s = "MAINPID=" + std::to_string(pid) + "\nREADY=1\nSTATUS=handed over to the upgraded process";
  send(s.c_str());
  handed_over_ = true;
}

}  // namespace ballast
