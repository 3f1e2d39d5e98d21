// Weighted round robin with nginx's smooth interleaving, as a precomputed
// schedule: rebuild() lays out one full cycle of picks (smooth WRR: each
// step adds every candidate's weight to its current value, takes the
// largest and subtracts the total from it; weights 5/1/1 give a a b a c a
// a), and pick() walks it, so a pick is O(1) whatever the pool size.
//
// The cycle is sum(weights) / gcd(weights) long. Above kMaxCycle entries the
// weights are scaled down proportionally (each kept >= 1) to fit, and for
// big pools (candidates x cycle over kMaxSmoothWork) the cycle is laid out
// by sorting each candidate's evenly spaced slots instead of simulating
// smooth WRR step by step: equally spread, O(cycle log cycle) to build.
#pragma once

#include <cstdint>
#include <vector>

#include "lb/upstream/balancer.h"

namespace ballast {

class RoundRobinBalancer final : public Balancer {
 public:
  static constexpr uint64_t kMaxCycle = 1 << 16;
  static constexpr uint64_t kMaxSmoothWork = 1 << 22;

  void rebuild(const std::vector<Candidate>& candidates) override;
  Backend* pick(const PickRequest& r) override;
  size_t cycleLength() const { return schedule_.size(); }

 private:
  std::vector<Backend*> schedule_;
  size_t cursor_ = 0;
};

// Integer weights for a schedule: effective weights divided by their gcd and,
// when their sum exceeds `max_total`, scaled down to fit (each kept >= 1).
std::vector<uint64_t> scheduleWeights(const std::vector<Candidate>& candidates, uint64_t max_total);

}  // namespace ballast
