#include "lb/admin/admin_auth.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "lb/base/log.h"
#include "lb/http/http_message.h"
#include "lb/proxy/router.h"

namespace ballast {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool authorize(const config::AdminConfig& cfg, const AdminRequest& req, AdminReply& out) {
  const std::string& token = cfg.token;
  if (token.empty()) return true;
  std::string_view auth = req.authorization;
  const char* problem = "missing token";
  if (!auth.empty()) {
    problem = "wrong token";
    constexpr std::string_view kScheme = "bearer";
    if (auth.size() > kScheme.size() && iequals(auth.substr(0, kScheme.size()), kScheme) &&
        (auth[kScheme.size()] == ' ' || auth[kScheme.size()] == '\t')) {
      std::string_view t = trimOws(auth.substr(kScheme.size()));
      if (constantTimeEquals(t, token)) return true;
    } else {
      problem = "not a Bearer token";
    }
  }
  auto& j = log().eventLine(LogLevel::Warn, "admin_auth_failed");
  j.str("client", req.client).str("method", req.method).str("path", req.path).str("reason", problem);
  log().emit(LogLevel::Warn);
  out.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ballast admin\"");
  if (req.method == "POST") {
    jsonError(out, 401, std::string("unauthorized: ") + problem + " (send Authorization: Bearer <admin token>)");
  } else {
    plainReply(out, 401, std::string("401 Unauthorized: ") + problem + " (send Authorization: Bearer <admin token>)");
  }
  return false;
}

bool sameSite(const config::AdminConfig& cfg, const AdminRequest& req, AdminReply& out) {
  // Host without its port: "127.0.0.1:9100" -> "127.0.0.1", "[::1]:9100" -> "::1".
  std::string_view host = Router::stripPort(req.host);
  const char* problem = nullptr;
  if (!req.fetch_site.empty() && req.fetch_site != "same-origin" && req.fetch_site != "none") {
    problem = "cross-site request (Sec-Fetch-Site)";
  } else if (!req.origin.empty()) {
    // A browser names the page that made the request; it must be this admin.
    std::string_view o = req.origin;
    const size_t scheme = o.find("://");
    if (scheme != std::string_view::npos) o.remove_prefix(scheme + 3);
    if (!iequals(o, req.host)) problem = "cross-site request (Origin does not match Host)";
  }
  if (problem == nullptr && cfg.token.empty()) {
    // Without a token a page on a name that resolves to 127.0.0.1 (DNS
    // rebinding) would pass the Origin check: only IP literals and localhost.
    std::string h(host);
    in6_addr a6;
    in_addr a4;
    const bool literal = inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
    if (!literal && !iequals(host, "localhost")) problem = "Host is not an IP address or localhost";
  }
  if (problem == nullptr) return true;
  auto& j = log().eventLine(LogLevel::Warn, "admin_request_refused");
  j.str("client", req.client).str("method", req.method).str("path", req.path).str("reason", problem);
  j.str("host", req.host).str("origin", req.origin);
  log().emit(LogLevel::Warn);
  jsonError(out, 403, std::string("forbidden: ") + problem);
  return false;
}

}  // namespace ballast
