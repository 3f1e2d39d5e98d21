#include "lb/upstream/balancer_consistent_hash.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "lb/upstream/backend.h"

namespace ballast {

uint64_t hashBytes64(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

void ConsistentHashBalancer::rebuild(const std::vector<Candidate>& candidates) {
  bool same = candidates.size() == members_.size();
  for (size_t i = 0; same && i < candidates.size(); ++i) {
    same = candidates[i].backend == members_[i].backend && candidates[i].weight == members_[i].weight;
  }
  in_flight_ = 0;
  for (const Candidate& c : candidates) in_flight_ += c.backend->activeRequests();
  if (same) {
    // Only slow-start shares moved: the table stays.
    for (size_t i = 0; i < candidates.size(); ++i) members_[i].permille = candidates[i].permille;
    return;
  }
  ++builds_;
  members_.clear();
  index_.clear();
  total_weight_ = 0;
  uint32_t max_weight = 0;
  for (const Candidate& c : candidates) {
    index_[c.backend] = static_cast<uint32_t>(members_.size());
    members_.push_back(Member{c.backend, c.weight, c.permille, hashBytes64(c.backend->name())});
    total_weight_ += c.weight;
    max_weight = std::max(max_weight, c.weight);
  }
  table_.clear();
  if (members_.empty()) return;
  const uint32_t m = kTableSize;
  std::vector<uint32_t> offset(members_.size()), skip(members_.size()), next(members_.size(), 0);
  std::vector<uint64_t> credit(members_.size(), 0);
  for (size_t i = 0; i < members_.size(); ++i) {
    offset[i] = static_cast<uint32_t>(mix64(members_[i].id_hash) % m);
    skip[i] = static_cast<uint32_t>(mix64(members_[i].id_hash ^ 0x5bd1e995ULL) % (m - 1) + 1);
  }
  table_.assign(m, UINT32_MAX);
  uint32_t filled = 0;
  while (filled < m) {
    for (size_t i = 0; i < members_.size() && filled < m; ++i) {
      // Weighted turns: a member places an entry each time its credit
      // reaches the largest weight, so the heaviest places one per round.
      credit[i] += members_[i].weight;
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      uint32_t c;
      do {
        c = static_cast<uint32_t>((offset[i] + static_cast<uint64_t>(next[i]) * skip[i]) % m);
        ++next[i];
      } while (table_[c] != UINT32_MAX);
      table_[c] = static_cast<uint32_t>(i);
      ++filled;
    }
  }
}

bool ConsistentHashBalancer::accepts(const Member& m, const PickRequest& r, uint64_t key) const {
  if (!r.usable(m.backend)) return false;
  if (m.permille < 1000 && mix64(key ^ m.id_hash) % 1000 >= m.permille) return false;
  if (c_ > 0) {
    const double cap = std::ceil(c_ * static_cast<double>(in_flight_ + 1) * static_cast<double>(m.weight) /
                                 static_cast<double>(total_weight_));
    if (static_cast<double>(m.backend->activeRequests()) >= cap) return false;
  }
  return true;
}

Backend* ConsistentHashBalancer::pick(const PickRequest& r) {
  if (table_.empty()) return nullptr;
  // No key in the request: any entry, at random.
  const uint64_t key = r.has_hash ? r.hash : rng_.next();
  const uint64_t start = mix64(key) % kTableSize;
  uint32_t last = UINT32_MAX;
  for (uint64_t step = 0; step < kTableSize; ++step) {
    const uint32_t i = table_[(start + step) % kTableSize];
    if (i == last) continue;  // the same member again: already refused
    last = i;
    if (accepts(members_[i], r, key)) return members_[i].backend;
  }
  return nullptr;
}

void ConsistentHashBalancer::started(Backend& b) {
  if (index_.count(&b) != 0) ++in_flight_;
}

void ConsistentHashBalancer::release(Backend& b, AttemptOutcome) {
  if (index_.count(&b) != 0 && in_flight_ > 0) --in_flight_;
}

}  // namespace ballast
