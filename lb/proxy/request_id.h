// X-Request-Id values for requests that arrive without one: random UUIDs
// (version 4), from a per-process generator seeded once.
#pragma once

#include <cstdint>
#include <string>

namespace ballast {

class RequestIdGenerator {
 public:
  RequestIdGenerator();
  // Writes a new UUID v4 ("0f6b...-4...-8...") into `out`.
  void next(std::string& out);

 private:
  // splitmix64 (Steele, Lea and Flood; the seeder of the xoshiro family):
  // every 64-bit output once per period of 2^64, well mixed, a few
  // instructions each. Ids need to be unique and unguessable only as far
  // as a non-cryptographic generator seeded from std::random_device makes
  // them (as mt19937_64 did, at ten times the cost), not secret.
  uint64_t next64();
  uint64_t state_ = 0;
};

}  // namespace ballast
