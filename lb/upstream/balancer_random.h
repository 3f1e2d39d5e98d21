// Weighted random: each pick draws a candidate with probability proportional
// to its effective weight, in O(1) through an alias table (Vose's method)
// built on rebuild(). A draw that lands on an unusable candidate (tried, or
// at max_connections) is redrawn a few times, then the candidates are
// scanned from a random start.
#pragma once

#include <cstdint>
#include <vector>

#include "lb/upstream/balancer.h"

namespace ballast {

// Vose's alias table over weights: draw() is O(1).
class AliasTable {
 public:
  void build(const std::vector<Candidate>& candidates);
  size_t size() const { return prob_.size(); }
  // An index in [0, size()), size() > 0.
  size_t draw(FastRandom& rng) const {
    const size_t i = rng.below(prob_.size());
    return rng.unit() < prob_[i] ? i : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

// Tries a few weighted draws, then a scan from a random start; nullptr when
// no candidate is usable.
Backend* drawUsable(const std::vector<Candidate>& candidates, const AliasTable& table, FastRandom& rng,
                    const PickRequest& r);

class RandomBalancer final : public Balancer {
 public:
  explicit RandomBalancer(uint64_t seed = 0x5eed) : rng_(seed) {}
  void rebuild(const std::vector<Candidate>& candidates) override;
  Backend* pick(const PickRequest& r) override;

 private:
  std::vector<Candidate> candidates_;
  AliasTable table_;
  FastRandom rng_;
};

}  // namespace ballast
