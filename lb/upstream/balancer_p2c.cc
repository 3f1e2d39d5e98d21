#include "lb/upstream/balancer_p2c.h"

#include "lb/upstream/backend.h"

namespace ballast {

void P2CBalancer::rebuild(const std::vector<Candidate>& candidates) {
  candidates_ = candidates;
  table_.build(candidates_);
}

Backend* P2CBalancer::pick(const PickRequest& r) {
  const size_t n = candidates_.size();
  if (n == 0) return nullptr;
  const Candidate* first = nullptr;
  const Candidate* second = nullptr;
  for (int attempt = 0; attempt < 8 && second == nullptr; ++attempt) {
    const Candidate& c = candidates_[table_.draw(rng_)];
    if (!r.usable(c.backend)) continue;
    if (first == nullptr) {
      first = &c;
    } else if (c.backend != first->backend || n == 1) {
      second = &c;
    }
  }
  if (first == nullptr) return drawUsable(candidates_, table_, rng_, r);
  if (second == nullptr) return first->backend;
  // a_active / a_weight < b_active / b_weight, without division; a tie
  // keeps the first draw, so under no load the shares are the weights.
  const auto load = [](const Candidate& x, const Candidate& y) {
    return static_cast<unsigned __int128>(x.backend->activeRequests()) * y.effective();
  };
  return load(*second, *first) < load(*first, *second) ? second->backend : first->backend;
}

}  // namespace ballast
