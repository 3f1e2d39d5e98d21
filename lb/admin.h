// The admin listener. For now it answers GET /healthz (liveness) and 404 for
// everything else; /metrics, /status, /readyz and runtime control come with
// the observability issue on this same listener and loop.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "lb/listener.h"

namespace ballast {

class Server;
class AdminConnection;

class AdminServer {
 public:
  AdminServer(Server& server, const config::Address& addr);
  ~AdminServer();
  int bind() { return listener_.bind(); }
  const std::string& boundAddress() const { return listener_.boundAddress(); }
  // Stops accepting and closes every admin connection.
  void close();

  // Handles one request; fills status and body.
  void handle(std::string_view method, std::string_view path, int* status, std::string* body,
              std::string* content_type);

 private:
  friend class AdminConnection;
  Server& server_;
  Listener listener_;
  AdminConnection* conns_ = nullptr;  // intrusive list of live connections
};

}  // namespace ballast
