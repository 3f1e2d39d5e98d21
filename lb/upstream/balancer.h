// The balancer seam: one file per algorithm (balancer_*.cc), knowing nothing
// of the proxy. A pick is followed by exactly one release with the outcome
// of the attempt (nginx's get/free), so a policy that needs to count (least
// request, bounded load) learns it in one place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
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

// One backend a balancer may pick from, with its weights. The pool decides
// the candidate set (mode, health, drain, backups, zones; weight 0 never
// makes it) and the balancer only chooses among them.
struct Candidate {
  Backend* backend;   // borrowed from the pool
  uint32_t weight;    // configured weight, >= 1
  uint32_t permille;  // slow-start share of it, 100..1000 (1000 = fully ramped)
  // Effective weight in thousandths of a configured weight unit.
  uint64_t effective() const { return static_cast<uint64_t>(weight) * permille; }
};

// What one pick is about.
struct PickRequest {
  const TriedSet* tried = nullptr;  // never null in a pick
  bool has_hash = false;            // consistent_hash: the request's key was present
  uint64_t hash = 0;                // its 64-bit hash
  // Sticky sessions: the id from the request's cookie (Backend::stickyId);
  // the pool prefers that backend while it is a usable candidate. The view
  // is borrowed from the request, which outlives the pick (and its wait).
  std::string_view sticky;
  // A candidate may take it: not tried, and under its max_connections.
  bool usable(const Backend* b) const;
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // The candidate set changed (membership, health, admin state, weights, a
  // slow-start step, the zone split). O(n) work belongs here, so that a
  // pick is O(1) (O(log n) for least_request). `candidates` may be empty.
  virtual void rebuild(const std::vector<Candidate>& candidates) = 0;
  // Picks a usable candidate; nullptr when none is. Borrowed pointer.
  virtual Backend* pick(const PickRequest& r) = 0;
  // The pool counted one more request on `b` (right after a pick of it).
  virtual void started(Backend& b) { (void)b; }
  // The attempt on a backend this balancer picked has ended (the pool has
  // already counted it off `b`).
  virtual void release(Backend& b, AttemptOutcome outcome) {
    (void)b;
    (void)outcome;
  }
};

enum class BalancerKind : uint8_t { RoundRobin, LeastRequest, P2C, Random, ConsistentHash };
using BalancerPtr = std::unique_ptr<Balancer>;
BalancerPtr makeBalancer(BalancerKind kind, double bounded_load = 0);

// A small fast PRNG (splitmix64) for the randomised policies and the spill
// draw: deterministic per seed, so tests can repeat a sequence.
class FastRandom {
 public:
  explicit FastRandom(uint64_t seed = 0x9e3779b97f4a7c15ULL) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 for our n).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

// A 64-bit mix of one value (splitmix64's finaliser).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace ballast
