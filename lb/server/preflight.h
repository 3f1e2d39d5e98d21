// A reload's preflight (POST /reload?dry_run=1, ballast --check --probe):
// one round of the new config's health probes, off to the side (new Backend
// objects and their own checkers: nothing is shared with, or changed in,
// the running proxy), and per pool how many backends would pass and why the
// others fail. Owns itself: start() then, once every probe has answered (or
// the longest probe timeout plus a second has passed), `done` is called and
// the object deletes itself on a later loop turn. cancel() stops it without
// calling `done`.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "health/health_checker.h"
#include "lb/admin/admin_control.h"
#include "lb/tls/tls_contexts.h"

namespace ballast {

class Preflight {
 public:
  using Done = std::function<void(std::vector<PreflightPool>)>;

  // Probes the pools of `cfg` named in `only` (every pool with a health
  // check when `only` is empty). `tls`: the contexts built for `cfg`.
  static Preflight* start(uv_loop_t* loop, const config::Config& cfg, const tls::TlsContexts& tls,
                          const std::vector<std::string>& only, Done done);
  void cancel();

 private:
  Preflight(uv_loop_t* loop, Done done);
  ~Preflight() = default;
  void onResult(size_t pool, Backend& b, const ProbeResult& r);
  void finish();
  static void onTimer(uv_timer_t* t);

  uv_loop_t* loop_;
  Done done_;
  uv_timer_t timer_;
  bool finished_ = false;
  size_t pending_ = 0;  // probes without a first result
  std::vector<PreflightPool> pools_;
  std::vector<std::vector<BackendPtr>> backends_;
  std::vector<std::vector<bool>> answered_;
  std::vector<std::vector<std::string>> reasons_;  // per backend, "" when it passed (listed in config order)
  std::vector<std::unique_ptr<health::HealthChecker>> checkers_;
};

// Whether a reload changes what a pool sends traffic to or how it judges
// it (backends, weights, roles, health check).
bool poolChanged(const config::PoolConfig& a, const config::PoolConfig& b);

// What applying `next` over `current` would change, one line each.
std::vector<std::string> configChanges(const config::Config& current, const config::Config& next);

// The summary line of one pool: "pool web: 0 of 3 would pass: status 404 (127.0.0.1:9001), ...".
std::string preflightSummary(const PreflightPool& p);

}  // namespace ballast
