// Drills: practise an outage on real traffic, safely. POST /drills starts
// one, always with a duration after which it ends by itself:
//   {"action": "simulate_down", "pool": "web", "backend": "127.0.0.1:9001", "duration": "60s"}
//     every probe of that backend fails, so detection, failover and
//     recovery are the real ones (the pool needs a health check);
//   {"action": "abort", "pool": "web", "percent": 10, "status": 503, "duration": "5m",
//    "header": "x-ballast-drill"}
//     that share of the pool's requests (optionally only those carrying
//     the header: synthetic traffic only) is answered with the status.
// GET /drills lists the running ones; POST /drills/{id}/stop ends one.
// Events drill_started and drill_ended.
#pragma once

#include <cstdint>
#include <string_view>

#include "lb/admin/admin_request.h"
#include "lb/proxy/runtime.h"

namespace ballast {

void startDrill(const Runtime& rt, uint64_t now_ms, const AdminRequest& req, AdminReply& out);
void listDrills(uint64_t now_ms, AdminReply& out);
void stopDrill(const Runtime& rt, uint64_t now_ms, std::string_view id, std::string_view client, AdminReply& out);
// Ends the drills whose time is up (the server's sweep).
void sweepDrills(const Runtime& rt, uint64_t now_ms);

}  // namespace ballast
