#include "lb/upstream/balancer.h"

#include "lb/upstream/backend.h"
#include "lb/upstream/balancer_consistent_hash.h"
#include "lb/upstream/balancer_least_request.h"
#include "lb/upstream/balancer_p2c.h"
#include "lb/upstream/balancer_random.h"
#include "lb/upstream/balancer_round_robin.h"

namespace ballast {

bool eligible(const Backend& b, PickMode mode) {
  switch (mode) {
    case PickMode::Normal: return !b.backup() && b.available();
    case PickMode::Backup: return b.backup() && b.available();
    case PickMode::Unknown: return !b.backup() && b.enabled() && !b.ejected();
    case PickMode::Panic: return !b.backup() && b.enabled();
  }
  return false;
}

bool PickRequest::usable(const Backend* b) const { return b->hasCapacity() && !tried->contains(b); }

BalancerPtr makeBalancer(BalancerKind kind, double bounded_load) {
  switch (kind) {
    case BalancerKind::RoundRobin: return std::make_unique<RoundRobinBalancer>();
    case BalancerKind::LeastRequest: return std::make_unique<LeastRequestBalancer>();
    case BalancerKind::P2C: return std::make_unique<P2CBalancer>();
    case BalancerKind::Random: return std::make_unique<RandomBalancer>();
    case BalancerKind::ConsistentHash: return std::make_unique<ConsistentHashBalancer>(bounded_load);
  }
  return std::make_unique<RoundRobinBalancer>();
}

}  // namespace ballast
