// The one table of upstream failures (HAProxy's check_statuses[] is the
// model): for each way an attempt on a backend can fail, its name in logs
// and metrics, the status the client gets when no retry saves the request,
// which retry condition (`retries.on`) covers it, the error kind counted in
// ballast_errors_total, and the text the client reads. No switch on
// UpstreamError anywhere else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "lb/stats/stats.h"

namespace ballast {

enum class UpstreamError : uint8_t {
  ConnectFailed,    // refused, unreachable
  ConnectTimeout,   // no connection within timeouts.connect
  Reset,            // reset, or EOF before the response was complete
  ResponseTimeout,  // no response byte (or no further byte) within backend_response
  InvalidResponse,  // not HTTP, bad framing, head too large
  InterimFlood,     // more interim (1xx) responses than kMaxInterimResponses
  WriteFailed,      // could not send the request
  LocalResources,   // ballast is out of descriptors, buffers or ports (not the backend's fault)
  kCount,
};

struct UpstreamErrorInfo {
  std::string_view name;       // "connect_failure": logs, metric labels
  int client_status;           // 502 or 504
  config::RetryOn retry_on;    // the retries.on condition that covers it
  RetryReason retry_reason;    // ballast_retries_total{reason}
  ErrorKind error_kind;        // ballast_errors_total{kind}
  std::string_view client_text;  // body of the local reply
  bool connect_phase;          // the connection never came up (counts as a connect failure)
  bool timeout;                // a timer of ours ended it (termination 's', not 'S')
  bool stale_candidate;        // on a reused connection before any response byte: the keep-alive race
  bool backend_fault;          // counts against the backend (outlier detection, error rates)
  bool retryable;              // another backend may do better (retries.on still decides)
};

const UpstreamErrorInfo& errorInfo(UpstreamError e);
inline std::string_view upstreamErrorName(UpstreamError e) { return errorInfo(e).name; }

// The operator-facing detail of one failure, for the event log and the
// outlier detector: "connect timeout after 2s", "no response within 30s",
// the system error ("connection refused"), or the table's text.
std::string upstreamErrorDetail(UpstreamError e, int uv_status, const config::Timeouts& timeouts);

}  // namespace ballast
