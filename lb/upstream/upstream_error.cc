#include "lb/upstream/upstream_error.h"

#include <array>

namespace ballast {

namespace {

using config::RetryOn;

constexpr std::array<UpstreamErrorInfo, static_cast<size_t>(UpstreamError::kCount)> kTable = {{
    {"connect_failure", 502, RetryOn::ConnectFailure, RetryReason::ConnectFailure, ErrorKind::ConnectFailure,
     "could not connect to the backend", true},
    {"connect_timeout", 504, RetryOn::ConnectFailure, RetryReason::ConnectFailure, ErrorKind::ConnectTimeout,
     "backend connect timed out", true},
    {"reset", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::Reset,
     "backend closed the connection before a complete response", false},
    {"timeout", 504, RetryOn::Timeout, RetryReason::Timeout, ErrorKind::ResponseTimeout,
     "backend did not respond in time", false},
    {"invalid_response", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::InvalidResponse,
     "backend sent an invalid response", false},
    {"write_failure", 502, RetryOn::Reset, RetryReason::Reset, ErrorKind::Reset,
     "could not send the request to the backend", false},
}};

}  // namespace

const UpstreamErrorInfo& errorInfo(UpstreamError e) { return kTable[static_cast<size_t>(e)]; }

}  // namespace ballast
