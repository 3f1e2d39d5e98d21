// One backend's active health probing: one probe in flight at a time, on the
// server's loop, a fresh TCP connection per probe (as HAProxy does), a
// timeout that closes the probe's connection, and jittered intervals.
//
// Lifetime: created and started by its HealthChecker; after close() it owns
// itself and is deleted from its timer's close callback. A probe in flight
// owns its own connection and is deleted from that connection's close
// callback; close() cuts the probe's back-pointer first.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "config/config.h"
#include "health/health_state.h"
#include "lb/tls/client_context.h"
#include "lb/upstream/backend.h"

namespace ballast::health {

class HealthChecker;
struct Probe;

class HealthSession {
 public:
  // `tls`: the pool's client context when it speaks TLS to its backends
  // (probes then use TLS too), else null.
  HealthSession(HealthChecker& checker, std::shared_ptr<Backend> backend, const config::HealthCheckConfig& cfg,
                uv_loop_t* loop, uint64_t seed, std::shared_ptr<tls::ClientContext> tls = nullptr);
  // Starts from a known status (carried over by a reload).
  void seed(HealthStatus s) {
    state_.set(s);
    seeded_ = true;
  }
  // Has a status to report: a probe result, or one carried over by a reload.
  bool hasStatus() const { return results_ > 0 || seeded_; }
  // Runs the first probe now (not after one interval).
  void start();
  // Idempotent; deletes the session later (see the lifetime note).
  void close();

  Backend& backend() { return *backend_; }
  const Backend& backend() const { return *backend_; }
  const HealthState& state() const { return state_; }
  // Last probe: passed?, reason text, latency, HTTP status (0 for none).
  bool lastPassed() const { return last_passed_; }
  const std::string& lastReason() const { return last_reason_; }
  double lastLatencyMs() const { return last_latency_ms_; }
  uint64_t probes() const { return probes_; }
  uint64_t results() const { return results_; }
  // Loop time (ms) of the last result; 0 before the first.
  uint64_t lastResultMs() const { return last_result_ms_; }
  int lastHttpStatus() const { return last_http_status_; }

  // Probes skipped because ballast was out of local resources.
  uint64_t skipped() const { return skipped_; }

  // Called by the probe (internal).
  void onProbeDone(bool passed, const std::string& reason, int http_status);
  void onProbeSkipped(int uv_err);

 private:
  ~HealthSession() = default;
  void probe();
  void scheduleNext();

  static void onTimer(uv_timer_t* t);
  static void onClose(uv_handle_t* h);
  friend struct Probe;

  HealthChecker& checker_;  // owner until close()
  std::shared_ptr<Backend> backend_;
  config::HealthCheckConfig cfg_;  // a copy: the session outlives its checker while closing
  uv_loop_t* loop_;
  std::shared_ptr<tls::ClientContext> tls_;
  uv_timer_t timer_;
  HealthState state_;
  Probe* probe_ = nullptr;  // in flight, or null
  std::mt19937_64 rng_;
  std::string request_;     // the probe request, built once
  bool closing_ = false;
  bool last_passed_ = false;
  std::string last_reason_;
  double last_latency_ms_ = 0;
  uint64_t probe_started_ms_ = 0;
  uint64_t probe_started_ns_ = 0;
  uint64_t probes_ = 0;
  uint64_t results_ = 0;
  uint64_t skipped_ = 0;
  bool seeded_ = false;
  uint64_t last_result_ms_ = 0;
  int last_http_status_ = 0;
};

}  // namespace ballast::health
