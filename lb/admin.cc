#include "lb/admin.h"

#include <arpa/inet.h>
#include <llhttp.h>
#include <sys/time.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>

#include "health/health_checker.h"
#include "health/health_session.h"
#include "lb/backend.h"
#include "lb/http_message.h"
#include "lb/listener.h"
#include "lb/log.h"
#include "lb/metrics.h"
#include "lb/pool.h"
#include "lb/router.h"
#include "lb/server.h"
#include "lb/status_page.h"
#include "lb/uv_util.h"

namespace ballast {

namespace {

constexpr size_t kMaxHeadBytes = 8 * 1024;   // larger request head -> 431
constexpr size_t kMaxBodyBytes = 64 * 1024;  // control requests carry no body; larger -> 413
constexpr uint64_t kRequestTimeoutMs = 10000;  // whole request, from accept
constexpr uint64_t kLingerMs = 1000;           // draining unread input after the answer

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kHtmlType = "text/html; charset=utf-8";

// Compares in time that depends on the lengths only, never on where the
// first difference is, so the token cannot be guessed byte by byte.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding of one path segment; a malformed escape is kept literally.
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "2026-11-28T19:12:35.123Z" for a Unix time in seconds.
std::string isoTime(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds < 0) unix_seconds = 0;
  const auto whole = static_cast<time_t>(unix_seconds);
  int ms = static_cast<int>((unix_seconds - static_cast<double>(whole)) * 1000.0);
  ms = std::clamp(ms, 0, 999);
  tm t;
  gmtime_r(&whole, &t);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  n += static_cast<size_t>(snprintf(buf + n, sizeof buf - n, ".%03dZ", ms));
  return std::string(buf, n);
}

double wallNow() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// A small streaming JSON writer for the nested /status document. Strings go
// through JsonLine::escape. Usage: w.beginObject().key("a").num(1).endObject().
class JsonWriter {
 public:
  JsonWriter() { out_.reserve(4096); }
  JsonWriter& key(std::string_view k) {
    separate();
    out_.push_back('"');
    JsonLine::escape(out_, k);
    out_.append("\":");
    after_key_ = true;
    return *this;
  }
  JsonWriter& str(std::string_view v) {
    separate();
    out_.push_back('"');
    JsonLine::escape(out_, v);
    out_.push_back('"');
    return *this;
  }
  JsonWriter& num(uint64_t v) {
    separate();
    out_.append(std::to_string(v));
    return *this;
  }
  JsonWriter& num(int64_t v) {
    separate();
    out_.append(std::to_string(v));
    return *this;
  }
  JsonWriter& dbl(double v, int precision = 3) {
    separate();
    if (!std::isfinite(v)) {
      out_.append("null");
      return *this;
    }
    char tmp[48];
    auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, precision);
    (void)ec;
    out_.append(tmp, static_cast<size_t>(p - tmp));
    return *this;
  }
  JsonWriter& boolean(bool v) {
    separate();
    out_.append(v ? "true" : "false");
    return *this;
  }
  JsonWriter& null() {
    separate();
    out_.append("null");
    return *this;
  }
  JsonWriter& beginObject() { return open('{'); }
  JsonWriter& endObject() { return close('}'); }
  JsonWriter& beginArray() { return open('['); }
  JsonWriter& endArray() { return close(']'); }
  std::string take() { return std::move(out_); }

 private:
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }
  JsonWriter& open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

const char* adminStateName(AdminState s) {
  switch (s) {
    case AdminState::Enabled: return "enabled";
    case AdminState::Draining: return "draining";
    case AdminState::Disabled: return "disabled";
  }
  return "enabled";
}

const char* balanceName(config::Balance b) {
  switch (b) {
    case config::Balance::RoundRobin: return "round_robin";
  }
  return "round_robin";
}

void plain(AdminReply& out, int status, std::string body) {
  out.status = status;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(body);
  out.body.push_back('\n');
}

void jsonError(AdminReply& out, int status, std::string_view message) {
  out.status = status;
  out.content_type = std::string(kJsonType);
  JsonWriter w;
  w.beginObject().key("error").str(message).endObject();
  out.body = w.take();
  out.body.push_back('\n');
}

void methodNotAllowed(AdminReply& out, std::string_view allow) {
  plain(out, 405, "405 Method Not Allowed (allowed: " + std::string(allow) + ")");
  out.headers.emplace_back("Allow", std::string(allow));
}

}  // namespace

// ---------------------------------------------------------------------------
// One admin client connection.
//
// States: Reading (parser fed; the request timer armed) -> Writing (the
// answer in flight; input discarded) -> Lingering (write side shut down;
// input discarded until EOF or kLingerMs) -> Closing (handles closing).
// Owns itself; unlinks and deletes itself from the last close callback.
class AdminConnection {
 public:
  explicit AdminConnection(AdminServer& admin) : admin_(admin) {
    uv_tcp_init(admin_.server_.loop(), &tcp_);
    uv_timer_init(admin_.server_.loop(), &timer_);
    tcp_.data = this;
    timer_.data = this;
    write_req_.data = this;
    shutdown_req_.data = this;
    llhttp_settings_init(&settings_);
    settings_.on_url = &AdminConnection::onUrl;
    settings_.on_header_field = &AdminConnection::onHeaderField;
    settings_.on_header_value = &AdminConnection::onHeaderValue;
    settings_.on_header_value_complete = &AdminConnection::onHeaderValueComplete;
    settings_.on_body = &AdminConnection::onBody;
    settings_.on_message_complete = &AdminConnection::onComplete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
    admin_.conns_.push(this);
  }

  bool start(uv_stream_t* listener) {
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

  // Idempotent. Pending write/shutdown requests are cancelled by libuv
  // before the close callbacks run, so the object outlives them.
  void close() {
    if (state_ == State::Closing) return;
    state_ = State::Closing;
    pending_ = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &AdminConnection::onClose);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &AdminConnection::onClose);
  }

  AdminConnection* next_ = nullptr;
  AdminConnection* prev_ = nullptr;

 private:
  enum class State { Reading, Writing, Lingering, Closing };

  ~AdminConnection() {
    admin_.conns_.erase(this);
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<AdminConnection*>(h->data);
    buf->base = self->buf_;
    buf->len = sizeof self->buf_;
  }

  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
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
        plain(r, 431, "431 Request Header Fields Too Large (the admin API takes request heads up to 8 KiB)");
      } else if (self->body_too_large_) {
        plain(r, 413, "413 Content Too Large (admin requests take no body)");
      } else {
        plain(r, 400, "400 Bad Request: " + std::string(llhttp_errno_name(e)));
      }
      self->send(r, /*head_only=*/false);
    }
  }

  // Head size: every byte of the head passes through one of these
  // callbacks, plus a few bytes of framing per line.
  bool countHead(size_t n) {
    head_bytes_ += n;
    if (head_bytes_ <= kMaxHeadBytes) return true;
    head_too_large_ = true;
    return false;
  }

  static int onUrl(llhttp_t* p, const char* at, size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    if (!self->countHead(len)) return -1;
    self->url_.append(at, len);
    return 0;
  }

  static int onHeaderField(llhttp_t* p, const char* at, size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    if (!self->countHead(len)) return -1;
    self->field_.append(at, len);
    return 0;
  }

  static int onHeaderValue(llhttp_t* p, const char* at, size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    if (!self->countHead(len)) return -1;
    self->value_.append(at, len);
    return 0;
  }

  static int onHeaderValueComplete(llhttp_t* p) {
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

  static int onBody(llhttp_t* p, const char*, size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    self->body_bytes_ += len;
    if (self->body_bytes_ <= kMaxBodyBytes) return 0;  // read and ignored
    self->body_too_large_ = true;
    return -1;
  }

  static int onComplete(llhttp_t* p) {
    auto* self = static_cast<AdminConnection*>(p->data);
    self->method_ = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    return HPE_PAUSED;
  }

  void respond() {
    std::string_view path = url_;
    const size_t q = path.find('?');
    if (q != std::string_view::npos) path = path.substr(0, q);
    const bool head = method_ == "HEAD";
    AdminRequest req;
    req.method = head ? std::string_view("GET") : std::string_view(method_);
    req.path = path;
    req.authorization = captured_[0].value;
    req.host = captured_[1].value;
    req.origin = captured_[2].value;
    req.fetch_site = captured_[3].value;
    req.client = client_;
    AdminReply reply;
    admin_.handle(req, reply);
    send(reply, head);
  }

  void send(const AdminReply& r, bool head_only) {
    state_ = State::Writing;
    out_ = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reasonPhrase(r.status)) + "\r\n";
    out_ += "Content-Type: " + r.content_type + "\r\n";
    out_ += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out_ += "Cache-Control: no-store\r\n";
    for (const auto& [name, value] : r.headers) out_ += name + ": " + value + "\r\n";
    out_ += "Connection: close\r\n\r\n";
    if (!head_only) out_ += r.body;
    uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    if (uv_write(&write_req_, stream(), &b, 1, &AdminConnection::onWrite) != 0) close();
  }

  static void onWrite(uv_write_t* req, int status) {
    auto* self = static_cast<AdminConnection*>(req->data);
    if (self->state_ == State::Closing) return;  // cancelled by close()
    if (status != 0 || uv_shutdown(&self->shutdown_req_, self->stream(), &AdminConnection::onShutdown) != 0) {
      self->close();
    }
  }

  static void onShutdown(uv_shutdown_t* req, int status) {
    auto* self = static_cast<AdminConnection*>(req->data);
    if (self->state_ == State::Closing) return;
    if (status != 0) {
      self->close();
      return;
    }
    // The answer is out. Keep reading (and discarding) until the client
    // closes, so unread input does not turn our close into a RST.
    if (self->eof_) {
      self->close();
      return;
    }
    self->state_ = State::Lingering;
    uv_timer_start(&self->timer_, &AdminConnection::onTimer, kLingerMs, 0);
  }

  static void onTimer(uv_timer_t* t) { static_cast<AdminConnection*>(t->data)->close(); }

  static void onClose(uv_handle_t* h) {
    auto* self = static_cast<AdminConnection*>(h->data);
    if (--self->pending_ == 0) delete self;
  }

  AdminServer& admin_;  // borrowed: outlives every connection (closes them first)
  uv_tcp_t tcp_;
  uv_timer_t timer_;    // request deadline, then the linger deadline
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  char buf_[8192];  // read buffer; the parser consumes it entirely on each read
  State state_ = State::Reading;
  int pending_ = 0;
  size_t head_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  bool head_too_large_ = false;
  bool body_too_large_ = false;
  struct Captured {
    std::string_view name;
    std::string value;
    bool seen = false;
  };
  Captured captured_[4] = {{"authorization", {}, false}, {"host", {}, false}, {"origin", {}, false},
                           {"sec-fetch-site", {}, false}};
  bool eof_ = false;  // the client finished sending while we were writing
  std::string client_;
  std::string url_;
  std::string method_;
  std::string field_;
  std::string value_;
  std::string out_;  // the answer, owned until the write callback
};

// ---------------------------------------------------------------------------

AdminServer::AdminServer(Server& server, const config::Address& addr)
    : server_(server), listener_(server.loop(), addr, "admin", [this](Listener& l) {
        auto* c = new AdminConnection(*this);
        if (!c->start(l.stream())) c->close();
      }) {}

AdminServer::~AdminServer() = default;

void AdminServer::close() {
  listener_.close();
  conns_.forEach([](AdminConnection* c) { c->close(); });
}

std::string AdminServer::readinessReason() const {
  if (server_.stopping()) return "not ready: stopping";
  if (server_.ready()) return "ready";
  std::string waiting;
  for (const auto& c : server_.checkers()) {
    if (c->firstRoundDone()) continue;
    size_t probed = 0;
    for (const health::HealthSession* s : c->sessions()) probed += s->hasStatus() ? 1 : 0;
    if (!waiting.empty()) waiting += ", ";
    waiting += "pool " + c->pool().name() + " (" + std::to_string(probed) + " of " +
               std::to_string(c->sessions().size()) + " backends probed)";
  }
  if (!waiting.empty()) return "not ready: waiting for the first health check round: " + waiting;
  return "not ready: listeners not bound yet";
}

bool AdminServer::authorize(const AdminRequest& req, AdminReply& out) {
  const std::string& token = server_.config().admin.token;
  if (token.empty()) return true;
  std::string_view auth = req.authorization;
  const char* problem = "missing token";
  if (!auth.empty()) {
    problem = "wrong token";
    constexpr std::string_view kScheme = "bearer";
    if (auth.size() > kScheme.size() && iequals(auth.substr(0, kScheme.size()), kScheme) &&
        (auth[kScheme.size()] == ' ' || auth[kScheme.size()] == '\t')) {
      std::string_view t = auth.substr(kScheme.size());
      while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
      if (constantTimeEquals(t, token)) return true;
    } else {
      problem = "not a Bearer token";
    }
  }
  auto& j = log().eventLine(config::LogLevel::Warn, "admin_auth_failed");
  j.str("client", req.client).str("method", req.method).str("path", req.path).str("reason", problem);
  log().emit(config::LogLevel::Warn);
  out.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ballast admin\"");
  if (req.method == "POST") {
    jsonError(out, 401, std::string("unauthorized: ") + problem + " (send Authorization: Bearer <admin token>)");
  } else {
    plain(out, 401, std::string("401 Unauthorized: ") + problem + " (send Authorization: Bearer <admin token>)");
  }
  return false;
}

bool AdminServer::sameSite(const AdminRequest& req, AdminReply& out) {
  // Host without its port: "127.0.0.1:9100" -> "127.0.0.1", "[::1]:9100" -> "::1".
  std::string_view host = Router::stripPort(req.host);
  const char* problem = nullptr;
  if (!req.fetch_site.empty() && req.fetch_site != "same-origin" && req.fetch_site != "none") {
    problem = "cross-site request (Sec-Fetch-Site)";
  } else if (!req.origin.empty()) {
    // A browser names the page that made the request; it must be this admin.
    std::string_view o = req.origin;
    const size_t scheme = o.find("://");
    if (scheme != std::string_view::npos) o.remove_prefix(scheme + 3);
    if (!iequals(o, req.host)) problem = "cross-site request (Origin does not match Host)";
  }
  if (problem == nullptr && server_.config().admin.token.empty()) {
    // Without a token a page on a name that resolves to 127.0.0.1 (DNS
    // rebinding) would pass the Origin check: only IP literals and localhost.
    std::string h(host);
    in6_addr a6;
    in_addr a4;
    const bool literal = inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
    if (!literal && !iequals(host, "localhost")) problem = "Host is not an IP address or localhost";
  }
  if (problem == nullptr) return true;
  auto& j = log().eventLine(config::LogLevel::Warn, "admin_request_refused");
  j.str("client", req.client).str("method", req.method).str("path", req.path).str("reason", problem);
  j.str("host", req.host).str("origin", req.origin);
  log().emit(config::LogLevel::Warn);
  jsonError(out, 403, std::string("forbidden: ") + problem);
  return false;
}

void AdminServer::handle(const AdminRequest& req, AdminReply& out) {
  const std::string_view path = req.path;
  const bool get = req.method == "GET";  // HEAD arrives as GET

  if (path == "/" || path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/status") {
    if (!get) return methodNotAllowed(out, "GET, HEAD");
    if (path == "/") {
      // The page shell holds no data: it stays open so that a browser can
      // load it and then send the token with its own /status requests.
      out.content_type = std::string(kHtmlType);
      out.body = std::string(statusPageHtml());
      out.headers.emplace_back("Content-Security-Policy",
                               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
      out.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return;
    }
    if (path == "/healthz") return plain(out, 200, server_.stopping() ? "stopping" : "ok");
    if (path == "/readyz") return plain(out, server_.ready() ? 200 : 503, readinessReason());
    if (server_.config().admin.protect_reads && !authorize(req, out)) return;
    if (path == "/metrics") {
      out.content_type = std::string(kMetricsType);
      out.body = renderMetrics(server_);
      return;
    }
    out.content_type = std::string(kJsonType);
    out.body = statusJson();
    return;
  }

  if (path == "/reload") {
    if (req.method != "POST") return methodNotAllowed(out, "POST");
    if (!sameSite(req, out) || !authorize(req, out)) return;
    Server::ReloadResult r = server_.reload("admin");
    std::string body = "{\"success\":";
    body += r.ok ? "true" : "false";
    body += ",\"errors\":[";
    for (size_t i = 0; i < r.errors.size(); ++i) {
      if (i) body += ",";
      body += "\"";
      JsonLine::escape(body, r.errors[i]);
      body += "\"";
    }
    body += "]}\n";
    out.status = r.ok ? 200 : 422;
    out.content_type = std::string(kJsonType);
    out.body = std::move(body);
    return;
  }

  // /pools/{pool}/backends/{address}/{action}
  constexpr std::string_view kPools = "/pools/";
  if (path.substr(0, kPools.size()) == kPools) {
    std::vector<std::string_view> seg;
    std::string_view rest = path.substr(kPools.size());
    for (;;) {
      const size_t slash = rest.find('/');
      seg.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    const bool shaped = seg.size() == 4 && !seg[0].empty() && seg[1] == "backends" && !seg[2].empty() &&
                        (seg[3] == "drain" || seg[3] == "disable" || seg[3] == "enable");
    if (shaped) {
      if (req.method != "POST") return methodNotAllowed(out, "POST");
      if (!sameSite(req, out) || !authorize(req, out)) return;
      return control(req, percentDecode(seg[0]), percentDecode(seg[2]), seg[3], out);
    }
  }
  plain(out, 404, "404 Not Found: no admin endpoint at this path (see / for the status page)");
}

void AdminServer::control(const AdminRequest& req, std::string_view pool_name, std::string_view backend_name,
                          std::string_view action, AdminReply& out) {
  Pool* pool = nullptr;
  for (const auto& p : server_.runtime()->pools) {
    if (p->name() == pool_name) pool = p.get();
  }
  if (pool == nullptr) return jsonError(out, 404, "unknown pool \"" + std::string(pool_name) + "\"");
  Backend* b = nullptr;
  for (const auto& x : pool->backends()) {
    if (x->name() == backend_name) b = x.get();
  }
  if (b == nullptr) {
    return jsonError(out, 404, "unknown backend \"" + std::string(backend_name) + "\" in pool \"" +
                                   std::string(pool_name) + "\" (use the address as configured, e.g. 127.0.0.1:9001)");
  }

  // The admin state lives in the Backend of the current Runtime. A reload
  // builds new Backends, so carrying it over is the reload's job (not done
  // yet: a reload would bring a drained backend back).
  const AdminState target = action == "drain"     ? AdminState::Draining
                            : action == "disable" ? AdminState::Disabled
                                                  : AdminState::Enabled;
  const std::string old_state = b->stateName();
  const AdminState old_admin = b->adminState();
  const uint64_t now = uv_now(server_.loop());
  if (old_admin != target) {
    b->setAdminState(target);
    b->markChanged(now);
  }
  // A backend out of rotation keeps no pooled connections: requests in
  // flight finish on theirs, nothing new is sent.
  if (target != AdminState::Enabled) b->idle().closeAll();
  const std::string new_state = b->stateName();

  const auto level = target == AdminState::Enabled ? config::LogLevel::Info : config::LogLevel::Warn;
  auto& j = log().eventLine(level, "admin_action");
  j.str("action", action).str("pool", pool->name()).str("backend", b->name());
  j.str("old", old_state).str("new", new_state);
  j.str("old_admin", adminStateName(old_admin)).str("admin", adminStateName(target));
  j.num("active_requests", static_cast<uint64_t>(b->activeRequests()));
  j.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
  j.str("client", req.client);
  log().emit(level);

  out.content_type = std::string(kJsonType);
  JsonWriter w;
  w.beginObject();
  w.key("pool").str(pool->name()).key("backend").str(b->name()).key("action").str(action);
  w.key("old").str(old_state).key("new").str(new_state).key("admin").str(adminStateName(target));
  w.key("active_requests").num(static_cast<uint64_t>(b->activeRequests()));
  w.key("available_in_pool").num(static_cast<uint64_t>(pool->availableCount()));
  w.endObject();
  out.body = w.take();
  out.body.push_back('\n');
}

std::string AdminServer::statusJson() {
  const uint64_t now_ms = uv_now(server_.loop());
  const double now_wall = wallNow();
  // Loop time (ms) -> Unix time, anchored at start-up.
  const auto wallOf = [&](uint64_t loop_ms) {
    return server_.startTime() +
           (static_cast<double>(loop_ms) - static_cast<double>(server_.startedMs())) / 1000.0;
  };
  const auto secondsSince = [&](uint64_t loop_ms) {
    return loop_ms <= now_ms ? static_cast<double>(now_ms - loop_ms) / 1000.0 : 0.0;
  };

  JsonWriter w;
  w.beginObject();
  w.key("version").str(BALLAST_VERSION);
  w.key("pid").num(static_cast<int64_t>(getpid()));
  w.key("started").str(isoTime(server_.startTime()));
  w.key("now").str(isoTime(now_wall));
  w.key("uptime_seconds").dbl(std::max(0.0, now_wall - server_.startTime()), 1);
  w.key("ready").boolean(server_.ready());
  w.key("ready_reason").str(readinessReason());
  w.key("stopping").boolean(server_.stopping());
  w.key("admin").beginObject();
  w.key("token_required").boolean(!server_.config().admin.token.empty());
  w.key("protect_reads").boolean(server_.config().admin.protect_reads);
  w.key("address").str(boundAddress());
  w.endObject();

  w.key("listeners").beginArray();
  for (const auto& l : server_.listeners()) {
    w.beginObject().key("address").str(l->boundAddress()).key("configured").str(l->address().text).endObject();
  }
  w.endArray();

  const auto& rt = server_.runtime();
  w.key("routes").beginArray();
  for (const Route& r : rt->router.routes()) {
    w.beginObject();
    w.key("host").str(r.wildcard ? "*" + r.host : r.host);
    w.key("path_prefix").str(r.path_prefix);
    w.key("pool").str(r.pool != nullptr ? r.pool->name() : std::string());
    w.endObject();
  }
  w.endArray();

  w.key("pools").beginArray();
  for (const auto& p : rt->pools) {
    const health::HealthChecker* checker = nullptr;
    for (const auto& c : server_.checkers()) {
      if (&c->pool() == p.get()) checker = c.get();
    }
    const auto& hc = p->config().health_check;
    w.beginObject();
    w.key("name").str(p->name());
    w.key("balance").str(balanceName(p->config().balance));
    w.key("mode").str(Pool::modeName(p->mode()));
    w.key("available").num(static_cast<uint64_t>(p->availableCount()));
    w.key("size").num(static_cast<uint64_t>(p->backends().size()));
    w.key("health_check");
    if (hc) {
      w.beginObject();
      w.key("type").str(hc->type == config::HealthCheckConfig::Type::Http ? "http" : "tcp");
      if (hc->type == config::HealthCheckConfig::Type::Http) w.key("path").str(hc->path);
      w.key("interval_ms").num(static_cast<uint64_t>(hc->interval.count()));
      w.key("timeout_ms").num(static_cast<uint64_t>(hc->timeout.count()));
      w.endObject();
    } else {
      w.null();
    }
    w.key("outlier_detection").boolean(p->config().outlier_detection.has_value());
    w.key("panic_threshold").num(static_cast<uint64_t>(p->config().panic_threshold));

    w.key("backends").beginArray();
    for (const auto& bp : p->backends()) {
      Backend& b = *bp;
      w.beginObject();
      w.key("address").str(b.name());
      w.key("weight").num(static_cast<uint64_t>(b.weight()));
      w.key("backup").boolean(b.backup());
      w.key("state").str(b.stateName());
      w.key("available").boolean(b.available());
      w.key("health").str(health::toString(b.health()));
      w.key("admin").str(adminStateName(b.adminState()));
      w.key("ejected").boolean(b.ejected());
      if (b.ejected()) {
        w.key("ejected_until").str(isoTime(wallOf(b.ejected_until_ms_)));
        w.key("ejected_remaining_seconds")
            .dbl(b.ejected_until_ms_ > now_ms ? static_cast<double>(b.ejected_until_ms_ - now_ms) / 1000.0 : 0.0, 1);
        w.key("ejections").num(static_cast<uint64_t>(b.ejections_));
      }
      w.key("since").str(isoTime(wallOf(b.lastChangeMs())));
      w.key("since_seconds").dbl(secondsSince(b.lastChangeMs()), 1);

      if (hc) {
        const health::HealthSession* session = nullptr;
        if (checker != nullptr) {
          for (health::HealthSession* s : checker->sessions()) {
            if (&s->backend() == &b) session = s;
          }
        }
        w.key("last_probe");
        if (session == nullptr || session->results() == 0) {
          w.null();
        } else {
          w.beginObject();
          w.key("result").str(session->lastPassed() ? "pass" : "fail");
          w.key("reason").str(session->lastReason());
          w.key("latency_ms").dbl(session->lastLatencyMs(), 1);
          w.key("http_status");
          if (session->lastHttpStatus() > 0) {
            w.num(static_cast<int64_t>(session->lastHttpStatus()));
          } else {
            w.null();
          }
          w.key("at").str(isoTime(wallOf(session->lastResultMs())));
          w.key("age_seconds").dbl(secondsSince(session->lastResultMs()), 1);
          w.key("consecutive_passes").num(static_cast<uint64_t>(session->state().consecutivePasses()));
          w.key("consecutive_failures").num(static_cast<uint64_t>(session->state().consecutiveFailures()));
          w.endObject();
        }
      }

      BackendStats& st = b.stats();
      w.key("active_requests").num(static_cast<uint64_t>(b.activeRequests()));
      w.key("active_connections").num(static_cast<uint64_t>(st.connections_active));
      w.key("idle_connections").num(static_cast<uint64_t>(b.idle().size()));
      w.key("requests_1m").num(st.requests_1m.sum(now_ms));
      w.key("errors_1m").num(st.errors_1m.sum(now_ms));
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

}  // namespace ballast
