// Writing text with raw stores into memory the caller sized for the worst
// case (no capacity check per piece): constant pieces are fixed-size copies,
// numbers go through std::to_chars. Used where a line or a head is built on
// every request (lb/http message heads, the access log line).
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ballast {

class RawWriter {
 public:
  static constexpr size_t kNumberMax = 20;  // digits of a uint64_t or sign + digits of an int64_t

  explicit RawWriter(char* p) : p_(p) {}
  char* end() const { return p_; }

  template <size_t N>
  void lit(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void raw(std::string_view s) {
    if (s.empty()) return;  // its data() may be null: no memcpy from it
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  template <class Int>
  void integer(Int v) {
    p_ = std::to_chars(p_, p_ + kNumberMax, v).ptr;
  }

 protected:
  char* p_;
};

}  // namespace ballast
