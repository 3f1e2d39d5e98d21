#include "lb/tls/tls_transport.h"

#include <algorithm>
#include <cstring>

#include "lb/tls/tls_metrics.h"

namespace ballast::tls {

namespace {

// Ciphertext lands here and is fed to the session within the same read
// callback: one buffer per thread serves every TLS connection.
constexpr size_t kReadBuffer = 64 * 1024;
char* readBuffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kReadBuffer]);
  return buf.get();
}

// Plaintext is encrypted in pieces of at most one TLS record.
constexpr size_t kRecord = 16 * 1024;

}  // namespace

TlsTransport::TlsTransport(uv_loop_t* loop, TransportUser& user, std::shared_ptr<ServerContext> ctx,
                           std::string listener)
    : Transport(loop, user),
      server_ctx_(std::move(ctx)),
      listener_(std::move(listener)),
      session_(server_ctx_->newSsl()) {
  init(loop);
}

TlsTransport::TlsTransport(uv_loop_t* loop, TransportUser& user, std::shared_ptr<ClientContext> ctx,
                           const config::Address& backend)
    : Transport(loop, user), client_ctx_(std::move(ctx)), session_(client_ctx_->newSsl(backend)) {
  client_ = true;
  init(loop);
}

void TlsTransport::init(uv_loop_t* loop) {
  uv_timer_init(loop, &deliver_);
  deliver_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
}

int TlsTransport::connected() {
  if (closing_) return UV_ECANCELED;
  first_byte_ms_ = uv_now(tcp_.loop);
  session_.handshake();  // the client hello
  int err = flush();
  if (err == 0 && !socket_reading_) {
    err = uv_read_start(stream(), &TlsTransport::onAlloc, &TlsTransport::onRead);
    socket_reading_ = err == 0;
  }
  return err < 0 ? err : 1;
}

TlsTransport::~TlsTransport() = default;

void TlsTransport::recordHandshake(HandshakeResult failed_as) {
  if (client_ || handshake_recorded_ || first_byte_ms_ == 0) return;  // nothing was ever sent: no handshake to count
  handshake_recorded_ = true;
  auto& all = tlsListenerStats();
  auto it = all.find(listener_);
  if (it == all.end()) return;  // the listener was removed by a reload
  const double seconds = static_cast<double>(uv_now(tcp_.loop) - first_byte_ms_) / 1000.0;
  tls::recordHandshake(it->second, session_, seconds, failed_as);
}

int TlsTransport::readStart() {
  if (closing_) return UV_EINVAL;
  user_reading_ = true;
  if (!socket_reading_) {
    const int err = uv_read_start(stream(), &TlsTransport::onAlloc, &TlsTransport::onRead);
    if (err != 0) return err;
    socket_reading_ = true;
  }
  // Plaintext (or ciphertext) left inside when reading stopped: no socket
  // event will bring it, so deliver it on the next loop turn.
  if (session_.handshakeDone() && (SSL_has_pending(session_.ssl()) == 1 || session_.hasPendingInput())) {
    uv_timer_start(&deliver_, &TlsTransport::onDeliver, 0, 0);
  }
  return 0;
}

void TlsTransport::readStop() {
  user_reading_ = false;
  uv_timer_stop(&deliver_);
  // A client's handshake reads whatever its owner wants.
  if (socket_reading_ && (session_.handshakeDone() || !client_)) {
    uv_read_stop(stream());
    socket_reading_ = false;
  }
}

void TlsTransport::onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(readBuffer(), kReadBuffer); }

void TlsTransport::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<TlsTransport*>(s->data);
  if (nread == 0 || self->closing_) return;
  if (nread < 0) {
    if (nread != UV_EOF) {
      // A reset: nothing more can be read or decrypted.
      self->recordHandshake(HandshakeResult::Closed);
      if (self->client_ && !self->session_.handshakeDone()) {
        self->user_.onTransportHandshake(static_cast<int>(nread));
      } else {
        self->user_.onTransportRead(nread);
      }
      return;
    }
    self->eof_ = true;
    self->session_.feedEof();
  } else {
    if (self->first_byte_ms_ == 0) self->first_byte_ms_ = uv_now(s->loop);
    self->session_.feed(buf->base, static_cast<size_t>(nread));
  }
  self->process();
}

void TlsTransport::onDeliver(uv_timer_t* t) {
  auto* self = static_cast<TlsTransport*>(t->data);
  if (!self->closing_) self->process();
}

void TlsTransport::process() {
  if (!session_.handshakeDone()) {
    const TlsSession::State st = session_.handshake();
    const bool write_failed = flush() < 0;
    if (st == TlsSession::State::Handshaking && !write_failed) return;
    if (st != TlsSession::State::Open || write_failed) {
      // The alert (if any) is on its way; the connection closes.
      recordHandshake(eof_ || write_failed ? HandshakeResult::Closed : HandshakeResult::Failure);
      const int err = write_failed ? UV_EPIPE : eof_ ? UV_EOF : UV_EPROTO;
      if (client_) {
        user_.onTransportHandshake(err);
      } else {
        user_.onTransportRead(err);
      }
      return;
    }
    recordHandshake(HandshakeResult::Success);  // done: counted as success or resumed
    if (client_) {
      // The owner reads when it wants to (a response, an idle watch).
      if (!user_reading_ && socket_reading_) {
        uv_read_stop(stream());
        socket_reading_ = false;
      }
      user_.onTransportHandshake(0);
      if (closing_) return;
    }
  }
  deliver();
}

void TlsTransport::deliver() {
  while (user_reading_ && !closing_) {
    uv_buf_t b = user_.onTransportAlloc();
    if (b.len == 0) return;
    const ssize_t n = session_.read(b.base, b.len);
    if (flush() < 0) {
      user_.onTransportRead(UV_EPIPE);
      return;
    }
    if (n > 0) {
      // The user may stop reading or close in here: the loop checks.
      user_.onTransportRead(n);
      continue;
    }
    if (n == 0) return;
    user_.onTransportRead(session_.state() == TlsSession::State::Closed ? UV_EOF : UV_EPROTO);
    return;
  }
}

int TlsTransport::write(uv_buf_t* bufs, unsigned n) {
  if (closing_) return UV_ECANCELED;
  if (session_.state() != TlsSession::State::Open) return UV_ENOTCONN;
  // Small pieces (a head's framing, chunk sizes) are gathered so that each
  // record carries up to 16 KiB: one seal and 22 bytes of overhead each.
  thread_local std::string gather;
  gather.clear();
  for (unsigned i = 0; i < n; ++i) {
    const char* p = bufs[i].base;
    size_t len = bufs[i].len;
    while (len > 0) {
      const size_t take = std::min(len, kRecord - gather.size());
      if (take == kRecord) {
        // A whole record straight from the caller's buffer.
        if (!session_.write(p, take)) return UV_EPROTO;
      } else {
        gather.append(p, take);
        if (gather.size() == kRecord) {
          if (!session_.write(gather.data(), gather.size())) return UV_EPROTO;
          gather.clear();
        }
      }
      p += take;
      len -= take;
    }
  }
  if (!gather.empty() && !session_.write(gather.data(), gather.size())) return UV_EPROTO;
  if (gather.capacity() > 4 * kRecord) std::string().swap(gather);
  const int err = flush();
  if (err < 0) return err;
  if (!write_inflight_) return 0;
  user_write_pending_ = true;
  return 1;
}

int TlsTransport::flush() {
  if (!session_.hasOutput()) return 0;
  if (write_inflight_) {
    queued_ += session_.takeOutput();
    return 0;
  }
  std::string out = queued_.empty() ? session_.takeOutput() : std::move(queued_) + session_.takeOutput();
  queued_.clear();
  uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
  int r = uv_try_write(stream(), &b, 1);
  if (r == UV_EAGAIN || r == UV_ENOSYS) r = 0;
  if (r < 0) return r;
  if (static_cast<size_t>(r) == out.size()) return 0;
  inflight_ = std::move(out);
  b = uv_buf_init(inflight_.data() + r, static_cast<unsigned>(inflight_.size() - static_cast<size_t>(r)));
  const int err = uv_write(&write_req_, stream(), &b, 1, &TlsTransport::onWrite);
  if (err < 0) return err;
  write_inflight_ = true;
  return 0;
}

void TlsTransport::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<TlsTransport*>(req->data);
  self->write_inflight_ = false;
  std::string().swap(self->inflight_);
  if (status == 0 && !self->closing_ && !self->queued_.empty()) status = self->flush();
  if (self->write_inflight_) return;  // the queued bytes are on their way
  if (self->user_write_pending_) {
    self->user_write_pending_ = false;
    self->user_.onTransportWriteDone(status);
  }
  if (!self->closing_) self->maybeShutdown();
}

int TlsTransport::shutdown() {
  if (closing_) return UV_ECANCELED;
  session_.shutdown();  // close_notify
  shutdown_wanted_ = true;
  const int err = flush();
  if (err < 0) return err;
  maybeShutdown();
  return 0;
}

void TlsTransport::maybeShutdown() {
  if (!shutdown_wanted_ || shutdown_started_ || write_inflight_) return;
  shutdown_started_ = true;
  const int err = uv_shutdown(&shutdown_req_, stream(), &TlsTransport::onShutdown);
  if (err != 0) user_.onTransportShutdown(err);
}

void TlsTransport::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<TlsTransport*>(req->data);
  self->user_.onTransportShutdown(status);
}

void TlsTransport::close() {
  if (closing_) return;
  closing_ = true;
  // A handshake we end (its timer, a drain) before it finished.
  recordHandshake(HandshakeResult::Timeout);
  uv_timer_stop(&deliver_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &TlsTransport::onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&deliver_), &TlsTransport::onClose);
}

void TlsTransport::onClose(uv_handle_t* h) {
  auto* self = static_cast<TlsTransport*>(h->data);
  if (--self->open_handles_ == 0) self->user_.onTransportClosed();
}

}  // namespace ballast::tls
