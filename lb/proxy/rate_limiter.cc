#include "lb/proxy/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace ballast {

namespace {

uint64_t randomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

size_t RateLimiter::SeededHash::operator()(std::string_view s) const {
  // Eight bytes at a time, each step keyed by the seed: not a cryptographic
  // MAC, but the chains a client can aim at are unknown to it.
  uint64_t h = seed ^ (s.size() * 0x9e3779b97f4a7c15ULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = mix(h ^ w) + seed;
  }
  uint64_t w = 0;
  std::memcpy(&w, s.data() + i, s.size() - i);
  return static_cast<size_t>(mix(h ^ w ^ seed));
}

RateLimiter::RateLimiter(double rate, uint32_t burst, size_t max_keys)
    : rate_(rate),
      burst_(burst),
      max_keys_(std::max<size_t>(max_keys, 1)),
      table_(0, SeededHash{randomSeed()}),
      long_key_hash_{randomSeed()} {}

void RateLimiter::unlink(Entry* e) {
  Bucket& b = e->second;
  if (b.newer != nullptr) b.newer->second.older = b.older; else head_ = b.older;
  if (b.older != nullptr) b.older->second.newer = b.newer; else tail_ = b.newer;
  b.newer = b.older = nullptr;
}

void RateLimiter::pushFront(Entry* e) {
  Bucket& b = e->second;
  b.newer = nullptr;
  b.older = head_;
  if (head_ != nullptr) head_->second.newer = e;
  head_ = e;
  if (tail_ == nullptr) tail_ = e;
}

RateLimiter::Result RateLimiter::take(std::string_view key, uint64_t now_ns) {
  if (key.size() > kMaxKeyBytes) {
    // "\0" + 64 bytes + 32 hex digits: never equal to a short key, which
    // comes from a header, cookie, parameter or address (no NUL byte).
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016zx%016zx", table_.hash_function()(key), long_key_hash_(key));
    long_key_.assign(1, '\0');
    long_key_.append(key.substr(0, 64)).append(hex, 32);
    key = long_key_;
  }
  auto it = table_.find(key);
  Entry* e;
  if (it == table_.end()) {
    if (table_.size() >= max_keys_) {
      Entry* victim = tail_;
      unlink(victim);
      table_.erase(victim->first);
      ++evictions_;
    }
    e = &*table_.emplace(std::string(key), Bucket{static_cast<double>(burst_), now_ns, nullptr, nullptr}).first;
  } else {
    e = &*it;
    unlink(e);
    Bucket& b = e->second;
    if (now_ns > b.last_ns) {
      b.tokens = std::min<double>(burst_, b.tokens + static_cast<double>(now_ns - b.last_ns) * 1e-9 * rate_);
      b.last_ns = now_ns;
    }
  }
  pushFront(e);
  Bucket& b = e->second;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return Result{true, 0};
  }
  const double wait_s = (1.0 - b.tokens) / rate_;
  return Result{false, static_cast<uint32_t>(std::max(1.0, std::ceil(wait_s)))};
}

}  // namespace ballast
