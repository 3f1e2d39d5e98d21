#include "lb/balancer_round_robin.h"

#include "lb/backend.h"

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

bool eligible(const Backend& b, PickMode mode) {
  switch (mode) {
    case PickMode::Normal: return !b.backup() && b.available();
    case PickMode::Backup: return b.backup() && b.available();
    case PickMode::Unknown: return !b.backup() && b.enabled() && !b.ejected();
    case PickMode::Panic: return !b.backup() && b.enabled();
  }
  return false;
}

}  // namespace ballast
