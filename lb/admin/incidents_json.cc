#include "lb/admin/incidents_json.h"

#include <algorithm>

#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/base/json_read.h"

namespace ballast {

namespace {

void writeWindowObject(JsonWriter& w, std::string_view name, const TrafficWindow& t) {
  w.key(name).beginObject();
  w.num("requests", t.requests).num("failed", t.failed).num("retries", t.retries);
  w.key("failed_by_status").beginObject();
  for (size_t i = 0; i < t.failed_by_status.size(); ++i) {
    if (t.failed_by_status[i] != 0) w.num(std::to_string(500 + i), t.failed_by_status[i]);
  }
  w.endObject();
  if (t.p50 >= 0) {
    w.dbl("p50_ms", t.p50 * 1000, 1);
  } else {
    w.null("p50_ms");
  }
  if (t.p99 >= 0) {
    w.dbl("p99_ms", t.p99 * 1000, 1);
  } else {
    w.null("p99_ms");
  }
  w.endObject();
}

}  // namespace

void writeIncident(JsonWriter& w, const Incident& inc, bool with_timeline) {
  w.beginObject();
  w.str("id", inc.id).str("pool", inc.pool).str("state", inc.open() ? "open" : "closed");
  w.str("reason", inc.reason).str("opened", isoTime(inc.opened_at));
  w.boolean("drill", inc.drill).key("drills").beginArray();
  for (const auto& d : inc.drills) w.str(d);
  w.endArray();
  if (inc.recovered_at > 0) {
    w.str("recovered", isoTime(inc.recovered_at));
  } else {
    w.null("recovered");
  }
  if (inc.open()) {
    w.null("closed");
  } else {
    w.str("closed", isoTime(inc.closed_at));
    w.dbl("duration_s", inc.closed_at - inc.opened_at, 3);
  }
  w.num("min_available", uint64_t{inc.min_available}).num("total", uint64_t{inc.total});
  if (inc.acked_at > 0) {
    w.str("acked_at", isoTime(inc.acked_at)).str("acked_by", inc.acked_by).str("note", inc.ack_note);
  } else {
    w.null("acked_at").null("acked_by").null("note");
  }
  w.key("impact").beginObject();
  writeWindowObject(w, "before", inc.before);
  writeWindowObject(w, "during", inc.during);
  if (!inc.open()) {
    writeWindowObject(w, "after", inc.after);
    w.boolean("after_complete", inc.after_complete);
  }
  w.endObject();
  if (with_timeline) {
    w.key("timeline").beginArray();
    for (const TimelineEntry& e : inc.timeline) {
      w.beginObject().str("time", e.time).str("event", e.event).str("text", e.text).endObject();
    }
    w.endArray();
  }
  w.endObject();
}

void ackIncident(AdminControl& control, const std::string& id, const AdminRequest& req, AdminReply& out) {
  std::string by, note;
  bool body_empty = true;
  for (char c : req.body) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') body_empty = false;
  }
  if (!body_empty) {
    std::vector<std::pair<std::string, std::string>> kv;
    std::string error;
    if (!parseFlatJsonObject(req.body, kv, error)) {
      return jsonError(out, 400, "the body must be a flat JSON object such as {\"by\": \"alice\", \"note\": "
                                 "\"looking at the database\"}: " + error);
    }
    for (const auto& [k, v] : kv) {
      const bool control_chars = std::any_of(v.begin(), v.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
      if (k == "by") {
        if (v.size() > 128 || control_chars) return jsonError(out, 400, "\"by\" must be at most 128 bytes with no control characters");
        by = v;
      } else if (k == "note") {
        if (v.size() > 1024 || control_chars) return jsonError(out, 400, "\"note\" must be at most 1024 bytes with no control characters");
        note = v;
      } else {
        return jsonError(out, 400, "unknown field \"" + k + "\" (allowed: by, note)");
      }
    }
  }
  if (by.empty()) by = std::string(req.client);
  switch (control.ackIncident(id, by, note)) {
    case IncidentTracker::AckResult::NotFound:
      return jsonError(out, 404, "no incident \"" + id + "\" (see GET /incidents)");
    case IncidentTracker::AckResult::Closed:
      return jsonError(out, 409, "incident \"" + id + "\" is closed: there is nothing left to acknowledge");
    case IncidentTracker::AckResult::Acked:
    case IncidentTracker::AckResult::AlreadyAcked:
      break;
  }
  const IncidentTracker* tracker = control.incidents();
  const Incident* inc = tracker != nullptr ? tracker->find(id) : nullptr;
  if (inc == nullptr) return jsonError(out, 404, "no incident \"" + id + "\"");
  JsonWriter w;
  writeIncident(w, *inc, false);
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

void answerIncidents(const IncidentTracker* tracker, const std::string& id, AdminReply& out) {
  JsonWriter w;
  if (id.empty()) {
    w.beginObject().key("incidents").beginArray();
    if (tracker != nullptr) {
      for (const Incident* inc : tracker->list()) writeIncident(w, *inc, false);
    }
    w.endArray().endObject();
  } else {
    const Incident* inc = tracker != nullptr ? tracker->find(id) : nullptr;
    if (inc == nullptr) {
      jsonError(out, 404, "no incident \"" + id + "\" (see GET /incidents; the last 50 closed ones are kept)");
      return;
    }
    writeIncident(w, *inc, true);
  }
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

}  // namespace ballast
