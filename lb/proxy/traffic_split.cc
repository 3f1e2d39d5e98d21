#include "lb/proxy/traffic_split.h"

namespace ballast {

TrafficSplit::TrafficSplit(std::vector<uint32_t> weights) : weights_(std::move(weights)), current_(weights_.size(), 0) {
  for (uint32_t w : weights_) total_ += w;
}

size_t TrafficSplit::next() {
  if (weights_.size() == 1) return 0;
  size_t best = 0;
  for (size_t i = 0; i < weights_.size(); ++i) {
    current_[i] += weights_[i];
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= static_cast<int64_t>(total_);
  return best;
}

uint64_t TrafficSplit::hashKey(std::string_view key) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  // FNV's low bits vary little between similar keys ("user1", "user2"):
  // a murmur3 finaliser spreads them before the modulo.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

size_t TrafficSplit::forKey(std::string_view key) const {
  if (weights_.size() == 1 || total_ == 0) return 0;
  uint64_t point = hashKey(key) % total_;
  for (size_t i = 0; i < weights_.size(); ++i) {
    if (point < weights_[i]) return i;
    point -= weights_[i];
  }
  return weights_.size() - 1;
}

}  // namespace ballast
