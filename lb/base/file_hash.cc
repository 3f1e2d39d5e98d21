#include "lb/base/file_hash.h"

#include <cstdint>
#include <cstdio>

namespace ballast {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;

uint64_t fnv(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex(uint64_t h) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace

std::string hashFile(const std::string& path) {
  uint64_t h = kFnvOffset;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    unsigned char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) h = fnv(h, buf, n);
    std::fclose(f);
  }
  return hex(h);
}

std::string hashBytes(std::string_view bytes) {
  return hex(fnv(kFnvOffset, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

}  // namespace ballast
