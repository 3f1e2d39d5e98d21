#include "lb/proxy/access_log.h"

#include "lb/base/json.h"
#include "lb/base/log.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

constexpr char kCauses[] = {'C', 'c', 'S', 's', 'P', 'K', 'R'};
constexpr char kPhases[] = {'R', 'C', 'H', 'D'};

JsonWriter& accessLine() {
  static JsonWriter line;
  return line;
}

}  // namespace

size_t terminationSlot(Termination t) {
  for (size_t c = 0; c < sizeof kCauses; ++c) {
    for (size_t p = 0; p < sizeof kPhases; ++p) {
      if (kCauses[c] == t.cause && kPhases[p] == t.phase) return 1 + c * sizeof kPhases + p;
    }
  }
  return 0;
}

Termination terminationOfSlot(size_t slot) {
  if (slot == 0 || slot > sizeof kCauses * sizeof kPhases) return {};
  return Termination{kCauses[(slot - 1) / sizeof kPhases], kPhases[(slot - 1) % sizeof kPhases]};
}

void recordRequest(const AccessRecord& r) {
#ifndef BALLAST_NO_METRICS
  const size_t code = r.status >= 0 && r.status < 600 ? static_cast<size_t>(r.status) : 0;
  if (r.backend != nullptr) {
    BackendStats& bs = r.backend->stats();
    ++bs.responses[code];
    bs.requests_1m.add(r.now_ms);
    if (r.status >= 500) bs.errors_1m.add(r.now_ms);
  } else if (r.pool != nullptr) {
    ++r.pool->stats().local_responses[code];
  } else {
    ++processStats().unrouted_responses[code];
  }
  if (r.pool != nullptr) r.pool->stats().request_duration.observe(r.duration_ms / 1000.0);
  if (!r.response_complete) {
    TerminationCounts& t = r.pool != nullptr ? r.pool->stats().terminated : processStats().unrouted_terminated;
    ++t[terminationSlot(r.termination)];
  }
#endif
  Log& l = log();
  if (!l.accessEnabled()) return;
  const char term[2] = {r.termination.cause, r.termination.phase};
  JsonWriter& j = accessLine();
  j.clear();
  j.beginObject()
      .time("time")
      .str("request_id", r.request_id)
      .str("client", r.client)
      .str("method", r.method)
      .str("path", r.path)
      .num("status", r.status)
      .str("route", r.route)
      .str("pool", r.pool ? std::string_view(r.pool->name()) : std::string_view())
      .str("backend", r.backend ? std::string_view(r.backend->name()) : std::string_view())
      .dbl("duration_ms", r.duration_ms)
      .num("bytes_in", r.bytes_in)
      .num("bytes_out", r.bytes_out)
      .str("termination", std::string_view(term, 2))
      .endObject();
  l.access(j.view());
}

}  // namespace ballast
