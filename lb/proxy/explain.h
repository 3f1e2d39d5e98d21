// Why did this request fail? The last requests, kept in memory for
// GET /requests/{X-Request-Id}: the route, the pool, each attempt (backend,
// timing, outcome, error), for failed or retried requests the pool's
// backends and why each was not (or was) used, the retry budget, and the
// config hash. Two rings (Envoy's response flags and HAProxy's termination
// codes are the one-letter version of this): every request goes to the
// recent ring (explain.buffer entries); failed (5xx, cut short) and retried
// ones go to a second ring of half that size, so they outlive a burst of
// successes. Slots are reused: their strings keep their capacity, so
// recording allocates nothing once the rings are warm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

struct ExplainAttempt {
  std::string backend;
  double start_ms = 0;     // since the request started
  double duration_ms = 0;
  bool reused = false;     // a pooled connection
  // "response", "connect_failure", "reset", "timeout", ... ("aborted": the
  // client left); static strings (the upstream-error table's names).
  std::string_view outcome = "pending";
  int http_status = 0;     // the backend's status, 0 for none
};

struct ExplainCandidate {
  std::string backend;
  std::string state;  // healthy, unhealthy, ejected, draining, drained, disabled, unknown
  bool available = false;
  bool at_capacity = false;  // at max_connections
  bool tried = false;
};

struct ExplainRecord {
  std::string request_id;
  uint64_t end_ms = 0;  // loop time at the end of the request
  std::string_view method;  // llhttp's static method name
  std::string path;
  std::string route;
  std::string pool;
  int status = 0;
  char termination[2] = {'-', '-'};
  double duration_ms = 0;
  std::vector<ExplainAttempt> attempts;
  std::vector<ExplainCandidate> candidates;  // failed or retried requests only (at most kMaxCandidates)
  double retry_budget_tokens = 0;
  uint32_t retries_in_flight = 0;
  std::string config_hash;
  bool failed = false;
};

class ExplainLog {
 public:
  static constexpr size_t kMaxCandidates = 16;
  static constexpr size_t kMaxPath = 512;

  // Entries in the recent ring (the failed ring holds half); 0 = off.
  void setCapacity(size_t n);
  bool enabled() const { return !recent_.empty(); }
  // A slot to fill for a request ending now (the caller fills every field
  // it knows; the slot's old contents are overwritten).
  ExplainRecord& slot(bool failed);
  // The newest record for `request_id`, or nullptr.
  const ExplainRecord* find(std::string_view request_id) const;

 private:
  std::vector<ExplainRecord> recent_;
  std::vector<ExplainRecord> failed_;
  size_t next_recent_ = 0;
  size_t next_failed_ = 0;
};

ExplainLog& explainLog();

// GET /requests/{id}: the record as JSON; `now_ms` and `now_wall` (loop
// and wall clock now) turn its loop time into a date.
std::string explainJson(const ExplainRecord& r, uint64_t now_ms, double now_wall);

}  // namespace ballast
