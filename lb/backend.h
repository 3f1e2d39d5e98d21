// One backend server of a pool: its address, weight, availability and its
// idle keep-alive connections. Shared-owned: the pool holds it, and every
// upstream connection holds it too, so a backend removed by a reload stays
// alive until its last connection is closed.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "lb/upstream_pool.h"

namespace ballast {

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend(std::string pool_name, const config::BackendConfig& cfg);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& name() const { return address_.text; }  // "host:port" as configured
  const std::string& poolName() const { return pool_name_; }
  const sockaddr* sockAddr() const { return reinterpret_cast<const sockaddr*>(&address_.addr); }
  uint32_t weight() const { return weight_; }

  // Whether the balancer may pick it. Health checking (health/) and runtime
  // control will drive this; for now every configured backend is available.
  bool available() const { return available_; }
  void setAvailable(bool v) { available_ = v; }

  UpstreamPool& idle() { return idle_; }

  // Requests currently using this backend (for least-request and metrics).
  uint32_t activeRequests() const { return active_requests_; }
  void requestStarted() { ++active_requests_; }
  void requestFinished() { --active_requests_; }

 private:
  std::string pool_name_;
  config::Address address_;
  uint32_t weight_;
  bool available_ = true;
  uint32_t active_requests_ = 0;
  UpstreamPool idle_;
};

using BackendPtr = std::shared_ptr<Backend>;

}  // namespace ballast
