// When a failed attempt may be tried again, in one place. The rules are
// nginx's and HAProxy's: a request that may have run on a backend is
// replayed only if its method is idempotent and the body already consumed
// can be sent again; never once response bytes went to the client; never on
// a backend already tried; at most `retries.attempts` times.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>

#include "config/config.h"

namespace ballast {

// GET, HEAD, OPTIONS, PUT, DELETE, TRACE (RFC 9110 9.2.2).
bool isIdempotent(llhttp_method_t method);

struct AttemptFacts {
  bool written = false;         // some request byte went to the failed attempt's backend
  bool idempotent = false;
  bool body_consumed = false;   // body bytes were read from the client
  bool replayable = false;      // ... and a copy of all of them is kept
  uint32_t retries_so_far = 0;  // retries on other backends
  size_t tried = 0;             // backends tried, including the failed one
  size_t pool_size = 0;
};

// A retry on another backend for `cause` is allowed (the budget and the
// availability of another backend are checked by the caller).
bool retryAllowed(const config::RetryConfig& cfg, config::RetryOn cause, const AttemptFacts& f);

// A pooled keep-alive connection the backend closed just as it was reused
// (the normal race of keep-alive life, not a backend failure): retried once
// on a fresh connection to the same backend, if nothing of the body was
// consumed and the request may be replayed.
bool staleConnectionRetryAllowed(bool reused, bool got_response_bytes, const AttemptFacts& f, bool already_retried);

}  // namespace ballast
