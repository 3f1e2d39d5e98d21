#include "lb/proxy/request_id.h"

#include <uv.h>

namespace ballast {

RequestIdGenerator::RequestIdGenerator() {
  std::random_device rd;
  rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ uv_hrtime());
}

void RequestIdGenerator::next(std::string& out) {
  static const char* hex = "0123456789abcdef";
  uint64_t a = rng_();
  uint64_t b = rng_();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char s[36];
  int pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[pos++] = '-';
    uint64_t v = i < 8 ? a : b;
    unsigned byte = static_cast<unsigned>((v >> (56 - 8 * (i % 8))) & 0xff);
    s[pos++] = hex[byte >> 4];
    s[pos++] = hex[byte & 15];
  }
  out.assign(s, 36);
}

}  // namespace ballast
