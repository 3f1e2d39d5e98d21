#include "lb/base/file_hash.h"

#include <cstdint>
#include <cstdio>

namespace ballast {

std::string hashFile(const std::string& path) {
  uint64_t h = 1469598103934665603ULL;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    unsigned char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        h ^= buf[i];
        h *= 1099511628211ULL;
      }
    }
    std::fclose(f);
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace ballast
