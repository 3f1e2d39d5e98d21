#include "lb/upstream/idle_pool.h"

#include <algorithm>

#include "lb/upstream/upstream_connection.h"

namespace ballast {

UpstreamConnection* IdlePool::acquire() {
  if (idle_.empty()) return nullptr;
  UpstreamConnection* c = idle_.back();
  idle_.pop_back();
  return c;
}

bool IdlePool::release(UpstreamConnection* c) {
  if (idle_.size() >= kMaxIdle) return false;
  idle_.push_back(c);
  return true;
}

void IdlePool::remove(UpstreamConnection* c) {
  auto it = std::find(idle_.begin(), idle_.end(), c);
  if (it != idle_.end()) idle_.erase(it);
}

void IdlePool::closeAll() {
  // close() removes each connection from idle_, so work on a copy.
  std::vector<UpstreamConnection*> copy;
  copy.swap(idle_);
  for (auto* c : copy) c->close();
}

}  // namespace ballast
