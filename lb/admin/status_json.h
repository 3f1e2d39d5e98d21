// The /status document (JSON: process, listeners, routes, pools, backends,
// last probes) and the /readyz reason text.
#pragma once

#include <string>
#include <string_view>

#include "lb/admin/admin_control.h"

namespace ballast {

std::string statusJson(AdminControl& control, std::string_view admin_address);
std::string readinessReason(const AdminControl& control);

}  // namespace ballast
