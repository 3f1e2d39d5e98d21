// The request state machine's table: every allowed transition is a path a
// request really takes, and the decisions read from states hold.
#include <catch2/catch.hpp>

#include <string>

#include "lb/proxy/access_log.h"
#include "lb/proxy/request_state.h"
#include "lb/stats/stats.h"

using ballast::RequestState;
using ballast::Termination;
using ballast::transitionAllowed;
using S = RequestState;

TEST_CASE("request states: the paths a request takes are allowed", "[request_state]") {
  const std::vector<std::vector<S>> paths = {
      // Proxied, fresh connection.
      {S::Idle, S::PickingBackend, S::Connecting, S::Sending, S::AwaitingResponse, S::Streaming, S::Done},
      // Pooled connection, backend answers before the body is sent.
      {S::Done, S::PickingBackend, S::Sending, S::Streaming, S::Done},
      // Connect refused, retried, then 503 discarded and retried on a pooled one.
      {S::PickingBackend, S::Connecting, S::Connecting, S::Sending, S::AwaitingResponse, S::DiscardingResponse,
       S::Sending, S::AwaitingResponse, S::Streaming, S::Done},
      // No route / no backend / error page after a failure.
      {S::Idle, S::PickingBackend, S::LocalReply, S::Done},
      {S::PickingBackend, S::Connecting, S::LocalReply, S::Done},
      {S::Sending, S::AwaitingResponse, S::LocalReply, S::Done},
      // A protocol error before any head (400 on the first bytes).
      {S::Idle, S::LocalReply, S::Done},
      // Every backend at max_connections: waits in the queue, then is
      // dispatched to a fresh or a pooled connection, or times out (503).
      {S::PickingBackend, S::Queued, S::Connecting, S::Sending, S::AwaitingResponse, S::Streaming, S::Done},
      {S::PickingBackend, S::Queued, S::Sending},
      {S::PickingBackend, S::Queued, S::LocalReply, S::Done},
      {S::Queued, S::Done},
      // A delay drill holds it before the pick, then it goes on as usual
      // (or is queued, or answered locally); the client may leave meanwhile.
      {S::PickingBackend, S::Delayed, S::PickingBackend, S::Connecting, S::Sending, S::AwaitingResponse,
       S::Streaming, S::Done},
      {S::PickingBackend, S::Delayed, S::PickingBackend, S::Queued, S::Connecting},
      {S::PickingBackend, S::Delayed, S::PickingBackend, S::LocalReply, S::Done},
      {S::Delayed, S::Done},
      // The client leaves at any point before the response.
      {S::PickingBackend, S::Done},
      {S::Connecting, S::Done},
      {S::AwaitingResponse, S::Done},
      // An upgrade: the backend's 101 turns the exchange into a tunnel.
      {S::PickingBackend, S::Connecting, S::Sending, S::AwaitingResponse, S::Tunnel, S::Done},
      // ... also when the 101 arrives before the head was fully written.
      {S::Sending, S::Tunnel, S::Done},
  };
  for (const auto& path : paths) {
    for (size_t i = 1; i < path.size(); ++i) {
      INFO(toString(path[i - 1]) << " -> " << toString(path[i]));
      CHECK(transitionAllowed(path[i - 1], path[i]));
    }
  }
}

TEST_CASE("request states: what may never happen is refused", "[request_state]") {
  // Once response bytes went to the client, nothing but the end.
  for (S s : {S::PickingBackend, S::Connecting, S::Sending, S::AwaitingResponse, S::DiscardingResponse,
              S::LocalReply, S::Streaming}) {
    INFO("Streaming -> " << toString(s));
    CHECK_FALSE(transitionAllowed(S::Streaming, s));
  }
  // A local reply is final.
  CHECK_FALSE(transitionAllowed(S::LocalReply, S::Connecting));
  CHECK_FALSE(transitionAllowed(S::LocalReply, S::Streaming));
  // A request starts by picking (or answering locally), never mid-way.
  CHECK_FALSE(transitionAllowed(S::Idle, S::Connecting));
  CHECK_FALSE(transitionAllowed(S::Done, S::Streaming));
  // A queued request holds no backend: it cannot have a response yet.
  CHECK_FALSE(transitionAllowed(S::Queued, S::AwaitingResponse));
  CHECK_FALSE(transitionAllowed(S::Queued, S::Streaming));
  CHECK_FALSE(transitionAllowed(S::Connecting, S::Queued));
  // A held request holds no backend: it goes back to its pick, nowhere else.
  for (S s : {S::Connecting, S::Sending, S::AwaitingResponse, S::Streaming, S::Queued, S::Tunnel}) {
    INFO("Delayed -> " << toString(s));
    CHECK_FALSE(transitionAllowed(S::Delayed, s));
  }
  CHECK_FALSE(transitionAllowed(S::Connecting, S::Delayed));
  CHECK_FALSE(transitionAllowed(S::Queued, S::Delayed));
  // A discarded 5xx is never streamed.
  CHECK_FALSE(transitionAllowed(S::DiscardingResponse, S::Streaming));
  CHECK_FALSE(transitionAllowed(S::Connecting, S::AwaitingResponse));
  // A tunnel is never retried, answered locally or streamed as HTTP.
  for (S s : {S::PickingBackend, S::Connecting, S::Sending, S::AwaitingResponse, S::DiscardingResponse,
              S::LocalReply, S::Streaming, S::Tunnel, S::Idle}) {
    INFO("Tunnel -> " << toString(s));
    CHECK_FALSE(transitionAllowed(S::Tunnel, s));
  }
  CHECK_FALSE(transitionAllowed(S::DiscardingResponse, S::Tunnel));
  CHECK_FALSE(transitionAllowed(S::Streaming, S::Tunnel));
}

TEST_CASE("request states: decisions read from the state", "[request_state]") {
  using ballast::attemptInProgress;
  using ballast::beforeResponse;
  CHECK(beforeResponse(S::PickingBackend));
  CHECK(beforeResponse(S::DiscardingResponse));
  CHECK_FALSE(beforeResponse(S::Streaming));
  CHECK_FALSE(beforeResponse(S::LocalReply));
  CHECK(attemptInProgress(S::Connecting));
  CHECK_FALSE(attemptInProgress(S::PickingBackend));
  CHECK(beforeResponse(S::Queued));
  CHECK_FALSE(attemptInProgress(S::Queued));
  CHECK(ballast::terminationPhase(S::Queued) == 'Q');
  CHECK(ballast::terminationPhase(S::Connecting) == 'C');
  CHECK(ballast::terminationPhase(S::AwaitingResponse) == 'H');
  CHECK(ballast::terminationPhase(S::Streaming) == 'D');
  CHECK_FALSE(beforeResponse(S::Tunnel));
  CHECK_FALSE(attemptInProgress(S::Tunnel));
  CHECK(ballast::terminationPhase(S::Tunnel) == 'D');
}

TEST_CASE("termination codes map to metric slots and back", "[request_state]") {
  for (char cause : {'C', 'c', 'S', 's', 'P', 'K', 'R'}) {
    for (char phase : {'R', 'Q', 'C', 'H', 'D'}) {
      Termination t{cause, phase};
      size_t slot = ballast::terminationSlot(t);
      INFO(std::string(1, cause) + phase);
      CHECK(slot > 0);
      CHECK(slot < ballast::kTerminationSlots);
      Termination back = ballast::terminationOfSlot(slot);
      CHECK(back.cause == cause);
      CHECK(back.phase == phase);
    }
  }
  CHECK(ballast::terminationSlot(Termination{}) == 0);
}
