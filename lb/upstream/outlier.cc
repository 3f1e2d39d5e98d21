#include "lb/upstream/outlier.h"

#include <algorithm>

namespace ballast {

OutlierDetector::Decision OutlierDetector::recordFailure(Backend& b, size_t ejected_in_pool, size_t pool_size,
                                                         uint64_t now_ms) const {
  Decision d;
  if (++b.consecutive_failures_ < cfg_.consecutive_failures) return d;
  d.failures = b.consecutive_failures_;
  b.consecutive_failures_ = 0;
  if ((ejected_in_pool + 1) * 100 > static_cast<size_t>(cfg_.max_ejected_percent) * pool_size) {
    d.kind = Decision::Kind::Suppressed;
    return d;
  }
  ++b.ejections_;
  ++b.stats().ejections;
  const uint64_t base = static_cast<uint64_t>(cfg_.base_ejection.count());
  d.duration_ms = std::min<uint64_t>(base * b.ejections_, static_cast<uint64_t>(cfg_.max_ejection.count()));
  b.ejected_ = true;
  b.ejected_at_ms_ = now_ms;
  b.ejected_until_ms_ = now_ms + d.duration_ms;
  d.kind = Decision::Kind::Ejected;
  return d;
}

}  // namespace ballast
