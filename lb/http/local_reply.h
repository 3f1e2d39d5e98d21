// The answers ballast writes itself (400, 404, 502, 503, ...): a status line,
// a plain-text body that names the status and says what happened
// ("502 Bad Gateway: backend closed the connection before a complete
// response\n"), the request id, and the connection's keep-alive decision.
#pragma once

#include <string>
#include <string_view>

namespace ballast {

struct LocalReply {
  int status = 500;
  std::string_view detail;      // what happened, for the body
  std::string_view request_id;  // X-Request-Id
  bool close = false;           // add Connection: close
  bool keep_alive_10 = false;   // HTTP/1.0 client kept alive: Connection: keep-alive
  bool head = false;            // a HEAD request: the head only
  int retry_after = 0;          // seconds; 0 = no Retry-After (503 gets 1 by default)
  std::string_view location;    // non-empty: a Location header (a route's redirect)
  bool custom_body = false;     // `body` is the whole body instead of the status line and detail
  std::string_view body;
};

// Writes the whole response into `out` (cleared first).
void buildLocalReply(std::string& out, const LocalReply& r);

}  // namespace ballast
