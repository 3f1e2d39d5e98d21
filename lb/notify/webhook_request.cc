#include "lb/notify/webhook_request.h"

#include "config/duration.h"
#include "lb/http/parser.h"
#include "lb/tls/tls_transport.h"

namespace ballast::notify {

std::string WebhookRequest::requestBytes(const config::NotifyTarget& target, const std::string& body) {
  std::string r;
  r.reserve(200 + body.size());
  r.append("POST ").append(target.path).append(" HTTP/1.1\r\nHost: ").append(target.host_header);
  r.append("\r\nUser-Agent: ballast/" BALLAST_VERSION "\r\nContent-Type: application/json\r\nContent-Length: ");
  r.append(std::to_string(body.size())).append("\r\nConnection: close\r\n\r\n").append(body);
  return r;
}

WebhookRequest::WebhookRequest(uv_loop_t* loop, const config::NotifyTarget& target,
                               std::shared_ptr<tls::ClientContext> tls)
    : address_(target.address) {
  if (tls) {
    transport_ = std::make_unique<tls::TlsTransport>(loop, static_cast<TransportUser&>(*this), std::move(tls), address_);
  } else {
    transport_ = std::make_unique<TcpTransport>(loop, static_cast<TransportUser&>(*this));
  }
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  connect_req_.data = this;
}

WebhookRequest* WebhookRequest::start(uv_loop_t* loop, const config::NotifyTarget& target,
                                      std::shared_ptr<tls::ClientContext> tls, std::string bytes,
                                      uint64_t connect_timeout_ms, uint64_t timeout_ms, Done done) {
  auto* r = new WebhookRequest(loop, target, std::move(tls));
  r->bytes_ = std::move(bytes);
  r->done_ = std::move(done);
  r->timeout_ms_ = timeout_ms;
  r->begin(connect_timeout_ms);
  return r;
}

void WebhookRequest::begin(uint64_t connect_timeout_ms) {
  started_ns_ = uv_hrtime();
  uv_timer_start(&timer_, &WebhookRequest::onTimeout, connect_timeout_ms, 0);
  const int err = uv_tcp_connect(&connect_req_, transport_->tcp(),
                                 reinterpret_cast<const sockaddr*>(&address_.addr), &WebhookRequest::onConnect);
  if (err < 0) {
    // Reported on a later turn (the timer, fired at once), never from start().
    early_error_ = std::string("connect: ") + uv_strerror(err);
    uv_timer_start(&timer_, &WebhookRequest::onTimeout, 0, 0);
  }
}

void WebhookRequest::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<WebhookRequest*>(req->data);
  if (self == nullptr || self->finished_) return;  // cancelled, or timed out meanwhile
  if (status < 0) {
    self->fail(std::string("connect: ") + uv_strerror(status));
    return;
  }
  const int r = self->transport_->connected();  // TLS: the handshake first
  if (r < 0) {
    self->fail(std::string("connect: ") + uv_strerror(r));
  } else if (r == 0) {
    self->ready();
  }
}

void WebhookRequest::onTransportHandshake(int status) {
  if (finished_) return;
  if (status < 0) {
    fail("TLS handshake failed: " + (transport_->error().empty() ? std::string(uv_strerror(status)) : transport_->error()));
    return;
  }
  ready();
}

void WebhookRequest::ready() {
  phase_ = Phase::Waiting;
  uv_timer_start(&timer_, &WebhookRequest::onTimeout, timeout_ms_, 0);
  llhttp_init(&parser_, HTTP_RESPONSE, parserSettings<WebhookRequest>());
  parser_.data = this;
  uv_buf_t b = uv_buf_init(bytes_.data(), static_cast<unsigned>(bytes_.size()));
  if (const int werr = transport_->write(&b, 1); werr < 0) {
    fail(std::string("write: ") + uv_strerror(werr));
    return;
  }
  if (const int rerr = transport_->readStart(); rerr < 0) fail(std::string("read: ") + uv_strerror(rerr));
}

void WebhookRequest::onTransportWriteDone(int status) {
  if (status < 0 && !finished_) fail(std::string("write: ") + uv_strerror(status));
}

int WebhookRequest::onHeadersComplete(llhttp_t* p) {
  auto* self = static_cast<WebhookRequest*>(p->data);
  if (p->status_code >= 100 && p->status_code < 200) return 0;  // interim; wait for the final one
  self->status_ = p->status_code;
  return HPE_PAUSED;
}

void WebhookRequest::onTransportRead(ssize_t nread) {
  if (finished_) return;
  if (nread < 0) {
    fail(nread == UV_EOF ? std::string("connection closed before a response") : std::string(uv_strerror(static_cast<int>(nread))));
    return;
  }
  const llhttp_errno_t e = llhttp_execute(&parser_, buf_, static_cast<size_t>(nread));
  if (e == HPE_PAUSED) {
    WebhookResult r;
    r.status = status_;
    r.ok = status_ >= 200 && status_ < 300;
    if (!r.ok) r.error = "status " + std::to_string(status_);
    finish(std::move(r));
  } else if (e != HPE_OK) {
    fail("invalid response");
  }
}

void WebhookRequest::onTimeout(uv_timer_t* t) {
  auto* self = static_cast<WebhookRequest*>(t->data);
  if (self->finished_) return;
  if (!self->early_error_.empty()) {
    self->fail(self->early_error_);  // the connect error begin() kept
    return;
  }
  self->fail(self->phase_ == Phase::Connecting
                 ? "connect timeout"
                 : "timeout after " + config::formatDuration(config::Duration{self->timeout_ms_}) +
                       " waiting for the response");
}

void WebhookRequest::fail(std::string error) {
  WebhookResult r;
  r.error = std::move(error);
  finish(std::move(r));
}

void WebhookRequest::finish(WebhookResult r) {
  if (finished_) return;
  finished_ = true;
  r.ms = static_cast<double>(uv_hrtime() - started_ns_) / 1e6;
  Done done = std::move(done_);
  done_ = nullptr;
  closeAll();
  // The owner may start the next request from here: this one only closes.
  if (done) done(r);
}

void WebhookRequest::cancel() {
  finished_ = true;
  done_ = nullptr;
  closeAll();
}

void WebhookRequest::closeAll() {
  if (closing_) return;
  closing_ = true;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &WebhookRequest::onTimerClosed);
  transport_->close();
}

void WebhookRequest::onTimerClosed(uv_handle_t* h) { static_cast<WebhookRequest*>(h->data)->onHandleClosed(); }

void WebhookRequest::onHandleClosed() {
  if (--open_handles_ == 0) delete this;
}

}  // namespace ballast::notify
