// The last 15 minutes in 10-second slots, for the status page's charts:
// requests, errors and a coarse latency histogram per slot (a ring; a slot
// is cleared when time comes back round to it). Plain counters, recorded
// once per request; read by /status. Fixed size: 90 slots x (2 counters +
// one histogram of latencyBuckets()+1 buckets) per pool, 90 counters per
// backend.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ballast {

inline constexpr uint64_t kSeriesSlotMs = 10000;
inline constexpr size_t kSeriesSlots = 90;  // 15 minutes

// One count per slot.
class CountSeries {
 public:
  void add(uint64_t now_ms, uint64_t n = 1) {
    advance(now_ms / kSeriesSlotMs);
    counts_[last_slot_ % kSeriesSlots] += n;
  }
  // Oldest first; the last value is the current (partial) slot.
  std::array<uint64_t, kSeriesSlots> snapshot(uint64_t now_ms) const {
    advance(now_ms / kSeriesSlotMs);
    std::array<uint64_t, kSeriesSlots> out{};
    for (size_t i = 0; i < kSeriesSlots; ++i) out[i] = counts_[(last_slot_ + 1 + i) % kSeriesSlots];
    return out;
  }

 private:
  void advance(uint64_t slot) const {
    if (slot <= last_slot_) return;
    if (slot - last_slot_ >= kSeriesSlots) {
      counts_.fill(0);
    } else {
      for (uint64_t s = last_slot_ + 1; s <= slot; ++s) counts_[s % kSeriesSlots] = 0;
    }
    last_slot_ = slot;
  }
  mutable std::array<uint64_t, kSeriesSlots> counts_{};
  mutable uint64_t last_slot_ = 0;
};

// Requests, errors (5xx) and latency per slot for one pool.
class PoolSeries {
 public:
  explicit PoolSeries(const std::vector<double>& bounds)
      : bounds_(&bounds), latency_(kSeriesSlots * (bounds.size() + 1), 0) {}
  void record(uint64_t now_ms, bool error, double seconds) {
    requests_.add(now_ms);
    if (error) errors_.add(now_ms);
    const uint64_t slot = now_ms / kSeriesSlotMs;
    advanceLatency(slot);
    size_t b = 0;
    while (b < bounds_->size() && seconds > (*bounds_)[b]) ++b;
    ++latency_[(slot % kSeriesSlots) * (bounds_->size() + 1) + b];
  }
  std::array<uint64_t, kSeriesSlots> requests(uint64_t now_ms) const { return requests_.snapshot(now_ms); }
  std::array<uint64_t, kSeriesSlots> errors(uint64_t now_ms) const { return errors_.snapshot(now_ms); }
  // p99 per slot in seconds, oldest first: the upper bound of the bucket
  // holding the 99th percentile (the largest bound for the overflow
  // bucket); -1 for a slot without requests.
  std::array<double, kSeriesSlots> p99(uint64_t now_ms) const {
    advanceLatency(now_ms / kSeriesSlotMs);
    std::array<double, kSeriesSlots> out{};
    const size_t nb = bounds_->size() + 1;
    for (size_t i = 0; i < kSeriesSlots; ++i) {
      const size_t slot = (last_latency_slot_ + 1 + i) % kSeriesSlots;
      const uint32_t* c = &latency_[slot * nb];
      uint64_t total = 0;
      for (size_t b = 0; b < nb; ++b) total += c[b];
      if (total == 0) {
        out[i] = -1;
        continue;
      }
      const uint64_t want = (total * 99 + 99) / 100;
      uint64_t cum = 0;
      size_t b = 0;
      for (; b < nb; ++b) {
        cum += c[b];
        if (cum >= want) break;
      }
      out[i] = (*bounds_)[b < bounds_->size() ? b : bounds_->size() - 1];
    }
    return out;
  }

 private:
  void advanceLatency(uint64_t slot) const {
    if (slot <= last_latency_slot_) return;
    const size_t nb = bounds_->size() + 1;
    if (slot - last_latency_slot_ >= kSeriesSlots) {
      std::fill(latency_.begin(), latency_.end(), 0);
    } else {
      for (uint64_t s = last_latency_slot_ + 1; s <= slot; ++s) {
        std::fill_n(latency_.begin() + static_cast<std::ptrdiff_t>((s % kSeriesSlots) * nb), nb, 0);
      }
    }
    last_latency_slot_ = slot;
  }
  const std::vector<double>* bounds_;
  CountSeries requests_;
  CountSeries errors_;
  mutable std::vector<uint32_t> latency_;
  mutable uint64_t last_latency_slot_ = 0;
};

}  // namespace ballast
