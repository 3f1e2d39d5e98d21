// A local token bucket per key (a client address, a header value...) for
// one route's rate_limit. Each key's bucket holds up to `burst` tokens and
// refills at `rate` tokens per second; a request takes one token or is
// refused with the seconds until one is back.
//
// The key table is bounded: when it is full, the least recently used key is
// forgotten (its next request starts with a full bucket again), and a key
// longer than kMaxKeyBytes (a header can hold kilobytes) is stored as its
// first bytes and two seeded hashes of the whole, so the table stays under
// about max_keys x 250 bytes. Lookups use a hash seeded per limiter, so
// clients cannot aim their keys at one chain (nor at another client's key).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ballast {

class RateLimiter {
 public:
  // rate > 0 tokens per second, burst >= 1, max_keys >= 1.
  RateLimiter(double rate, uint32_t burst, size_t max_keys);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  struct Result {
    bool allowed = true;
    uint32_t retry_after_s = 0;  // refused: whole seconds until a token is back (>= 1)
  };
  static constexpr size_t kMaxKeyBytes = 128;
  // Takes a token from `key`'s bucket at `now_ns` (a monotonic clock).
  Result take(std::string_view key, uint64_t now_ns);

  size_t keys() const { return table_.size(); }
  uint64_t evictions() const { return evictions_; }
  double rate() const { return rate_; }
  uint32_t burst() const { return burst_; }
  size_t maxKeys() const { return max_keys_; }

 private:
  struct Bucket;
  using Entry = std::pair<const std::string, Bucket>;
  struct Bucket {
    double tokens = 0;
    uint64_t last_ns = 0;
    Entry* newer = nullptr;  // LRU list: most recently used at head_
    Entry* older = nullptr;
  };
  struct SeededHash {
    uint64_t seed;
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };

  void unlink(Entry* e);
  void pushFront(Entry* e);

  double rate_;
  uint32_t burst_;
  size_t max_keys_;
  std::unordered_map<std::string, Bucket, SeededHash, Equal> table_;
  SeededHash long_key_hash_;  // a second seed, for the compact form of long keys
  std::string long_key_;      // scratch for that form
  Entry* head_ = nullptr;  // most recently used
  Entry* tail_ = nullptr;  // least recently used: evicted first
  uint64_t evictions_ = 0;
};

}  // namespace ballast
