// A one-shot libuv timer whose deadline may move on every request at almost
// no cost (the lazy timers of nginx and HAProxy): start() records the
// deadline and re-arms the libuv timer only when it would otherwise fire too
// late; stop() only forgets the deadline. When the libuv timer fires before
// the deadline (the deadline moved later, or was stopped) it re-arms for the
// rest, or does nothing: the owner's callback runs at the deadline, within
// the loop clock's millisecond, as with a plain uv_timer_start. A keep-alive
// request that moves a connection's deadline back and forth (head, then
// idle) thus costs no timer-heap operation, where uv_timer_start/stop cost
// about 150 instructions each.
//
// The cost: a stopped or postponed timer still wakes the loop once, at its
// old time (at most once per arming), and keeps it alive until then.
//
// Like any handle: init() once; the owner closes handle() (closeHandles) and
// frees the memory only after the close callback. The handle's `data` is
// the owner, so the callback and closeHandles recover it from there.
#pragma once

#include <uv.h>

#include <cstdint>
#include <type_traits>

namespace ballast {

class DeadlineTimer {
 public:
  // `cb` runs at the deadline with handle() as argument.
  void init(uv_loop_t* loop, void* owner, uv_timer_cb cb) {
    uv_timer_init(loop, &timer_);
    timer_.data = owner;
    cb_ = cb;
  }
  // Fires `ms` from the loop's now, replacing any deadline set before.
  void start(uint64_t ms) {
    const uint64_t deadline = uv_now(timer_.loop) + ms;
    deadline_ = deadline;
    set_ = true;
    if (armed_ && armed_at_ <= deadline) return;  // fires early and re-arms
    armed_ = true;
    armed_at_ = deadline;
    uv_timer_start(&timer_, &DeadlineTimer::onTimer, ms, 0);
  }
  void stop() { set_ = false; }
  bool active() const { return set_; }
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }

 private:
  static void onTimer(uv_timer_t* t) {
    // timer_ is the first member.
    auto* self = reinterpret_cast<DeadlineTimer*>(t);
    self->armed_ = false;
    if (!self->set_) return;
    const uint64_t now = uv_now(t->loop);
    if (self->deadline_ > now) {
      self->armed_ = true;
      self->armed_at_ = self->deadline_;
      uv_timer_start(t, &DeadlineTimer::onTimer, self->deadline_ - now, 0);
      return;
    }
    self->set_ = false;
    self->cb_(t);
  }

  uv_timer_t timer_;
  uv_timer_cb cb_ = nullptr;
  uint64_t deadline_ = 0;  // loop time (ms) the owner's callback is due, while set_
  uint64_t armed_at_ = 0;  // loop time the libuv timer fires, while armed_
  bool set_ = false;
  bool armed_ = false;
};
static_assert(std::is_standard_layout_v<DeadlineTimer>, "onTimer casts the handle back to its DeadlineTimer");

}  // namespace ballast
