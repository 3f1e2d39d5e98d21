// Consistent hashing with a Maglev lookup table (Eisenbud et al., NSDI '16):
// kTableSize (a prime) entries, each naming a candidate; a request's key
// hash selects an entry. Each candidate fills entries along its own
// permutation of the table (offset and skip from two hashes of its
// address), in turns weighted by its configured weight, so removing one of
// N candidates moves about 1/N of the keys and the rest stay put.
//
// The table is rebuilt only when the members or their configured weights
// change; slow start does not rebuild it: a ramping candidate accepts a key
// when a hash of (key, candidate) falls under its ramp share, so the same
// keys stay with it as it ramps up.
//
// bounded_load (Mirrokni et al., "Consistent Hashing with Bounded Loads"):
// a candidate with as many active requests as ceil(c x (in-flight + 1) x
// its weight share) is skipped to the next entry of the table.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "lb/upstream/balancer.h"

namespace ballast {

class ConsistentHashBalancer final : public Balancer {
 public:
  static constexpr uint32_t kTableSize = 65537;

  explicit ConsistentHashBalancer(double bounded_load = 0, uint64_t seed = 0xc4a5) : c_(bounded_load), rng_(seed) {}
  void rebuild(const std::vector<Candidate>& candidates) override;
  Backend* pick(const PickRequest& r) override;
  void started(Backend& b) override;
  void release(Backend& b, AttemptOutcome outcome) override;

  // Times the table was laid out (tests: only on membership/weight change).
  uint64_t tableBuilds() const { return builds_; }

 private:
  struct Member {
    Backend* backend;
    uint32_t weight;
    uint32_t permille;
    uint64_t id_hash;  // hash of the address, mixed into slow-start draws
  };
  bool accepts(const Member& m, const PickRequest& r, uint64_t key) const;

  double c_;
  std::vector<Member> members_;
  std::vector<uint32_t> table_;  // index into members_
  std::unordered_map<const Backend*, uint32_t> index_;
  uint64_t total_weight_ = 0;
  uint64_t in_flight_ = 0;  // requests picked here and not yet released
  uint64_t builds_ = 0;
  FastRandom rng_;
};

// FNV-1a 64 of a string (backend addresses, hash keys).
uint64_t hashBytes64(std::string_view s);

}  // namespace ballast
