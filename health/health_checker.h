// Active health checking for one pool: one HealthSession per backend. The
// sessions compute (rise/fall in HealthState); the checker turns each
// transition into a reason text and hands it to the pool, which acts
// (rotation, idle connections, the event line).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "health/health_state.h"

namespace ballast {
class Pool;
}

namespace ballast::health {

class HealthSession;

class HealthChecker {
 public:
  HealthChecker(uv_loop_t* loop, std::shared_ptr<Pool> pool);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts every session; each runs its first probe at once.
  void start();
  // Stops probing; sessions free themselves once their handles are closed.
  void close();

  Pool& pool() { return *pool_; }
  const Pool& pool() const { return *pool_; }
  // Every session has at least one probe result.
  bool firstRoundDone() const;
  const std::vector<HealthSession*>& sessions() const { return sessions_; }

  // From a session after each probe.
  void report(HealthSession& s, bool passed, HealthTransition t, const std::string& reason,
              uint64_t probe_started_ms);

 private:
  uv_loop_t* loop_;
  std::shared_ptr<Pool> pool_;
  std::vector<HealthSession*> sessions_;  // owned until close()
};

}  // namespace ballast::health
