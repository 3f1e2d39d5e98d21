// Power of two random choices: two weighted random draws, and the one with
// fewer active requests per unit of effective weight wins (compared
// exactly; a tie keeps the first draw, so with no load the shares are the
// weights). O(1); spreads load almost as well as a full least-request scan
// with none of its cost (Mitzenmacher).
#pragma once

#include <cstdint>
#include <vector>

#include "lb/upstream/balancer.h"
#include "lb/upstream/balancer_random.h"

namespace ballast {

class P2CBalancer final : public Balancer {
 public:
  explicit P2CBalancer(uint64_t seed = 0x2c2c) : rng_(seed) {}
  void rebuild(const std::vector<Candidate>& candidates) override;
  Backend* pick(const PickRequest& r) override;

 private:
  std::vector<Candidate> candidates_;
  AliasTable table_;
  FastRandom rng_;
};

}  // namespace ballast
