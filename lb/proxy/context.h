// What the proxy layer sees of its surroundings: the loop, the deferred
// queue, the current config snapshot, the upstream environment, request ids,
// the live client connections and whether the process is draining. The
// server owns one and keeps it current (reload, drain); a loop test builds
// one on a bare loop. Nothing in lb/proxy knows the server.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "lb/base/deferred.h"
#include "lb/base/intrusive_list.h"
#include "lb/proxy/request_id.h"
#include "lb/proxy/runtime.h"
#include "lb/upstream/upstream_env.h"

namespace ballast {

class DownstreamConnection;

class ProxyContext {
 public:
  explicit ProxyContext(uv_loop_t* loop) : loop_(loop), deferred_(loop) { upstream_.loop = loop; }
  ProxyContext(const ProxyContext&) = delete;
  ProxyContext& operator=(const ProxyContext&) = delete;

  uv_loop_t* loop() const { return loop_; }
  DeferredQueue& deferred() { return deferred_; }
  UpstreamEnv& upstream() { return upstream_; }
  RequestIdGenerator& requestIds() { return ids_; }

  // The config new requests start with.
  const std::shared_ptr<Runtime>& runtime() const { return runtime_; }
  void setRuntime(std::shared_ptr<Runtime> rt) { runtime_ = std::move(rt); }

  // Draining: every response closes its connection, idle upstream
  // connections are not kept.
  bool draining() const { return draining_; }
  void setDraining() {
    draining_ = true;
    upstream_.keep_idle = false;
  }

  // Live client connections (they link and unlink themselves, the closing
  // ones until they are deleted).
  IntrusiveList<DownstreamConnection>& clients() { return clients_; }
  // Client connections not closing: what limits.max_connections counts (a
  // connection closed in this loop turn no longer takes a slot).
  uint32_t openClients() const { return open_clients_; }
  void clientConnectionOpened() { ++open_clients_; }
  void clientConnectionClosing() { --open_clients_; }
  // Connections from one source address (limits.max_connections_per_client):
  // opened returns the count including the new one.
  uint32_t clientOpened(const std::string& ip) { return ++per_client_[ip]; }
  void clientClosed(const std::string& ip) {
    auto it = per_client_.find(ip);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  }
  // Called after a client connection is gone (from its destructor, i.e. its
  // last close callback): the owner resumes paused listeners or finishes a
  // drain. Must not delete connections synchronously.
  std::function<void()> on_client_closed;

 private:
  uv_loop_t* loop_;
  DeferredQueue deferred_;
  UpstreamEnv upstream_;
  RequestIdGenerator ids_;
  std::shared_ptr<Runtime> runtime_;
  bool draining_ = false;
  IntrusiveList<DownstreamConnection> clients_;
  uint32_t open_clients_ = 0;
  std::unordered_map<std::string, uint32_t> per_client_;
};

}  // namespace ballast
