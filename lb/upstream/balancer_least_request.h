// Weighted least request (Envoy's form): the candidate with the highest
// effective_weight / (active_requests + 1) wins; among equals, the one
// picked longest ago (a round-robin tie-break). Candidates live in an
// ordered set keyed on a copy of those numbers, re-keyed on every pick and
// release of theirs, so a pick is O(log n).
#pragma once

#include <cstdint>
#include <set>
#include <unordered_map>
#include <vector>

#include "lb/upstream/balancer.h"

namespace ballast {

class LeastRequestBalancer final : public Balancer {
 public:
  void rebuild(const std::vector<Candidate>& candidates) override;
  Backend* pick(const PickRequest& r) override;
  void started(Backend& b) override { rekey(b); }
  void release(Backend& b, AttemptOutcome outcome) override;

 private:
  struct Key {
    uint64_t effective;
    uint32_t active;
    uint64_t seq;  // when it was last picked (tie-break)
    Backend* backend;
  };
  struct Better {
    bool operator()(const Key& a, const Key& b) const {
      // a.eff / (a.active + 1) > b.eff / (b.active + 1), exactly.
      const auto l = static_cast<unsigned __int128>(a.effective) * (b.active + 1);
      const auto r = static_cast<unsigned __int128>(b.effective) * (a.active + 1);
      if (l != r) return l > r;
      if (a.seq != b.seq) return a.seq < b.seq;
      return a.backend < b.backend;
    }
  };
  void rekey(Backend& b);

  std::set<Key, Better> order_;
  std::unordered_map<const Backend*, std::set<Key, Better>::iterator> where_;
  uint64_t seq_ = 0;
};

}  // namespace ballast
