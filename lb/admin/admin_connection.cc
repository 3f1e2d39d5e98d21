#include "lb/admin/admin_connection.h"

#include "lb/admin/admin_server.h"
#include "lb/base/address.h"
#include "lb/base/handle.h"
#include "lb/http/http_message.h"
#include "lb/http/parser.h"
#include "lb/http/reason_phrase.h"

namespace ballast {

AdminConnection::AdminConnection(AdminServer& admin, uv_loop_t* loop) : admin_(admin) {
  uv_tcp_init(loop, &tcp_);
  uv_timer_init(loop, &timer_);
  tcp_.data = this;
  timer_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
  llhttp_init(&parser_, HTTP_REQUEST, parserSettings<AdminConnection>());
  parser_.data = this;
  admin_.conns_.push(this);
}

AdminConnection::~AdminConnection() { admin_.conns_.erase(this); }

bool AdminConnection::start(uv_stream_t* listener) {
  if (uv_accept(listener, stream()) != 0) return false;
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    client_ = formatSockaddr(reinterpret_cast<sockaddr*>(&peer));
  }
  uv_read_start(stream(), &AdminConnection::onAlloc, &AdminConnection::onRead);
  uv_timer_start(&timer_, &AdminConnection::onTimer, kRequestTimeoutMs, 0);
  return true;
}

void AdminConnection::close() {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  closeHandles(this, {asHandle(&tcp_), asHandle(&timer_)});
}

void AdminConnection::onHandlesClosed(AdminConnection* self) { delete self; }

void AdminConnection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<AdminConnection*>(h->data);
  buf->base = self->buf_;
  buf->len = sizeof self->buf_;
}

void AdminConnection::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<AdminConnection*>(s->data);
  if (nread == 0 || self->state_ == State::Closing) return;
  if (nread < 0) {
    // EOF or error. While lingering that is the end we waited for; while
    // reading the client gave up; while writing the write fails on its own.
    if (self->state_ != State::Writing) {
      self->close();
    } else {
      self->eof_ = true;  // close as soon as the answer is out
    }
    return;
  }
  if (self->state_ != State::Reading) return;  // input after the request: discarded
  const llhttp_errno_t e = llhttp_execute(&self->parser_, buf->base, static_cast<size_t>(nread));
  if (e == HPE_PAUSED) {
    self->respond();
  } else if (e != HPE_OK) {
    AdminReply r;
    if (self->head_too_large_) {
      plainReply(r, 431, "431 Request Header Fields Too Large (the admin API takes request heads up to 8 KiB)");
    } else if (self->body_too_large_) {
      plainReply(r, 413, "413 Content Too Large (admin request bodies are limited to 64 KiB)");
    } else {
      plainReply(r, 400, "400 Bad Request: " + std::string(llhttp_errno_name(e)));
    }
    // An answer to HEAD has no body, refused or not (llhttp records the
    // method as soon as it has read it; before that it is not HEAD).
    self->send(r, /*head_only=*/self->parser_.method == HTTP_HEAD);
  }
}

// Head size: every byte of the head passes through one of these callbacks,
// plus a few bytes of framing per line.
bool AdminConnection::countHead(size_t n) {
  head_bytes_ += n;
  if (head_bytes_ <= kMaxHeadBytes) return true;
  head_too_large_ = true;
  return false;
}

int AdminConnection::onUrl(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<AdminConnection*>(p->data);
  if (!self->countHead(len)) return -1;
  self->url_.append(at, len);
  return 0;
}

int AdminConnection::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<AdminConnection*>(p->data);
  if (!self->countHead(len)) return -1;
  self->field_.append(at, len);
  return 0;
}

int AdminConnection::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<AdminConnection*>(p->data);
  if (!self->countHead(len)) return -1;
  self->value_.append(at, len);
  return 0;
}

int AdminConnection::onHeaderValueComplete(llhttp_t* p) {
  auto* self = static_cast<AdminConnection*>(p->data);
  if (!self->countHead(4)) return -1;  // ": " and CRLF
  // The first occurrence of each header the admin looks at.
  for (Captured& c : self->captured_) {
    if (!c.seen && iequals(self->field_, c.name)) {
      c.value = self->value_;
      c.seen = true;
    }
  }
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int AdminConnection::onBody(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<AdminConnection*>(p->data);
  if (self->body_.size() + len > kMaxBodyBytes) {
    self->body_too_large_ = true;
    return -1;
  }
  self->body_.append(at, len);
  return 0;
}

int AdminConnection::onMessageComplete(llhttp_t* p) {
  auto* self = static_cast<AdminConnection*>(p->data);
  self->method_ = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  return HPE_PAUSED;
}

void AdminConnection::respond() {
  std::string_view path = url_;
  std::string_view query;
  const size_t q = path.find('?');
  if (q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  const bool head = method_ == "HEAD";
  AdminRequest req;
  req.method = head ? std::string_view("GET") : std::string_view(method_);
  req.path = path;
  req.query = query;
  req.authorization = captured_[0].value;
  req.host = captured_[1].value;
  req.origin = captured_[2].value;
  req.fetch_site = captured_[3].value;
  req.client = client_;
  req.body = body_;
  state_ = State::Writing;  // from here input is discarded
  uv_timer_start(&timer_, &AdminConnection::onTimer, kAnswerTimeoutMs, 0);
  // The answer may come now or later (a reload); by then this connection
  // may be closed (send() is then a no-op) or gone (the weak pointer says).
  admin_.handle(req, [this, alive = std::weak_ptr<bool>(alive_), head](AdminReply& reply) {
    if (alive.expired()) return;
    send(reply, head);
  });
}

void AdminConnection::send(const AdminReply& r, bool head_only) {
  if (state_ == State::Closing) return;
  state_ = State::Writing;
  out_ = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reasonPhrase(r.status)) + "\r\n";
  out_ += "Content-Type: " + r.content_type + "\r\n";
  out_ += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out_ += "Cache-Control: no-store\r\n";
  for (const auto& [name, value] : r.headers) out_ += name + ": " + value + "\r\n";
  out_ += "Connection: close\r\n\r\n";
  if (!head_only) out_ += r.body;
  uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  if (uv_write(&write_req_, stream(), &b, 1, &AdminConnection::onWrite) != 0) {
    close();
    return;
  }
  // A client that does not read its answer is cut off in the end.
  uv_timer_start(&timer_, &AdminConnection::onTimer, kWriteTimeoutMs, 0);
}

void AdminConnection::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<AdminConnection*>(req->data);
  if (self->state_ == State::Closing) return;  // cancelled by close()
  if (status != 0 || uv_shutdown(&self->shutdown_req_, self->stream(), &AdminConnection::onShutdown) != 0) {
    self->close();
  }
}

void AdminConnection::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<AdminConnection*>(req->data);
  if (self->state_ == State::Closing) return;
  if (status != 0 || self->eof_) {
    self->close();
    return;
  }
  // The answer is out. Keep reading (and discarding) until the client
  // closes, so unread input does not turn our close into a RST.
  self->state_ = State::Lingering;
  uv_timer_start(&self->timer_, &AdminConnection::onTimer, kLingerMs, 0);
}

void AdminConnection::onTimer(uv_timer_t* t) { static_cast<AdminConnection*>(t->data)->close(); }

}  // namespace ballast
