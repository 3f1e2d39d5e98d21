// Incidents: one record per pool outage, opened and closed from what the
// pools report, with the traffic impact taken from ballast's own counters.
//
// An incident opens when a pool has no available backend, or its available
// share falls below incidents.threshold; it closes once the pool has stayed
// at or above the threshold for incidents.settle (a pool that falls again
// before that keeps the same incident). A simulate_down drill opens one too
// (marked drill, with the drill ids), whatever the threshold, held open
// until the drilled backend is back with traffic, then settled likewise. The tracker learns everything from
// update() (the server calls it 4 times a second with each pool's counters)
// and from onEvent() (every event line, for the timeline). It emits
// incident_opened / incident_closed / incident_after through the event log,
// tags every event line with the open incidents' ids while any is open,
// and writes incident_traffic lines (one per second with requests, one
// covering the minute before the opening) to the journal only, so that
// `ballast postmortem` can count what clients saw and chart it.
//
// Every journal line it writes is a flat JSON object (no nesting), so a
// reader needs no more than a flat-object parser.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

class JsonWriter;

// Cumulative counters of one pool, as recorded for clients (one per client
// request, whatever the retries): read by the server from the pool's stats.
struct PoolCounters {
  uint64_t requests = 0;
  uint64_t failed = 0;                      // status >= 500
  std::array<uint64_t, 100> failed_by_status{};  // index = status - 500
  uint64_t retries = 0;
  std::vector<uint64_t> latency;  // non-cumulative counts per bucket of `bounds` (+ overflow)
};

// What the server reports for one pool on each update.
struct PoolSample {
  std::string name;
  uint32_t available = 0;
  uint32_t total = 0;
  PoolCounters counters;
  // Drills (simulate_down) holding the pool's incident open: while any is
  // listed, the pool has an incident (opened marked drill, whatever the
  // threshold says) and it does not start to settle.
  std::vector<std::string> drills;
};

// Traffic between two counter snapshots.
struct TrafficWindow {
  double from = 0;  // unix seconds
  double to = 0;
  uint64_t requests = 0;
  uint64_t failed = 0;
  std::array<uint64_t, 100> failed_by_status{};
  uint64_t retries = 0;
  double p50 = -1;  // seconds (upper bound of the bucket); -1 = no request
  double p99 = -1;
};

struct TimelineEntry {
  std::string time;  // ISO 8601 with milliseconds, as in the event line
  std::string event;
  std::string text;  // the line's other members, "key=value ..."
};

struct Incident {
  std::string id;
  std::string pool;
  std::string reason;        // why it opened
  double opened_at = 0;      // unix seconds
  double recovered_at = 0;   // 0 = below the threshold now
  double closed_at = 0;      // 0 = open
  uint32_t min_available = 0;
  uint32_t total = 0;
  TrafficWindow before;      // the minute before it opened
  TrafficWindow during;      // opened .. closed (or now)
  TrafficWindow after;       // the minute after it closed (or so far)
  bool after_complete = false;
  std::vector<TimelineEntry> timeline;  // at most kMaxTimeline, oldest dropped
  bool drill = false;                   // opened by a drill (its record: detection, failover, recovery)
  std::vector<std::string> drills;      // ids of the drills seen holding it
  std::string drillList() const;        // "3,4"
  // POST /incidents/{id}/ack: who acknowledged it, when (unix seconds; 0 = not
  // acknowledged) and their note. Stops the paging chain's escalation and repeats.
  double acked_at = 0;
  std::string acked_by;
  std::string ack_note;
  bool open() const { return closed_at == 0; }
};

class IncidentTracker {
 public:
  static constexpr size_t kMaxTimeline = 200;
  static constexpr size_t kMaxClosed = 50;  // closed incidents kept in memory

  // `bounds`: the latency bucket bounds of PoolCounters::latency (seconds).
  explicit IncidentTracker(const std::vector<double>& bounds) : bounds_(&bounds) {}

  void configure(uint32_t threshold_percent, uint64_t settle_ms) {
    threshold_percent_ = threshold_percent;
    settle_ms_ = settle_ms;
  }

  // now_ms: monotonic milliseconds; wall: unix seconds at now_ms. Pools no
  // longer reported (removed by a reload) close their open incident.
  void update(uint64_t now_ms, double wall, const std::vector<PoolSample>& pools);
  // Every event line (flat JSON); kept in the timeline of the open
  // incidents it concerns (its pool, or no pool at all).
  void onEvent(std::string_view line);

  // Open incidents first (newest first), then closed ones (newest first).
  std::vector<const Incident*> list() const;
  const Incident* find(std::string_view id) const;
  bool anyOpen() const;

  enum class AckResult : uint8_t { Acked, AlreadyAcked, NotFound, Closed };
  // Acknowledges open incident `id` (wall: unix seconds now) and emits
  // incident_acked (id, pool, by, note). A second ack keeps the first one.
  AckResult ack(std::string_view id, std::string_view by, std::string_view note, double wall);

 private:
  struct Second {
    uint64_t sec = 0;  // now_ms / 1000 of the snapshot
    double wall = 0;
    PoolCounters c;
  };
  struct PoolTrack {
    std::string name;
    std::deque<Second> seconds;  // the last 61 seconds, one snapshot each
    PoolCounters last;
    double last_wall = 0;
    Incident* open = nullptr;     // borrowed from incidents_
    uint64_t recovered_ms = 0;    // 0 = not recovered
    Second traffic_mark;          // counters at the end of the last traffic line written
    Incident* after = nullptr;    // closed, its "after" minute still running
    uint64_t closed_ms = 0;
    PoolCounters at_close;
    PoolCounters at_open;
    bool seen = false;
  };

  TrafficWindow window(const PoolCounters& a, double from, const PoolCounters& b, double to) const;
  void openIncident(PoolTrack& t, const PoolSample& s, uint64_t now_ms, double wall);
  void closeIncident(PoolTrack& t, uint64_t now_ms, double wall, std::string_view why);
  void writeTraffic(PoolTrack& t, const Second& to);
  void updateTag();
  void emitClosed(const Incident& inc, std::string_view why);

  const std::vector<double>* bounds_;
  uint32_t threshold_percent_ = 50;
  uint64_t settle_ms_ = 30000;
  std::vector<PoolTrack> pools_;
  std::deque<std::unique_ptr<Incident>> incidents_;  // oldest first
};

// An incident's windows and counters as flat members of `line` (a writer
// positioned inside an object): requests, failed, failed_5xx..., retries,
// p50_ms, p99_ms with `prefix` ("before_", "during_", "after_").
void writeWindow(JsonWriter& line, std::string_view prefix, const TrafficWindow& w);

}  // namespace ballast
