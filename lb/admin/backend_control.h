// POST /pools/{pool}/backends/{address}/{drain|disable|enable}: the
// operator's override of one backend, with why, by whom and for how long
// (`reason`, `by`, `for` as query parameters or a flat JSON body), its event
// line and JSON answer; and the sweep that ends overrides on time and flags
// the ones left in place too long.
#pragma once

#include <cstdint>
#include <string_view>

#include "lb/admin/admin_request.h"
#include "lb/proxy/runtime.h"

namespace ballast {

// Applies `action` ("drain", "disable", "enable") to the backend of the
// current runtime; 404 (JSON) for an unknown pool or backend, 400 for an
// unknown or invalid parameter (nothing changes then).
void controlBackend(const Runtime& rt, uint64_t now_ms, const AdminRequest& req, std::string_view pool_name,
                    std::string_view backend_name, std::string_view action, AdminReply& out);

// Once a second or so: enables backends whose override expired (event
// backend_override_expired) and marks overrides without expiry older than
// overrides.warn_after as stale (event backend_override_stale, metric).
void sweepOverrides(const Runtime& rt, uint64_t now_ms);

}  // namespace ballast
