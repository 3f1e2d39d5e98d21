// The request state machine's states, the one table of allowed transitions,
// and what each state means for the decisions a request makes. Every change
// of state goes through ProxyRequest::transitionTo(), which checks the
// table in debug builds.
#pragma once

#include <cstdint>

namespace ballast {

enum class RequestState : uint8_t {
  Idle,                // between requests: holds nothing
  PickingBackend,      // head parsed and routed; the forwarded head is built; no upstream
  Delayed,             // a delay drill holds it before the pick (the connection's request timer
                       // armed, waiting on ballast itself); holds no backend; back to
                       // PickingBackend when the delay is over
  Queued,              // every candidate is at max_connections: waits in the pool's queue (its
                       // timer armed); holds no backend; the pool dispatches it when a slot frees
  Connecting,          // a connect to the picked backend is pending (the request holds it)
  Sending,             // an upstream connection is borrowed; request bytes are being written
  AwaitingResponse,    // the request is fully written; the backend owes the response
  DiscardingResponse,  // a 502/503/504 head arrived and will be retried: nothing goes downstream
  Streaming,           // response bytes went (or are queued) to the client: no retry from here
  Tunnel,              // a 101 came back: client and backend are one byte tunnel; never retried
  LocalReply,          // ballast answers itself (404/413/503/...); no upstream
  Done,                // access log written; upstream released or closed
  kCount,
};

const char* toString(RequestState s);

// The transition table.
bool transitionAllowed(RequestState from, RequestState to);

// An attempt on a backend is in progress (a pick is held).
inline bool attemptInProgress(RequestState s) {
  return s == RequestState::Connecting || s == RequestState::Sending || s == RequestState::AwaitingResponse ||
         s == RequestState::DiscardingResponse;
}
// Nothing of a response has gone to the client: a failure may still be
// retried or answered with an error page.
inline bool beforeResponse(RequestState s) {
  return s == RequestState::PickingBackend || s == RequestState::Delayed || s == RequestState::Queued ||
         attemptInProgress(s);
}

// Termination codes (access log "termination", HAProxy's two letters):
// who ended the request and in which phase. "--" is a normal end.
struct Termination {
  char cause = '-';  // C client closed, c client timeout, S backend failed, s backend timeout,
                     // P ballast refused (bad request, no route, no backend), K killed (shutdown),
                     // R ballast out of local resources (descriptors, buffers)
  char phase = '-';  // R request, Q waiting in the pool's queue or held by a delay drill, C connect, H waiting for the
                     // response head, D response body
  bool normal() const { return cause == '-'; }
};

// The phase letter of a request that ends while in `s` (R before any state).
char terminationPhase(RequestState s);

}  // namespace ballast
