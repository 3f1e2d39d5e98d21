#include "lb/admin.h"

#include <llhttp.h>

#include <cstring>

#include "lb/http_message.h"
#include "lb/server.h"

namespace ballast {

// One admin client. Small requests only (8 KiB head, no body); answers and
// closes. Owns itself; freed from its last close callback.
class AdminConnection {
 public:
  explicit AdminConnection(AdminServer& admin) : admin_(admin) {
    uv_tcp_init(admin_.server_.loop(), &tcp_);
    uv_timer_init(admin_.server_.loop(), &timer_);
    tcp_.data = this;
    timer_.data = this;
    llhttp_settings_init(&settings_);
    settings_.on_url = &AdminConnection::onUrl;
    settings_.on_message_complete = &AdminConnection::onComplete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
    next_ = admin_.conns_;
    if (next_) next_->prev_ = this;
    admin_.conns_ = this;
  }

  bool start(uv_stream_t* listener) {
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) return false;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &AdminConnection::onAlloc, &AdminConnection::onRead);
    uv_timer_start(&timer_, &AdminConnection::onTimer, 10000, 0);
    return true;
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    pending_ = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &AdminConnection::onClose);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &AdminConnection::onClose);
  }

  AdminConnection* next_ = nullptr;
  AdminConnection* prev_ = nullptr;

 private:
  ~AdminConnection() {
    if (prev_) prev_->next_ = next_; else admin_.conns_ = next_;
    if (next_) next_->prev_ = prev_;
  }

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<AdminConnection*>(h->data);
    buf->base = self->buf_ + self->len_;
    buf->len = sizeof self->buf_ - self->len_;
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<AdminConnection*>(s->data);
    if (nread == 0 || self->closing_) return;
    if (nread < 0) {
      self->close();
      return;
    }
    size_t n = static_cast<size_t>(nread);
    llhttp_errno_t e = llhttp_execute(&self->parser_, buf->base, n);
    self->len_ += n;
    if (e == HPE_PAUSED) {
      uv_read_stop(s);
      self->respond();
    } else if (e != HPE_OK || self->len_ == sizeof self->buf_) {
      self->status_ = 400;
      self->body_ = "400 Bad Request\n";
      uv_read_stop(s);
      self->send();
    }
  }

  static int onUrl(llhttp_t* p, const char* at, size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    self->url_.append(at, len);
    return 0;
  }

  static int onComplete(llhttp_t* p) {
    static_cast<AdminConnection*>(p->data)->method_ = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    return HPE_PAUSED;
  }

  void respond() {
    std::string_view path = url_;
    size_t q = path.find('?');
    if (q != std::string_view::npos) path = path.substr(0, q);
    admin_.handle(method_, path, &status_, &body_, &content_type_);
    send();
  }

  void send() {
    out_ = "HTTP/1.1 " + std::to_string(status_) + " " + std::string(reasonPhrase(status_)) +
           "\r\nContent-Type: " + content_type_ + "\r\nContent-Length: " + std::to_string(body_.size()) +
           "\r\nConnection: close\r\n\r\n" + body_;
    uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    write_req_.data = this;
    if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, &AdminConnection::onWrite) != 0) close();
  }

  static void onWrite(uv_write_t* req, int) { static_cast<AdminConnection*>(req->data)->close(); }
  static void onTimer(uv_timer_t* t) { static_cast<AdminConnection*>(t->data)->close(); }
  static void onClose(uv_handle_t* h) {
    auto* self = static_cast<AdminConnection*>(h->data);
    if (--self->pending_ == 0) delete self;
  }

  AdminServer& admin_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  char buf_[8192];
  size_t len_ = 0;
  std::string url_;
  std::string method_;
  int status_ = 200;
  std::string body_;
  std::string content_type_ = "text/plain; charset=utf-8";
  std::string out_;
  bool closing_ = false;
  int pending_ = 0;
};

AdminServer::AdminServer(Server& server, const config::Address& addr)
    : server_(server), listener_(server.loop(), addr, "admin", [this](Listener& l) {
        auto* c = new AdminConnection(*this);
        if (!c->start(l.stream())) c->close();
      }) {}

AdminServer::~AdminServer() = default;

void AdminServer::close() {
  listener_.close();
  for (AdminConnection* c = conns_; c != nullptr; c = c->next_) c->close();
}

void AdminServer::handle(std::string_view method, std::string_view path, int* status, std::string* body,
                         std::string* content_type) {
  *content_type = "text/plain; charset=utf-8";
  if (path == "/healthz") {
    if (method != "GET" && method != "HEAD") {
      *status = 405;
      *body = "405 Method Not Allowed\n";
      return;
    }
    *status = 200;
    *body = server_.stopping() ? "stopping\n" : "ok\n";
    return;
  }
  *status = 404;
  *body = "404 Not Found: no admin endpoint at this path\n";
}

}  // namespace ballast
