// The one JSON writer: flat log lines (the access log, one per request, on
// the hot path) and nested documents (/status, admin replies) alike. It
// writes into a reusable buffer with no allocation once the buffer has
// grown; strings are escaped per RFC 8259 and invalid UTF-8 is replaced by
// U+FFFD, so the output is valid JSON whatever bytes a request carried.
//
//   w.clear(); w.beginObject().str("a", "x").key("list").beginArray().num(1).endArray().endObject();
//
// Inside an object, write key() then one value, or a member shorthand
// (str(key, value), num(key, value), ...). At most 64 levels of nesting.
// Keys are written as they are: they are names from our code (plain ASCII,
// no quote, backslash or control character), never data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ballast {

class JsonWriter {
 public:
  JsonWriter() { out_.reserve(512); }

  void clear() {
    out_.clear();
    depth_ = 0;
    first_ = 0;
    after_key_ = false;
  }
  JsonWriter& beginObject() { return open('{'); }
  JsonWriter& endObject() { return close('}'); }
  JsonWriter& beginArray() { return open('['); }
  JsonWriter& endArray() { return close(']'); }
  JsonWriter& key(std::string_view k);

  // Values.
  JsonWriter& str(std::string_view v);
  JsonWriter& num(int64_t v);
  JsonWriter& num(uint64_t v);
  JsonWriter& num(int v) { return num(static_cast<int64_t>(v)); }
  JsonWriter& dbl(double v, int precision = 3);  // non-finite -> null
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  JsonWriter& timeNow();  // current UTC time as an ISO 8601 string

  // Members (key + value).
  JsonWriter& str(std::string_view k, std::string_view v) { return key(k).str(v); }
  JsonWriter& num(std::string_view k, int64_t v) { return key(k).num(v); }
  JsonWriter& num(std::string_view k, uint64_t v) { return key(k).num(v); }
  JsonWriter& num(std::string_view k, int v) { return key(k).num(v); }
  JsonWriter& dbl(std::string_view k, double v, int precision = 3) { return key(k).dbl(v, precision); }
  JsonWriter& boolean(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonWriter& null(std::string_view k) { return key(k).null(); }
  JsonWriter& time(std::string_view k) { return key(k).timeNow(); }

  std::string_view view() const { return out_; }
  std::string take() {
    std::string s = std::move(out_);
    clear();
    return s;
  }

  // Appends `s` escaped as the inside of a JSON string (no quotes).
  static void appendEscaped(std::string& out, std::string_view s);

 private:
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0) return;
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (first_ & bit) {
      first_ &= ~bit;
    } else {
      out_.push_back(',');
    }
  }
  JsonWriter& open(char c) {
    separate();
    out_.push_back(c);
    if (depth_ < 64) {
      ++depth_;
      first_ |= uint64_t{1} << (depth_ - 1);
    }
    return *this;
  }
  template <class Int>
  JsonWriter& integer(Int v);
  JsonWriter& close(char c) {
    out_.push_back(c);
    if (depth_ > 0) --depth_;
    return *this;
  }

  std::string out_;
  uint64_t first_ = 0;  // bit d-1: nothing written yet in the container at depth d
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace ballast
