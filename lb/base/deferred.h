// Work that must not run inside the callback that asks for it: deleting an
// object a caller up the stack may still touch, or starting the next
// pipelined request of a connection whose previous one just finished inside
// a write callback (Envoy's deferredDelete; libuv's rule that a handle is
// freed from its close callback only). Everything posted runs on a later
// turn of the loop, in the order posted, with nothing of ours on the stack.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

namespace ballast {

class DeferredQueue {
 public:
  explicit DeferredQueue(uv_loop_t* loop);
  ~DeferredQueue();
  DeferredQueue(const DeferredQueue&) = delete;
  DeferredQueue& operator=(const DeferredQueue&) = delete;

  // Runs `fn` on a later loop turn (never from inside this call).
  void post(std::function<void()> fn);
  // Deletes `obj` on a later loop turn.
  template <class T>
  void deleteLater(std::unique_ptr<T> obj) {
    T* raw = obj.release();
    post([raw] { delete raw; });
  }
  size_t pending() const { return queue_.size(); }

  // Closes the handle (the loop may then end). What is posted afterwards
  // waits for runRemaining().
  void close();
  // After uv_run returned: runs what is queued, and what that posts, until
  // nothing is left. Returns true if anything ran (the caller then runs the
  // loop again, for the close callbacks that work may have started).
  bool runRemaining();

 private:
  static void onIdle(uv_idle_t* h);
  void runBatch();

  uv_idle_t idle_;
  bool active_ = false;
  bool closed_ = false;
  std::vector<std::function<void()>> queue_;
  std::vector<std::function<void()>> running_;
};

}  // namespace ballast
