// One admin request as the router sees it, and the reply it builds.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ballast {

// Views borrow from the connection.
struct AdminRequest {
  std::string_view method;         // "GET", "POST", ... (HEAD arrives as GET)
  std::string_view path;           // raw path, query string removed
  std::string_view query;          // after '?', "" when absent
  std::string_view authorization;  // Authorization header value, "" when absent
  std::string_view host;           // Host header value, "" when absent
  std::string_view origin;         // Origin header value (browsers), "" when absent
  std::string_view fetch_site;     // Sec-Fetch-Site header value (browsers), "" when absent
  std::string_view client;         // peer "ip:port", for the event log
  std::string_view body;           // request body (at most the admin's body limit)
};

struct AdminReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, ...)
  std::string body;
};

// Reply helpers: a plain-text body (a newline is added), a JSON error
// object {"error": message}, and 405 with Allow.
void plainReply(AdminReply& out, int status, std::string body);
void jsonError(AdminReply& out, int status, std::string_view message);
void methodNotAllowed(AdminReply& out, std::string_view allow);
// %XX decoded (a malformed escape is kept as it is).
std::string percentDecode(std::string_view s);

}  // namespace ballast
