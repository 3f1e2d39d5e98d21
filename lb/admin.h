// The admin listener, on the server's loop (no threads):
//   GET  /                 the status page (self-contained HTML; draws /status)
//   GET  /healthz          200 while the process runs (liveness)
//   GET  /readyz           200 when Server::ready(), else 503 with the reason
//   GET  /metrics          Prometheus text format 0.0.4 (renderMetrics)
//   GET  /status           JSON: listeners, routes, pools, backends and their state
//   POST /pools/{pool}/backends/{address}/{drain|disable|enable}
// HEAD is accepted wherever GET is. With admin.token set, every POST needs
// `Authorization: Bearer <token>`, and so do /status and /metrics when
// admin.protect_reads is true (the probes and the page shell stay open: the
// page asks for the token and sends it with its own requests). A POST that a
// browser sends for another site is refused whatever the token (see
// sameSite()), so a web page cannot drive a loopback admin without a token.
//
// One request per connection: the answer carries `Connection: close`, then
// the write side is shut down and unread input is drained for a moment
// (lingering close) so a client still sending never gets a RST instead of
// the response.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lb/listener.h"
#include "lb/uv_util.h"

namespace ballast {

class Backend;
class Pool;
class Server;
class AdminConnection;

// One parsed admin request. Views borrow from the connection.
struct AdminRequest {
  std::string_view method;         // "GET", "POST", ...
  std::string_view path;           // raw path, query string removed
  std::string_view authorization;  // Authorization header value, "" when absent
  std::string_view host;           // Host header value, "" when absent
  std::string_view origin;         // Origin header value (browsers), "" when absent
  std::string_view fetch_site;     // Sec-Fetch-Site header value (browsers), "" when absent
  std::string_view client;         // peer "ip:port", for the event log
};

struct AdminReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, ...)
  std::string body;
};

class AdminServer {
 public:
  AdminServer(Server& server, const config::Address& addr);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int bind() { return listener_.bind(); }
  int adopt(int fd) { return listener_.adopt(fd, true); }
  int fd() const { return listener_.fd(); }
  const std::string& boundAddress() const { return listener_.boundAddress(); }
  // Stops accepting and closes every admin connection. Idempotent.
  void close();

  // Answers one complete request (HEAD is answered as GET; the connection
  // drops the body). Never blocks; may change backend admin states.
  void handle(const AdminRequest& req, AdminReply& out);

  // The /status document and the /readyz reason (exposed for tests).
  std::string statusJson();
  std::string readinessReason() const;

 private:
  friend class AdminConnection;

  // False (with `out` filled: 401) when the request lacks the right token.
  bool authorize(const AdminRequest& req, AdminReply& out);
  // False (with `out` filled: 403) for a POST a browser sent on behalf of
  // another site (CSRF), or, with no token set, one addressed to a host name
  // other than an IP literal or localhost (DNS rebinding).
  bool sameSite(const AdminRequest& req, AdminReply& out);
  void control(const AdminRequest& req, std::string_view pool, std::string_view backend, std::string_view action,
               AdminReply& out);

  Server& server_;
  Listener listener_;
  IntrusiveList<AdminConnection> conns_;  // live connections (they close themselves)
};

}  // namespace ballast
