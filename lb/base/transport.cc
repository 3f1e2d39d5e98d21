#include "lb/base/transport.h"

namespace ballast {

Transport::Transport(uv_loop_t* loop, TransportUser& user) : user_(user) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

TcpTransport::TcpTransport(uv_loop_t* loop, TransportUser& user)
    : Transport(loop, user), writer_(this, &TcpTransport::onWriteDone) {
  shutdown_req_.data = this;
}

int TcpTransport::readStart() { return uv_read_start(stream(), &TcpTransport::onAlloc, &TcpTransport::onRead); }

void TcpTransport::readStop() { uv_read_stop(stream()); }

void TcpTransport::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<TcpTransport*>(h->data);
  *buf = self->user_.onTransportAlloc();
}

void TcpTransport::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<TcpTransport*>(s->data);
  if (nread == 0 || self->closing_) return;
  self->user_.onTransportRead(nread);
}

void TcpTransport::onWriteDone(void* owner, int status) {
  auto* self = static_cast<TcpTransport*>(owner);
  self->user_.onTransportWriteDone(status);
}

int TcpTransport::shutdown() { return uv_shutdown(&shutdown_req_, stream(), &TcpTransport::onShutdown); }

void TcpTransport::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<TcpTransport*>(req->data);
  self->user_.onTransportShutdown(status);
}

void TcpTransport::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &TcpTransport::onClose);
}

void TcpTransport::onClose(uv_handle_t* h) { static_cast<TcpTransport*>(h->data)->user_.onTransportClosed(); }

}  // namespace ballast
