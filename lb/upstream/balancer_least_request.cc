#include "lb/upstream/balancer_least_request.h"

#include <algorithm>

#include "lb/upstream/backend.h"

namespace ballast {

double LeastRequestBalancer::step(const Key& k) const {
  // Effective weights are in thousandths of a configured unit.
  return static_cast<double>(k.backend->activeRequests() + 1) * 1000.0 / static_cast<double>(k.effective);
}

void LeastRequestBalancer::move(Set::iterator it, double deadline, uint64_t seq) {
  Key k = *it;
  k.deadline = deadline;
  k.seq = seq;
  where_[k.backend] = order_.insert(order_.erase(it), k);
}

void LeastRequestBalancer::rebuild(const std::vector<Candidate>& candidates) {
  // Survivors keep their place in the schedule; newcomers start one step
  // from now.
  std::unordered_map<const Backend*, Key> old;
  for (const auto& [b, it] : where_) old.emplace(b, *it);
  order_.clear();
  where_.clear();
  for (const Candidate& c : candidates) {
    Key k{now_, 0, c.backend, c.effective()};
    if (auto found = old.find(c.backend); found != old.end()) {
      k.deadline = found->second.deadline;
      k.seq = found->second.seq;
    } else {
      k.deadline = now_ + step(k);
    }
    auto [it, inserted] = order_.insert(k);
    if (inserted) where_[c.backend] = it;
  }
}

Backend* LeastRequestBalancer::pick(const PickRequest& r) {
  for (auto it = order_.begin(); it != order_.end(); ++it) {
    if (r.usable(it->backend)) {
      now_ = std::max(now_, it->deadline);
      return it->backend;
    }
  }
  return nullptr;
}

void LeastRequestBalancer::started(Backend& b) {
  // Its next turn: one step (at its new load) after now.
  auto it = where_.find(&b);
  if (it == where_.end()) return;
  move(it->second, now_ + step(*it->second), ++seq_);
}

void LeastRequestBalancer::release(Backend& b, AttemptOutcome) {
  // Lighter now: its next turn may come sooner.
  auto it = where_.find(&b);
  if (it == where_.end()) return;
  const double sooner = now_ + step(*it->second);
  if (sooner < it->second->deadline) move(it->second, sooner, it->second->seq);
}

}  // namespace ballast
