#include "lb/upstream/upstream_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "lb/base/buffer_pool.h"
#include "lb/base/handle.h"
#include "lb/http/parser.h"
#include "lb/stats/local_resources.h"
#include "lb/tls/tls_transport.h"
#include "lb/upstream/backend.h"

namespace ballast {

namespace {

// Upstream read buffers (lb/base/buffer_pool.h).
thread_local BufferPool read_buffers;

}  // namespace

void UpstreamEnv::closeAll() {
  live.forEach([](UpstreamConnection* c) { c->close(); });
}

UpstreamConnection::UpstreamConnection(UpstreamEnv& env, std::shared_ptr<Backend> backend,
                                       std::shared_ptr<tls::ClientContext> tls)
    : env_(env), backend_(std::move(backend)), tls_ctx_(tls.get()), buf_(read_buffers.get(kBufSize)) {
  if (tls) {
    transport_ = std::make_unique<tls::TlsTransport>(env_.loop, static_cast<TransportUser&>(*this), std::move(tls),
                                                     backend_->address());
  } else {
    transport_ = std::make_unique<TcpTransport>(env_.loop, static_cast<TransportUser&>(*this));
  }
  timer_.init(env_.loop, this, &UpstreamConnection::onTimer);
  connect_req_.data = this;
  headers_.setBuffer(buf_.get(), buf_.get() + kBufSize);
  resetParser();
  env_.live.push(this);
}

UpstreamConnection::~UpstreamConnection() {
  read_buffers.put(std::move(buf_), kBufSize);
  env_.live.erase(this);
}

void UpstreamConnection::onHandlesClosed(UpstreamConnection* self) { delete self; }

UpstreamConnection* UpstreamConnection::connect(UpstreamEnv& env, std::shared_ptr<Backend> backend,
                                                const config::Timeouts& timeouts, UpstreamHandler* handler,
                                                std::shared_ptr<tls::ClientContext> tls) {
  auto* c = new UpstreamConnection(env, std::move(backend), std::move(tls));
  c->handler_ = handler;
  c->timeouts_ = &timeouts;
  c->setCountedActive(true);
  c->state_ = State::Connecting;
  uv_tcp_nodelay(c->transport_->tcp(), 1);
  int err = uv_tcp_connect(&c->connect_req_, c->transport_->tcp(), c->backend_->sockAddr(),
                           &UpstreamConnection::onConnect);
  if (err < 0) {
    // The handler expects a callback, but calling it from inside connect()
    // would re-enter the request: a zero timer reports it on the next turn.
    c->deferred_error_ = err;
    c->timer_mode_ = TimerMode::Connect;
    c->timer_.start(0);
    return c;
  }
  c->updateTimer(false);
  return c;
}

void UpstreamConnection::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConnection*>(req->data);
  if (status == UV_ECANCELED || self->state_ == State::Closing) return;
  if (status < 0) {
    self->failConnect(status);
    return;
  }
  // TLS: the handshake first (still Connecting, under the connect timer).
  const int r = self->transport_->connected();
  if (r < 0) {
    self->failConnect(r);
  } else if (r == 0) {
    self->onReady();
  }
}

void UpstreamConnection::onTransportHandshake(int status) {
  if (state_ != State::Connecting) return;
  if (status < 0) {
    fail(UpstreamError::ConnectFailed, status);
    return;
  }
  onReady();
}

void UpstreamConnection::onReady() {
  state_ = State::Active;
  updateTimer(false);
  startReading();
  handler_->onUpstreamConnected(*this);
}

void UpstreamConnection::setCountedActive(bool v) {
#ifdef BALLAST_NO_METRICS
  counted_active_ = v;
  return;
#endif
  if (v == counted_active_) return;
  counted_active_ = v;
  if (v) {
    ++backend_->stats().connections_active;
  } else {
    --backend_->stats().connections_active;
  }
}

void UpstreamConnection::attach(UpstreamHandler* handler, const config::Timeouts& timeouts) {
  handler_ = handler;
  timeouts_ = &timeouts;
  setCountedActive(true);
  state_ = State::Active;
  reused_ = true;
  if (!buf_) {
    buf_ = read_buffers.get(kBufSize);
    headers_.setBuffer(buf_.get(), buf_.get() + kBufSize);
  }
  resetParser();
  updateTimer(false);
  // Still reading (idle watch); nothing else to do.
}

bool UpstreamConnection::idleInputPending() {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(transport_->tcp()), &fd) != 0) return true;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;  // stale bytes, or EOF
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void UpstreamConnection::resetParser() {
  llhttp_init(&parser_, HTTP_RESPONSE, parserSettings<UpstreamConnection>());
  parser_.data = this;
  headers_.reset();
  reason_ = {};
  head_done_ = false;
  complete_ = false;
  reusable_ = true;
  upgraded_ = false;
  shutdown_sent_ = false;
  tunnel_eof_ = false;
  expect_response_ = false;
  paused_ = false;
  interim_ = 0;
  response_bytes_ = 0;
  end_ = 0;
}

void UpstreamConnection::release() {
  if (state_ != State::Active) return;
  idle_timeout_ms_ = timeouts_ ? static_cast<uint64_t>(timeouts_->backend_idle.count()) : 0;
  handler_ = nullptr;
  timeouts_ = nullptr;  // the request's config may go away now
  setCountedActive(false);
  bool ok = complete_ && reusable_ && keepAlive() && !transport_->writePending() && backend_->available() &&
            !backend_->retired() && env_.keep_idle && idle_timeout_ms_ > 0;
  if (!ok || !backend_->idle().release(this)) {
    close();
    return;
  }
  state_ = State::Idle;
  paused_ = false;
  end_ = 0;
  // An idle connection holds no read buffer: what it can still read (the
  // backend closing, or bytes nobody asked for) only closes it.
  read_buffers.put(std::move(buf_), kBufSize);
  headers_.setBuffer(nullptr, nullptr);
  startReading();
  updateTimer(false);
}

void UpstreamConnection::close() {
  if (state_ == State::Closing) return;
  if (state_ == State::Idle) backend_->idle().remove(this);
  setCountedActive(false);
  state_ = State::Closing;
  handler_ = nullptr;
  timeouts_ = nullptr;
  timer_mode_ = TimerMode::None;
  timer_.stop();
  stopReading();
  // A pending connect or write request is cancelled (UV_ECANCELED) before
  // the close callbacks run; both callbacks check the state first.
  ++pending_closes_;  // the transport's, counted down in onTransportClosed
  transport_->close();
  closeHandles(this, {timer_.handle()});
}

void UpstreamConnection::onTransportClosed() {
  if (--pending_closes_ == 0) onHandlesClosed(this);
}

void UpstreamConnection::shutdownWrite() {
  if (state_ != State::Tunnel || shutdown_sent_) return;
  shutdown_sent_ = true;
  // The FIN goes after the pending writes (TLS: close_notify first).
  int r = transport_->shutdown();
  if (r != 0) fail(UpstreamError::WriteFailed, r);
}

void UpstreamConnection::onTransportShutdown(int status) {
  UpstreamConnection* self = this;
  if (status == UV_ECANCELED || self->state_ == State::Closing) return;
  if (status < 0) self->fail(UpstreamError::WriteFailed, status);
}

void UpstreamConnection::abortTunnel() {
  if (state_ != State::Tunnel) return;
  UpstreamHandler* h = handler_;
  close();
  if (h) h->onUpstreamTunnelAborted();
}

void UpstreamConnection::failConnect(int uv_status) {
  if (isLocalResourceError(uv_status)) {
    // Out of descriptors or ports: ours, not the backend's.
    const std::string what = "connect to " + backend_->name();
    noteLocalResourceError(ResourceSite::UpstreamConnect, uv_status, uv_now(env_.loop), what.c_str());
    fail(UpstreamError::LocalResources, uv_status);
    return;
  }
  fail(UpstreamError::ConnectFailed, uv_status);
}

void UpstreamConnection::fail(UpstreamError err, int uv_status) {
  UpstreamHandler* h = handler_;
  close();
  if (h) h->onUpstreamError(err, uv_status);
}

bool UpstreamConnection::write(WriteBatch& batch) {
  int r = transport_->write(batch.bufs(), batch.count());
  if (r < 0) {
    close();
    return false;
  }
  if (r == 1) updateTimer(false);  // now waiting on the backend to read
  return true;
}

void UpstreamConnection::onTransportWriteDone(int status) {
  UpstreamConnection* self = this;
  if (self->state_ == State::Closing) return;
  if (status < 0) {
    self->fail(UpstreamError::WriteFailed, status);
    return;
  }
  self->updateTimer(true);
  if (self->handler_) self->handler_->onUpstreamWritten();
}

void UpstreamConnection::expectResponse() {
  if (state_ != State::Active || expect_response_) return;
  expect_response_ = true;
  updateTimer(true);
}

void UpstreamConnection::updateTimer(bool progress) {
  TimerMode want = TimerMode::None;
  uint64_t ms = 0;
  switch (state_) {
    case State::Connecting:
      want = TimerMode::Connect;
      ms = static_cast<uint64_t>(timeouts_->connect.count());
      break;
    case State::Active:
      // Waiting on the backend: it is not reading our request, or it owes
      // us response bytes and we are reading. Paused by a slow client, or
      // still receiving the request body from the client: not its fault.
      if (transport_->writePending() || (expect_response_ && !complete_ && !paused_)) {
        want = TimerMode::Response;
        ms = static_cast<uint64_t>(timeouts_->backend_response.count());
      }
      break;
    case State::Idle:
      want = TimerMode::Idle;
      ms = idle_timeout_ms_;
      break;
    case State::Tunnel:  // the client connection's tunnel timer covers both ways
    case State::Closing:
      break;
  }
  if (want == TimerMode::None) {
    if (timer_mode_ != TimerMode::None) timer_.stop();
    timer_mode_ = TimerMode::None;
    return;
  }
  if (want == timer_mode_ && !progress) return;  // keep the running deadline
  timer_mode_ = want;
  timer_.start(ms);
}

void UpstreamConnection::onTimer(uv_timer_t* t) {
  auto* self = static_cast<UpstreamConnection*>(t->data);
  TimerMode mode = self->timer_mode_;
  self->timer_mode_ = TimerMode::None;
  switch (mode) {
    case TimerMode::Connect:
      // Either a real connect timeout or the deferred report of a synchronous
      // uv_tcp_connect failure (see connect()).
      if (self->deferred_error_ != 0) {
        self->failConnect(self->deferred_error_);
      } else {
        self->fail(UpstreamError::ConnectTimeout, UV_ETIMEDOUT);
      }
      break;
    case TimerMode::Response:
      self->fail(UpstreamError::ResponseTimeout, UV_ETIMEDOUT);
      break;
    case TimerMode::Idle:
      self->close();
      break;
    case TimerMode::None:
      break;
  }
}

void UpstreamConnection::startReading() {
  if (reading_ || state_ == State::Closing) return;
  if (transport_->readStart() == 0) {
    reading_ = true;
  }
}

void UpstreamConnection::stopReading() {
  if (!reading_) return;
  transport_->readStop();
  reading_ = false;
}

void UpstreamConnection::pauseReading() {
  if (state_ != State::Active && state_ != State::Tunnel) return;
  paused_ = true;
  stopReading();
  updateTimer(false);
}

void UpstreamConnection::resumeReading() {
  if (!paused_ || (state_ != State::Active && state_ != State::Tunnel)) return;
  paused_ = false;
  // The client has consumed everything queued from buf_; body bytes need not
  // be kept (a head in progress is never paused on).
  if (head_done_) end_ = 0;
  if (state_ == State::Tunnel ? !tunnel_eof_ : !complete_) startReading();
  updateTimer(true);
}

uv_buf_t UpstreamConnection::onTransportAlloc() {
  if (!buf_) {
    // Idle: the read only tells us the connection is done (see release()).
    thread_local char idle_scratch[4096];
    return uv_buf_init(idle_scratch, sizeof idle_scratch);
  }
  return uv_buf_init(buf_.get() + end_, static_cast<unsigned>(kBufSize - end_));
}

void UpstreamConnection::onTransportRead(ssize_t nread) {
  UpstreamConnection* self = this;
  if (nread == 0 || self->state_ == State::Closing) return;
  if (self->state_ == State::Idle || !buf_) {
    // The backend closed an idle connection, or sent bytes nobody asked for.
    self->close();
    return;
  }
  // The bytes are where onTransportAlloc put them.
  const uv_buf_t read_buf = uv_buf_init(buf_.get() + end_, static_cast<unsigned>(nread > 0 ? nread : 0));
  const uv_buf_t* buf = &read_buf;
  if (self->state_ == State::Tunnel) {
    if (nread == UV_EOF) {
      self->stopReading();
      self->tunnel_eof_ = true;
      self->handler_->onUpstreamTunnelEof();
    } else if (nread < 0) {
      self->fail(UpstreamError::Reset, static_cast<int>(nread));
    } else {
      self->handler_->onUpstreamTunnelData(buf->base, static_cast<size_t>(nread));
      if (self->state_ == State::Tunnel && !self->paused_) self->end_ = 0;
    }
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF && self->head_done_ && !self->complete_) {
      // Response delimited by close, or truncated: llhttp decides.
      llhttp_errno_t e = llhttp_finish(&self->parser_);
      self->reusable_ = false;
      if ((e == HPE_OK || e == HPE_PAUSED) && self->complete_) {
        self->updateTimer(false);
        if (self->handler_) self->handler_->onUpstreamReadDone();
        return;
      }
    }
    if (self->complete_) {
      // Closed after a complete response: fine, just not reusable.
      self->reusable_ = false;
      self->stopReading();
      return;
    }
    self->fail(UpstreamError::Reset, static_cast<int>(nread));
    return;
  }
  if (self->complete_) {
    // Bytes after a complete response: protocol violation; never reuse.
    self->reusable_ = false;
    return;
  }
  self->response_bytes_ += static_cast<uint64_t>(nread);
  // parse() restarts the response timer (progress), or stops it when the
  // response is complete: one timer operation per read.
  self->parse(buf->base, static_cast<size_t>(nread));
}

void UpstreamConnection::parse(const char* data, size_t len) {
  // Bytes of the response head in progress stay contiguous from buf_[0]
  // (header spans point into them). The parser pauses at the end of every
  // message, so an interim (1xx) response is handled on its own and its
  // bytes are dropped before the next head: any number of them fits.
  const char* at = data;
  size_t left = len;
  for (;;) {
    llhttp_errno_t e = llhttp_execute(&parser_, at, left);
    if (state_ == State::Closing) return;
    if (e == HPE_OK) break;
    if (e != HPE_PAUSED && !(e == HPE_PAUSED_UPGRADE && upgraded_)) {
      fail(UpstreamError::InvalidResponse, 0);
      return;
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    llhttp_resume(&parser_);
    if (complete_ && upgraded_) {
      // A 101: what follows it is the new protocol's, in order.
      startTunnel(pos, static_cast<size_t>(at + left - pos));
      return;
    }
    if (complete_) {
      // The final response ended here; anything after it is unexpected: the
      // connection will not be reused, and those bytes are never forwarded.
      if (pos != at + left) reusable_ = false;
      break;
    }
    // An interim response ended at `pos`.
    if (++interim_ > kMaxInterimResponses) {
      fail(UpstreamError::InterimFlood, 0);
      return;
    }
    // Keep only what follows it, at the front of the buffer (what the
    // handler queued for it, a 100 Continue, is a copy: flushed below).
    const size_t rest = static_cast<size_t>(at + left - pos);
    std::memmove(buf_.get(), pos, rest);
    at = buf_.get();
    left = rest;
    if (rest == 0) break;
  }
  end_ = static_cast<size_t>(at + left - buf_.get());
  // A head that fills the buffer is refused.
  if (!head_done_ && end_ >= kBufSize) {
    fail(UpstreamError::InvalidResponse, UV_E2BIG);
    return;
  }
  updateTimer(!complete_);
  // Flush what the callbacks queued.
  if (handler_) handler_->onUpstreamReadDone();
  // The handler may have closed, paused or released us. If still active and
  // not paused, the client took the bytes synchronously: reuse buf_.
  if (state_ == State::Active && !paused_ && head_done_) end_ = 0;
}

void UpstreamConnection::startTunnel(const char* rest, size_t len) {
  state_ = State::Tunnel;
  updateTimer(false);
  end_ = static_cast<size_t>(rest + len - buf_.get());  // keep those bytes until the client took them
  if (len > 0) handler_->onUpstreamTunnelData(rest, len);
  if (state_ != State::Tunnel) return;
  handler_->onUpstreamReadDone();
  if (state_ == State::Tunnel && !paused_) end_ = 0;
}

// ---- llhttp callbacks (compute only; never close) ----

int UpstreamConnection::onMessageBegin(llhttp_t* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->headers_.reset();
  self->reason_ = {};
  return 0;
}

int UpstreamConnection::onStatus(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  if (!self->reason_.empty() && self->reason_.data() + self->reason_.size() == at) {
    self->reason_ = std::string_view(self->reason_.data(), self->reason_.size() + len);
  } else {
    self->reason_ = std::string_view(at, len);
  }
  return 0;
}

int UpstreamConnection::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  static_cast<UpstreamConnection*>(p->data)->headers_.onField(at, len);
  return 0;
}

int UpstreamConnection::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  static_cast<UpstreamConnection*>(p->data)->headers_.onValue(at, len);
  return 0;
}

int UpstreamConnection::onHeadersComplete(llhttp_t* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->headers_.finish();
  self->hop_.scan(self->headers_.headers());
  if (!self->handler_) return -1;
  const int status = p->status_code;
  // RFC 9112 6.3: responses to HEAD, and every 1xx, 204 and 304, end at
  // their head whatever framing headers they carry (1 = no body).
  // A status outside 100-599 is not HTTP (RFC 9110 15): never passed on
  // (found by the response fuzz target).
  if (status < 100 || status > 599) return -1;
  if (status == 101) {
    // Switching Protocols: only to a request that offered an upgrade, and
    // naming the protocol (RFC 9110 15.2.2). The message ends at its head.
    std::string_view protocol;
    if (!self->handler_->upgradeRequested() || !self->headers_.find("Upgrade", &protocol) || protocol.empty()) {
      return -1;
    }
    self->head_done_ = true;
    self->upgraded_ = true;
    self->reusable_ = false;
    self->handler_->onUpstreamHead(*self);
    return 1;
  }
  if (status >= 100 && status < 200) {
    self->handler_->onUpstreamInterim(*self);
    return 1;
  }
  self->head_done_ = true;
  const bool head_request = self->handler_->onUpstreamHead(*self);
  return head_request || status == 204 || status == 304 ? 1 : 0;
}

int UpstreamConnection::onBody(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  if (self->handler_) self->handler_->onUpstreamBody(at, len);
  return 0;
}

int UpstreamConnection::onMessageComplete(llhttp_t* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  if (self->head_done_) {
    self->complete_ = true;
    if (self->handler_) self->handler_->onUpstreamComplete();
  }
  // Pause after every message, interim ones too (see parse()).
  return HPE_PAUSED;
}

}  // namespace ballast
