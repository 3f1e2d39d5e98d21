// Who may use the admin API: the bearer token (compared in constant time)
// and the same-site rule that keeps a web page from driving a loopback
// admin on the user's behalf (CSRF, DNS rebinding).
#pragma once

#include <string_view>

#include "config/config.h"
#include "lb/admin/admin_request.h"

namespace ballast {

// False (with `out` filled: 401) when the request lacks the right token.
// Always true when no token is configured.
bool authorize(const config::AdminConfig& cfg, const AdminRequest& req, AdminReply& out);
// False (with `out` filled: 403) for a POST a browser sent on behalf of
// another site (CSRF), or, with no token set, one addressed to a host name
// other than an IP literal or localhost (DNS rebinding).
bool sameSite(const config::AdminConfig& cfg, const AdminRequest& req, AdminReply& out);

// Compares in time that depends on the lengths only.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ballast
