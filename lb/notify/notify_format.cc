#include "lb/notify/notify_format.h"

#include "lb/base/json.h"

namespace ballast::notify {

std::string fullSummary(const Event& e) { return e.note.empty() ? e.summary : e.note + ": " + e.summary; }

namespace {

std::string slack(const Event& e) {
  JsonWriter w;
  w.beginObject().str("text", fullSummary(e)).endObject();
  return w.take();
}

std::string json(const Event& e) {
  JsonWriter w;
  w.beginObject().str("event", kindName(e.kind));
  if (!e.pool.empty()) w.str("pool", e.pool);
  if (!e.backend.empty()) w.str("backend", e.backend);
  if (e.backends.size() > 1) {
    w.key("backends").beginArray();
    for (const auto& b : e.backends) w.str(b);
    w.endArray();
  }
  w.str("reason", e.reason).str("time", e.time);
  if (!e.incident.empty()) w.str("incident", e.incident);
  w.str("severity", severity(e.kind)).str("summary", fullSummary(e));
  if (!e.pool.empty()) w.num("available", uint64_t{e.available}).num("total", uint64_t{e.total});
  if (!e.opened.empty()) w.str("opened", e.opened);
  if (!e.note.empty()) w.str("note", e.note);
  if (e.drill) w.boolean("drill", true);
  w.endObject();
  return w.take();
}

void alert(JsonWriter& w, const Event& e, Kind alert_kind, const std::string& backend, bool ends) {
  w.beginObject();
  w.key("labels").beginObject().str("alertname", alertName(alert_kind));
  if (!e.pool.empty()) w.str("pool", e.pool);
  if (!backend.empty()) w.str("backend", backend);
  w.str("severity", severity(alert_kind));
  // Pool alerts are one per incident: its id tells them apart.
  if ((alert_kind == Kind::PoolDown || alert_kind == Kind::PoolDegraded) && !e.incident.empty()) {
    w.str("incident", e.incident);
  }
  if (e.drill) w.str("drill", "true");
  w.endObject();
  w.key("annotations").beginObject().str("summary", fullSummary(e));
  std::string description = e.reason;
  if (!e.pool.empty() && e.total) {
    description += (description.empty() ? "" : "; ") + std::to_string(e.available) + " of " +
                   std::to_string(e.total) + " backends of pool " + e.pool + " available";
  }
  w.str("description", description).endObject();
  w.str("startsAt", ends && !e.opened.empty() ? e.opened : e.time);
  if (ends) w.str("endsAt", e.time);
  w.endObject();
}

std::string alertmanager(const Event& e) {
  JsonWriter w;
  w.beginArray();
  switch (e.kind) {
    case Kind::BackendDown:
    case Kind::BackendUp:
      for (const auto& b : e.backends.empty() ? std::vector<std::string>{e.backend} : e.backends) {
        alert(w, e, Kind::BackendDown, b, e.kind == Kind::BackendUp);
      }
      break;
    case Kind::Resolved:
      for (Kind k : e.resolves) alert(w, e, k, {}, true);
      break;
    default:
      alert(w, e, e.kind, {}, false);
  }
  w.endArray();
  return w.take();
}

}  // namespace

std::string formatBody(const Event& e, config::NotifyFormat format) {
  switch (format) {
    case config::NotifyFormat::Slack: return slack(e);
    case config::NotifyFormat::Json: return json(e);
    case config::NotifyFormat::Alertmanager: return alertmanager(e);
  }
  return {};
}

}  // namespace ballast::notify
