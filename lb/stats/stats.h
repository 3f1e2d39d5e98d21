// Statistics: plain single-threaded counters and histograms kept next to
// what they measure (Backend, Pool, a process-wide struct), recorded on the
// hot path with no lock, no atomic and no allocation. The admin layer turns
// them into Prometheus text at scrape time (lb/admin/metrics_render).
//
// Labels are bounded: pool, backend (configured addresses), code (100..599),
// state, result, reason, kind, direction. Never a client address or a path.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lb/stats/series.h"

// Hot-path recording goes through this macro so a benchmark build
// (-DBALLAST_METRICS=OFF) can measure what metrics cost per request.
#ifdef BALLAST_NO_METRICS
#define BALLAST_METRIC(...) \
  do {                      \
  } while (0)
#else
#define BALLAST_METRIC(...) \
  do {                      \
    __VA_ARGS__;            \
  } while (0)
#endif

namespace ballast {

// A cumulative histogram over fixed bucket bounds (seconds).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds) : bounds_(&bounds), counts_(bounds.size() + 1, 0) {}
  void observe(double v) {
    size_t i = 0;
    const auto& b = *bounds_;
    while (i < b.size() && v > b[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
  }
  const std::vector<double>& bounds() const { return *bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }  // not cumulative
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  const std::vector<double>* bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Bucket bounds shared by all histograms of a kind.
const std::vector<double>& latencyBuckets();
const std::vector<double>& probeBuckets();
const std::vector<double>& handshakeBuckets();

// Causes of errors ballast answers itself or sees (ballast_errors_total{kind}).
enum class ErrorKind : uint8_t {
  BadRequest,        // 400_bad_request
  NoRoute,           // 404_no_route
  MethodNotAllowed,  // 405_method_not_allowed (CONNECT: ballast is not a forward proxy)
  RequestTimeout,    // 408_request_timeout
  BodyTooSlow,       // 408_body_too_slow (under limits.min_body_rate)
  BodyTooLarge,      // 413_body_too_large
  UriTooLong,        // 414_uri_too_long (request line over limits.max_request_line)
  ConnectionLimit,   // 429_connection_limit (limits.max_connections_per_client)
  HeadTooLarge,      // 431_head_too_large
  VersionNotSupported,  // 505_version_not_supported
  ConnectFailure,    // 502_connect_failure
  Reset,             // 502_reset
  InvalidResponse,   // 502_invalid_response
  NoBackend,         // 503_no_backend
  QueueFull,         // 503_queue_full (every backend at max_connections and the queue full, or no queue)
  QueueTimeout,      // 503_queue_timeout (waited queue.timeout for a backend slot)
  LocalResources,    // 503_local_resources (ballast out of descriptors or buffers)
  ConnectTimeout,    // 504_connect_timeout
  ResponseTimeout,   // 504_response_timeout
  kCount,
};
const char* errorKindName(ErrorKind k);

// Retry reasons (ballast_retries_total{reason}).
enum class RetryReason : uint8_t {
  ConnectFailure, Reset, Timeout, Status502, Status503, Status504, StaleConnection, kCount
};
const char* retryReasonName(RetryReason r);

// Events in the last 60 seconds, in one-second slots (for /status).
class RollingMinute {
 public:
  void add(uint64_t now_ms, uint64_t n = 1) {
    uint64_t sec = now_ms / 1000;
    advance(sec);
    slots_[sec % 60] += n;
  }
  // Logically const: reading forgets slots that have aged out.
  uint64_t sum(uint64_t now_ms) const {
    advance(now_ms / 1000);
    uint64_t t = 0;
    for (uint64_t v : slots_) t += v;
    return t;
  }

 private:
  void advance(uint64_t sec) const {
    if (sec <= last_sec_) return;
    uint64_t gap = sec - last_sec_;
    if (gap >= 60) {
      slots_.fill(0);
    } else {
      for (uint64_t s = last_sec_ + 1; s <= sec; ++s) slots_[s % 60] = 0;
    }
    last_sec_ = sec;
  }
  mutable std::array<uint64_t, 60> slots_{};
  mutable uint64_t last_sec_ = 0;
};

struct BackendStats {
  RollingMinute requests_1m;  // responses (any status) in the last minute
  RollingMinute errors_1m;    // 5xx, connect failures, resets, timeouts in the last minute
  std::array<uint64_t, 600> responses{};  // by status code (index = code)
  Histogram response_duration{latencyBuckets()};
  uint64_t health_pass = 0;
  uint64_t health_fail = 0;
  uint64_t connect_failures = 0;
  uint64_t connections_reused = 0;  // attempts sent on an idle keep-alive connection
  uint64_t connections_new = 0;     // attempts that opened a connection
  uint64_t ejections = 0;
  uint32_t connections_active = 0;  // upstream connections attached to a request
  CountSeries requests_15m;          // status page sparkline: responses per 10 s
};

// Requests whose response never reached the client complete (cut short, or
// the client left), by termination code; the proxy layer maps codes to
// slots (terminationSlot), so this layer stays free of its types.
inline constexpr size_t kTerminationSlots = 40;
using TerminationCounts = std::array<uint64_t, kTerminationSlots>;

// How a tunnel (an upgraded connection) ended: ballast_tunnels_total{result}.
enum class TunnelEnd : uint8_t {
  Closed,            // both sides closed their write side (the normal end)
  ClientError,       // the client reset or failed
  BackendError,      // the backend reset or failed
  IdleTimeout,       // no byte either way for timeouts.tunnel
  Shutdown,          // ballast stopped (drain timeout, SIGTERM, hot upgrade)
  BackendUnhealthy,  // health_check.close_tunnels_on_unhealthy
  kCount,
};
const char* tunnelEndName(TunnelEnd e);

struct PoolStats {
  Histogram request_duration{latencyBuckets()};
  PoolSeries series{latencyBuckets()};  // status page charts: the last 15 minutes
  int64_t tunnels_active = 0;
  std::array<uint64_t, static_cast<size_t>(TunnelEnd::kCount)> tunnels_total{};
  uint64_t tunnel_bytes_up = 0;    // client -> backend through tunnels
  uint64_t tunnel_bytes_down = 0;  // backend -> client through tunnels
  TerminationCounts terminated{};
  Histogram health_check_duration{probeBuckets()};
  std::array<uint64_t, 600> local_responses{};  // answered by ballast for this pool (503, ...)
  std::array<uint64_t, static_cast<size_t>(RetryReason::kCount)> retries{};
  // The pool's request queue (max_connections): wait before dispatch,
  // requests that timed out waiting, and requests refused because it was full.
  Histogram queue_wait{latencyBuckets()};
  uint64_t queue_timeouts = 0;
  uint64_t queue_full = 0;
};

struct ProcessStats {
  uint64_t accepted = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint32_t clients_active = 0;  // client connections with a request in progress
  uint32_t clients_idle = 0;    // between requests
  std::array<uint64_t, static_cast<size_t>(ErrorKind::kCount)> errors{};
  std::array<uint64_t, 600> unrouted_responses{};  // no pool (404, 400, 408, 431 before routing)
  TerminationCounts unrouted_terminated{};         // no pool: the client left before routing
  uint64_t reloads_success = 0;
  uint64_t reloads_failure = 0;
  uint64_t rollbacks = 0;  // reload.guard rolled a reload back
  double last_reload_success = 0;  // unix time
  double last_reload_failure = 0;  // unix time; 0 = never failed
  std::string config_hash;
};

// Inline: read a dozen times per request (the static's guard is one load).
inline ProcessStats& processStats() {
  static ProcessStats s;
  return s;
}

}  // namespace ballast
