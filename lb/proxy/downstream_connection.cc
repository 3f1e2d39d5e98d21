#include "lb/proxy/downstream_connection.h"

#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <vector>

#include "lb/base/address.h"
#include "lb/base/buffer_pool.h"
#include "lb/base/handle.h"
#include "lb/http/parser.h"
#include "lb/proxy/context.h"
#include "lb/stats/stats.h"
#include "lb/tls/tls_transport.h"

namespace ballast {

namespace {

// Client read buffers (lb/base/buffer_pool.h).
thread_local BufferPool read_buffers;


}  // namespace

DownstreamConnection::DownstreamConnection(ProxyContext& ctx, std::shared_ptr<tls::ServerContext> tls,
                                           const std::string& listener_name)
    : ctx_(ctx) {
  if (tls) {
    transport_ = std::make_unique<tls::TlsTransport>(ctx_.loop(), static_cast<TransportUser&>(*this), std::move(tls),
                                                     listener_name);
  } else {
    transport_ = std::make_unique<TcpTransport>(ctx_.loop(), static_cast<TransportUser&>(*this));
  }
  timer_.init(ctx_.loop(), this, &DownstreamConnection::onTimer);
  uv_timer_init(ctx_.loop(), &request_timer_);
  request_timer_.data = this;
  llhttp_init(&parser_, HTTP_REQUEST, parserSettings<DownstreamConnection>());
  parser_.data = this;
  // The whole head must fit, plus room so a small body read is not split.
  cap_ = std::max<size_t>(16 * 1024, ctx_.runtime()->config->limits.max_header_bytes + 1024);
  ctx_.clients().push(this);
  ctx_.clientConnectionOpened();
}

DownstreamConnection::~DownstreamConnection() {
  if (buf_) read_buffers.put(std::move(buf_), cap_);
  ProxyRequest::release(std::move(request_));  // aborted by close()
  if (counted_client_) ctx_.clientClosed(client_ip_);
  ctx_.clients().erase(this);
  if (ctx_.on_client_closed) ctx_.on_client_closed();
}

DownstreamConnection* DownstreamConnection::accept(ProxyContext& ctx, uv_stream_t* listener,
                                                   std::shared_ptr<tls::ServerContext> tls,
                                                   const std::string& listener_name) {
  auto* c = new DownstreamConnection(ctx, std::move(tls), listener_name);
  if (uv_accept(listener, c->transport_->stream()) != 0) {
    c->close();
    return nullptr;
  }
  uv_tcp_nodelay(c->transport_->tcp(), 1);
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(c->transport_->tcp(), reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    formatIp(reinterpret_cast<sockaddr*>(&peer), c->client_ip_);
    c->client_addr_ = formatSockaddr(reinterpret_cast<sockaddr*>(&peer));
    const uint32_t limit = ctx.runtime()->config->limits.max_connections_per_client;
    c->counted_client_ = true;
    c->over_client_limit_ = ctx.clientOpened(c->client_ip_) > limit && limit != 0;
  }
  // The read buffer is allocated by the first read (onTransportAlloc).
  ++processStats().accepted;
  c->toIdle();
  return c;
}

void DownstreamConnection::setGauge(Gauge g) {
#ifdef BALLAST_NO_METRICS
  gauge_ = g;
  return;
#endif
  if (g == gauge_) return;
  auto& ps = processStats();
  if (gauge_ == Gauge::Idle) --ps.clients_idle;
  if (gauge_ == Gauge::Active) --ps.clients_active;
  if (g == Gauge::Idle) ++ps.clients_idle;
  if (g == Gauge::Active) ++ps.clients_active;
  gauge_ = g;
}

void DownstreamConnection::close() {
  if (phase_ == Phase::Closing) return;
  phase_ = Phase::Closing;
  ctx_.clientConnectionClosing();
  setGauge(Gauge::None);
  if (request_) request_->abort();
  timer_kind_ = TimerKind::None;
  timer_.stop();
  if (reading_) transport_->readStop();
  reading_ = false;
  // A pending write is cancelled (UV_ECANCELED) before the close callbacks.
  uv_timer_stop(&request_timer_);
  ++pending_closes_;  // the transport's, counted down in onTransportClosed
  transport_->close();
  closeHandles(this, {timer_.handle(), asHandle(&request_timer_)});
}

void DownstreamConnection::onTransportClosed() {
  if (--pending_closes_ == 0) onHandlesClosed(this);
}

void DownstreamConnection::kill() {
  if (phase_ == Phase::Closing) return;
  if (request_) request_->setTermination(Termination{'K', '-'});
  close();
}

void DownstreamConnection::onHandlesClosed(DownstreamConnection* self) {
  // Deleted on a later turn: a parse() posted earlier still runs first and
  // finds the connection closing.
  self->ctx_.deferred().post([self] { delete self; });
}

bool DownstreamConnection::inputPending() const {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(transport_->tcp()), &fd) != 0) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0;  // bytes, or an EOF the read will see
}

void DownstreamConnection::drainIdle(uint64_t grace_ms) {
  drain_grace_ms_ = grace_ms;
  if (phase_ == Phase::Idle) updateTimer(true);
}

void DownstreamConnection::toIdle() {
  phase_ = Phase::Idle;
  eof_while_waiting_ = false;
  // An idle keep-alive connection holds no read buffer (nginx and HAProxy
  // do the same) and no request: thousands of idle clients cost their
  // sockets and this object, not 16 KiB each. The next read takes both again.
  if (end_ == 0) releaseBuffer();
  setGauge(Gauge::Idle);
  updateReading();
  updateTimer(true);
}

void DownstreamConnection::updateTimer(bool progress) {
  const auto& t = ctx_.runtime()->config->timeouts;
  TimerKind want = TimerKind::None;
  uint64_t ms = 0;
  switch (phase_) {
    case Phase::Idle:
      // A new connection must send its first request within client_header; a
      // kept-alive one may idle for client_idle.
      want = TimerKind::Idle;
      ms = static_cast<uint64_t>(drain_grace_ms_ != 0 ? drain_grace_ms_
                                 : requests_ == 0    ? t.client_header.count()
                                                     : t.client_idle.count());
      break;
    case Phase::ReadingHead:
      want = TimerKind::Head;
      ms = static_cast<uint64_t>(t.client_header.count());
      // The whole head must arrive within client_header: progress does not
      // move the deadline.
      if (timer_kind_ == TimerKind::Head) return;
      break;
    case Phase::ReadingBody:
      if (reading_) {
        want = TimerKind::Body;
        ms = static_cast<uint64_t>(t.client_idle.count());
      }
      break;
    case Phase::Lingering: {
      // Per read, and never past the overall deadline.
      want = TimerKind::Linger;
      const uint64_t now = uv_now(ctx_.loop());
      const uint64_t left = linger_deadline_ > now ? linger_deadline_ - now : 0;
      ms = std::min<uint64_t>(static_cast<uint64_t>(t.lingering.count()), left);
      break;
    }
    case Phase::Tunnel:
      // Both directions: client_idle (a stalled write) does not apply.
      want = TimerKind::Tunnel;
      ms = static_cast<uint64_t>(t.tunnel.count());
      break;
    case Phase::Waiting:
    case Phase::Closing:
      break;
  }
  if (want == TimerKind::None && transport_->writePending()) {
    want = TimerKind::Write;
    ms = static_cast<uint64_t>(t.client_idle.count());
  }
  if (want == TimerKind::None) {
    if (timer_kind_ != TimerKind::None) timer_.stop();
    timer_kind_ = TimerKind::None;
    return;
  }
  if (want == timer_kind_ && !progress) return;
  timer_kind_ = want;
  timer_.start(ms);
}

void DownstreamConnection::updateReading() {
  if (phase_ == Phase::Lingering) return;  // reads (and discards) from onLingerShutdown on
  if (phase_ == Phase::Tunnel) {
    // One read at a time: the next waits until the backend took this one.
    const bool want = !tunnel_eof_ && !requestHoldsBuffer();
    if (want && !reading_) {
      reading_ = transport_->readStart() == 0;
    } else if (!want && reading_) {
      transport_->readStop();
      reading_ = false;
    }
    return;
  }
  bool want = (phase_ == Phase::Idle || phase_ == Phase::ReadingHead || phase_ == Phase::ReadingBody ||
               (phase_ == Phase::Waiting && !eof_while_waiting_)) &&
              !requestHoldsBuffer() && end_ < cap_ && local_status_ == 0 && !parse_posted_;
  if (want && !reading_) {
    reading_ = transport_->readStart() == 0;
  } else if (!want && reading_) {
    transport_->readStop();
    reading_ = false;
  } else {
    return;
  }
  // Reading started or stopped: whether we wait on the client changed. The
  // body-rate window counts only time spent waiting on the client.
  if (phase_ == Phase::ReadingBody) {
    rate_window_start_ = 0;
    updateTimer(false);
  }
}


void DownstreamConnection::releaseBuffer() {
  if (buf_) read_buffers.put(std::move(buf_), cap_);
  start_ = end_ = 0;
  ProxyRequest::release(std::move(request_));
}

ProxyRequest& DownstreamConnection::request() {
  if (request_ == nullptr) {
    request_ = ProxyRequest::acquire(*this);
    if (buf_) request_->head().headers.setBuffer(buf_.get(), buf_.get() + cap_);
  }
  return *request_;
}

uv_buf_t DownstreamConnection::onTransportAlloc() {
  if (!buf_) {
    buf_ = read_buffers.get(cap_);
    request().head().headers.setBuffer(buf_.get(), buf_.get() + cap_);
  }
  return uv_buf_init(buf_.get() + end_, static_cast<unsigned>(cap_ - end_));
}

void DownstreamConnection::onTransportRead(ssize_t nread) {
  DownstreamConnection* self = this;
  if (nread == 0 || self->phase_ == Phase::Closing) return;
  if (self->phase_ == Phase::Lingering) {
    // Discarded; EOF (or an error) is the end we waited for.
    if (nread < 0) {
      self->close();
    } else {
      self->end_ = 0;
      self->updateTimer(true);
    }
    return;
  }
  if (self->phase_ == Phase::Tunnel) {
    if (nread < 0) {
      // FIN: half-close, passed on to the backend. An error ends the tunnel.
      self->transport_->readStop();
      self->reading_ = false;
      self->tunnel_eof_ = nread == UV_EOF;
      self->request().onTunnelClientEof(nread == UV_EOF);
      return;
    }
    const char* at = self->buf_.get() + self->end_;
    self->end_ += static_cast<size_t>(nread);
    self->bytes_in_ += static_cast<uint64_t>(nread);
    BALLAST_METRIC(processStats().bytes_in += static_cast<uint64_t>(nread));
    self->request().onTunnelFromClient(at, static_cast<size_t>(nread));
    if (self->phase_ == Phase::Tunnel) self->updateReading();
    return;
  }
  if (self->phase_ == Phase::Waiting) {
    if (nread == UV_EOF) {
      // The client half-closed after its request: the answer still goes
      // out; the FIN is read again once the connection is idle.
      self->eof_while_waiting_ = true;
      self->updateReading();
      return;
    }
    if (nread > 0) {
      // The next pipelined request (or more): kept until this answer is out.
      self->end_ += static_cast<size_t>(nread);
      self->bytes_in_ += static_cast<uint64_t>(nread);
      BALLAST_METRIC(processStats().bytes_in += static_cast<uint64_t>(nread));
      self->updateReading();  // stops when buf_ is full
      return;
    }
  }
  if (nread < 0) {
    // EOF or error. Between requests this is the normal end of a keep-alive
    // connection; mid-request the client gave up: there is nobody to answer.
    self->close();
    return;
  }
  self->end_ += static_cast<size_t>(nread);
  self->bytes_in_ += static_cast<uint64_t>(nread);
  BALLAST_METRIC(processStats().bytes_in += static_cast<uint64_t>(nread));
  if (self->phase_ == Phase::ReadingBody) {
    if (!self->checkBodyRate(static_cast<size_t>(nread))) return;
    self->updateTimer(true);
  }
  self->parse();
}

void DownstreamConnection::replyAndClose(int status, std::string_view why, ErrorKind kind) {
  // The stream cannot be resynchronised after these: answer and close. A
  // HEAD refused before its head was complete still gets no body (found
  // by the request fuzz target): the parser has its method once the
  // request line reached its target ("HEAD /x ..."; not "HEAD\x02...").
  const bool head = phase_ != Phase::Idle && parser_.method == HTTP_HEAD && !request().head().url.empty();
  phase_ = Phase::Waiting;
  updateReading();
  updateTimer(false);
  request().localReplyAndClose(status, why, kind, head);
}

bool DownstreamConnection::checkBodyRate(size_t nread) {
  const auto& limits = ctx_.runtime()->config->limits;
  if (limits.min_body_rate == 0) return true;
  const uint64_t now = uv_now(ctx_.loop());
  if (rate_window_start_ == 0) {
    rate_window_start_ = now;
    rate_window_bytes_ = 0;
  }
  rate_window_bytes_ += nread;
  const uint64_t window = static_cast<uint64_t>(limits.min_body_rate_window.count());
  const uint64_t elapsed = now - rate_window_start_;
  if (elapsed < window) return true;
  const uint64_t rate = rate_window_bytes_ * 1000 / (elapsed == 0 ? 1 : elapsed);
  if (rate >= limits.min_body_rate) {
    rate_window_start_ = now;
    rate_window_bytes_ = 0;
    return true;
  }
  // A client trickling its body holds a connection and a backend request:
  // the slow-upload half of slowloris.
  request().setTermination(Termination{'c', 'R'});
  if (request().responseStarted()) {
    close();
  } else {
    replyAndClose(408, "request body arrives too slowly (under limits.min_body_rate)", ErrorKind::BodyTooSlow);
  }
  return false;
}

void DownstreamConnection::refuse(int status, ErrorKind kind, const char* why) {
  local_status_ = status;
  local_kind_ = kind;
  local_why_ = why;
}

bool DownstreamConnection::skipLeadingEmptyLines() {
  // A client may send one CRLF (or a bare LF) after a previous request's
  // body; more empty lines are not HTTP (and used to let a client fill the
  // buffer unanswered).
  while (start_ < end_) {
    const char c = buf_[start_];
    size_t line = 0;
    if (c == '\n') {
      line = 1;
    } else if (c == '\r') {
      if (start_ + 1 == end_) return true;  // wait for the LF
      if (buf_[start_ + 1] != '\n') return true;  // llhttp refuses a bare CR
      line = 2;
    } else {
      return true;
    }
    if (++empty_lines_ > 1) return false;
    start_ += line;
  }
  start_ = end_ = 0;  // nothing but the tolerated line: keep the buffer empty
  return true;
}

// Parses what is buffered, one llhttp_execute at a time, then lets the
// request act on it. Parser callbacks only record; decisions happen here.
void DownstreamConnection::parse() {
  if (phase_ == Phase::Closing || phase_ == Phase::Waiting || phase_ == Phase::Lingering || phase_ == Phase::Tunnel) {
    return;
  }
  if (phase_ == Phase::Idle && !skipLeadingEmptyLines()) {
    replyAndClose(400, "more than one empty line before the request line", ErrorKind::BadRequest);
    return;
  }
  if (start_ == end_) {
    updateReading();
    return;
  }
  const char* data = buf_.get() + start_;
  size_t len = end_ - start_;
  llhttp_errno_t e = llhttp_execute(&parser_, data, len);
  if (phase_ == Phase::Closing) return;
  if (e == HPE_OK) {
    start_ = end_;
  } else if (e == HPE_PAUSED) {
    // Paused at message complete: the rest is the next pipelined request.
    start_ = static_cast<size_t>(llhttp_get_error_pos(&parser_) - buf_.get());
    llhttp_resume(&parser_);
  } else {
    start_ = end_;
    if (local_status_ == 0) {
      if (e == HPE_INVALID_VERSION && parser_.http_major == 1 && parser_.http_minor > 1) {
        refuse(505, ErrorKind::VersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported");
      } else {
        refuse(400, ErrorKind::BadRequest, nullptr);
      }
    }
  }

  // Head incomplete and over the limit, or filling the whole buffer (the
  // buffer was sized for the limit in force when the connection opened; a
  // reload may have raised it since).
  if (phase_ == Phase::ReadingHead && local_status_ == 0 &&
      (end_ > ctx_.runtime()->config->limits.max_header_bytes || end_ == cap_)) {
    refuse(431, ErrorKind::HeadTooLarge, "request head too large");
  }

  if (local_status_ != 0) {
    const char* why = local_why_ != nullptr ? local_why_ : "malformed request";
    if (local_status_ == 400 && local_why_ == nullptr && e != HPE_OK && e != HPE_PAUSED && e != HPE_USER) {
      const char* reason = llhttp_get_error_reason(&parser_);
      if (reason != nullptr) why = reason;
    }
    replyAndClose(local_status_, why, local_kind_);
    return;
  }

  if (phase_ == Phase::ReadingHead) {
    updateReading();
    return;
  }
  request().afterParse();
  if (phase_ == Phase::Closing) return;
  if (phase_ == Phase::ReadingBody && start_ == end_ && !requestHoldsBuffer()) start_ = end_ = 0;
  updateReading();
}

void DownstreamConnection::parseLater() {
  if (parse_posted_) return;
  parse_posted_ = true;
  updateReading();
  ctx_.deferred().post([this] {
    parse_posted_ = false;
    if (phase_ == Phase::Closing) return;
    parse();
  });
}

void DownstreamConnection::requestBufferReleased() {
  if (phase_ == Phase::Closing || phase_ == Phase::Lingering) return;
  if (phase_ == Phase::Tunnel) {
    start_ = end_ = 0;
    updateReading();
    return;
  }
  if (phase_ == Phase::ReadingBody && start_ == end_ && !requestHoldsBuffer()) {
    start_ = end_ = 0;
  }
  updateReading();
}

int DownstreamConnection::write(WriteBatch& batch) {
  if (phase_ == Phase::Closing) return UV_ECANCELED;
  batch.finalize();
  int r = transport_->write(batch.bufs(), batch.count());
  if (r == 1) updateTimer(true);  // now waiting on the client to read
  return r;
}

void DownstreamConnection::onTransportWriteDone(int status) {
  DownstreamConnection* self = this;
  if (self->phase_ == Phase::Closing) return;
  self->updateTimer(false);
  if (self->request_) self->request_->onClientWriteDone(status);
}

void DownstreamConnection::requestFinished(bool close_conn) {
  if (phase_ == Phase::Closing) return;
  if (close_conn || ctx_.draining()) {
    // The client may still be sending: its request was not read to the end
    // (an error reply, a body not wanted), or more bytes are already here.
    closeAfterAnswer(phase_ != Phase::Waiting || local_status_ != 0 || start_ < end_);
    return;
  }
  // Keep-alive: move the next pipelined request's bytes (if any) to the front.
  if (start_ < end_) {
    std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
    end_ -= start_;
  } else {
    end_ = 0;
  }
  start_ = 0;
  toIdle();
  // A pipelined request is already here: parse it on a later turn, not
  // inside the write callback that finished this one.
  if (end_ > 0) parseLater();
}

void DownstreamConnection::closeAfterAnswer(bool client_may_send) {
  if (!client_may_send) {
    close();
    return;
  }
  phase_ = Phase::Lingering;
  setGauge(Gauge::None);
  if (reading_) transport_->readStop();
  reading_ = false;
  timer_kind_ = TimerKind::None;
  timer_.stop();
  // The shutdown waits for the answer's pending write, then sends FIN (TLS:
  // close_notify first).
  if (transport_->shutdown() != 0) close();
}

void DownstreamConnection::onTransportShutdown(int status) {
  if (phase_ == Phase::Tunnel) {
    onTunnelShutdown(status);
  } else {
    onLingerShutdown(status);
  }
}

void DownstreamConnection::onLingerShutdown(int status) {
  DownstreamConnection* self = this;
  if (self->phase_ == Phase::Closing) return;  // cancelled by close()
  if (status < 0) {
    self->close();
    return;
  }
  const auto& t = self->ctx_.runtime()->config->timeouts;
  self->linger_deadline_ = uv_now(self->ctx_.loop()) + static_cast<uint64_t>(t.lingering_total.count());
  self->start_ = self->end_ = 0;
  self->reading_ = self->transport_->readStart() == 0;
  if (!self->reading_) {
    self->close();
    return;
  }
  self->updateTimer(true);
}

std::string_view DownstreamConnection::enterTunnel() {
  phase_ = Phase::Tunnel;
  // The parser is done with this connection: what follows the upgrade
  // request (already read, or still to come) is the new protocol's.
  const size_t pending = end_ - start_;
  if (start_ > 0 && pending > 0) std::memmove(buf_.get(), buf_.get() + start_, pending);
  start_ = 0;
  end_ = pending;
  updateTimer(true);
  // Reading was stopped while the request waited for its response; the
  // caller sends the pending bytes before any read can come in.
  updateReading();
  return {buf_.get(), pending};
}

void DownstreamConnection::tunnelActivity() {
  if (phase_ == Phase::Tunnel) updateTimer(true);
}

void DownstreamConnection::shutdownWrite() {
  if (phase_ != Phase::Tunnel || tunnel_shutdown_) return;
  tunnel_shutdown_ = true;
  // libuv sends the FIN after the pending writes.
  if (transport_->shutdown() != 0) close();
}

void DownstreamConnection::onTunnelShutdown(int status) {
  DownstreamConnection* self = this;
  if (self->phase_ == Phase::Closing || status == UV_ECANCELED) return;
  if (status < 0) self->close();  // the client is gone: logged as a client error
}

void DownstreamConnection::startRequestTimer(RequestTimer kind, uint64_t ms) {
  if (phase_ == Phase::Closing) return;
  request_timer_kind_ = kind;
  uv_timer_start(&request_timer_, &DownstreamConnection::onRequestTimer, ms, 0);
}

void DownstreamConnection::stopRequestTimer() {
  request_timer_kind_ = RequestTimer::None;
  uv_timer_stop(&request_timer_);
}

void DownstreamConnection::onRequestTimer(uv_timer_t* t) {
  auto* self = static_cast<DownstreamConnection*>(t->data);
  const RequestTimer kind = self->request_timer_kind_;
  self->request_timer_kind_ = RequestTimer::None;
  if (self->request_ == nullptr) return;  // armed only while a request is held
  if (kind == RequestTimer::Queue) {
    self->request_->onQueueTimeout();
  } else if (kind == RequestTimer::DrillDelay) {
    self->request_->onDrillDelayOver();
  }
}

void DownstreamConnection::onTimer(uv_timer_t* t) {
  auto* self = static_cast<DownstreamConnection*>(t->data);
  TimerKind kind = self->timer_kind_;
  self->timer_kind_ = TimerKind::None;
  switch (kind) {
    case TimerKind::Idle:
      // Timers run before the loop polls for input: a request (or an EOF)
      // may already wait in the socket. Closing now would lose a request
      // the client sent before it could know (the keep-alive race, most
      // visible when a drain closes idle clients): read it instead; the
      // read moves the connection on (or closes it on EOF), and the timer
      // comes back if nothing does.
      if (self->reading_ && self->inputPending()) {
        self->timer_kind_ = TimerKind::Idle;
        self->timer_.start(kPendingInputRecheckMs);
        break;
      }
      self->close();  // idle keep-alive, or nothing sent: close silently
      break;
    case TimerKind::Head:
      self->request().setTermination(Termination{'c', 'R'});
      self->replyAndClose(408, "request head not received in time", ErrorKind::RequestTimeout);
      break;
    case TimerKind::Body:
      self->request().setTermination(Termination{'c', 'R'});
      if (self->request().responseStarted()) {
        self->close();
      } else {
        self->replyAndClose(408, "request body not received in time", ErrorKind::RequestTimeout);
      }
      break;
    case TimerKind::Write:
      // A pending write to the client made no progress for client_idle.
      if (self->request_) self->request_->setTermination(Termination{'c', 'D'});
      self->close();
      break;
    case TimerKind::Linger:
      self->close();
      break;
    case TimerKind::Tunnel:
      self->request().onTunnelIdle();
      break;
    case TimerKind::None:
      break;
  }
}

// ---- llhttp callbacks: record only ----

int DownstreamConnection::onMessageBegin(llhttp_t* p) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  self->request().head().reset();
  self->trailer_bytes_ = 0;
  self->empty_lines_ = 0;
  self->phase_ = Phase::ReadingHead;
  self->setGauge(Gauge::Active);
  ++self->requests_;
  self->updateTimer(true);
  return 0;
}

int DownstreamConnection::onUrl(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  auto& u = self->request().head().url;
  if (!u.empty() && u.data() + u.size() == at) {
    u = std::string_view(u.data(), u.size() + len);
  } else {
    u = std::string_view(at, len);
  }
  // Method, target and " HTTP/1.1": a request line over the limit is
  // refused before the rest of it arrives.
  // (The method's length is looked up only for a target near the limit.)
  const uint32_t max = self->ctx_.runtime()->config->limits.max_request_line;
  if (u.size() + 10 > max &&
      std::strlen(llhttp_method_name(static_cast<llhttp_method_t>(p->method))) + 1 + u.size() + 9 > max) {
    self->refuse(414, ErrorKind::UriTooLong, "request line too long");
    return HPE_USER;
  }
  return 0;
}

// Trailer fields of a chunked body (after the head: phase ReadingBody) are
// not kept: the body is re-chunked and they are dropped, as RFC 9112 7.1.2
// lets a recipient that removes the chunked coding do. Only their size is
// bounded (by limits.max_header_bytes): they arrive in pieces whose buffer
// is reused between reads, and must not count as header lines (found by the
// chunked fuzz target: a long trailer in small reads was refused with 431).
bool DownstreamConnection::trailerBytes(size_t len) {
  trailer_bytes_ += len;
  if (trailer_bytes_ <= ctx_.runtime()->config->limits.max_header_bytes) return true;
  refuse(431, ErrorKind::HeadTooLarge, "request trailer fields too large");
  return false;
}

int DownstreamConnection::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  if (self->phase_ == Phase::ReadingBody) return self->trailerBytes(len) ? 0 : HPE_USER;
  self->request().head().headers.onField(at, len);
  // A cap on header lines, whatever their size (per-header work).
  if (self->request().head().headers.headers().size() > self->ctx_.runtime()->config->limits.max_headers) {
    self->refuse(431, ErrorKind::HeadTooLarge, "too many header lines");
    return HPE_USER;
  }
  return 0;
}

int DownstreamConnection::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  if (self->phase_ == Phase::ReadingBody) return self->trailerBytes(len) ? 0 : HPE_USER;
  self->request().head().headers.onValue(at, len);
  return 0;
}

int DownstreamConnection::onHeadersComplete(llhttp_t* p) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  auto& h = self->request().head();
  // Head size: from the first byte of this message (always buf_[0], see the
  // buffer discipline) to the end of the last header line, plus the final CRLF.
  const char* last = h.headers.lastByte() ? h.headers.lastByte() : h.url.data() + h.url.size();
  size_t head_len = static_cast<size_t>(last - self->buf_.get()) + 4;
  if (head_len > self->ctx_.runtime()->config->limits.max_header_bytes) {
    self->refuse(431, ErrorKind::HeadTooLarge, "request head too large");
    return HPE_USER;
  }
  // The request line exactly as RFC 9112 3 has it: one space on each side
  // of the target, and a version we speak (llhttp lets a few variants by).
  if (p->http_major != 1 || p->http_minor > 1) {
    if (p->http_major == 0) {
      self->refuse(400, ErrorKind::BadRequest, "HTTP/0.9 is not supported");
    } else {
      self->refuse(505, ErrorKind::VersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported");
    }
    return HPE_USER;
  }
  {
    const std::string_view method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    const char* line = h.url.data() - method.size() - 1;
    const char* end = h.url.data() + h.url.size();
    const bool shaped = line >= self->buf_.get() && std::memcmp(line, method.data(), method.size()) == 0 &&
                        h.url.data()[-1] == ' ' && end + 11 <= self->buf_.get() + self->end_ && end[0] == ' ' &&
                        std::memcmp(end + 1, "HTTP/1.", 7) == 0 && end[9] == '\r' && end[10] == '\n';
    if (!shaped) {
      self->refuse(400, ErrorKind::BadRequest, "malformed request line (one space around the target, then HTTP/1.x)");
      return HPE_USER;
    }
  }
  if (p->method == HTTP_CONNECT) {
    // Not a forward proxy. What follows a CONNECT is tunnel data, not HTTP:
    // answered, then closed.
    self->refuse(405, ErrorKind::MethodNotAllowed, "CONNECT is not supported (ballast is not a forward proxy)");
    return HPE_USER;
  }
  if (h.headers.folded()) {
    self->refuse(400, ErrorKind::BadRequest, "obsolete line folding in a request header");
    return HPE_USER;
  }
  // The parser never switches protocols by itself: an upgrade offer
  // (WebSocket) is forwarded, and only the backend's 101 turns this
  // connection into a tunnel (ProxyRequest); until then, and after any other
  // answer, it is HTTP/1.1.
  p->upgrade = 0;
  h.headers.finish();
  h.hop.scan(h.headers.headers());
  h.method = static_cast<llhttp_method_t>(p->method);
  h.method_name = llhttp_method_name(h.method);
  h.http_major = p->http_major;
  h.http_minor = p->http_minor;
  h.keep_alive = llhttp_should_keep_alive(p) != 0;
  if (p->flags & F_CHUNKED) {
    h.framing = BodyFraming::Chunked;
  } else if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
    h.framing = BodyFraming::ContentLength;
    h.content_length = p->content_length;
  } else {
    h.framing = BodyFraming::None;
  }
  // One pass for every header the request logic looks at.
  for (const auto& hd : h.headers.headers()) {
    switch (hd.cls) {
      case HeaderName::Host:
        if (++h.host_count == 1) h.host = hd.value;
        break;
      case HeaderName::XRequestId:
        if (h.request_id.empty()) h.request_id = hd.value;
        break;
      case HeaderName::Expect:
        if (iequals(hd.value, "100-continue")) h.expect_continue = true;
        break;
      default:
        break;
    }
  }

  self->phase_ = Phase::ReadingBody;
  self->rate_window_start_ = 0;
  // Without a body the message completes right after this callback (and
  // stops the timer): no point re-arming it for a body.
  if (h.framing != BodyFraming::None) self->updateTimer(true);
  int status = self->request().onRequestHead(h);
  if (status != 0) {
    switch (status) {
      case 413: self->refuse(status, ErrorKind::BodyTooLarge, "request body too large"); break;
      case 429:
        self->refuse(status, ErrorKind::ConnectionLimit,
                     "too many connections from this address (limits.max_connections_per_client)");
        break;
      default: self->refuse(status, ErrorKind::BadRequest, nullptr); break;
    }
    return HPE_USER;
  }
  return 0;
}

int DownstreamConnection::onBody(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  int status = self->request().onRequestBody(at, len);
  if (status != 0) {
    self->refuse(status, ErrorKind::BodyTooLarge, "request body too large");
    return HPE_USER;
  }
  return 0;
}

int DownstreamConnection::onMessageComplete(llhttp_t* p) {
  auto* self = static_cast<DownstreamConnection*>(p->data);
  self->request().onRequestComplete();
  self->phase_ = Phase::Waiting;
  self->updateTimer(false);
  return HPE_PAUSED;
}

}  // namespace ballast
