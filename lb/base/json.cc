#include "lb/base/json.h"

#include <charconv>
#include <cmath>

#include "lb/base/clock.h"

namespace ballast {

void JsonWriter::appendEscaped(std::string& out, std::string_view value) {
  static const char* hex = "0123456789abcdef";
  // One pass: runs of plain printable ASCII are appended in bulk; control
  // characters, quotes and backslashes are escaped; multi-byte sequences are
  // kept when well-formed UTF-8 (RFC 3629 table 3-7: no overlongs, no
  // surrogates, <= U+10FFFF) and replaced by U+FFFD otherwise.
  const char* p = value.data();
  const size_t n = value.size();
  size_t i = 0;
  size_t run = 0;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(p + run, i - run);
    if (c < 0x80) {
      switch (c) {
        case '"': out.append("\\\"", 2); break;
        case '\\': out.append("\\\\", 2); break;
        case '\n': out.append("\\n", 2); break;
        case '\r': out.append("\\r", 2); break;
        case '\t': out.append("\\t", 2); break;
        default: {
          char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          out.append(u, sizeof u);
        }
      }
      ++i;
    } else {
      size_t len = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
      bool ok = len != 0 && i + len <= n;
      for (size_t j = 1; ok && j < len; ++j) ok = (static_cast<unsigned char>(p[i + j]) & 0xc0) == 0x80;
      if (ok && len >= 3) {
        unsigned char c1 = static_cast<unsigned char>(p[i + 1]);
        if (c == 0xe0 && c1 < 0xa0) ok = false;  // overlong
        if (c == 0xed && c1 > 0x9f) ok = false;  // surrogate
        if (c == 0xf0 && c1 < 0x90) ok = false;  // overlong
        if (c == 0xf4 && c1 > 0x8f) ok = false;  // > U+10FFFF
      }
      if (ok) {
        out.append(p + i, len);
        i += len;
      } else {
        out.append("\xef\xbf\xbd");
        ++i;
      }
    }
    run = i;
  }
  out.append(p + run, n - run);
}

JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  out_.push_back('"');
  out_.append(k);
  out_.append("\":", 2);
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::str(std::string_view v) {
  separate();
  out_.push_back('"');
  appendEscaped(out_, v);
  out_.push_back('"');
  return *this;
}

template <class Int>
JsonWriter& JsonWriter::integer(Int v) {
  separate();
  char tmp[24];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
  (void)ec;
  out_.append(tmp, static_cast<size_t>(p - tmp));
  return *this;
}

JsonWriter& JsonWriter::num(int64_t v) { return integer(v); }
JsonWriter& JsonWriter::num(uint64_t v) { return integer(v); }

JsonWriter& JsonWriter::dbl(double v, int precision) {
  separate();
  if (!std::isfinite(v)) {
    out_.append("null");  // JSON has no NaN or infinity
    return *this;
  }
  char tmp[48];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, precision);
  (void)ec;
  out_.append(tmp, static_cast<size_t>(p - tmp));
  return *this;
}

JsonWriter& JsonWriter::boolean(bool v) {
  separate();
  out_.append(v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  out_.append("null");
  return *this;
}

JsonWriter& JsonWriter::timeNow() {
  separate();
  out_.push_back('"');
  appendIsoTimeNow(out_);
  out_.push_back('"');
  return *this;
}

}  // namespace ballast
