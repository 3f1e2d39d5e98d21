#include "lb/stats/incidents.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <utility>

#include "lb/base/clock.h"
#include "lb/base/journal.h"
#include "lb/base/json.h"
#include "lb/base/json_read.h"
#include "lb/base/log.h"

namespace ballast {

namespace {

// Seconds kept before an opening: the "before" window and the backfilled
// traffic lines (failures that came before the pool crossed the threshold).
constexpr uint64_t kBeforeSeconds = 60;
constexpr uint64_t kAfterMs = 60000;

uint64_t sub(uint64_t a, uint64_t b) { return a >= b ? a - b : 0; }  // counters of a backend removed by a reload

// Upper bound of the bucket holding quantile q of `counts`, -1 if empty.
double quantile(const std::vector<double>& bounds, const std::vector<uint64_t>& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0 || bounds.empty()) return -1;
  const auto want = static_cast<uint64_t>(std::ceil(static_cast<double>(total) * q));
  uint64_t cum = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    cum += counts[b];
    if (cum >= want) return bounds[std::min(b, bounds.size() - 1)];
  }
  return bounds.back();
}

std::string incidentId(const std::string& pool, double wall) {
  const auto t = static_cast<time_t>(wall);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return "inc-" + std::string(buf) + "-" + pool;
}

}  // namespace

void writeWindow(JsonWriter& j, std::string_view prefix, const TrafficWindow& w) {
  std::string k(prefix);
  const auto key = [&](std::string_view name) -> std::string_view {
    k.resize(prefix.size());
    k.append(name);
    return k;
  };
  j.num(key("requests"), w.requests).num(key("failed"), w.failed).num(key("retries"), w.retries);
  for (size_t i = 0; i < w.failed_by_status.size(); ++i) {
    if (w.failed_by_status[i] == 0) continue;
    j.num(key("failed_" + std::to_string(500 + i)), w.failed_by_status[i]);
  }
  if (w.p50 >= 0) j.dbl(key("p50_ms"), w.p50 * 1000, 1);
  if (w.p99 >= 0) j.dbl(key("p99_ms"), w.p99 * 1000, 1);
}

TrafficWindow IncidentTracker::window(const PoolCounters& a, double from, const PoolCounters& b, double to) const {
  TrafficWindow w;
  w.from = from;
  w.to = to;
  w.requests = sub(b.requests, a.requests);
  w.failed = sub(b.failed, a.failed);
  w.retries = sub(b.retries, a.retries);
  for (size_t i = 0; i < w.failed_by_status.size(); ++i) w.failed_by_status[i] = sub(b.failed_by_status[i], a.failed_by_status[i]);
  std::vector<uint64_t> lat(b.latency.size(), 0);
  for (size_t i = 0; i < lat.size(); ++i) lat[i] = sub(b.latency[i], i < a.latency.size() ? a.latency[i] : 0);
  w.p50 = quantile(*bounds_, lat, 0.50);
  w.p99 = quantile(*bounds_, lat, 0.99);
  return w;
}

void IncidentTracker::update(uint64_t now_ms, double wall, const std::vector<PoolSample>& pools) {
  for (auto& t : pools_) t.seen = false;
  for (const PoolSample& s : pools) {
    auto it = std::find_if(pools_.begin(), pools_.end(), [&](const PoolTrack& t) { return t.name == s.name; });
    if (it == pools_.end()) {
      pools_.emplace_back();
      it = std::prev(pools_.end());
      it->name = s.name;
      // A pool's counters start at zero when it is created, at most one
      // update period before it is first seen here: start its history
      // there, so requests before the first update are not lost.
      PoolCounters zero;
      zero.latency.assign(s.counters.latency.size(), 0);
      it->seconds.push_back(Second{now_ms / 1000, wall, std::move(zero)});
    }
    PoolTrack& t = *it;
    t.seen = true;
    t.last = s.counters;
    t.last_wall = wall;
    const uint64_t sec = now_ms / 1000;
    const bool new_second = t.seconds.empty() || t.seconds.back().sec != sec;
    if (new_second) {
      t.seconds.push_back(Second{sec, wall, s.counters});
      while (t.seconds.size() > kBeforeSeconds + 1) t.seconds.pop_front();
    }

    const bool below = s.total > 0 && (s.available == 0 ||
                                       uint64_t{s.available} * 100 < uint64_t{threshold_percent_} * s.total);
    const bool held = !s.drills.empty();
    if (t.open == nullptr) {
      if (below || held) openIncident(t, s, now_ms, wall);
    } else {
      Incident& inc = *t.open;
      inc.min_available = std::min(inc.min_available, s.available);
      inc.total = s.total;
      if (new_second) writeTraffic(t, t.seconds.back());
      for (const auto& d : s.drills) {
        if (std::find(inc.drills.begin(), inc.drills.end(), d) == inc.drills.end()) inc.drills.push_back(d);
      }
      if (below || held) {
        t.recovered_ms = 0;
        inc.recovered_at = 0;
      } else if (t.recovered_ms == 0) {
        t.recovered_ms = now_ms;
        inc.recovered_at = wall;
      } else if (now_ms - t.recovered_ms >= settle_ms_) {
        closeIncident(t, now_ms, wall, "recovered");
      }
    }
    if (t.open != nullptr) t.open->during = window(t.at_open, t.open->opened_at, s.counters, wall);
    if (t.after != nullptr) {
      t.after->after = window(t.at_close, t.after->closed_at, s.counters, wall);
      if (now_ms - t.closed_ms >= kAfterMs) {
        t.after->after_complete = true;
        auto& j = log().eventLine(LogLevel::Info, "incident_after");
        j.str("id", t.after->id).str("pool", t.name);
        writeWindow(j, "after_", t.after->after);
        log().emit(LogLevel::Info);
        t.after = nullptr;
      }
    }
  }
  for (auto& t : pools_) {
    if (!t.seen && t.open != nullptr) closeIncident(t, now_ms, wall, "pool removed");
    if (!t.seen) t.after = nullptr;
  }
  pools_.erase(std::remove_if(pools_.begin(), pools_.end(), [](const PoolTrack& t) { return !t.seen; }),
               pools_.end());
}

void IncidentTracker::openIncident(PoolTrack& t, const PoolSample& s, uint64_t now_ms, double wall) {
  auto inc = std::make_unique<Incident>();
  inc->id = incidentId(s.name, wall);
  // Two incidents of one pool opening within a second (settle < 1 s).
  for (const auto& x : incidents_) {
    if (x->id == inc->id) inc->id.append(1, '-').append(std::to_string(incidents_.size()));
  }
  inc->pool = s.name;
  inc->opened_at = wall;
  inc->min_available = s.available;
  inc->total = s.total;
  inc->drill = !s.drills.empty();
  inc->drills = s.drills;
  inc->reason = inc->drill ? "drill " + inc->drillList() + ": simulated outage"
              : s.available == 0 ? "no available backend"
                                  : std::to_string(s.available) + " of " + std::to_string(s.total) +
                                        " backends available, below " + std::to_string(threshold_percent_) + "%";
  const Second& oldest = t.seconds.front();
  inc->before = window(oldest.c, oldest.wall, s.counters, wall);
  t.open = inc.get();
  t.at_open = s.counters;
  t.recovered_ms = 0;
  t.after = nullptr;  // a new incident ends the previous one's "after" minute
  incidents_.push_back(std::move(inc));
  updateTag();
  auto& j = log().eventLine(LogLevel::Warn, "incident_opened");
  j.str("id", t.open->id).str("pool", s.name).str("reason", t.open->reason);
  j.num("available", uint64_t{s.available}).num("total", uint64_t{s.total});
  j.num("threshold_percent", uint64_t{threshold_percent_});
  if (t.open->drill) j.boolean("drill", true).str("drills", t.open->drillList());
  writeWindow(j, "before_", t.open->before);
  log().emit(LogLevel::Warn);
  // The minute before, second by second: failures that came before the
  // pool crossed the threshold belong to the incident's impact.
  t.traffic_mark = oldest;
  for (size_t i = 1; i < t.seconds.size(); ++i) writeTraffic(t, t.seconds[i]);
  writeTraffic(t, Second{now_ms / 1000, wall, s.counters});
}

void IncidentTracker::writeTraffic(PoolTrack& t, const Second& to) {
  if (t.open == nullptr) return;
  const TrafficWindow w = window(t.traffic_mark.c, t.traffic_mark.wall, to.c, to.wall);
  t.traffic_mark = to;
  if (w.requests == 0 && w.failed == 0) return;
  // Journal only: one line a second would drown the event log.
  JsonWriter j;
  j.beginObject();
  std::string ts;
  appendIsoTime(ts, to.wall);
  j.str("time", ts).str("level", "info").str("event", "incident_traffic").str("incident", t.open->id);
  j.str("pool", t.name);
  ts.clear();
  appendIsoTime(ts, w.from);
  j.str("from", ts);
  writeWindow(j, "", w);
  j.endObject();
  journal().append(j.view());
}

void IncidentTracker::closeIncident(PoolTrack& t, uint64_t now_ms, double wall, std::string_view why) {
  Incident& inc = *t.open;
  writeTraffic(t, Second{now_ms / 1000, wall, t.last});
  inc.closed_at = wall;
  inc.during = window(t.at_open, inc.opened_at, t.last, wall);
  inc.after = window(t.last, wall, t.last, wall);
  auto& j = log().eventLine(LogLevel::Info, "incident_closed");
  j.str("id", inc.id).str("pool", inc.pool).str("why", why).str("opened", isoTime(inc.opened_at));
  if (inc.recovered_at > 0) j.str("recovered", isoTime(inc.recovered_at));
  j.dbl("duration_s", wall - inc.opened_at, 3).num("min_available", uint64_t{inc.min_available});
  j.num("total", uint64_t{inc.total});
  if (inc.drill) j.boolean("drill", true).str("drills", inc.drillList());
  writeWindow(j, "during_", inc.during);
  log().emit(LogLevel::Info);
  t.open = nullptr;
  t.recovered_ms = 0;
  t.after = &inc;
  t.closed_ms = now_ms;
  t.at_close = t.last;
  updateTag();
  // Forget the oldest closed incidents nothing points to any more.
  size_t closed = 0;
  for (const auto& x : incidents_) closed += x->open() ? 0 : 1;
  for (auto it = incidents_.begin(); it != incidents_.end() && closed > kMaxClosed;) {
    const Incident* x = it->get();
    const bool held = std::any_of(pools_.begin(), pools_.end(),
                                  [&](const PoolTrack& p) { return p.open == x || p.after == x; });
    if (!x->open() && !held) {
      it = incidents_.erase(it);
      --closed;
    } else {
      ++it;
    }
  }
}

void IncidentTracker::updateTag() {
  std::string tag;
  for (const auto& t : pools_) {
    if (t.open == nullptr) continue;
    if (!tag.empty()) tag += ',';
    tag += t.open->id;
  }
  log().setIncidentTag(std::move(tag));
}

void IncidentTracker::onEvent(std::string_view line) {
  if (!anyOpen()) return;
  std::vector<std::pair<std::string, std::string>> members;
  std::string err;
  if (!parseFlatJsonObject(line, members, err)) return;
  TimelineEntry e;
  std::string pool;
  for (const auto& [k, v] : members) {
    if (k == "time") {
      e.time = v;
    } else if (k == "event") {
      e.event = v;
    } else if (k == "pool") {
      pool = v;
    } else if (k != "level" && k != "incident") {
      if (!e.text.empty()) e.text += ' ';
      e.text += k + "=" + v;
    }
  }
  if (e.event == "incident_traffic" || e.event.empty()) return;
  if (!pool.empty()) e.text = "pool=" + pool + (e.text.empty() ? "" : " " + e.text);
  for (auto& t : pools_) {
    if (t.open == nullptr || (!pool.empty() && pool != t.name)) continue;
    auto& tl = t.open->timeline;
    if (tl.size() >= kMaxTimeline) tl.erase(tl.begin());
    tl.push_back(e);
  }
}

std::string Incident::drillList() const {
  std::string out;
  for (const auto& d : drills) out += (out.empty() ? "" : ",") + d;
  return out;
}

bool IncidentTracker::anyOpen() const {
  return std::any_of(pools_.begin(), pools_.end(), [](const PoolTrack& t) { return t.open != nullptr; });
}

std::vector<const Incident*> IncidentTracker::list() const {
  std::vector<const Incident*> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
    if ((*it)->open()) out.push_back(it->get());
  }
  for (auto it = incidents_.rbegin(); it != incidents_.rend(); ++it) {
    if (!(*it)->open()) out.push_back(it->get());
  }
  return out;
}

IncidentTracker::AckResult IncidentTracker::ack(std::string_view id, std::string_view by, std::string_view note,
                                                double wall) {
  Incident* inc = nullptr;
  for (const auto& x : incidents_) {
    if (x->id == id) inc = x.get();
  }
  if (inc == nullptr) return AckResult::NotFound;
  if (inc->acked_at > 0) return AckResult::AlreadyAcked;
  if (!inc->open()) return AckResult::Closed;
  inc->acked_at = wall;
  inc->acked_by = by;
  inc->ack_note = note;
  auto& j = log().eventLine(LogLevel::Info, "incident_acked");
  j.str("id", inc->id).str("pool", inc->pool).str("by", by);
  if (!note.empty()) j.str("note", note);
  j.dbl("after_s", wall - inc->opened_at, 3);
  log().emit(LogLevel::Info);
  return AckResult::Acked;
}

const Incident* IncidentTracker::find(std::string_view id) const {
  for (const auto& x : incidents_) {
    if (x->id == id) return x.get();
  }
  return nullptr;
}

}  // namespace ballast
