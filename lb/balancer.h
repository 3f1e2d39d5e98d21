// The balancer seam: one method, one file per algorithm (balancer_*.cc).
// Later policies (least_request, ring_hash, maglev, random, ...) implement it.
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
// of the whole pool (see Pool::pick), applied by the balancer per backend.
enum class PickMode : uint8_t {
  Normal,   // available primaries
  Backup,   // available backups (no primary available)
  Unknown,  // every primary still awaits its first probe: enabled, not ejected primaries
  Panic,    // healthy share under panic_threshold: every enabled primary
};

bool eligible(const Backend& b, PickMode mode);

class Balancer {
 public:
  virtual ~Balancer() = default;
  // Picks an eligible backend not in `tried`; nullptr when there is none.
  // Borrowed pointer: the pool owns backends.
  virtual Backend* pick(const TriedSet& tried, PickMode mode) = 0;
  Backend* pick(const TriedSet& tried) { return pick(tried, PickMode::Normal); }
};

using BalancerPtr = std::unique_ptr<Balancer>;

}  // namespace ballast
