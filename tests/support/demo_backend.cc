// demo-backend: a small, scriptable HTTP/1.1 origin server on libuv + llhttp.
//
// It stands behind ballast in the end-to-end tests, in run.sh and in the
// benchmarks (where it is also put behind HAProxy and nginx), so it has to be
// both correct and cheap: keep-alive, pipelining (one request at a time,
// responses in request order), streaming with backpressure in both
// directions, bounded memory per connection, and no crash on garbage input.
//
// Behaviour is selected per request by query-string parameters (on any path,
// combinable) and per process by flags and by POST /_control; see usage()
// for the full list. Every normal response carries
//   Content-Type: text/plain, X-Backend: NAME, X-Conn-Id: K (per accepted
//   TCP connection, from 1), X-Conn-Requests: n (per connection, from 1),
//   X-Request-Count: total responses started by the process (this one
//   included), X-Body-Bytes / X-Body-Fnv (length and FNV-1a 64 of the
//   decoded request body; absent for echo=body, whose head goes out before
//   the body has been read).
//
// Generated bodies (?size=N): byte i is kLetters[(i % 251) % 52], where
// kLetters is "A..Za..z". The 251-byte period lets every chunk be written
// straight from one static buffer, so a 1 GiB body costs no allocation.
//
// Memory per connection: the object itself (one 64 KiB read buffer inside),
// the captured request head (<= 64 KiB), and at most ~256 KiB of queued
// writes (the producer stops above that and resumes from the write callback).
// While a response is in progress the parser is not run: unparsed pipelined
// bytes stay in the read buffer and reading is stopped until the response
// has been queued and the write queue has drained below 64 KiB.

#include <llhttp.h>
#include <uv.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kChunkSize = 64 * 1024;
// Producers (generated bodies, echo) stop when this many bytes are queued.
constexpr size_t kWriteHighWater = 256 * 1024;
// The next pipelined request is parsed only once the queue is below this.
constexpr size_t kPipelineLowWater = 64 * 1024;
// A generated body yields to the loop after this many bytes per turn.
constexpr size_t kPumpBudget = 1024 * 1024;
// After a response with Connection: close we half-close and keep reading
// (discarding) for this long, so that unread input does not turn our close
// into a RST that could destroy the response in flight (lingering close).
constexpr uint64_t kLingerMs = 2000;
constexpr uint64_t kDefaultIdleMs = 60000;
constexpr size_t kPatternPeriod = 251;
constexpr std::string_view kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kGarbage = "THIS IS NOT HTTP\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// gPattern[j] == body byte j for j < kChunkSize + kPatternPeriod, so the body
// bytes [pos, pos + len) (len <= kChunkSize) are gPattern + pos % 251.
char gPattern[kChunkSize + kPatternPeriod];

void initPattern() {
  for (size_t i = 0; i < sizeof gPattern; ++i) gPattern[i] = kLetters[(i % kPatternPeriod) % kLetters.size()];
}

struct Options {
  std::string listen;
  std::string name;
  uint64_t delayMs = 0;
  int status = 200;
  std::string healthPath = "/healthz";
  int healthStatus = 200;
  uint64_t dropAfter = 0;  // 0: never drop
  uint64_t idleCloseMs = kDefaultIdleMs;  // 0: never close idle connections
  bool verbose = false;
};

// Process-wide behaviour, initialised from Options and changed by /_control.
struct Runtime {
  int status = 200;
  int healthStatus = 200;
  uint64_t delayMs = 0;
  bool healthHang = false;
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool parseStatus(std::string_view s, int& out) { return parseNumber(s, out) && out >= 100 && out <= 999; }

// Flag-like query values: "", "1", "true", "yes" are true; "0", "false", "no" false.
bool parseBool(std::string_view s, bool& out) {
  if (s.empty() || s == "1" || s == "true" || s == "yes") {
    out = true;
    return true;
  }
  if (s == "0" || s == "false" || s == "no") {
    out = false;
    return true;
  }
  return false;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

void appendNumber(std::string& out, uint64_t v) {
  char tmp[24];
  auto [ptr, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
  (void)ec;
  out.append(tmp, ptr);
}

void appendHex(std::string& out, uint64_t v, int width) {
  char tmp[24];
  int n = std::snprintf(tmp, sizeof tmp, "%0*llx", width, static_cast<unsigned long long>(v));
  out.append(tmp, static_cast<size_t>(n));
}

class Connection;

// Owns the loop's handles (listener, signals) and every live Connection.
class Server {
 public:
  Server(uv_loop_t* loop, const Options& opts);
  // Binds, listens and prints the "listening" line. False (after printing
  // the reason to stderr) if that fails; the caller then exits non-zero.
  bool start();
  // Closes the listener, the signal handles and every connection; uv_run
  // returns once their close callbacks have run.
  void stop();
  void removeConnection(std::list<Connection*>::iterator it) { conns_.erase(it); }

  uv_loop_t* loop() const { return loop_; }
  const Options& opts() const { return opts_; }
  Runtime& runtime() { return rt_; }
  uint64_t nextRequestCount() { return ++requestCount_; }
  // Precomputed bodies: "NAME\n", "NAME healthy\n", "NAME unhealthy\n".
  std::string_view nameBody() const { return nameBody_; }
  std::string_view healthyBody() const { return healthyBody_; }
  std::string_view unhealthyBody() const { return unhealthyBody_; }

 private:
  static void onConnection(uv_stream_t* listener, int status);
  static void onSignal(uv_signal_t* handle, int signum);
  static void onClose(uv_handle_t*) {}

  uv_loop_t* loop_;
  Options opts_;
  Runtime rt_;
  uv_tcp_t listener_{};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  bool stopping_ = false;
  uint64_t nextConnId_ = 1;
  uint64_t requestCount_ = 0;
  std::list<Connection*> conns_;
  std::string nameBody_;
  std::string healthyBody_;
  std::string unhealthyBody_;
};

// One accepted client socket: read buffer, request parser, the request being
// served and its response. Phases and what exists in each:
//   Open      parser active or a response in progress; idle timer armed while
//             waiting for request bytes, delay timer while a delay runs.
//   Hanging   request read, never answered; reading (and discarding) only to
//             notice the client closing.
//   Lingering response queued, write side shut down (or shutting down);
//             reading and discarding until EOF or the linger timer.
//   Closing   uv_close issued on all three handles; the last close callback
//             removes the connection from the server and deletes it.
class Connection {
 public:
  Connection(Server* server, uint64_t id);
  // Initialises the handles and accepts from the listener. On failure the
  // connection closes itself (and is deleted from its close callbacks).
  void start(uv_stream_t* listener, std::list<Connection*>::iterator self);
  // Idempotent. reset: abort with RST (uv_tcp_close_reset) instead of FIN.
  void close(bool reset = false);

 private:
  enum class Phase { Open, Hanging, Lingering, Closing };
  enum class Pause { None, HeadersComplete, MessageComplete };
  enum class Echo { None, Head, Body };
  enum class Framing { None, Length, Chunked, Close };

  // What the current request asked for (query string) plus what the head said.
  struct Request {
    uint8_t method = 0;  // llhttp_method_t
    bool isHead = false;
    bool http10 = false;
    bool health = false;
    bool control = false;
    bool expectContinue = false;
    bool hasBody = false;
    bool badQuery = false;
    std::optional<int> status;
    std::optional<uint64_t> delayMs;
    std::optional<uint64_t> size;
    std::optional<int> healthStatus;  // /_control only
    std::optional<bool> healthHang;   // /_control only
    bool chunked = false;
    bool nolength = false;
    bool close = false;
    bool reset = false;
    bool partial = false;
    bool garbage = false;
    bool hang = false;
    Echo echo = Echo::None;
  };

  // A run of bytes to send. stable: the memory outlives any write (static
  // data); otherwise it is copied if it cannot be written immediately.
  struct Piece {
    const char* data;
    size_t len;
    bool stable;
  };

  // One queued write; req.data points back here. Freed in onWrite.
  struct WriteReq {
    uv_write_t req;
    Connection* conn;  // borrowed: outlives the write (closes wait for it)
    std::string owned;
    uv_buf_t bufs[8];
    unsigned nbufs = 0;
  };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onDelay(uv_timer_t* timer);
  static void onIdle(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);

  static int onMessageBegin(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* at, size_t len);
  static int onMethod(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onHeadersComplete(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* parser);
  static const llhttp_settings_t* parserSettings();

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  size_t writeQueueSize() { return uv_stream_get_write_queue_size(stream()); }

  // Runs the parser over the unparsed bytes of the read buffer until they are
  // used up or a request is complete (its response then owns the connection).
  void processInput();
  void headersDone();
  void messageDone();
  void parseTarget();
  void maybeStartResponse();
  void startResponse();
  void startEcho();
  void pump();
  // All bytes of the response are queued: close or go on to the next request.
  void responseQueued();
  void maybeFinishResponse();
  void finishResponse();
  void respondError(int status);
  void shutdownAndLinger();
  void updateReading();
  void armIdle();
  // Queues pieces after everything already queued. False if the connection
  // was closed because of a write error (the caller must stop).
  // tryFirst=false always queues, so that onWrite runs later.
  bool send(const Piece* pieces, unsigned n, bool tryFirst = true);
  bool sendEchoChunk(const char* data, size_t len);

  Server* server_;  // borrowed: the server outlives every connection
  std::list<Connection*>::iterator self_;
  uint64_t id_;
  Phase phase_ = Phase::Open;
  uv_tcp_t tcp_{};
  uv_timer_t delayTimer_{};
  uv_timer_t idleTimer_{};
  uv_shutdown_t shutdownReq_{};
  int pendingCloses_ = 0;
  bool reading_ = false;
  bool peerEof_ = false;
  bool shutdownDone_ = false;
  bool inProcess_ = false;

  llhttp_t parser_{};
  Pause pause_ = Pause::None;
  size_t pendingBegin_ = 0;  // unparsed bytes are buf_[pendingBegin_, pendingEnd_)
  size_t pendingEnd_ = 0;

  // Per-request state; reset by finishResponse().
  Request req_;
  std::string url_;
  std::string head_;  // the raw request head, as received
  std::string field_;
  std::string value_;
  const char* headFrom_ = nullptr;  // start of head bytes in the current execute
  bool inHead_ = false;
  bool methodSeen_ = false;
  bool headersDone_ = false;
  bool messageDone_ = false;
  bool keepAlive_ = true;
  bool dropping_ = false;
  bool delayDone_ = true;
  bool responseStarted_ = false;
  bool responseQueued_ = false;
  bool closeAfter_ = false;
  uint64_t bodyBytes_ = 0;
  uint64_t bodyFnv_ = kFnvOffset;

  // Response production.
  std::string out_;  // response head (+ small body), reused between requests
  bool headPending_ = false;  // out_ not yet handed to send()
  bool streaming_ = false;    // a generated body is being produced by pump()
  bool streamChunked_ = false;
  bool streamLastChunk_ = false;
  uint64_t streamPos_ = 0;
  uint64_t streamRemaining_ = 0;
  bool echoing_ = false;       // echo=body: the response head has gone out
  bool echoChunked_ = false;
  bool echoDiscard_ = false;   // HEAD: framing headers only, no body
  std::string echoBuf_;        // echo body received before the head went out

  uint64_t requestsOnConn_ = 0;  // heads parsed on this connection
  uint64_t answered_ = 0;        // responses completed on this connection

  char buf_[kReadBufferSize];
};

// ---------------------------------------------------------------- Server

Server::Server(uv_loop_t* loop, const Options& opts)
    : loop_(loop),
      opts_(opts),
      nameBody_(opts.name + "\n"),
      healthyBody_(opts.name + " healthy\n"),
      unhealthyBody_(opts.name + " unhealthy\n") {
  rt_.status = opts.status;
  rt_.healthStatus = opts.healthStatus;
  rt_.delayMs = opts.delayMs;
}

bool Server::start() {
  // ADDR is HOST:PORT or [V6]:PORT; "localhost" means 127.0.0.1, an empty or
  // "*" host means 0.0.0.0.
  std::string host;
  std::string portStr;
  const std::string& a = opts_.listen;
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    if (close == std::string::npos || close + 1 >= a.size() || a[close + 1] != ':') {
      std::fprintf(stderr, "demo-backend: bad --listen address '%s'\n", a.c_str());
      return false;
    }
    host = a.substr(1, close - 1);
    portStr = a.substr(close + 2);
  } else {
    size_t colon = a.rfind(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "demo-backend: bad --listen address '%s' (want HOST:PORT)\n", a.c_str());
      return false;
    }
    host = a.substr(0, colon);
    portStr = a.substr(colon + 1);
  }
  int port = 0;
  if (!parseNumber(std::string_view(portStr), port) || port < 0 || port > 65535) {
    std::fprintf(stderr, "demo-backend: bad port in --listen '%s'\n", a.c_str());
    return false;
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";

  sockaddr_storage addr{};
  bool v6 = host.find(':') != std::string::npos;
  int rc = v6 ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
              : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) {
    std::fprintf(stderr, "demo-backend: bad host in --listen '%s': %s\n", a.c_str(), uv_strerror(rc));
    return false;
  }

  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  uv_signal_init(loop_, &sigint_);
  sigint_.data = this;
  uv_signal_init(loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sigterm_, onSignal, SIGTERM);

  rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, onConnection);
  if (rc != 0) {
    std::fprintf(stderr, "demo-backend: cannot listen on %s: %s\n", a.c_str(), uv_strerror(rc));
    stop();
    return false;
  }

  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  char name[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&bound);
    uv_ip6_name(sin6, name, sizeof name);
    std::printf("listening [%s]:%d\n", name, ntohs(sin6->sin6_port));
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&bound);
    uv_ip4_name(sin, name, sizeof name);
    std::printf("listening %s:%d\n", name, ntohs(sin->sin_port));
  }
  std::fflush(stdout);
  return true;
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), onClose);
  // close() only schedules; connections leave the list from their close
  // callbacks, so iterating here is safe.
  for (Connection* c : conns_) c->close();
}

void Server::onConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0 || self->stopping_) return;
  auto* conn = new Connection(self, self->nextConnId_++);
  self->conns_.push_back(conn);
  conn->start(listener, std::prev(self->conns_.end()));
}

void Server::onSignal(uv_signal_t* handle, int) {
  auto* self = static_cast<Server*>(handle->data);
  self->stop();
}

// ---------------------------------------------------------------- Connection

Connection::Connection(Server* server, uint64_t id) : server_(server), id_(id) {}

const llhttp_settings_t* Connection::parserSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = onMessageBegin;
    s.on_url = onUrl;
    s.on_method = onMethod;
    s.on_header_field = onHeaderField;
    s.on_header_value = onHeaderValue;
    s.on_header_value_complete = onHeaderValueComplete;
    s.on_headers_complete = onHeadersComplete;
    s.on_body = onBody;
    s.on_message_complete = onMessageComplete;
    return s;
  }();
  return &settings;
}

void Connection::start(uv_stream_t* listener, std::list<Connection*>::iterator self) {
  self_ = self;
  uv_tcp_init(server_->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(server_->loop(), &delayTimer_);
  delayTimer_.data = this;
  uv_timer_init(server_->loop(), &idleTimer_);
  idleTimer_.data = this;
  shutdownReq_.data = this;
  llhttp_init(&parser_, HTTP_REQUEST, parserSettings());
  parser_.data = this;
  if (uv_accept(listener, stream()) != 0) {
    close();
    return;
  }
  uv_tcp_nodelay(&tcp_, 1);
  armIdle();
  updateReading();
}

void Connection::close(bool reset) {
  if (phase_ == Phase::Closing) return;
  phase_ = Phase::Closing;
  uv_timer_stop(&delayTimer_);
  uv_timer_stop(&idleTimer_);
  if (reading_) uv_read_stop(stream());
  reading_ = false;
  pendingCloses_ = 3;
  uv_close(reinterpret_cast<uv_handle_t*>(&delayTimer_), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&idleTimer_), onClose);
  // close_reset refuses a stream that is shutting down; fall back to FIN.
  if (!reset || uv_tcp_close_reset(&tcp_, onClose) != 0) uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClose);
}

void Connection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (--self->pendingCloses_ > 0) return;
  self->server_->removeConnection(self->self_);
  delete self;
}

void Connection::armIdle() {
  uint64_t ms = server_->opts().idleCloseMs;
  if (ms > 0 && phase_ == Phase::Open) uv_timer_start(&idleTimer_, onIdle, ms, 0);
}

void Connection::onIdle(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  self->close();
}

void Connection::onDelay(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  self->delayDone_ = true;
  self->maybeStartResponse();
}

// Reading is on exactly when the read buffer is free (no unparsed bytes) and
// nothing else holds it back: echo backpressure, or the peer's EOF.
void Connection::updateReading() {
  bool want = false;
  switch (phase_) {
    case Phase::Open:
      want = !peerEof_ && pendingBegin_ == pendingEnd_ &&
             !(req_.echo == Echo::Body && headersDone_ && !messageDone_ &&
               echoBuf_.size() + writeQueueSize() > kWriteHighWater);
      break;
    case Phase::Hanging:
    case Phase::Lingering:
      want = !peerEof_;
      break;
    case Phase::Closing:
      return;
  }
  if (want && !reading_) {
    if (uv_read_start(stream(), onAlloc, onRead) == 0) reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(stream());
    reading_ = false;
  }
}

void Connection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  // Reading is only on while the buffer holds no unparsed bytes.
  *buf = uv_buf_init(self->buf_, sizeof self->buf_);
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread == 0 || self->phase_ == Phase::Closing) return;
  if (nread < 0) {
    self->reading_ = false;  // libuv stops reading on EOF; on errors we close
    if (nread != UV_EOF) {
      self->close();
      return;
    }
    self->peerEof_ = true;
    switch (self->phase_) {
      case Phase::Hanging:
        self->close();
        return;
      case Phase::Lingering:
        // Still flushing? onShutdown closes once the writes are out.
        if (self->shutdownDone_) self->close();
        return;
      case Phase::Open:
        // A half-closed client still gets the response it is owed (e.g.
        // `printf ... | nc`); anything else ends here.
        if (!self->messageDone_) {
          self->close();
        } else if (self->responseQueued_) {
          self->shutdownAndLinger();
        } else {
          self->closeAfter_ = true;  // responseQueued() shuts down
          self->updateReading();
        }
        return;
      case Phase::Closing:
        return;
    }
    return;
  }
  if (self->phase_ != Phase::Open) return;  // hanging or lingering: discard
  self->pendingBegin_ = 0;
  self->pendingEnd_ = static_cast<size_t>(nread);
  if (!self->messageDone_) self->armIdle();
  self->processInput();
}

void Connection::processInput() {
  if (inProcess_) return;  // the outer loop picks the next request up
  inProcess_ = true;
  // After the pause at headers-complete, llhttp needs one more execute (even
  // with no bytes) to report the end of a body-less message.
  bool kick = false;
  while (phase_ == Phase::Open && !messageDone_ && (pendingBegin_ < pendingEnd_ || kick)) {
    kick = false;
    const char* p = buf_ + pendingBegin_;
    const char* end = buf_ + pendingEnd_;
    if (inHead_ && methodSeen_) headFrom_ = p;
    pause_ = Pause::None;
    llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<size_t>(end - p));
    if (phase_ != Phase::Open) break;  // closed from a callback (write error)
    const char* stop = end;
    if (err == HPE_PAUSED) {
      stop = llhttp_get_error_pos(&parser_);
      llhttp_resume(&parser_);
    } else if (err != HPE_OK) {
      // Also HPE_PAUSED_UPGRADE: we never resume after an upgrade request,
      // because its response is sent with Connection: close.
      pendingBegin_ = pendingEnd_ = 0;
      inProcess_ = false;
      respondError(400);
      return;
    }
    if (headFrom_ != nullptr) {
      head_.append(headFrom_, static_cast<size_t>(stop - headFrom_));
      headFrom_ = nullptr;
    }
    pendingBegin_ = static_cast<size_t>(stop - buf_);
    if (head_.size() > kMaxHeadBytes) {
      pendingBegin_ = pendingEnd_ = 0;
      inProcess_ = false;
      respondError(431);
      return;
    }
    if (pause_ == Pause::HeadersComplete) {
      headersDone();
      kick = true;
    } else if (pause_ == Pause::MessageComplete) {
      messageDone();
    }
  }
  if (pendingBegin_ == pendingEnd_) pendingBegin_ = pendingEnd_ = 0;
  inProcess_ = false;
  updateReading();
}

// ------------------------------------------------ llhttp callbacks
// They only record; decisions are taken in headersDone()/messageDone(),
// outside the parser, where pausing makes the execute return.

int Connection::onMessageBegin(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->inHead_ = true;
  return 0;
}

int Connection::onMethod(llhttp_t* parser, const char* at, size_t) {
  auto* self = static_cast<Connection*>(parser->data);
  if (!self->methodSeen_) {
    self->methodSeen_ = true;
    self->headFrom_ = at;  // the request line starts here
  }
  return 0;
}

int Connection::onUrl(llhttp_t* parser, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(parser->data);
  if (self->url_.size() + len > kMaxHeadBytes) return -1;
  self->url_.append(at, len);
  return 0;
}

int Connection::onHeaderField(llhttp_t* parser, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(parser->data);
  if (self->field_.size() + len > kMaxHeadBytes) return -1;
  self->field_.append(at, len);
  return 0;
}

int Connection::onHeaderValue(llhttp_t* parser, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(parser->data);
  // Only Expect matters; other values are not copied.
  if (iequals(self->field_, "expect") && self->value_.size() + len <= 64) self->value_.append(at, len);
  return 0;
}

int Connection::onHeaderValueComplete(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  if (iequals(self->field_, "expect") && iequals(self->value_, "100-continue")) self->req_.expectContinue = true;
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int Connection::onHeadersComplete(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->inHead_ = false;
  self->pause_ = Pause::HeadersComplete;
  return HPE_PAUSED;
}

int Connection::onBody(llhttp_t* parser, const char* at, size_t len) {
  auto* self = static_cast<Connection*>(parser->data);
  if (self->phase_ != Phase::Open) return -1;
  self->bodyBytes_ += len;
  if (self->req_.echo == Echo::Body && !self->dropping_ && !self->req_.hang) {
    if (self->echoing_) {
      if (!self->sendEchoChunk(at, len)) return -1;
    } else {
      self->echoBuf_.append(at, len);  // bounded: reading stops above kWriteHighWater
    }
    return 0;
  }
  uint64_t h = self->bodyFnv_;
  for (size_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(at[i]);
    h *= kFnvPrime;
  }
  self->bodyFnv_ = h;
  return 0;
}

int Connection::onMessageComplete(llhttp_t* parser) {
  auto* self = static_cast<Connection*>(parser->data);
  self->keepAlive_ = self->keepAlive_ && llhttp_should_keep_alive(parser) != 0;
  self->messageDone_ = true;
  self->pause_ = Pause::MessageComplete;
  return HPE_PAUSED;
}

// ------------------------------------------------ request handling

// Splits the request target into path and query and fills req_ from the
// query. Unknown parameters are ignored; bad values set req_.badQuery.
void Connection::parseTarget() {
  std::string_view target = url_;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      size_t slash = target.find_first_of("/?");
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  req_.health = path == server_->opts().healthPath;
  req_.control = path == "/_control";

  Request& r = req_;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = param.find('=');
    std::string_view key = param.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    bool ok = true;
    if (key == "delay") {
      uint64_t v = 0;
      ok = parseNumber(val, v);
      r.delayMs = v;
    } else if (key == "status") {
      int v = 0;
      ok = parseStatus(val, v);
      r.status = v;
    } else if (key == "size") {
      uint64_t v = 0;
      ok = parseNumber(val, v);
      r.size = v;
    } else if (key == "health_status") {
      int v = 0;
      ok = parseStatus(val, v);
      r.healthStatus = v;
    } else if (key == "health_hang") {
      bool v = false;
      ok = parseBool(val, v);
      r.healthHang = v;
    } else if (key == "echo") {
      if (val == "head") {
        r.echo = Echo::Head;
      } else if (val == "body") {
        r.echo = Echo::Body;
      } else {
        ok = false;
      }
    } else if (key == "chunked") {
      ok = parseBool(val, r.chunked);
    } else if (key == "nolength") {
      ok = parseBool(val, r.nolength);
    } else if (key == "close") {
      ok = parseBool(val, r.close);
    } else if (key == "reset") {
      ok = parseBool(val, r.reset);
    } else if (key == "partial") {
      ok = parseBool(val, r.partial);
    } else if (key == "garbage") {
      ok = parseBool(val, r.garbage);
    } else if (key == "hang") {
      ok = parseBool(val, r.hang);
    }
    if (!ok) r.badQuery = true;
  }
  if (r.health && server_->runtime().healthHang) r.hang = true;
  if (r.control || r.health) r.echo = Echo::None;
}

void Connection::headersDone() {
  headersDone_ = true;
  ++requestsOnConn_;
  req_.method = parser_.method;
  req_.isHead = parser_.method == HTTP_HEAD;
  req_.http10 = parser_.http_major == 1 && parser_.http_minor == 0;
  req_.hasBody = (parser_.flags & F_CHUNKED) != 0 || ((parser_.flags & F_CONTENT_LENGTH) != 0 && parser_.content_length > 0);
  parseTarget();
  if (req_.badQuery) {
    respondError(400);
    return;
  }
  if (req_.reset) {
    close(true);
    return;
  }
  keepAlive_ = llhttp_should_keep_alive(&parser_) != 0;
  if (parser_.upgrade) closeAfter_ = true;  // we do not speak the other protocol
  const Options& opts = server_->opts();
  dropping_ = opts.dropAfter > 0 && answered_ >= opts.dropAfter;
  if (dropping_ || req_.hang) return;  // read the rest; no 100, no response

  if (req_.expectContinue && req_.hasBody && !req_.http10) {
    Piece p{kContinue.data(), kContinue.size(), true};
    if (!send(&p, 1)) return;
  }
  uint64_t delay = req_.delayMs.value_or((req_.health || req_.control) ? 0 : server_->runtime().delayMs);
  if (delay > 0) {
    delayDone_ = false;
    uv_timer_start(&delayTimer_, onDelay, delay, 0);
  }
  if (req_.echo == Echo::Body) maybeStartResponse();
}

void Connection::messageDone() {
  uv_timer_stop(&idleTimer_);
  if (dropping_) {
    // --drop-after: the request has been read; close without a response.
    shutdownAndLinger();
    return;
  }
  if (req_.hang) {
    phase_ = Phase::Hanging;
    uv_timer_stop(&delayTimer_);
    pendingBegin_ = pendingEnd_ = 0;
    return;
  }
  if (echoing_) {
    // echo=body: the head and the body chunks are out; end the body.
    if (echoChunked_ && !echoDiscard_) {
      Piece p{kLastChunk.data(), kLastChunk.size(), true};
      if (!send(&p, 1)) return;
    }
    responseQueued();
    return;
  }
  maybeStartResponse();
}

void Connection::maybeStartResponse() {
  if (phase_ != Phase::Open || responseStarted_ || !delayDone_ || !headersDone_) return;
  if (!messageDone_ && req_.echo != Echo::Body) return;
  startResponse();
}

void Connection::startResponse() {
  responseStarted_ = true;
  uint64_t total = server_->nextRequestCount();
  Runtime& rt = server_->runtime();
  const Options& opts = server_->opts();

  if (req_.garbage) {
    closeAfter_ = true;
    Piece p{kGarbage.data(), kGarbage.size(), true};
    if (!send(&p, 1)) return;
    responseQueued();
    return;
  }

  // The body, by precedence: control, health, echo=body, echo=head, size=N,
  // and else "NAME\n".
  std::string_view fixed;
  bool generated = false;
  bool echoBody = false;
  int status;
  if (req_.control) {
    if (req_.healthStatus) rt.healthStatus = *req_.healthStatus;
    if (req_.status) rt.status = *req_.status;
    if (req_.delayMs) rt.delayMs = *req_.delayMs;
    if (req_.healthHang) rt.healthHang = *req_.healthHang;
    status = 200;
    fixed = "ok\n";
  } else if (req_.health) {
    status = req_.status.value_or(rt.healthStatus);
    fixed = status >= 200 && status < 400 ? server_->healthyBody() : server_->unhealthyBody();
  } else {
    status = req_.status.value_or(rt.status);
    if (req_.echo == Echo::Body) {
      echoBody = true;
    } else if (req_.echo == Echo::Head) {
      fixed = head_;
    } else if (req_.size) {
      generated = true;
    } else {
      fixed = server_->nameBody();
    }
  }

  bool bodyless = status < 200 || status == 204 || status == 304;
  Framing framing = Framing::Length;
  if (bodyless) {
    framing = Framing::None;
  } else if (req_.nolength) {
    framing = Framing::Close;
  } else if (echoBody || req_.chunked) {
    framing = req_.http10 ? Framing::Close : Framing::Chunked;
  }
  bool sendBody = !bodyless && !req_.isHead;
  uint64_t length = generated ? *req_.size : fixed.size();
  uint64_t toSend = sendBody ? (req_.partial ? length / 2 : length) : 0;
  closeAfter_ = closeAfter_ || !keepAlive_ || req_.close || req_.partial || framing == Framing::Close || peerEof_;

  if (opts.verbose) {
    std::fprintf(stderr, "%s conn=%llu req=%llu %s %s -> %d\n", opts.name.c_str(),
                 static_cast<unsigned long long>(id_), static_cast<unsigned long long>(requestsOnConn_),
                 llhttp_method_name(static_cast<llhttp_method_t>(req_.method)), url_.c_str(), status);
  }

  out_.clear();
  out_.append("HTTP/1.1 ");
  appendNumber(out_, static_cast<uint64_t>(status));
  out_.push_back(' ');
  out_.append(reasonPhrase(status));
  out_.append("\r\nContent-Type: text/plain\r\nX-Backend: ");
  out_.append(opts.name);
  out_.append("\r\nX-Conn-Id: ");
  appendNumber(out_, id_);
  out_.append("\r\nX-Conn-Requests: ");
  appendNumber(out_, requestsOnConn_);
  out_.append("\r\nX-Request-Count: ");
  appendNumber(out_, total);
  if (!echoBody) {
    out_.append("\r\nX-Body-Bytes: ");
    appendNumber(out_, bodyBytes_);
    out_.append("\r\nX-Body-Fnv: ");
    appendHex(out_, bodyFnv_, 16);
  }
  if (framing == Framing::Length) {
    out_.append("\r\nContent-Length: ");
    appendNumber(out_, length);
  } else if (framing == Framing::Chunked) {
    out_.append("\r\nTransfer-Encoding: chunked");
  }
  if (closeAfter_) {
    out_.append("\r\nConnection: close");
  } else if (req_.http10) {
    out_.append("\r\nConnection: keep-alive");
  }
  out_.append("\r\n\r\n");

  if (echoBody) {
    echoChunked_ = framing == Framing::Chunked;
    echoDiscard_ = !sendBody;
    startEcho();
    return;
  }
  if (generated) {
    streaming_ = true;
    headPending_ = true;
    streamChunked_ = framing == Framing::Chunked;
    streamLastChunk_ = streamChunked_ && !req_.partial && sendBody;
    streamPos_ = 0;
    streamRemaining_ = toSend;
    pump();
    return;
  }
  // Small fixed body: one write together with the head.
  if (toSend > 0) {
    if (framing == Framing::Chunked) {
      appendHex(out_, length, 1);
      out_.append("\r\n");
    }
    out_.append(fixed.substr(0, toSend));
    if (framing == Framing::Chunked && !req_.partial) out_.append("\r\n0\r\n\r\n");
  }
  Piece p{out_.data(), out_.size(), false};
  if (!send(&p, 1)) return;
  responseQueued();
}

void Connection::startEcho() {
  echoing_ = true;
  Piece p{out_.data(), out_.size(), false};
  if (!send(&p, 1)) return;
  if (!echoBuf_.empty()) {
    if (!sendEchoChunk(echoBuf_.data(), echoBuf_.size())) return;
    echoBuf_.clear();
  }
  if (messageDone_) {
    if (echoChunked_ && !echoDiscard_) {
      Piece last{kLastChunk.data(), kLastChunk.size(), true};
      if (!send(&last, 1)) return;
    }
    responseQueued();
  }
}

bool Connection::sendEchoChunk(const char* data, size_t len) {
  if (len == 0 || echoDiscard_) return true;
  if (!echoChunked_) {
    Piece p{data, len, false};
    return send(&p, 1);
  }
  char hdr[24];
  int n = std::snprintf(hdr, sizeof hdr, "%zx\r\n", len);
  Piece pieces[3] = {{hdr, static_cast<size_t>(n), false}, {data, len, false}, {kCrlf.data(), kCrlf.size(), true}};
  return send(pieces, 3);
}

// Produces the generated body until it is all queued or the write queue is
// above the high-water mark; onWrite calls it again as the queue drains.
void Connection::pump() {
  // After kPumpBudget bytes in one call, go through the write queue so that
  // onWrite resumes us on a later loop turn and other connections get a go.
  size_t produced = 0;
  while (streaming_ && phase_ == Phase::Open) {
    if (writeQueueSize() >= kWriteHighWater) return;
    Piece pieces[5];
    unsigned n = 0;
    if (headPending_) {
      pieces[n++] = {out_.data(), out_.size(), false};
      headPending_ = false;
    }
    size_t len = static_cast<size_t>(std::min<uint64_t>(streamRemaining_, kChunkSize));
    char hdr[24];
    if (len > 0) {
      if (streamChunked_) {
        int hn = std::snprintf(hdr, sizeof hdr, "%zx\r\n", len);
        pieces[n++] = {hdr, static_cast<size_t>(hn), false};
      }
      pieces[n++] = {gPattern + streamPos_ % kPatternPeriod, len, true};
      if (streamChunked_) pieces[n++] = {kCrlf.data(), kCrlf.size(), true};
      streamPos_ += len;
      streamRemaining_ -= len;
    }
    if (streamRemaining_ == 0) {
      if (streamLastChunk_) pieces[n++] = {kLastChunk.data(), kLastChunk.size(), true};
      streaming_ = false;
    }
    bool tryFirst = produced < kPumpBudget;
    produced += len;
    if (n > 0 && !send(pieces, n, tryFirst)) return;
  }
  if (!streaming_ && phase_ == Phase::Open && responseStarted_ && !responseQueued_) responseQueued();
}

bool Connection::send(const Piece* pieces, unsigned n, bool tryFirst) {
  uv_buf_t bufs[8];
  size_t total = 0;
  for (unsigned i = 0; i < n; ++i) {
    bufs[i] = uv_buf_init(const_cast<char*>(pieces[i].data), static_cast<unsigned>(pieces[i].len));
    total += pieces[i].len;
  }
  if (total == 0) return true;
  size_t written = 0;
  int r = tryFirst ? uv_try_write(stream(), bufs, n) : UV_EAGAIN;
  if (r > 0) {
    written = static_cast<size_t>(r);
  } else if (r < 0 && r != UV_EAGAIN) {
    close();
    return false;
  }
  if (written == total) return true;

  // Queue the rest. Unstable bytes are copied into the request first (all of
  // them, so that the string does not reallocate under the buffers).
  auto* w = new WriteReq;
  w->req.data = w;
  w->conn = this;
  size_t skip = written;
  size_t ownedSize = 0;
  for (unsigned i = 0; i < n; ++i) {
    size_t s = std::min(skip, pieces[i].len);
    skip -= s;
    if (!pieces[i].stable) ownedSize += pieces[i].len - s;
  }
  w->owned.resize(ownedSize);
  skip = written;
  size_t off = 0;
  for (unsigned i = 0; i < n; ++i) {
    size_t s = std::min(skip, pieces[i].len);
    skip -= s;
    size_t rest = pieces[i].len - s;
    if (rest == 0) continue;
    const char* src = pieces[i].data + s;
    if (!pieces[i].stable) {
      std::memcpy(w->owned.data() + off, src, rest);
      src = w->owned.data() + off;
      off += rest;
    }
    w->bufs[w->nbufs++] = uv_buf_init(const_cast<char*>(src), static_cast<unsigned>(rest));
  }
  int rc = uv_write(&w->req, stream(), w->bufs, w->nbufs, onWrite);
  if (rc != 0) {
    delete w;
    close();
    return false;
  }
  return true;
}

void Connection::onWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Connection* self = w->conn;
  delete w;
  if (self->phase_ == Phase::Closing) return;
  if (status < 0) {
    self->close();
    return;
  }
  if (self->phase_ != Phase::Open) return;
  if (self->streaming_) self->pump();
  if (self->phase_ != Phase::Open) return;
  self->updateReading();  // echo backpressure may have eased
  self->maybeFinishResponse();
}

void Connection::responseQueued() {
  responseQueued_ = true;
  // keepAlive_ can turn false after an echo=body head went out (it is final
  // only at message end); then we close without announcing it.
  if (closeAfter_ || !keepAlive_) {
    shutdownAndLinger();
    return;
  }
  maybeFinishResponse();
}

void Connection::maybeFinishResponse() {
  if (phase_ != Phase::Open || !responseQueued_ || closeAfter_ || !keepAlive_) return;
  if (writeQueueSize() > kPipelineLowWater) return;
  finishResponse();
}

// The response is queued and the queue is short: forget the request and go
// on with the next one (possibly already in the read buffer).
void Connection::finishResponse() {
  ++answered_;
  uv_timer_stop(&delayTimer_);
  req_ = Request{};
  url_.clear();
  head_.clear();
  field_.clear();
  value_.clear();
  echoBuf_.clear();
  headFrom_ = nullptr;
  inHead_ = false;
  methodSeen_ = false;
  headersDone_ = false;
  messageDone_ = false;
  keepAlive_ = true;
  dropping_ = false;
  delayDone_ = true;
  responseStarted_ = false;
  responseQueued_ = false;
  closeAfter_ = false;
  bodyBytes_ = 0;
  bodyFnv_ = kFnvOffset;
  headPending_ = false;
  streaming_ = false;
  echoing_ = false;
  echoDiscard_ = false;
  if (peerEof_ && pendingBegin_ == pendingEnd_) {
    shutdownAndLinger();
    return;
  }
  armIdle();
  processInput();
}

// Bad input: a short response with Connection: close, then lingering close.
// If a response is already on the wire (echo=body), only closing is left.
void Connection::respondError(int status) {
  if (phase_ != Phase::Open) return;
  if (responseStarted_) {
    close(true);
    return;
  }
  responseStarted_ = true;
  closeAfter_ = true;
  uv_timer_stop(&delayTimer_);
  const char* body = status == 431 ? "request head too large\n" : "bad request\n";
  out_.clear();
  out_.append("HTTP/1.1 ");
  appendNumber(out_, static_cast<uint64_t>(status));
  out_.push_back(' ');
  out_.append(reasonPhrase(status));
  out_.append("\r\nContent-Type: text/plain\r\nX-Backend: ");
  out_.append(server_->opts().name);
  out_.append("\r\nContent-Length: ");
  appendNumber(out_, std::strlen(body));
  out_.append("\r\nConnection: close\r\n\r\n");
  out_.append(body);
  Piece p{out_.data(), out_.size(), false};
  if (!send(&p, 1)) return;
  responseQueued();
}

void Connection::shutdownAndLinger() {
  if (phase_ != Phase::Open && phase_ != Phase::Hanging) return;
  phase_ = Phase::Lingering;
  uv_timer_stop(&delayTimer_);
  uv_timer_stop(&idleTimer_);
  pendingBegin_ = pendingEnd_ = 0;  // unparsed input is dropped from here on
  // uv_shutdown waits for the queued writes, then sends FIN.
  if (uv_shutdown(&shutdownReq_, stream(), onShutdown) != 0) {
    close();
    return;
  }
  updateReading();
}

void Connection::onShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  if (self->phase_ == Phase::Closing) return;
  self->shutdownDone_ = true;
  if (status < 0 || self->peerEof_) {
    self->close();
    return;
  }
  uv_timer_start(&self->idleTimer_, onIdle, kLingerMs, 0);
}

// ---------------------------------------------------------------- main

void usage(FILE* out) {
  std::fprintf(out,
               "usage: demo-backend --listen ADDR --name NAME [options]\n"
               "\n"
               "A scriptable HTTP/1.1 test backend. ADDR is HOST:PORT or [V6]:PORT; port 0\n"
               "picks a free port. After binding, one line 'listening HOST:PORT' goes to stdout.\n"
               "\n"
               "options:\n"
               "  --delay MS           wait MS before each response head (default 0)\n"
               "  --status CODE        default response status (default 200)\n"
               "  --health-path PATH   health endpoint (default /healthz)\n"
               "  --health-status CODE health endpoint status (default 200)\n"
               "  --drop-after N       per connection, after N answered requests read the next\n"
               "                       one and close without a response (default 0: never)\n"
               "  --idle-close MS      close keep-alive connections idle for MS (default 60000;\n"
               "                       0: never)\n"
               "  --quiet              log nothing per request (the default)\n"
               "  --verbose            one line per answered request on stderr\n"
               "  --help               this text\n"
               "\n"
               "query parameters (any path, combinable):\n"
               "  delay=MS  status=N  size=N  chunked=1  nolength=1  close=1  reset=1\n"
               "  partial=1  garbage=1  hang=1  echo=head|body\n"
               "size=N bodies: byte i is \"A-Za-z\"[(i %% 251) %% 52].\n"
               "control (any method): /_control?status=N&delay=MS&health_status=N&health_hang=0|1\n"
               "SIGINT/SIGTERM: close everything and exit 0.\n");
}

[[noreturn]] void badUsage(const char* fmt, const char* arg) {
  std::fprintf(stderr, "demo-backend: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\n(try --help)\n");
  std::exit(2);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  bool haveListen = false;
  bool haveName = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inlineValue;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      inlineValue = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inlineValue) return *inlineValue;
      if (i + 1 >= argc) badUsage("missing value for %s", arg.c_str());
      return argv[++i];
    };
    auto number = [&](uint64_t& out) {
      std::string v = value();
      if (!parseNumber(std::string_view(v), out)) badUsage("bad number for %s", arg.c_str());
    };
    auto status = [&](int& out) {
      std::string v = value();
      if (!parseStatus(v, out)) badUsage("bad status code for %s", arg.c_str());
    };
    if (arg == "--listen") {
      o.listen = value();
      haveListen = true;
    } else if (arg == "--name") {
      o.name = value();
      haveName = true;
    } else if (arg == "--delay") {
      number(o.delayMs);
    } else if (arg == "--status") {
      status(o.status);
    } else if (arg == "--health-path") {
      o.healthPath = value();
    } else if (arg == "--health-status") {
      status(o.healthStatus);
    } else if (arg == "--drop-after") {
      number(o.dropAfter);
    } else if (arg == "--idle-close") {
      number(o.idleCloseMs);
    } else if (arg == "--quiet" && !inlineValue) {
      o.verbose = false;
    } else if (arg == "--verbose" && !inlineValue) {
      o.verbose = true;
    } else if ((arg == "--help" || arg == "-h") && !inlineValue) {
      usage(stdout);
      std::exit(0);
    } else {
      badUsage("unknown argument %s", argv[i]);
    }
  }
  if (!haveListen) badUsage("%s is required", "--listen");
  if (!haveName) badUsage("%s is required", "--name");
  for (char c : o.name) {
    if (c == '\r' || c == '\n') badUsage("%s must not contain line breaks", "--name");
  }
  return o;
}

void closeStragglers(uv_handle_t* handle, void*) {
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Options opts = parseArgs(argc, argv);
  initPattern();

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exitCode = 0;
  {
    Server server(&loop, opts);
    if (!server.start()) exitCode = 1;
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  if (uv_loop_close(&loop) != 0) {
    // Should not happen; make sure we still exit cleanly.
    uv_walk(&loop, closeStragglers, nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  return exitCode;
}
