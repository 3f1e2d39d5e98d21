// The bodies posted to notify targets, one per format (README "Paging
// chain" has an example of each):
//   slack         {"text": "<summary>"} (Slack and Mattermost incoming webhooks)
//   json          the event object: event, pool, backend, backends (a group),
//                 reason, time, incident, severity, summary, available, total,
//                 opened (resolved), note (escalation or repeat), drill
//   alertmanager  a JSON array of Alertmanager v2 alerts (POST /api/v2/alerts):
//                 labels alertname, pool, backend (one alert per backend),
//                 severity, incident, drill ("true" for a drill's alerts);
//                 annotations summary, description;
//                 startsAt; endsAt when the event ends the alert
#pragma once

#include <string>

#include "config/config.h"
#include "lb/notify/notify_event.h"

namespace ballast::notify {

std::string formatBody(const Event& e, config::NotifyFormat format);
// The summary with the event's note in front ("Escalated: ...").
std::string fullSummary(const Event& e);

}  // namespace ballast::notify
