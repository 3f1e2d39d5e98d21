// GET /incidents and GET /incidents/{id}: the incident tracker's records as
// JSON (lb/stats/incidents.h).
#pragma once

#include <string>

#include "lb/admin/admin_request.h"
#include "lb/stats/incidents.h"

namespace ballast {

// `id` empty: the list (open first, then recent); otherwise one incident,
// or 404. `tracker` may be null (no incidents).
void answerIncidents(const IncidentTracker* tracker, const std::string& id, AdminReply& out);

// One incident as a JSON object (also used by the status page's /status).
void writeIncident(JsonWriter& w, const Incident& inc, bool with_timeline);

}  // namespace ballast
