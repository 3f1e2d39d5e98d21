#include "lb/upstream/balancer_round_robin.h"

#include <algorithm>
#include <numeric>

#include "lb/upstream/backend.h"

namespace ballast {

std::vector<uint64_t> scheduleWeights(const std::vector<Candidate>& candidates, uint64_t max_total) {
  std::vector<uint64_t> w;
  w.reserve(candidates.size());
  uint64_t g = 0;
  for (const Candidate& c : candidates) {
    w.push_back(c.effective());
    g = std::gcd(g, w.back());
  }
  if (g == 0) return w;
  uint64_t total = 0;
  for (uint64_t& x : w) {
    x /= g;
    total += x;
  }
  if (total > max_total) {
    // Proportional, each >= 1: with n candidates the result is at most
    // max_total + n, which the caller's bound allows for.
    for (uint64_t& x : w) x = std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<unsigned __int128>(x) * max_total / total));
  }
  return w;
}

void RoundRobinBalancer::rebuild(const std::vector<Candidate>& candidates) {
  schedule_.clear();
  const std::vector<uint64_t> w = scheduleWeights(candidates, kMaxCycle);
  const uint64_t total = std::accumulate(w.begin(), w.end(), uint64_t{0});
  schedule_.reserve(total);
  if (total * candidates.size() <= kMaxSmoothWork) {
    // nginx's smooth weighted round robin, one full cycle.
    std::vector<int64_t> current(w.size(), 0);
    for (uint64_t step = 0; step < total; ++step) {
      size_t best = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        current[i] += static_cast<int64_t>(w[i]);
        if (current[i] > current[best]) best = i;
      }
      current[best] -= static_cast<int64_t>(total);
      schedule_.push_back(candidates[best].backend);
    }
  } else {
    // Candidate i's k-th slot sits at (k + 1/2) / w_i of the cycle; ties go
    // to the earlier candidate, so equal weights rotate in order.
    struct Slot {
      double pos;
      uint32_t index;
    };
    std::vector<Slot> slots;
    slots.reserve(total);
    for (size_t i = 0; i < w.size(); ++i) {
      for (uint64_t k = 0; k < w[i]; ++k) {
        slots.push_back(Slot{(static_cast<double>(k) + 0.5) / static_cast<double>(w[i]), static_cast<uint32_t>(i)});
      }
    }
    std::sort(slots.begin(), slots.end(),
              [](const Slot& a, const Slot& b) { return a.pos != b.pos ? a.pos < b.pos : a.index < b.index; });
    for (const Slot& s : slots) schedule_.push_back(candidates[s.index].backend);
  }
  // Keep the position (modulo the new cycle) so frequent rebuilds, such as
  // slow-start steps, do not keep restarting the cycle at its first entry.
  cursor_ = schedule_.empty() ? 0 : cursor_ % schedule_.size();
}

Backend* RoundRobinBalancer::pick(const PickRequest& r) {
  const size_t n = schedule_.size();
  for (size_t i = 0; i < n; ++i) {
    Backend* b = schedule_[cursor_];
    cursor_ = cursor_ + 1 == n ? 0 : cursor_ + 1;
    if (r.usable(b)) return b;
  }
  return nullptr;
}

}  // namespace ballast
