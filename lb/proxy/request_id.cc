#include "lb/proxy/request_id.h"

#include <uv.h>

#include <bit>
#include <cstring>
#include <random>

namespace ballast {

namespace {

// The 16 lowercase hex digits of `v`, most significant first, without a
// loop or a table: each nibble is spread to a byte, the bytes put in
// string order, and each turned into '0'-'9' or 'a'-'f' at once (SWAR).
void hex16(uint64_t v, char* out) {
  static_assert(std::endian::native == std::endian::little, "the words are stored little-endian");
  for (int half = 0; half < 2; ++half) {
    uint64_t x = half == 0 ? v >> 32 : v & 0xffffffffULL;
    x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
    x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
    x = __builtin_bswap64(x);  // the most significant nibble first in memory
    // '0' + n, plus 39 more ('a' - '0' - 10) where n > 9.
    const uint64_t letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
    x += 0x3030303030303030ULL + letters * 39;
    std::memcpy(out + 8 * half, &x, 8);
  }
}

}  // namespace

RequestIdGenerator::RequestIdGenerator() {
  std::random_device rd;
  state_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ uv_hrtime();
}

uint64_t RequestIdGenerator::next64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void RequestIdGenerator::next(std::string& out) {
  uint64_t a = next64();
  uint64_t b = next64();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char ha[16];
  char hb[16];
  hex16(a, ha);
  hex16(b, hb);
  // 8-4-4-4-12.
  char s[36];
  std::memcpy(s, ha, 8);
  s[8] = '-';
  std::memcpy(s + 9, ha + 8, 4);
  s[13] = '-';
  std::memcpy(s + 14, ha + 12, 4);
  s[18] = '-';
  std::memcpy(s + 19, hb, 4);
  s[23] = '-';
  std::memcpy(s + 24, hb + 4, 12);
  out.assign(s, 36);
}

}  // namespace ballast
