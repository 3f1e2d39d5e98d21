// The end of every request: its statistics (response codes per backend or
// pool, durations, rolling error counts, terminations) and its access-log
// line (one JSON object). Statistics are recorded whether or not the access
// log is on.
#pragma once

#include <cstdint>
#include <string_view>

#include "lb/proxy/request_state.h"

namespace ballast {

class Backend;
class Pool;

struct AccessRecord {
  std::string_view request_id;
  std::string_view client;  // "ip:port"
  std::string_view method;
  std::string_view path;
  int status = 0;             // what the client was (or was being) sent; 499: nothing, the client left
  std::string_view route;     // the matched route's name; empty: no route matched
  Pool* pool = nullptr;       // null: not routed
  Backend* backend = nullptr; // null: answered by ballast
  double duration_ms = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  Termination termination;
  bool response_complete = true;  // the client received the whole response
  uint64_t now_ms = 0;            // loop time, for the rolling per-minute counts
};

void recordRequest(const AccessRecord& r);

// Terminations as metric slots and back ("SD" <-> slot); slot 0 is unused.
size_t terminationSlot(Termination t);
Termination terminationOfSlot(size_t slot);

}  // namespace ballast
