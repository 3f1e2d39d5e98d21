// GET /incidents and GET /incidents/{id}: the incident tracker's records as
// JSON (lb/stats/incidents.h).
#pragma once

#include <string>

#include "lb/admin/admin_control.h"
#include "lb/admin/admin_request.h"
#include "lb/stats/incidents.h"

namespace ballast {

// `id` empty: the list (open first, then recent); otherwise one incident,
// or 404. `tracker` may be null (no incidents).
void answerIncidents(const IncidentTracker* tracker, const std::string& id, AdminReply& out);

// POST /incidents/{id}/ack with an optional flat JSON body {"by": "...",
// "note": "..."} (by defaults to the client address): 200 with the
// incident, 400 naming an unknown field or a bad value, 404 for an unknown
// incident, 409 for one closed without an acknowledgement. A second ack
// answers 200 and keeps the first.
void ackIncident(AdminControl& control, const std::string& id, const AdminRequest& req, AdminReply& out);

// One incident as a JSON object (also used by the status page's /status).
void writeIncident(JsonWriter& w, const Incident& inc, bool with_timeline);

}  // namespace ballast
