// The paging chain's events, derived from the event lines every part of
// ballast already writes (the same stream the incident tracker reads), and
// the grouping of backend events of one pool. Pure: no loop, no I/O; the
// caller passes the loop time.
//
// Notify events (README "Paging chain"):
//   backend_down   backend_state into unhealthy or ejected (from any other state)
//   backend_up     backend_state into healthy from unhealthy or ejected
//   pool_degraded  incident_opened with backends still available (below incidents.threshold)
//   pool_down      incident_opened with none available, or the last backend of a
//                  degraded incident's pool lost (same incident)
//   resolved       incident_closed
//   reload_failed  config_reload_failed
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ballast::notify {

enum class Kind : uint8_t { BackendDown, BackendUp, PoolDegraded, PoolDown, Resolved, ReloadFailed };

std::string_view kindName(Kind k);
// The alert a kind raises or ends (Alertmanager's alertname): BackendDown,
// PoolDegraded, PoolDown, ReloadFailed; backend_up ends BackendDown.
std::string_view alertName(Kind k);
// critical (pool_down), warning (backend_down, pool_degraded, reload_failed),
// info (backend_up, resolved). An alert that ends carries the severity of
// the one it ends (alertName of the kind).
std::string_view severity(Kind k);

struct Event {
  Kind kind = Kind::BackendDown;
  std::string pool;                   // "" for reload_failed
  std::string backend;                // one backend; "" for pool events and groups
  std::vector<std::string> backends;  // a group: every backend, in the order they changed
  std::string reason;                 // the shared reason of a group, "" when they differ
  std::string time;                   // ISO 8601 of the (first) event line
  std::string incident;               // id; "" outside an incident
  uint32_t available = 0;             // of the pool after the event
  uint32_t total = 0;                 // backends of the pool; 0 = unknown
  std::string summary;                // one sentence for people
  // resolved: when the incident opened, and the incident alerts it ends.
  std::string opened;
  std::vector<Kind> resolves;
  // The incident is a drill (lb/admin/drills: `drill: true` on its
  // incident lines), or the event is one of a drill's pool while it runs:
  // the summary says DRILL, json has "drill": true, alerts a drill label.
  bool drill = false;
  // Set at sending time: an escalation step, or a repeat of an open incident.
  std::string note;
};

using Members = std::vector<std::pair<std::string, std::string>>;

// The reason of a backend_state line without its count ("2 consecutive
// failures: connection refused" -> "connection refused").
std::string coreReason(std::string_view reason);
// "500 ms", "2 s", "1.5 s", "5m", ... for messages.
std::string humanDuration(uint64_t ms);

// Event lines -> notify events. Remembers each pool's open incident (id,
// whether it is down) and size.
class EventMapper {
 public:
  // One event line's members (flat JSON, in order). Appends what it means.
  void onLine(const Members& line, std::vector<Event>& out);
  // The number of backends of `pool` (for "3 of 4").
  void setPoolTotal(const std::string& pool, uint32_t total) { pools_[pool].total = total; }
  // The open incident of `pool`, "" when none.
  std::string incidentOf(const std::string& pool) const;

 private:
  struct PoolState {
    std::string incident;
    bool down = false;  // the incident has been pool_down
    std::vector<Kind> told;  // incident kinds raised (pool_degraded, pool_down)
    std::string opened;
    uint32_t total = 0;
    bool drill = false;  // the open incident is a drill
  };
  std::map<std::string, PoolState, std::less<>> pools_;
};

// Holds backend_down and backend_up events of one pool for `wait_ms` after
// the first, and then gives one event for all of them: the same event
// when alone, else a group (backends, shared reason or the order they
// fell in). Other kinds are not held.
class Grouper {
 public:
  void setWait(uint64_t wait_ms) { wait_ms_ = wait_ms; }
  // False when `e` is not held (not a backend event, or no grouping): the
  // caller sends it now.
  bool add(Event e, uint64_t now_ms);
  // Appends the groups whose window has ended (every group when `all`).
  void flush(uint64_t now_ms, std::vector<Event>& out, bool all = false);
  // Loop time of the next window end; 0 = nothing held.
  uint64_t nextDue() const;

  // One event for `held` (in arrival order, with their arrival times).
  static Event merge(const std::vector<std::pair<Event, uint64_t>>& held, uint64_t wait_ms);

 private:
  struct Window {
    std::string pool;
    Kind kind;
    uint64_t due_ms;
    std::vector<std::pair<Event, uint64_t>> held;
  };
  uint64_t wait_ms_ = 0;
  std::vector<Window> windows_;
};

}  // namespace ballast::notify
