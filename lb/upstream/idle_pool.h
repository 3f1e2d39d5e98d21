// Idle keep-alive connections to one backend, most recently used first
// (LIFO keeps a small hot set and lets the rest time out). The pool borrows
// the connections: each UpstreamConnection owns itself and is deleted from its
// own close callback, removing itself from here first.
#pragma once

#include <cstddef>
#include <vector>

namespace ballast {

class UpstreamConnection;

class IdlePool {
 public:
  // Beyond this many idle connections per backend a released connection is
  // closed instead of kept.
  static constexpr size_t kMaxIdle = 1024;

  IdlePool() { idle_.reserve(16); }
  // Most recently released idle connection, removed from the pool; nullptr if none.
  UpstreamConnection* acquire();
  // Returns false when full (caller closes the connection).
  bool release(UpstreamConnection* c);
  // Removes `c` if present (called when an idle connection closes).
  void remove(UpstreamConnection* c);
  // Closes every idle connection (backend removed or unavailable).
  void closeAll();
  size_t size() const { return idle_.size(); }

 private:
  std::vector<UpstreamConnection*> idle_;
};

}  // namespace ballast
