#include "lb/server/postmortem.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/base/json_read.h"

namespace ballast {

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

struct Line {
  int64_t ms = 0;  // unix milliseconds of "time"
  Members m;
  std::string get(std::string_view k) const {
    for (const auto& [key, v] : m) {
      if (key == k) return v;
    }
    return {};
  }
  uint64_t num(std::string_view k) const {
    const std::string v = get(k);
    return v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10);
  }
};

// "2026-12-01T12:15:03.123Z" (or without milliseconds) -> unix ms; -1 if not that shape.
int64_t parseTime(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &n) != 6) {
    return -1;
  }
  if (s.size() > static_cast<size_t>(n) && s[static_cast<size_t>(n)] == '.') {
    std::sscanf(s.c_str() + n + 1, "%3d", &ms);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string iso(int64_t ms) { return isoTime(static_cast<double>(ms) / 1000.0); }

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

bool tagged(const Line& l, const std::string& id) {
  const std::string tag = l.get("incident");
  size_t start = 0;
  while (start <= tag.size()) {
    const size_t comma = tag.find(',', start);
    const size_t end = comma == std::string::npos ? tag.size() : comma;
    if (tag.compare(start, end - start, id) == 0 && end - start == id.size()) return true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

// The journal and its rotated files, oldest first.
bool readJournal(const std::string& path, std::vector<Line>& out) {
  std::vector<std::string> files;
  for (int i = 1000; i >= 1; --i) {
    const std::string p = path + "." + std::to_string(i);
    if (std::ifstream(p).good()) files.push_back(p);
  }
  if (!std::ifstream(path).good()) return false;
  files.push_back(path);
  for (const std::string& f : files) {
    std::ifstream in(f);
    for (std::string text; std::getline(in, text);) {
      Line l;
      std::string err;
      if (!parseFlatJsonObject(text, l.m, err)) continue;  // a line cut by a crash: skip it
      l.ms = parseTime(l.get("time"));
      if (l.ms < 0) continue;
      out.push_back(std::move(l));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Line& a, const Line& b) { return a.ms < b.ms; });
  return true;
}

// One drill behind the incident (a simulate_down), from its own events.
struct DrillRecord {
  std::string id, backend;
  int64_t started = -1;       // drill_started
  int64_t marked_down = -1;   // the backend's first backend_state not healthy after the start
  int64_t last_request = -1;  // drill_failover: the last request the backend got
  int64_t ended = -1;         // drill_ended
  int64_t back_up = -1;       // drill_recovered: available again
  int64_t first_request = -1; // drill_recovered: its first request since
};

struct Draft {
  std::vector<std::string> ids;
  bool drill = false;
  std::vector<DrillRecord> drills;
  int64_t drill_from = -1;  // the first drill's start: the draft's window starts there
  std::set<std::string> pools;
  std::set<std::string> backends;  // that left rotation in the window
  int64_t from = 0, to = 0;        // the window the draft covers
  int64_t opened = -1, closed = -1, recovered = -1;
  int64_t first_failure = -1, detected = -1;
  // The paging chain (notify:): its first message sent about the incident,
  // and the acknowledgement (POST /incidents/{id}/ack).
  int64_t notified = -1, acked = -1;
  std::string notified_target, notified_event, acked_by;
  uint64_t requests = 0, failed = 0, retries = 0;
  std::map<std::string, uint64_t> by_status;
  std::vector<std::pair<int64_t, std::pair<uint64_t, uint64_t>>> seconds;  // end ms, (requests, failed)
  std::vector<const Line*> timeline;
};

std::string describe(const Line& l) {
  std::string out;
  for (const auto& [k, v] : l.m) {
    if (k == "time" || k == "level" || k == "event" || k == "incident") continue;
    if (!out.empty()) out += ' ';
    out += k + "=" + v;
  }
  return out;
}

// Error rate per column over [from, to], 8 rows high, at most 60 columns.
std::string chart(const Draft& d) {
  if (d.seconds.empty() || d.to <= d.from) return "(no traffic recorded in the window)\n";
  const int64_t span = d.to - d.from;
  const int64_t cols = std::min<int64_t>(60, std::max<int64_t>(1, span / 1000 + 1));
  std::vector<uint64_t> req(static_cast<size_t>(cols), 0), bad(static_cast<size_t>(cols), 0);
  for (const auto& [ms, rf] : d.seconds) {
    int64_t c = (ms - 1 - d.from) * cols / span;
    c = std::clamp<int64_t>(c, 0, cols - 1);
    req[static_cast<size_t>(c)] += rf.first;
    bad[static_cast<size_t>(c)] += rf.second;
  }
  std::string out;
  for (int row = 8; row >= 1; --row) {
    char label[16];
    std::snprintf(label, sizeof label, "%3d%% |", row * 100 / 8);
    out += label;
    for (int64_t c = 0; c < cols; ++c) {
      const double rate = req[static_cast<size_t>(c)] ? static_cast<double>(bad[static_cast<size_t>(c)]) /
                                                            static_cast<double>(req[static_cast<size_t>(c)])
                                                      : 0;
      out += rate * 8 >= row - 0.5 ? '#' : ' ';
    }
    out += '\n';
  }
  out += "     +" + std::string(static_cast<size_t>(cols), '-') + "\n";
  out += "      " + iso(d.from).substr(11, 12) + std::string(static_cast<size_t>(std::max<int64_t>(1, cols - 24)), ' ') +
         iso(d.to).substr(11, 12) + "\n";
  return out;
}

void build(const std::vector<Line>& lines, Draft& d) {
  std::set<std::string> ids(d.ids.begin(), d.ids.end());
  const auto ofIncident = [&](const Line& l) {
    for (const auto& id : ids) {
      if (tagged(l, id) || l.get("id") == id) return true;
    }
    return false;
  };
  // The incidents' own records: opening, closing, traffic.
  for (const Line& l : lines) {
    if (!ofIncident(l)) continue;
    const std::string ev = l.get("event");
    if (ev == "incident_opened" && l.get("id").size()) {
      d.pools.insert(l.get("pool"));
      if (d.opened < 0 || l.ms < d.opened) d.opened = l.ms;
    } else if (ev == "incident_closed") {
      d.closed = std::max(d.closed, l.ms);
      const int64_t r = parseTime(l.get("recovered"));
      if (r >= 0) d.recovered = std::max(d.recovered, r);
    } else if (ev == "incident_traffic") {
      const uint64_t f = l.num("failed");
      d.requests += l.num("requests");
      d.failed += f;
      d.retries += l.num("retries");
      for (const auto& [k, v] : l.m) {
        if (k.rfind("failed_", 0) == 0) d.by_status[k.substr(7)] += std::strtoull(v.c_str(), nullptr, 10);
      }
      const int64_t from = parseTime(l.get("from"));
      if (f > 0 && (d.first_failure < 0 || from < d.first_failure)) d.first_failure = from;
      d.seconds.push_back({l.ms, {l.num("requests"), f}});
    }
  }
  if (d.from == 0) {
    d.from = d.first_failure >= 0 ? std::min(d.first_failure, d.opened) : d.opened;
    d.to = d.closed >= 0 ? d.closed : (lines.empty() ? d.opened : lines.back().ms);
    // A backend lost, or a request retried, before the pool crossed the
    // threshold starts the story (within the minute before the opening).
    for (const Line& l : lines) {
      if (l.ms < d.opened - 60000 || l.ms > d.opened || !d.pools.count(l.get("pool"))) continue;
      const std::string ev = l.get("event");
      if ((ev == "backend_state" && l.get("new") != "healthy") || ev == "retry" || ev == "backend_error") {
        d.from = std::min(d.from, l.ms);
        break;
      }
    }
  }
  if (d.drill_from >= 0 && d.drill_from < d.from) d.from = d.drill_from;
  // The timeline: the incidents' events, and their pools' events in the
  // window (a backend lost before the pool crossed the threshold).
  for (const Line& l : lines) {
    if (l.ms < d.from || l.ms > d.to) continue;
    const std::string ev = l.get("event");
    if (ev == "incident_traffic") continue;
    const bool mine = ofIncident(l) || d.pools.count(l.get("pool")) > 0;
    if (!mine) continue;
    d.timeline.push_back(&l);
    if ((ev == "retry" || ev == "backend_error") && (d.first_failure < 0 || l.ms < d.first_failure)) {
      d.first_failure = l.ms;
    }
    if (ev == "backend_state" && l.get("new") != "healthy") {
      d.backends.insert(l.get("backend"));
      if (d.detected < 0) d.detected = l.ms;
    }
  }
  if (d.first_failure >= 0 && d.first_failure < d.from) d.from = d.first_failure;
  // Who was told, and when someone took it.
  for (const Line& l : lines) {
    const std::string ev = l.get("event");
    if (ev != "notification_sent" && ev != "incident_acked") continue;
    bool about = false;
    for (const auto& id : d.ids) about = about || l.get("incident_id") == id || l.get("id") == id || tagged(l, id);
    if (!about) continue;
    if (ev == "notification_sent" && d.notified < 0) {
      d.notified = l.ms;
      d.notified_target = l.get("target");
      d.notified_event = l.get("notify_event");
    } else if (ev == "incident_acked" && d.acked < 0) {
      d.acked = l.ms;
      d.acked_by = l.get("by");
    }
  }
}

void splitIds(const std::string& list, std::vector<DrillRecord>& out) {
  size_t start = 0;
  while (start < list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string id = list.substr(start, comma - start);
    const bool known = std::any_of(out.begin(), out.end(), [&](const DrillRecord& r) { return r.id == id; });
    if (!id.empty() && !known) out.push_back(DrillRecord{id, {}, -1, -1, -1, -1, -1, -1});
    start = comma + 1;
  }
}

// A drill incident: its drills' records, and the window from the first
// drill's start (before the incident opened).
void buildDrills(const std::vector<Line>& lines, Draft& d) {
  std::set<std::string> ids(d.ids.begin(), d.ids.end());
  for (const Line& l : lines) {
    const std::string ev = l.get("event");
    if ((ev == "incident_opened" || ev == "incident_closed") && ids.count(l.get("id")) && l.get("drill") == "true") {
      d.drill = true;
      splitIds(l.get("drills"), d.drills);
    }
  }
  for (DrillRecord& r : d.drills) {
    for (const Line& l : lines) {
      const std::string ev = l.get("event");
      if (ev.rfind("drill_", 0) != 0 || l.get("id") != r.id) continue;
      if (ev == "drill_started") {
        r.started = l.ms;
        r.backend = l.get("backend");
      } else if (ev == "drill_ended") {
        r.ended = l.ms;
      } else if (ev == "drill_failover") {
        r.last_request = parseTime(l.get("last_request"));
      } else if (ev == "drill_recovered") {
        r.back_up = parseTime(l.get("back_up"));
        r.first_request = parseTime(l.get("first_request"));
      }
    }
    for (const Line& l : lines) {
      if (r.started >= 0 && l.ms >= r.started && l.get("event") == "backend_state" && l.get("backend") == r.backend &&
          l.get("new") != "healthy") {
        r.marked_down = l.ms;
        break;
      }
    }
    if (r.started >= 0 && (d.drill_from < 0 || r.started < d.drill_from)) d.drill_from = r.started;
  }
}

std::string span(int64_t a, int64_t b) { return a >= 0 && b >= 0 ? seconds(std::max<int64_t>(0, b - a)) : "unknown"; }

void markdown(const Draft& d) {
  const std::string pools = [&] {
    std::string s;
    for (const auto& p : d.pools) s += (s.empty() ? "" : ", ") + p;
    return s;
  }();
  std::string backends;
  for (const auto& b : d.backends) backends += (backends.empty() ? "" : ", ") + b;
  const double rate = d.requests ? 100.0 * static_cast<double>(d.failed) / static_cast<double>(d.requests) : 0;
  if (d.drill) {
    std::printf("# Postmortem draft: drill on pool %s, %s\n\n", pools.c_str(), iso(d.opened).c_str());
  } else {
    std::printf("# Postmortem draft: pool %s outage, %s\n\n", pools.c_str(), iso(d.opened).c_str());
  }
  std::printf("Incident%s: %s\n\n", d.ids.size() > 1 ? "s" : "", [&] {
    std::string s;
    for (const auto& i : d.ids) s += (s.empty() ? "" : ", ") + i;
    return s;
  }().c_str());
  std::printf("## Summary\n\nPool %s lost %s; %llu of %llu client requests failed (%.2f%%) between %s and %s.\n\n",
              pools.c_str(), backends.empty() ? "available backends" : ("backends " + backends).c_str(),
              static_cast<unsigned long long>(d.failed), static_cast<unsigned long long>(d.requests), rate,
              iso(d.from).c_str(), iso(d.to).c_str());
  std::printf("## Impact\n\n");
  if (d.first_failure < 0) {
    std::printf("- Duration: no client impact (no failed request or retry); incident open %s\n",
                d.closed >= 0 ? seconds(d.closed - d.opened).c_str() : "(still open)");
  } else {
    std::printf("- Duration: %s of client impact (first failure to recovery); incident open %s\n",
                d.recovered >= 0 ? seconds(d.recovered - d.first_failure).c_str() : "unknown",
                d.closed >= 0 ? seconds(d.closed - d.opened).c_str() : "(still open)");
  }
  std::printf("- Failed requests: %llu of %llu (error rate %.2f%%)",
              static_cast<unsigned long long>(d.failed), static_cast<unsigned long long>(d.requests), rate);
  if (!d.by_status.empty()) {
    std::printf(", by status:");
    for (const auto& [s, n] : d.by_status) std::printf(" %s x %llu", s.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("\n- Retries: %llu\n", static_cast<unsigned long long>(d.retries));
  std::printf("- Affected pools: %s\n- Affected backends: %s\n\n", pools.c_str(), backends.empty() ? "none recorded" : backends.c_str());
  if (d.drill) {
    std::printf("## Drill\n\nThis incident is a drill: a simulated outage (simulate_down: the backend's probes fail on "
                "purpose, so detection, failover and recovery are the real ones). Client requests that failed during it: "
                "%llu of %llu.\n\n",
                static_cast<unsigned long long>(d.failed), static_cast<unsigned long long>(d.requests));
    std::printf("| drill | backend | started | marked down | last request to it | ended | back up | first request again |"
                " detection | failover | recovery |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    const auto at = [](int64_t ms) { return ms >= 0 ? iso(ms).substr(11) : std::string("-"); };
    for (const DrillRecord& r : d.drills) {
      std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.id.c_str(), r.backend.c_str(),
                  at(r.started).c_str(), at(r.marked_down).c_str(), at(r.last_request).c_str(), at(r.ended).c_str(),
                  at(r.back_up).c_str(), at(r.first_request).c_str(), span(r.started, r.marked_down).c_str(),
                  span(r.started, r.last_request).c_str(), span(r.ended, r.first_request).c_str());
    }
    std::printf("\nDetection: drill start to the backend marked down. Failover: drill start to the last request "
                "sent to it. Recovery: drill end to its first request again (after it was back up).\n\n");
  }
  std::printf("## Detection and recovery\n\n");
  std::printf("- First failure (failed request or retry): %s\n", d.first_failure >= 0 ? iso(d.first_failure).c_str() : "none");
  std::printf("- First backend marked down: %s\n", d.detected >= 0 ? iso(d.detected).c_str() : "none");
  std::printf("- Time to detect: %s\n",
              d.detected >= 0 && d.first_failure >= 0 ? seconds(std::max<int64_t>(0, d.detected - d.first_failure)).c_str()
              : d.first_failure < 0                   ? "n/a (no failure; a drill's detection is in the Drill section)"
                                                      : "unknown");
  std::printf("- Incident opened: %s\n", iso(d.opened).c_str());
  if (d.notified >= 0) {
    std::printf("- First page sent: %s (%s to %s)\n", iso(d.notified).c_str(), d.notified_event.c_str(),
                d.notified_target.c_str());
  } else {
    std::printf("- First page sent: none (no notify: target took a message about it)\n");
  }
  std::printf("- Time to notify (opened to first page): %s\n",
              d.notified >= 0 ? seconds(std::max<int64_t>(0, d.notified - d.opened)).c_str() : "n/a");
  if (d.acked >= 0) {
    std::printf("- Acknowledged: %s by %s\n", iso(d.acked).c_str(), d.acked_by.empty() ? "(nobody named)" : d.acked_by.c_str());
  } else {
    std::printf("- Acknowledged: no\n");
  }
  std::printf("- Time to acknowledge (first page, or the opening if none, to the ack): %s\n",
              d.acked >= 0 ? seconds(std::max<int64_t>(0, d.acked - (d.notified >= 0 ? d.notified : d.opened))).c_str()
                           : "n/a");
  std::printf("- Recovered: %s\n", d.recovered >= 0 ? iso(d.recovered).c_str() : "not yet");
  std::printf("- Time to recover: %s\n\n",
              d.recovered >= 0 && d.first_failure >= 0 ? seconds(d.recovered - d.first_failure).c_str()
              : d.first_failure < 0                    ? "n/a (no failure)"
                                                       : "unknown");
  std::printf("## Error rate\n\n```\n%s```\n\n", chart(d).c_str());
  std::printf("## Timeline (UTC)\n\n| time | event | details |\n|---|---|---|\n");
  // Per-request events (retry, backend_error) would drown the rest: the
  // first of each kind stands for all of them, with their count and the
  // time of the last (the JSON draft keeps every one).
  std::map<std::string, std::pair<uint64_t, int64_t>> noisy;  // event -> (count, last ms)
  for (const Line* l : d.timeline) {
    const std::string ev = l->get("event");
    if (ev != "retry" && ev != "backend_error") continue;
    auto& n = noisy[ev];
    ++n.first;
    n.second = l->ms;
  }
  std::set<std::string> shown;
  for (const Line* l : d.timeline) {
    const std::string ev = l->get("event");
    std::string text = describe(*l);
    if (noisy.count(ev)) {
      if (!shown.insert(ev).second) continue;
      const auto& n = noisy[ev];
      if (n.first > 1) {
        text = "first of " + std::to_string(n.first) + " (the last at " + iso(n.second).substr(11) + "): " + text;
      }
    }
    for (char& c : text) {
      if (c == '|') c = '/';
    }
    std::printf("| %s | %s | %s |\n", iso(l->ms).substr(11).c_str(), ev.c_str(), text.c_str());
  }
  std::printf("\n## Root cause\n\n_To be written._\n\n## What went well\n\n_To be written._\n\n"
              "## What went wrong\n\n_To be written._\n\n## Action items\n\n| action | owner | due |\n|---|---|---|\n");
}

void json(const Draft& d) {
  JsonWriter w;
  w.beginObject().key("incidents").beginArray();
  for (const auto& i : d.ids) w.str(i);
  w.endArray().key("pools").beginArray();
  for (const auto& p : d.pools) w.str(p);
  w.endArray().key("backends").beginArray();
  for (const auto& b : d.backends) w.str(b);
  w.endArray();
  w.str("from", iso(d.from)).str("to", iso(d.to));
  w.num("requests", d.requests).num("failed", d.failed).num("retries", d.retries);
  w.dbl("error_rate", d.requests ? static_cast<double>(d.failed) / static_cast<double>(d.requests) : 0, 6);
  w.key("failed_by_status").beginObject();
  for (const auto& [s, n] : d.by_status) w.num(s, n);
  w.endObject();
  const auto t = [&](std::string_view k, int64_t ms) {
    if (ms >= 0) {
      w.str(k, iso(ms));
    } else {
      w.null(k);
    }
  };
  t("first_failure", d.first_failure);
  t("detected", d.detected);
  t("opened", d.opened);
  t("recovered", d.recovered);
  t("closed", d.closed);
  const auto dur = [&](std::string_view k, int64_t a, int64_t b) {
    if (a >= 0 && b >= 0) {
      w.dbl(k, static_cast<double>(std::max<int64_t>(0, b - a)) / 1000.0, 3);
    } else {
      w.null(k);
    }
  };
  dur("time_to_detect_s", d.first_failure, d.detected);
  dur("time_to_recover_s", d.first_failure, d.recovered);
  t("notified", d.notified);
  if (d.notified >= 0) {
    w.str("notified_target", d.notified_target).str("notified_event", d.notified_event);
  } else {
    w.null("notified_target").null("notified_event");
  }
  dur("time_to_notify_s", d.opened, d.notified);
  t("acknowledged", d.acked);
  if (d.acked >= 0) {
    w.str("acknowledged_by", d.acked_by);
  } else {
    w.null("acknowledged_by");
  }
  dur("time_to_acknowledge_s", d.notified >= 0 ? d.notified : d.opened, d.acked);
  w.boolean("drill", d.drill).key("drills").beginArray();
  for (const DrillRecord& r : d.drills) {
    w.beginObject().str("id", r.id).str("backend", r.backend);
    t("started", r.started);
    t("marked_down", r.marked_down);
    t("last_request", r.last_request);
    t("ended", r.ended);
    t("back_up", r.back_up);
    t("first_request", r.first_request);
    dur("detection_s", r.started, r.marked_down);
    dur("failover_s", r.started, r.last_request);
    dur("recovery_s", r.ended, r.first_request);
    dur("back_up_s", r.ended, r.back_up);
    w.num("failed_requests", d.failed).endObject();
  }
  w.endArray();
  w.key("timeline").beginArray();
  for (const Line* l : d.timeline) {
    w.beginObject().str("time", iso(l->ms)).str("event", l->get("event")).str("details", describe(*l)).endObject();
  }
  w.endArray().endObject();
  std::printf("%s\n", std::string(w.view()).c_str());
}

int usage(const std::string& what) {
  std::fprintf(stderr,
               "ballast postmortem: %s\nUsage: ballast postmortem --journal FILE [--incident ID | --since TIME "
               "--until TIME] [--format markdown|json]\n",
               what.c_str());
  return 2;
}

}  // namespace

int runPostmortem(int argc, char** argv) {
  std::string path, id, since, until, format = "markdown";
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--journal") {
      ok = value(path);
    } else if (a == "--incident") {
      ok = value(id);
    } else if (a == "--since") {
      ok = value(since);
    } else if (a == "--until") {
      ok = value(until);
    } else if (a == "--format") {
      ok = value(format);
    } else {
      return usage("unknown argument '" + a + "'");
    }
    if (!ok) return usage("option '" + a + "' needs a value");
  }
  if (path.empty()) return usage("missing --journal FILE");
  if (format != "markdown" && format != "json") return usage("--format is markdown or json");
  if (!id.empty() && (!since.empty() || !until.empty())) return usage("--incident or --since/--until, not both");
  if (since.empty() != until.empty()) return usage("--since and --until go together");
  std::vector<Line> lines;
  if (!readJournal(path, lines)) {
    std::fprintf(stderr, "ballast postmortem: cannot read journal \"%s\"\n", path.c_str());
    return 1;
  }
  Draft d;
  if (!since.empty()) {
    d.from = parseTime(since);
    d.to = parseTime(until);
    if (d.from < 0 || d.to < 0 || d.to < d.from) return usage("--since/--until take ISO 8601 UTC times, since first");
    for (const Line& l : lines) {
      if (l.get("event") == "incident_opened" && l.ms >= d.from && l.ms <= d.to) d.ids.push_back(l.get("id"));
    }
  } else if (!id.empty()) {
    d.ids.push_back(id);
  } else {
    for (const Line& l : lines) {
      if (l.get("event") == "incident_opened") id = l.get("id");
    }
    if (!id.empty()) d.ids.push_back(id);
  }
  if (d.ids.empty()) {
    std::fprintf(stderr, "ballast postmortem: no incident in \"%s\"%s\n", path.c_str(),
                 since.empty() ? "" : " in that window");
    return 1;
  }
  buildDrills(lines, d);
  build(lines, d);
  if (d.opened < 0) {
    std::fprintf(stderr, "ballast postmortem: no incident \"%s\" in \"%s\"\n", d.ids.front().c_str(), path.c_str());
    return 1;
  }
  if (format == "json") {
    json(d);
  } else {
    markdown(d);
  }
  return 0;
}

}  // namespace ballast
