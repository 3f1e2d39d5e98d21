#include "lb/base/deferred.h"

#include <cassert>

namespace ballast {

DeferredQueue::DeferredQueue(uv_loop_t* loop) {
  uv_idle_init(loop, &idle_);
  idle_.data = this;
  queue_.reserve(16);
  running_.reserve(16);
  // An idle handle keeps the loop alive only while started.
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
}

DeferredQueue::~DeferredQueue() {
  // The owner closes the handle and runs the loop until its close callback
  // before destroying the queue.
  assert(closed_);
}

void DeferredQueue::post(std::function<void()> fn) {
  queue_.push_back(std::move(fn));
  if (!active_ && !closed_) {
    // An active idle handle makes the loop poll without blocking, so the
    // work runs on the next turn whatever else is going on.
    uv_idle_start(&idle_, &DeferredQueue::onIdle);
    uv_ref(reinterpret_cast<uv_handle_t*>(&idle_));
    active_ = true;
  }
}

void DeferredQueue::onIdle(uv_idle_t* h) {
  auto* self = static_cast<DeferredQueue*>(h->data);
  self->runBatch();
  if (self->queue_.empty() && self->active_) {
    uv_idle_stop(h);
    uv_unref(reinterpret_cast<uv_handle_t*>(h));
    self->active_ = false;
  }
}

void DeferredQueue::runBatch() {
  // Work posted while this batch runs waits for the next turn.
  running_.swap(queue_);
  for (auto& fn : running_) fn();
  running_.clear();
}

void DeferredQueue::close() {
  if (closed_) return;
  closed_ = true;
  active_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
}

bool DeferredQueue::runRemaining() {
  bool ran = false;
  while (!queue_.empty()) {
    runBatch();
    ran = true;
  }
  return ran;
}

}  // namespace ballast
