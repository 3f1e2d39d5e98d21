// The admin listener, on the proxy's loop (no threads):
//   GET  /                 the status page (self-contained HTML; draws /status)
//   GET  /healthz          200 while the process runs (liveness)
//   GET  /readyz           200 when ready, else 503 with the reason
//   GET  /metrics          Prometheus text format 0.0.4
//   GET  /status           JSON: listeners, routes, pools, backends and their state
//   POST /reload           re-read the config file; 200 or 422 with every error
//   POST /pools/{pool}/backends/{address}/{drain|disable|enable}
// HEAD is accepted wherever GET is. No endpoint takes a query parameter yet:
// any parameter is refused with 400 naming it (never silently ignored).
// With admin.token set, every POST needs `Authorization: Bearer <token>`,
// and so do /status and /metrics when admin.protect_reads is true (the
// probes and the page shell stay open). A POST that a browser sends for
// another site is refused whatever the token (see admin_auth.h).
//
// One request per connection: the answer carries `Connection: close`, then
// the write side is shut down and unread input is drained for a moment
// (lingering close) so a client still sending never gets a RST instead of
// the response.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "lb/admin/admin_control.h"
#include "lb/admin/admin_request.h"
#include "lb/base/intrusive_list.h"
#include "lb/base/listener.h"

namespace ballast {

class AdminConnection;

class AdminServer {
 public:
  AdminServer(AdminControl& control, const config::Address& addr);
  // A supervisor's admin (workers: lb/server/supervisor.h): the
  // connections parse and bound each request as usual, then every request
  // goes to `forward`, which answers it through `respond` (once).
  using Respond = std::function<void(AdminReply& reply)>;
  using Forward = std::function<void(const AdminRequest& req, Respond respond)>;
  AdminServer(uv_loop_t* loop, const config::Address& addr, Forward forward);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  int bind() { return listener_.bind(); }
  int adopt(int fd) { return listener_.adopt(fd, true); }
  int fd() const { return listener_.fd(); }
  const std::string& boundAddress() const { return listener_.boundAddress(); }
  const Listener& listener() const { return listener_; }
  // The address /status names as the admin's: a worker's admin answers on a
  // loopback port of its own, but operators reach it through the
  // supervisor's (workers: see lb/server/supervisor.h). Empty: our own.
  void setAdvertisedAddress(std::string a) { advertised_ = std::move(a); }

  // A reload moved the admin elsewhere: stop accepting; connections still
  // reading a request are closed, the ones answering finish their answer.
  void retire();
  // Stops accepting and closes every connection now. Idempotent.
  void close();
  // Closed or retired, and every handle is gone: the object may be deleted.
  bool idle() const { return listener_.closeDone() && conns_.empty(); }

  // Answers one complete request through `respond`: at once for most
  // endpoints, later (on the loop) for POST /reload. Never blocks; may
  // change backend admin states or reload the config.
  void handle(const AdminRequest& req, Respond respond);

 private:
  friend class AdminConnection;
  // The synchronous endpoints; false when `out` is not filled (POST /reload).
  bool answer(const AdminRequest& req, AdminReply& out, const Respond& respond);

  AdminControl* control_ = nullptr;  // null with a Forward
  uv_loop_t* loop_;
  Forward forward_;
  Listener listener_;
  std::string advertised_;
  IntrusiveList<AdminConnection> conns_;  // live connections (they close themselves)
};

}  // namespace ballast
