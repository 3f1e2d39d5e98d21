// The pool's bounded FIFO of requests waiting for a backend slot
// (max_connections), HAProxy's maxqueue: an intrusive doubly linked list, so
// a request that leaves early (client gone, timeout) is unlinked in O(1)
// and queueing costs no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lb/upstream/balancer.h"

namespace ballast {

class Backend;

// A request waiting in a pool's queue. The pool calls onDispatched() with a
// backend it has picked (and counted) for it, after unlinking it; the
// request records its wait (it knows the loop time).
class QueueWaiter {
 public:
  virtual void onDispatched(Backend& b) = 0;
  bool queued() const { return queued_; }
  uint64_t enqueuedMs() const { return enqueued_ms_; }

 protected:
  ~QueueWaiter() = default;

 private:
  friend class WaitQueue;
  friend class Pool;
  QueueWaiter* next_ = nullptr;
  QueueWaiter* prev_ = nullptr;
  bool queued_ = false;
  uint64_t enqueued_ms_ = 0;
  PickRequest pick_;  // what it asked for (its tried set is borrowed from it)
};

class WaitQueue {
 public:
  void pushBack(QueueWaiter* w, uint64_t now_ms) {
    w->next_ = nullptr;
    w->prev_ = tail_;
    (tail_ ? tail_->next_ : head_) = w;
    tail_ = w;
    w->queued_ = true;
    w->enqueued_ms_ = now_ms;
    ++size_;
  }
  void erase(QueueWaiter* w) {
    if (!w->queued_) return;
    (w->prev_ ? w->prev_->next_ : head_) = w->next_;
    (w->next_ ? w->next_->prev_ : tail_) = w->prev_;
    w->next_ = w->prev_ = nullptr;
    w->queued_ = false;
    --size_;
  }
  QueueWaiter* front() const { return head_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  QueueWaiter* head_ = nullptr;
  QueueWaiter* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ballast
