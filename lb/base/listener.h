// One listening socket. Accepting is driven by the owner, which may leave a
// connection pending (libuv then stops polling the socket) to pause
// accepting at max_connections.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <string>

namespace ballast {

// A listening TCP socket with SO_REUSEADDR and SO_REUSEPORT, bound to
// `addr` and listening with `backlog`. Returns the descriptor (close-on-exec)
// or a negative libuv error.
int openReusePortSocket(const sockaddr* addr, int backlog);

class Listener {
 public:
  using OnPending = std::function<void(Listener&)>;
  // An accept failed (`status`, a libuv error). Without a handler it is
  // logged as an accept_error event.
  using OnError = std::function<void(Listener&, int status)>;

  // `text` is the address as the operator wrote it (logs, hand-over keys);
  // `kind` names the listener in logs ("proxy", "admin").
  Listener(uv_loop_t* loop, const sockaddr_storage& addr, std::string text, std::string kind, OnPending on_pending);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds and listens. Returns 0 or a libuv error; on success boundAddress()
  // is the real address (port 0 resolved).
  int bind();
  // Workers (lb/server/supervisor.h): binds a socket of its own with
  // SO_REUSEPORT, so every worker listening on the address gets a share of
  // its connections from the kernel. 0 or a libuv error.
  int bindReusePort();
  // Hot upgrade: takes over an inherited listening socket (no bind). With
  // `listen_now` false, accepting starts only with startListening() (the new
  // process waits until it is ready; the old one keeps accepting meanwhile).
  int adopt(int fd, bool listen_now);
  int startListening();
  // The socket's descriptor (to hand to a new process), or -1.
  int fd() const;
  const std::string& boundAddress() const { return bound_; }
  const std::string& kind() const { return kind_; }
  const std::string& text() const { return text_; }
  const sockaddr* sockAddr() const { return reinterpret_cast<const sockaddr*>(&addr_); }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void setErrorHandler(OnError on_error) { on_error_ = std::move(on_error); }

  // Connections are waiting but were not accepted (paused).
  bool paused() const { return paused_; }
  void setPaused(bool p) { paused_ = p; }

  // Idempotent. Pending connections are dropped by the kernel when closed.
  void close();
  bool closed() const { return closing_; }
  // The close callback ran: the object may be destroyed.
  bool closeDone() const { return close_done_; }

 private:
  static void onConnection(uv_stream_t* s, int status);
  static void onClose(uv_handle_t* h);

  uv_tcp_t tcp_;
  sockaddr_storage addr_;
  std::string text_;
  std::string kind_;
  std::string bound_;
  OnPending on_pending_;
  OnError on_error_;
  bool paused_ = false;
  bool closing_ = false;
  bool close_done_ = false;
};

}  // namespace ballast
