// POST /pools/{pool}/backends/{address}/{drain|disable|enable}: the
// operator's override of one backend, with its event line and JSON answer.
#pragma once

#include <cstdint>
#include <string_view>

#include "lb/admin/admin_request.h"
#include "lb/proxy/runtime.h"

namespace ballast {

// Applies `action` ("drain", "disable", "enable") to the backend of the
// current runtime; 404 (JSON) for an unknown pool or backend.
void controlBackend(const Runtime& rt, uint64_t now_ms, std::string_view client, std::string_view pool_name,
                    std::string_view backend_name, std::string_view action, AdminReply& out);

}  // namespace ballast
