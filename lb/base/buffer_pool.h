// Buffers of one size kept for reuse: connections hand their read buffer
// back while idle and take one again when bytes arrive, so a keep-alive
// request costs no malloc/free pair and idle connections hold no buffer.
// At most kCached wait here (the rest are freed), which bounds what the
// pool itself holds. One pool per user and per thread (one loop per thread).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ballast {

class BufferPool {
 public:
  static constexpr size_t kCached = 64;

  std::unique_ptr<char[]> get(size_t size) {
    if (size == size_ && !free_.empty()) {
      std::unique_ptr<char[]> b = std::move(free_.back());
      free_.pop_back();
      return b;
    }
    return std::unique_ptr<char[]>(new char[size]);
  }
  void put(std::unique_ptr<char[]> b, size_t size) {
    if (!b) return;
    if (size != size_) {
      free_.clear();  // the size changed (a reload): the old ones are no use
      size_ = size;
    }
    if (free_.size() < kCached) free_.push_back(std::move(b));
  }
  size_t cached() const { return free_.size(); }

 private:
  size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace ballast
