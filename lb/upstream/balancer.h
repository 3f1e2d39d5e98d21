// The balancer seam: one file per algorithm (balancer_*.cc), knowing nothing
// of the proxy. A pick is followed by exactly one release with the outcome
// of the attempt (nginx's get/free), so a policy that needs to count (least
// request, bounded load) learns it in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ballast {

class Backend;

// Backends a request already tried, so a retry never picks the same one.
// Small and fixed: retries are bounded far below kMax.
class TriedSet {
 public:
  static constexpr size_t kMax = 16;
  void clear() { n_ = 0; }
  bool contains(const Backend* b) const {
    for (size_t i = 0; i < n_; ++i)
      if (items_[i] == b) return true;
    return false;
  }
  void add(const Backend* b) {
    if (n_ < kMax && !contains(b)) items_[n_++] = b;
  }
  size_t size() const { return n_; }

 private:
  const Backend* items_[kMax] = {};
  size_t n_ = 0;
};

// Which backends a pick may choose from; decided by the pool from the health
// of the whole pool (see Pool::mode), applied by the balancer per backend.
enum class PickMode : uint8_t {
  Normal,   // available primaries
  Backup,   // available backups (no primary available)
  Unknown,  // every primary still awaits its first probe: enabled, not ejected primaries
  Panic,    // healthy share under panic_threshold: every enabled primary
};

bool eligible(const Backend& b, PickMode mode);

// How an attempt on a picked backend ended.
enum class AttemptOutcome : uint8_t {
  Success,  // a response came back (any status the backend chose to send)
  Failure,  // connect failure, reset, timeout, invalid response
  Aborted,  // ended for reasons not the backend's (client gone, shutdown)
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // Picks an eligible backend not in `tried`; nullptr when there is none.
  // Borrowed pointer: the pool owns backends.
  virtual Backend* pick(const TriedSet& tried, PickMode mode) = 0;
  // The attempt on a backend this balancer picked has ended.
  virtual void release(Backend& b, AttemptOutcome outcome) {
    (void)b;
    (void)outcome;
  }
};

using BalancerPtr = std::unique_ptr<Balancer>;

}  // namespace ballast
