// Drills: practise an outage on real traffic, safely. Every drill ends by
// itself. From the admin API (POST /drills, source "api"):
//   {"action": "simulate_down", "pool": "web", "backend": "127.0.0.1:9001", "duration": "60s"}
//     every probe of that backend fails, so detection, failover and
//     recovery are the real ones (the pool needs a health check);
//   {"action": "abort", "pool": "web", "percent": 10, "status": 503, "duration": "5m",
//    "header": "x-ballast-drill"}
//     that share of the pool's requests (optionally only those carrying
//     the header: synthetic traffic only) is answered with the status;
//   {"action": "delay", "pool": "web", "percent": 5, "delay": "2s", "duration": "5m",
//    "header": "x-ballast-drill"}
//     that share is held for `delay` before it is proxied as usual.
// From the config (`drills:`, source "config"): abort and delay drills per
// pool or per route, with `expires` or `duration`. They start when a config
// holding them is loaded; one that stays unchanged across reloads keeps
// its running state and expiry (one that already ended does not start
// again); one that leaves the config ends ("removed from the config").
// GET /drills lists the running ones; POST /drills/{id}/stop ends one.
// Events drill_started and drill_ended (with `source`), and for
// simulate_down drill_failover (the backend stopped getting requests) and
// drill_recovered (back up, and getting requests again).
//
// A simulate_down drill holds its pool's incident open (the incident
// tracker opens one marked drill: true, whatever the threshold) from its
// start until its backend is back up and getting traffic: drillsHolding().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lb/admin/admin_request.h"
#include "lb/proxy/runtime.h"

namespace ballast {

void startDrill(const Runtime& rt, uint64_t now_ms, const AdminRequest& req, AdminReply& out);
void listDrills(uint64_t now_ms, AdminReply& out);
void stopDrill(const Runtime& rt, uint64_t now_ms, std::string_view id, std::string_view client, AdminReply& out);
// The server's sweep (4 times a second): ends the drills whose time is up,
// follows simulate_down drills to their failover and recovery, and gives a
// runtime built since the last sweep (a reload, discovery) its faults.
void sweepDrills(const Runtime& rt, uint64_t now_ms);
// After a (re)load: starts, keeps and ends the config's drills (see above).
// `wall`: unix seconds at now_ms.
void applyConfigDrills(const Runtime& rt, uint64_t now_ms, double wall);
// Ids of the simulate_down drills of `pool` that hold its incident open:
// running, or ended and their backend not yet back with traffic.
std::vector<std::string> drillsHolding(std::string_view pool);

}  // namespace ballast
