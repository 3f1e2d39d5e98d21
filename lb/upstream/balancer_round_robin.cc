#include "lb/upstream/balancer_round_robin.h"

#include "lb/upstream/backend.h"

namespace ballast {

RoundRobinBalancer::RoundRobinBalancer(const std::vector<Backend*>& backends) {
  entries_.reserve(backends.size());
  for (Backend* b : backends) entries_.push_back(Entry{b, static_cast<int>(b->weight())});
}

Backend* RoundRobinBalancer::pick(const TriedSet& tried, PickMode mode) {
  Entry* best = nullptr;
  int total = 0;
  for (auto& e : entries_) {
    if (!eligible(*e.backend, mode) || tried.contains(e.backend)) continue;
    e.current += e.weight;
    total += e.weight;
    if (best == nullptr || e.current > best->current) best = &e;
  }
  if (best == nullptr) return nullptr;
  best->current -= total;
  return best->backend;
}

}  // namespace ballast
