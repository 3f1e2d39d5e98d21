// Active health checking for one pool: one HealthSession per backend. The
// sessions compute (rise/fall in HealthState); the checker turns each
// result into a ProbeResult (with the reason text of a transition) and
// publishes it through its listener. It never acts on rotation itself: the
// server wires the listener to the pool, which does.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "health/health_state.h"
#include "lb/tls/client_context.h"
#include "lb/upstream/backend.h"

namespace ballast::health {

class HealthSession;

class HealthChecker {
 public:
  // Called after every probe result, with the backend it concerns.
  using Listener = std::function<void(Backend& backend, const ProbeResult& result)>;

  // `tls`: the pool's client context when its backends speak TLS, else null.
  HealthChecker(uv_loop_t* loop, std::string pool_name, const std::vector<BackendPtr>& backends,
                const config::HealthCheckConfig& cfg, Listener listener,
                std::shared_ptr<tls::ClientContext> tls = nullptr);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts every session; each runs its first probe at once.
  void start();
  // The pool's members changed (DNS discovery): `backends` is the new list.
  // A backend without a session gets one, probed at once; the session of a
  // backend no longer listed is closed; every other session goes on with
  // its schedule and state. Returns how many sessions were added and closed.
  struct Update {
    size_t added = 0;
    size_t removed = 0;
  };
  Update update(const std::vector<BackendPtr>& backends);
  // Stops probing; sessions free themselves once their handles are closed.
  // Nothing is published after close().
  void close();

  const std::string& poolName() const { return pool_name_; }
  // Every session has at least one probe result (or a status carried over
  // by a reload). Once true it stays true: backends that update() adds later
  // (a scale-up found by DNS discovery) do not make the instance unready.
  bool firstRoundDone() const;
  const std::vector<HealthSession*>& sessions() const { return sessions_; }
  // The session probing `b`, or nullptr.
  const HealthSession* sessionFor(const Backend& b) const;

  // From a session after each probe.
  void report(HealthSession& s, bool passed, HealthTransition t, const std::string& reason,
              uint64_t probe_started_ms);

 private:
  // A session for `b` (seeded with its status when it has one), not started.
  HealthSession* addSession(const BackendPtr& b);

  uv_loop_t* loop_;
  std::string pool_name_;
  config::HealthCheckConfig cfg_;
  Listener listener_;
  std::shared_ptr<tls::ClientContext> tls_;
  std::vector<HealthSession*> sessions_;  // owned until close()
  bool first_round_done_ = false;  // latched by report()
};

}  // namespace ballast::health
