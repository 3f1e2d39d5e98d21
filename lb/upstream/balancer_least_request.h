// Weighted least request (Envoy's form): each candidate's dynamic weight is
// effective_weight / (active_requests + 1), and picks follow an earliest-
// deadline-first schedule over those weights: a pick takes the earliest
// deadline and moves that candidate's next deadline 1 / dynamic weight
// later. Under no load the shares follow the weights; a loaded candidate's
// turns come further apart; ties go to the one picked longest ago (a
// round-robin tie-break). An ordered set makes a pick O(log n).
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
  void started(Backend& b) override;
  void release(Backend& b, AttemptOutcome outcome) override;

 private:
  struct Key {
    double deadline;
    uint64_t seq;  // when it was last picked (tie-break)
    Backend* backend;
    uint64_t effective;
  };
  struct Earlier {
    bool operator()(const Key& a, const Key& b) const {
      if (a.deadline != b.deadline) return a.deadline < b.deadline;
      if (a.seq != b.seq) return a.seq < b.seq;
      return a.backend < b.backend;
    }
  };
  using Set = std::set<Key, Earlier>;
  // 1 / dynamic weight of `b` now.
  double step(const Key& k) const;
  void move(Set::iterator it, double deadline, uint64_t seq);

  Set order_;
  std::unordered_map<const Backend*, Set::iterator> where_;
  double now_ = 0;  // the deadline of the last pick (virtual time)
  uint64_t seq_ = 0;
};

}  // namespace ballast
