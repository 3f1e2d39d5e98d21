// A route's `split:` - which of several pools a request goes to, in
// proportion to their weights. Without a key, smooth weighted round robin
// (nginx's algorithm, the pools' own): 95/5 sends exactly 5 of every 100
// requests to the second pool, spread out. With a key (split_key), a hash
// of the key picks a point in the total weight, so one user always lands on
// the same side (the same on every ballast, and after restarts, as long as
// the weights stay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ballast {

class TrafficSplit {
 public:
  // Weights of the targets in order; their sum is at least 1 (0 = never).
  explicit TrafficSplit(std::vector<uint32_t> weights);

  size_t size() const { return weights_.size(); }
  // The next target for a request without a key.
  size_t next();
  // The target for `key`: always the same for the same key and weights.
  size_t forKey(std::string_view key) const;
  // 64-bit FNV-1a of `key`, finalised so that close keys spread (exposed
  // for the tests of the distribution).
  static uint64_t hashKey(std::string_view key);

 private:
  std::vector<uint32_t> weights_;
  std::vector<int64_t> current_;  // smooth WRR state
  uint64_t total_ = 0;
};

}  // namespace ballast
