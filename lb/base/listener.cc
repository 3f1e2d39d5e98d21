#include "lb/base/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <cassert>

#include "lb/base/address.h"
#include "lb/base/log.h"

namespace ballast {

Listener::Listener(uv_loop_t* loop, const sockaddr_storage& addr, std::string text, std::string kind,
                   OnPending on_pending)
    : addr_(addr), text_(std::move(text)), kind_(std::move(kind)), on_pending_(std::move(on_pending)) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

Listener::~Listener() {
  // The owner must have closed the handle and run the loop until onClose.
  assert(close_done_);
}

int Listener::bind() {
  int err = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(&addr_), 0);
  if (err == 0) err = uv_listen(stream(), 1024, &Listener::onConnection);
  if (err != 0) return err;
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_ = formatSockaddr(reinterpret_cast<sockaddr*>(&ss));
  return 0;
}

int Listener::bindReusePort() {
  const int fd = openReusePortSocket(reinterpret_cast<const sockaddr*>(&addr_), 1024);
  if (fd < 0) return fd;
  const int err = adopt(fd, true);
  if (err != 0) ::close(fd);
  return err;
}

int openReusePortSocket(const sockaddr* addr, int backlog) {
  const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return uv_translate_sys_error(errno);
  const int one = 1;
  const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 || ::bind(fd, addr, len) != 0 ||
      ::listen(fd, backlog) != 0) {
    const int err = uv_translate_sys_error(errno);
    ::close(fd);
    return err;
  }
  return fd;
}

int Listener::adopt(int fd, bool listen_now) {
  int err = uv_tcp_open(&tcp_, fd);
  if (err != 0) return err;
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len);
  bound_ = formatSockaddr(reinterpret_cast<sockaddr*>(&ss));
  return listen_now ? startListening() : 0;
}

int Listener::startListening() { return uv_listen(stream(), 1024, &Listener::onConnection); }

int Listener::fd() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) return -1;
  return fd;
}

void Listener::onConnection(uv_stream_t* s, int status) {
  auto* self = static_cast<Listener*>(s->data);
  if (status < 0) {
    if (self->on_error_) {
      self->on_error_(*self, status);
      return;
    }
    auto& j = log().eventLine(LogLevel::Warn, "accept_error");
    j.str("kind", self->kind_).str("address", self->bound_).str("error", uv_strerror(status));
    log().emit(LogLevel::Warn);
    return;
  }
  self->on_pending_(*self);
}

void Listener::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Listener::onClose);
}

void Listener::onClose(uv_handle_t* h) { static_cast<Listener*>(h->data)->close_done_ = true; }

}  // namespace ballast
