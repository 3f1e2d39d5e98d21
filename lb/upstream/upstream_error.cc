#include "lb/upstream/upstream_error.h"

#include <uv.h>

#include <array>

#include "config/duration.h"

namespace ballast {

namespace {

using config::RetryOn;

constexpr std::array<UpstreamErrorInfo, static_cast<size_t>(UpstreamError::kCount)> kTable = {{
    // name, status, retries.on, retry reason, error kind, client text,
    // connect phase, timeout, stale candidate, backend fault, retryable
    {"connect_failure", 502, RetryOn::ConnectFailure, RetryReason::ConnectFailure, ErrorKind::ConnectFailure,
     "could not connect to the backend", true, false, false, true, true},
    {"connect_timeout", 504, RetryOn::ConnectFailure, RetryReason::ConnectFailure, ErrorKind::ConnectTimeout,
     "backend connect timed out", true, true, false, true, true},
    {"reset", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::Reset,
     "backend closed the connection before a complete response", false, false, true, true, true},
    {"timeout", 504, RetryOn::Timeout, RetryReason::Timeout, ErrorKind::ResponseTimeout,
     "backend did not respond in time", false, true, false, true, true},
    {"invalid_response", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::InvalidResponse,
     "backend sent an invalid response", false, false, false, true, true},
    {"too_many_interim", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::InvalidResponse,
     "backend sent too many interim responses (1xx before the final one)", false, false, false, true, true},
    {"write_failure", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::Reset,
     "could not send the request to the backend", false, false, true, true, true},
    {"local_resources", 503, RetryOn::ConnectFailure, RetryReason::ConnectFailure, ErrorKind::LocalResources,
     "ballast is out of local resources (file descriptors or buffers); try again shortly", true, false, false, false,
     false},
}};

}  // namespace

const UpstreamErrorInfo& errorInfo(UpstreamError e) { return kTable[static_cast<size_t>(e)]; }

std::string upstreamErrorDetail(UpstreamError e, int uv_status, const config::Timeouts& timeouts) {
  const UpstreamErrorInfo& info = errorInfo(e);
  if (info.timeout) {
    return info.connect_phase ? "connect timeout after " + config::formatDuration(timeouts.connect)
                              : "no response within " + config::formatDuration(timeouts.backend_response);
  }
  if (uv_status < 0 && (info.connect_phase || e == UpstreamError::Reset || e == UpstreamError::WriteFailed)) {
    return uv_strerror(uv_status);
  }
  return std::string(info.client_text);
}

}  // namespace ballast
