// Smooth weighted round robin (nginx's algorithm): each pick adds every
// candidate's weight to its current value, takes the largest, and subtracts
// the total from the winner. Weights 5/1/1 give a a b a c a a.
#pragma once

#include <vector>

#include "lb/upstream/balancer.h"

namespace ballast {

class RoundRobinBalancer final : public Balancer {
 public:
  // `backends` borrowed from the pool, which outlives the balancer.
  explicit RoundRobinBalancer(const std::vector<Backend*>& backends);
  Backend* pick(const TriedSet& tried, PickMode mode) override;

 private:
  struct Entry {
    Backend* backend;
    int weight;
    int current = 0;
  };
  std::vector<Entry> entries_;
};

}  // namespace ballast
