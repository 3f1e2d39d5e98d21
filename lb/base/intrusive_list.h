// The live objects of one kind that close themselves (connections): an
// intrusive doubly linked list over T's `next_`/`prev_` members, so linking
// and unlinking cost no allocation. Walking it while calling close() is safe:
// objects unlink themselves later, from their destructor (close callback).
#pragma once

#include <cstddef>

namespace ballast {

template <class T>
class IntrusiveList {
 public:
  void push(T* c) {
    c->next_ = head_;
    c->prev_ = nullptr;
    if (head_) head_->prev_ = c;
    head_ = c;
    ++size_;
  }
  void erase(T* c) {
    if (c->prev_) {
      c->prev_->next_ = c->next_;
    } else {
      head_ = c->next_;
    }
    if (c->next_) c->next_->prev_ = c->prev_;
    c->next_ = c->prev_ = nullptr;
    --size_;
  }
  template <class F>
  void forEach(F&& f) {
    for (T* c = head_; c != nullptr;) {
      T* next = c->next_;  // f may unlink c
      f(c);
      c = next;
    }
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  T* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ballast
