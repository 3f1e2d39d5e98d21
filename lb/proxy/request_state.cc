#include "lb/proxy/request_state.h"

#include <array>
#include <cstddef>

namespace ballast {

namespace {

using S = RequestState;

constexpr uint32_t bit(S s) { return 1u << static_cast<unsigned>(s); }

// kAllowed[from]: the states `from` may move to. A retry goes back to
// Connecting (fresh connection) or Sending (pooled connection).
constexpr std::array<uint32_t, static_cast<size_t>(S::kCount)> kAllowed = {
    /* Idle */ bit(S::PickingBackend) | bit(S::LocalReply),
    /* PickingBackend */ bit(S::Delayed) | bit(S::Queued) | bit(S::Connecting) | bit(S::Sending) | bit(S::LocalReply) | bit(S::Done),
    /* Delayed */ bit(S::PickingBackend) | bit(S::LocalReply) | bit(S::Done),
    /* Queued */ bit(S::Connecting) | bit(S::Sending) | bit(S::LocalReply) | bit(S::Done),
    /* Connecting */ bit(S::Connecting) | bit(S::Sending) | bit(S::LocalReply) | bit(S::Done),
    /* Sending */ bit(S::Connecting) | bit(S::Sending) | bit(S::AwaitingResponse) | bit(S::DiscardingResponse) |
        bit(S::Streaming) | bit(S::Tunnel) | bit(S::LocalReply) | bit(S::Done),
    /* AwaitingResponse */ bit(S::Connecting) | bit(S::Sending) | bit(S::DiscardingResponse) | bit(S::Streaming) |
        bit(S::Tunnel) | bit(S::LocalReply) | bit(S::Done),
    /* DiscardingResponse */ bit(S::Connecting) | bit(S::Sending) | bit(S::LocalReply) | bit(S::Done),
    /* Streaming */ bit(S::Done),
    /* Tunnel */ bit(S::Done),
    /* LocalReply */ bit(S::Done),
    /* Done */ bit(S::PickingBackend) | bit(S::LocalReply) | bit(S::Idle),
};

}  // namespace

const char* toString(RequestState s) {
  switch (s) {
    case S::Idle: return "idle";
    case S::PickingBackend: return "picking_backend";
    case S::Delayed: return "delayed";
    case S::Queued: return "queued";
    case S::Connecting: return "connecting";
    case S::Sending: return "sending";
    case S::AwaitingResponse: return "awaiting_response";
    case S::DiscardingResponse: return "discarding_response";
    case S::Streaming: return "streaming";
    case S::Tunnel: return "tunnel";
    case S::LocalReply: return "local_reply";
    case S::Done: return "done";
    case S::kCount: break;
  }
  return "?";
}

bool transitionAllowed(RequestState from, RequestState to) {
  return (kAllowed[static_cast<size_t>(from)] & bit(to)) != 0;
}

char terminationPhase(RequestState s) {
  switch (s) {
    case S::Idle:
    case S::LocalReply:
      return 'R';
    case S::Queued:
    case S::Delayed:
      return 'Q';
    case S::PickingBackend:
    case S::Connecting:
      return 'C';
    case S::Sending:
    case S::AwaitingResponse:
    case S::DiscardingResponse:
      return 'H';
    case S::Streaming:
    case S::Tunnel:
      return 'D';
    case S::Done:
    case S::kCount:
      break;
  }
  return '-';
}

}  // namespace ballast
