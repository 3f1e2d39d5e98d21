// X-Request-Id values for requests that arrive without one: random UUIDs
// (version 4), from a per-process generator seeded once.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace ballast {

class RequestIdGenerator {
 public:
  RequestIdGenerator();
  // Writes a new UUID v4 ("0f6b...-4...-8...") into `out`.
  void next(std::string& out);

 private:
  std::mt19937_64 rng_;
};

}  // namespace ballast
