#include "lb/proxy/retry_policy.h"

namespace ballast {

bool isIdempotent(llhttp_method_t method) {
  switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
    case HTTP_PUT:
    case HTTP_DELETE:
    case HTTP_TRACE:
      return true;
    default:
      return false;
  }
}

bool retryAllowed(const config::RetryConfig& cfg, config::RetryOn cause, const AttemptFacts& f) {
  if (!cfg.retries(cause) || f.retries_so_far >= cfg.attempts) return false;
  // Written to a backend: it may have run there. Only idempotent methods,
  // and only if the body we already consumed can be replayed.
  if (f.written && (!f.idempotent || (f.body_consumed && !f.replayable))) return false;
  return f.tried < f.pool_size;
}

bool staleConnectionRetryAllowed(bool reused, bool got_response_bytes, const AttemptFacts& f, bool already_retried) {
  // A non-idempotent request that was written is not replayed: the backend
  // may have run it before dying (nginx and HAProxy draw the same line).
  return reused && !got_response_bytes && !f.body_consumed && !already_retried && (f.idempotent || !f.written);
}

}  // namespace ballast
