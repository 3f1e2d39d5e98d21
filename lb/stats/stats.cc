#include "lb/stats/stats.h"

namespace ballast {

const std::vector<double>& latencyBuckets() {
  static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
  return b;
}

const std::vector<double>& handshakeBuckets() {
  // A full handshake costs ~1 ms of CPU; the tail is network round trips.
  static const std::vector<double> b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  return b;
}

const std::vector<double>& probeBuckets() {
  static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return b;
}

const char* errorKindName(ErrorKind k) {
  switch (k) {
    case ErrorKind::BadRequest: return "400_bad_request";
    case ErrorKind::NoRoute: return "404_no_route";
    case ErrorKind::MethodNotAllowed: return "405_method_not_allowed";
    case ErrorKind::RequestTimeout: return "408_request_timeout";
    case ErrorKind::BodyTooSlow: return "408_body_too_slow";
    case ErrorKind::BodyTooLarge: return "413_body_too_large";
    case ErrorKind::UriTooLong: return "414_uri_too_long";
    case ErrorKind::ConnectionLimit: return "429_connection_limit";
    case ErrorKind::HeadTooLarge: return "431_head_too_large";
    case ErrorKind::VersionNotSupported: return "505_version_not_supported";
    case ErrorKind::ConnectFailure: return "502_connect_failure";
    case ErrorKind::Reset: return "502_reset";
    case ErrorKind::InvalidResponse: return "502_invalid_response";
    case ErrorKind::NoBackend: return "503_no_backend";
    case ErrorKind::QueueFull: return "503_queue_full";
    case ErrorKind::QueueTimeout: return "503_queue_timeout";
    case ErrorKind::LocalResources: return "503_local_resources";
    case ErrorKind::ConnectTimeout: return "504_connect_timeout";
    case ErrorKind::ResponseTimeout: return "504_response_timeout";
    case ErrorKind::kCount: break;
  }
  return "unknown";
}

const char* retryReasonName(RetryReason r) {
  switch (r) {
    case RetryReason::ConnectFailure: return "connect_failure";
    case RetryReason::Reset: return "reset";
    case RetryReason::Timeout: return "timeout";
    case RetryReason::Status502: return "502";
    case RetryReason::Status503: return "503";
    case RetryReason::Status504: return "504";
    case RetryReason::StaleConnection: return "stale_connection";
    case RetryReason::kCount: break;
  }
  return "unknown";
}

const char* tunnelEndName(TunnelEnd e) {
  switch (e) {
    case TunnelEnd::Closed: return "closed";
    case TunnelEnd::ClientError: return "client_error";
    case TunnelEnd::BackendError: return "backend_error";
    case TunnelEnd::IdleTimeout: return "idle_timeout";
    case TunnelEnd::Shutdown: return "shutdown";
    case TunnelEnd::BackendUnhealthy: return "backend_unhealthy";
    case TunnelEnd::kCount: break;
  }
  return "?";
}

}  // namespace ballast
