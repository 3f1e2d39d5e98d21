#include "lb/upstream/balancer_random.h"

#include "lb/upstream/backend.h"

namespace ballast {

void AliasTable::build(const std::vector<Candidate>& candidates) {
  const size_t n = candidates.size();
  prob_.assign(n, 0.0);
  alias_.assign(n, 0);
  if (n == 0) return;
  double total = 0;
  for (const Candidate& c : candidates) total += static_cast<double>(c.effective());
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = static_cast<double>(candidates[i].effective()) * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    prob_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left is 1 up to rounding.
  for (uint32_t i : large) prob_[i] = 1.0;
  for (uint32_t i : small) prob_[i] = 1.0;
}

Backend* drawUsable(const std::vector<Candidate>& candidates, const AliasTable& table, FastRandom& rng,
                    const PickRequest& r) {
  if (candidates.empty()) return nullptr;
  for (int attempt = 0; attempt < 8; ++attempt) {
    Backend* b = candidates[table.draw(rng)].backend;
    if (r.usable(b)) return b;
  }
  const size_t n = candidates.size();
  const size_t start = rng.below(n);
  for (size_t i = 0; i < n; ++i) {
    Backend* b = candidates[(start + i) % n].backend;
    if (r.usable(b)) return b;
  }
  return nullptr;
}

void RandomBalancer::rebuild(const std::vector<Candidate>& candidates) {
  candidates_ = candidates;
  table_.build(candidates_);
}

Backend* RandomBalancer::pick(const PickRequest& r) { return drawUsable(candidates_, table_, rng_, r); }

}  // namespace ballast
