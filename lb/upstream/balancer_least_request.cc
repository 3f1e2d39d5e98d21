#include "lb/upstream/balancer_least_request.h"

#include "lb/upstream/backend.h"

namespace ballast {

void LeastRequestBalancer::rebuild(const std::vector<Candidate>& candidates) {
  // Keep each survivor's tie-break position so a rebuild does not reorder
  // equals.
  std::unordered_map<const Backend*, uint64_t> last;
  for (const auto& [b, it] : where_) last[b] = it->seq;
  order_.clear();
  where_.clear();
  for (const Candidate& c : candidates) {
    auto found = last.find(c.backend);
    const uint64_t seq = found != last.end() ? found->second : 0;
    auto [it, inserted] = order_.insert(Key{c.effective(), c.backend->activeRequests(), seq, c.backend});
    if (inserted) where_[c.backend] = it;
  }
}

Backend* LeastRequestBalancer::pick(const PickRequest& r) {
  for (const Key& k : order_) {
    if (r.usable(k.backend)) {
      // The tie-break position moves now; the load follows in started().
      auto it = where_.find(k.backend);
      Key next = k;
      next.seq = ++seq_;
      order_.erase(it->second);
      it->second = order_.insert(next).first;
      return next.backend;
    }
  }
  return nullptr;
}

void LeastRequestBalancer::rekey(Backend& b) {
  auto it = where_.find(&b);
  if (it == where_.end()) return;  // not a candidate (any more)
  Key k = *it->second;
  k.active = b.activeRequests();
  order_.erase(it->second);
  it->second = order_.insert(k).first;
}

void LeastRequestBalancer::release(Backend& b, AttemptOutcome) { rekey(b); }

}  // namespace ballast
