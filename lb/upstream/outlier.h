// Passive health (outlier detection): a backend that fails
// consecutive_failures requests in a row is ejected for base_ejection times
// the number of its ejections so far (at most max_ejection), unless that
// would eject more than max_ejected_percent of the pool. The detector
// decides and records the ejection on the backend; the pool logs it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "config/config.h"
#include "lb/upstream/backend.h"

namespace ballast {

class OutlierDetector {
 public:
  explicit OutlierDetector(const config::OutlierDetectionConfig& cfg) : cfg_(cfg) {}
  const config::OutlierDetectionConfig& config() const { return cfg_; }

  void recordSuccess(Backend& b) const { b.consecutive_failures_ = 0; }

  struct Decision {
    enum class Kind : uint8_t { None, Ejected, Suppressed } kind = Kind::None;
    uint32_t failures = 0;     // the run of failures that triggered it
    uint64_t duration_ms = 0;  // Ejected: how long
  };
  // Counts one failure of `b` (not ejected). `ejected_in_pool` and
  // `pool_size` decide whether max_ejected_percent allows an ejection.
  Decision recordFailure(Backend& b, size_t ejected_in_pool, size_t pool_size, uint64_t now_ms) const;

  // The ejection of `b` is over at `now_ms`.
  static bool expired(const Backend& b, uint64_t now_ms) { return b.ejected_ && now_ms >= b.ejected_until_ms_; }
  // A probe that passed (started at `probe_started_ms`) ends the ejection.
  bool probeEndsEjection(const Backend& b, uint64_t probe_started_ms) const {
    return b.ejected_ && cfg_.uneject_on_probe_pass && probe_started_ms >= b.ejected_at_ms_;
  }
  static void uneject(Backend& b) {
    b.ejected_ = false;
    b.consecutive_failures_ = 0;
  }

 private:
  config::OutlierDetectionConfig cfg_;
};

}  // namespace ballast
