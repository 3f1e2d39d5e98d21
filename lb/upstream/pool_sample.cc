#include "lb/upstream/pool_sample.h"

#include "lb/upstream/backend.h"

namespace ballast {

PoolSample samplePool(const Pool& pool) {
  PoolSample s;
  s.name = pool.name();
  const PoolStats& ps = pool.stats();
  PoolCounters& c = s.counters;
  // One response per client request: a backend's counts hold the final
  // answer of requests it served, local_responses those ballast answered.
  c.requests = ps.request_duration.count();
  for (size_t i = 0; i < c.failed_by_status.size(); ++i) c.failed_by_status[i] = ps.local_responses[500 + i];
  for (const auto& b : pool.backends()) {
    if (b->available()) ++s.available;
    if (b->available() || b->health() != HealthStatus::Unknown) ++s.total;
    for (size_t i = 0; i < c.failed_by_status.size(); ++i) c.failed_by_status[i] += b->stats().responses[500 + i];
  }
  for (uint64_t n : c.failed_by_status) c.failed += n;
  for (uint64_t n : ps.retries) c.retries += n;
  c.latency = ps.request_duration.counts();
  return s;
}

}  // namespace ballast
