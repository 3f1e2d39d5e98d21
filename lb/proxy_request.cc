#include "lb/proxy_request.h"

#include "config/duration.h"
#include "lb/backend.h"
#include "lb/downstream_connection.h"
#include "lb/log.h"
#include "lb/pool.h"
#include "lb/server.h"

#include <algorithm>

namespace ballast {

namespace {

std::string_view upstreamErrorDetail(UpstreamError err) {
  switch (err) {
    case UpstreamError::ConnectFailed: return "could not connect to the backend";
    case UpstreamError::ConnectTimeout: return "backend connect timed out";
    case UpstreamError::Reset: return "backend closed the connection before a complete response";
    case UpstreamError::ResponseTimeout: return "backend did not respond in time";
    case UpstreamError::InvalidResponse: return "backend sent an invalid response";
    case UpstreamError::WriteFailed: return "could not send the request to the backend";
  }
  return "backend error";
}

int upstreamErrorStatus(UpstreamError err) {
  switch (err) {
    case UpstreamError::ConnectTimeout:
    case UpstreamError::ResponseTimeout:
      return 504;
    default:
      return 502;
  }
}

// Status codes after which the client byte stream cannot be trusted or
// resynchronised: the connection is closed once the reply is written.
bool closesConnection(int status) { return status == 400 || status == 408 || status == 413 || status == 431; }

JsonLine& accessLine() {
  static JsonLine line;
  return line;
}

}  // namespace

ProxyRequest::ProxyRequest(DownstreamConnection& conn) : conn_(conn) {
  req_head_.reserve(1024);
  resp_head_.reserve(1024);
  request_id_.reserve(40);
  method_.reserve(16);
  path_.reserve(256);
}

ProxyRequest::~ProxyRequest() { abort(); }

void ProxyRequest::beginRequest() {
  transitionTo(State::PickingBackend);
  runtime_ = conn_.server().runtime();
  pool_ = nullptr;
  backend_ = nullptr;
  upstream_ = nullptr;
  tried_.clear();
  retries_on_fresh_ = 0;
  attempts_ = 0;
  pool_counted_ = false;
  retry_counted_ = false;
  written_ = false;
  idempotent_ = false;
  replayable_ = false;
  retry_status_pending_ = false;
  replay_.clear();
  req_batch_.clear();
  resp_batch_.clear();
  req_framing_ = BodyFraming::None;
  resp_framing_ = BodyFraming::None;
  request_complete_ = false;
  response_started_ = false;
  response_complete_ = false;
  response_timer_armed_ = false;
  close_client_ = false;
  head_request_ = false;
  client_keep_alive_ = true;
  client_http10_ = false;
  expect_continue_ = false;
  body_in_ = 0;
  max_body_ = runtime_->config->limits.max_body_bytes;
  status_ = 0;
  local_status_ = 0;
  local_detail_ = {};
  request_id_.clear();
  method_.clear();
  path_.clear();
  start_ns_ = nowNs();
  bytes_out_ = 0;
}

int ProxyRequest::onRequestHead(RequestHead& h) {
  beginRequest();
  method_.assign(h.method_name);
  path_.assign(h.url);
  head_request_ = h.method == HTTP_HEAD;
  client_http10_ = h.http_major == 1 && h.http_minor == 0;
  client_keep_alive_ = h.keep_alive;
  expect_continue_ = h.expect_continue;
  req_framing_ = h.framing;

  const bool has_rid = !h.request_id.empty() && h.request_id.size() <= 128;
  if (has_rid) {
    request_id_.assign(h.request_id);
  } else {
    conn_.server().newRequestId(request_id_);
  }

  if (max_body_ != 0 && h.framing == BodyFraming::ContentLength && h.content_length > max_body_) return 413;

  // Exactly one Host (RFC 9112 3.2): several, or none from an HTTP/1.1
  // client, is a malformed request and a classic smuggling/poisoning vector.
  std::string_view host = h.host;
  std::string_view url = h.url;
  std::string_view authority;
  std::string_view origin_path;
  bool absolute = splitAbsoluteForm(h.url, &authority, &origin_path) && !origin_path.empty() && origin_path[0] == '/';
  const int hosts = h.host_count;
  if (absolute) {
    // Absolute form: the authority in the target wins over Host.
    host = authority;
    url = origin_path;
  }
  if (hosts > 1 || (hosts == 0 && !client_http10_ && !absolute)) {
    local_detail_ = hosts > 1 ? "more than one Host header" : "missing Host header";
    return 400;
  }
  const Route* route = runtime_->router.match(host, url);
  if (route == nullptr || route->pool == nullptr) {
    local_status_ = 404;
    local_detail_ = "no route matches this host and path";
    transitionTo(State::LocalReply);
    return 0;
  }
  pool_ = route->pool;
  switch (h.method) {
    case HTTP_GET: case HTTP_HEAD: case HTTP_OPTIONS: case HTTP_PUT: case HTTP_DELETE: case HTTP_TRACE:
      idempotent_ = true;
      break;
    default:
      idempotent_ = false;
  }
  if (idempotent_ && h.framing != BodyFraming::None) {
    // Keep a copy of a small body so the request can be replayed on another
    // backend after it was written. Reserved once: appends never move it,
    // so a pending write may borrow it.
    uint64_t limit = pool_->config().retries.replay_buffer;
    uint64_t want = h.framing == BodyFraming::ContentLength ? std::min<uint64_t>(h.content_length, limit) : limit;
    replayable_ = h.framing == BodyFraming::Chunked || h.content_length <= limit;
    if (replayable_ && replay_.capacity() < want) replay_.reserve(want);
  }
  ForwardInfo info{conn_.clientIp(), "http", request_id_, !has_rid, absolute ? authority : std::string_view()};
  buildRequestHead(req_head_, h.method_name, url, h.headers.headers(), h.hop, info, h.framing,
                   h.content_length);
  req_batch_.addBorrowed(req_head_.data(), req_head_.size());
  return 0;
}

int ProxyRequest::onRequestBody(const char* at, size_t len) {
  body_in_ += len;
  if (max_body_ != 0 && body_in_ > max_body_) return 413;
  if (state_ == State::LocalReply) return 0;  // discarded
  if (replayable_) {
    if (replay_.size() + len <= replay_.capacity()) {
      replay_.append(at, len);
    } else {
      replayable_ = false;  // too big to replay: a written attempt is final
    }
  }
  if (req_framing_ == BodyFraming::Chunked) {
    req_batch_.addChunk(at, len);
  } else {
    req_batch_.addBorrowed(at, len);
  }
  return 0;
}

void ProxyRequest::onRequestComplete() {
  request_complete_ = true;
  if (state_ != State::LocalReply && req_framing_ == BodyFraming::Chunked) req_batch_.addLastChunk();
}

void ProxyRequest::afterParse() {
  switch (state_) {
    case State::LocalReply:
      if (status_ == 0) reply(local_status_, local_detail_, ErrorKind::NoRoute);
      break;
    case State::PickingBackend:
      start();
      break;
    case State::Sending:
    case State::AwaitingResponse:
    case State::Streaming:
      flushRequest();
      break;
    case State::Idle:
    case State::Connecting:
    case State::Done:
      break;
  }
}

void ProxyRequest::start() {
  if (pool_ && !pool_counted_) {
    pool_->requestStarted();
    pool_counted_ = true;
  }
  backend_ = pool_ ? pool_->pick(tried_) : nullptr;
  if (backend_ == nullptr) {
    reply(503, "no backend available", ErrorKind::NoBackend);
    return;
  }
  tried_.add(backend_);
  backend_->requestStarted();
  connectTo(backend_, false);
}

void ProxyRequest::connectTo(Backend* b, bool fresh_only) {
  attempt_start_ns_ = nowNs();
  UpstreamConnection* c = fresh_only ? nullptr : b->idle().acquire();
  if (c != nullptr) {
    upstream_ = c;
    c->attach(this);
    transitionTo(State::Sending);
    flushRequest();
    return;
  }
  transitionTo(State::Connecting);
  upstream_ = UpstreamConnection::connect(conn_.server(), b->shared_from_this(), this);
}

void ProxyRequest::onUpstreamConnected(UpstreamConnection&) {
  transitionTo(State::Sending);
  flushRequest();
}

void ProxyRequest::flushRequest() {
  if (upstream_ == nullptr || upstream_->writePending()) return;
  if (!req_batch_.empty()) {
    req_batch_.finalize();
    if (!upstream_->write(req_batch_)) {
      // write() closed the connection without calling us back.
      onUpstreamError(UpstreamError::WriteFailed, UV_EPIPE);
      return;
    }
    written_ = true;
    if (upstream_->writePending()) return;  // onUpstreamWritten continues
    req_batch_.clear();
    conn_.requestBufferReleased();
  }
  if (request_complete_ && !response_timer_armed_ && upstream_ != nullptr) {
    response_timer_armed_ = true;
    if (state_ == State::Sending) transitionTo(State::AwaitingResponse);
    upstream_->armResponseTimer();
  }
}

void ProxyRequest::onUpstreamWritten() {
  req_batch_.clear();
  conn_.requestBufferReleased();
  flushRequest();
}

void ProxyRequest::onUpstreamInterim(UpstreamConnection& c) {
  // Relay 100 Continue to a client that asked for it; other 1xx are dropped.
  if (c.status() == 100 && expect_continue_ && !client_http10_) {
    resp_batch_.addCopy("HTTP/1.1 100 Continue\r\n\r\n");
    expect_continue_ = false;
  }
}

int ProxyRequest::onUpstreamHead(UpstreamConnection& c) {
  int code = c.status();
  uint64_t now = uv_now(conn_.server().loop());
  BALLAST_METRIC(backend_->stats().response_duration.observe(static_cast<double>(nowNs() - attempt_start_ns_) / 1e9));
  if (code >= 500) {
    pool_->recordFailure(*backend_, "status " + std::to_string(code), now);
  } else {
    pool_->recordSuccess(*backend_);
  }
  if (code == 502 || code == 503 || code == 504) {
    auto cause = code == 502 ? config::RetryOn::Status502
                 : code == 503 ? config::RetryOn::Status503 : config::RetryOn::Status504;
    if (canRetry(cause)) {
      // Discard this response (no byte reaches the client); the retry starts
      // in onUpstreamReadDone, outside the parser.
      retry_status_pending_ = true;
      retry_status_cause_ = cause;
      status_ = code;
      return 1;
    }
  }
  status_ = code;
  ResponseHeadInfo info;
  info.status = status_;
  info.reason = c.reason();
  info.request_id = request_id_;
  bool no_body = head_request_ || status_ == 204 || status_ == 304;
  if (no_body) {
    resp_framing_ = BodyFraming::None;
    if (c.hasContentLength() && status_ != 204) {
      info.keep_content_length = true;
      info.content_length = c.contentLength();
    }
  } else if (c.chunked()) {
    resp_framing_ = client_http10_ ? BodyFraming::UntilClose : BodyFraming::Chunked;
  } else if (c.hasContentLength()) {
    resp_framing_ = BodyFraming::ContentLength;
    info.content_length = c.contentLength();
  } else {
    // Delimited by the backend closing: re-chunk for HTTP/1.1 clients so
    // their connection survives.
    resp_framing_ = client_http10_ ? BodyFraming::UntilClose : BodyFraming::Chunked;
  }
  info.framing = resp_framing_;
  close_client_ = clientMustClose() || resp_framing_ == BodyFraming::UntilClose;
  info.close = close_client_;
  info.keep_alive_10 = client_http10_ && !close_client_;
  buildResponseHead(resp_head_, c.headers(), c.hop(), info);
  resp_batch_.addBorrowed(resp_head_.data(), resp_head_.size());
  response_started_ = true;
  transitionTo(State::Streaming);
  return head_request_ ? 1 : 0;
}

void ProxyRequest::onUpstreamBody(const char* at, size_t len) {
  if (retry_status_pending_) return;
  if (resp_framing_ == BodyFraming::Chunked) {
    resp_batch_.addChunk(at, len);
  } else {
    resp_batch_.addBorrowed(at, len);
  }
}

void ProxyRequest::onUpstreamComplete() {
  if (retry_status_pending_) return;
  response_complete_ = true;
  if (resp_framing_ == BodyFraming::Chunked) resp_batch_.addLastChunk();
}

void ProxyRequest::onUpstreamReadDone() {
  if (retry_status_pending_) {
    retry_status_pending_ = false;
    int code = status_;
    status_ = 0;
    if (upstream_) {
      upstream_->close();  // its response was not consumed: never reuse
      upstream_ = nullptr;
    }
    if (!tryRetry(retry_status_cause_, "status " + std::to_string(code))) {
      reply(code, "backend answered with this status and no retry was possible");
    }
    return;
  }
  flushResponse();
}

void ProxyRequest::flushResponse() {
  if (client_write_pending_) return;
  if (!resp_batch_.empty()) {
    size_t n = resp_batch_.bytes();
    int r = conn_.write(resp_batch_);
    if (r < 0) {
      conn_.close();  // client gone; close() aborts this request
      return;
    }
    bytes_out_ += n;
    BALLAST_METRIC(processStats().bytes_out += n);
    if (r == 1) {
      client_write_pending_ = true;
      if (upstream_) upstream_->pauseReading();
      return;
    }
    resp_batch_.clear();
  }
  if (response_complete_) finish();
}

void ProxyRequest::onClientWriteDone(int status) {
  client_write_pending_ = false;
  if (status < 0) {
    conn_.close();
    return;
  }
  resp_batch_.clear();
  if (response_complete_) {
    finish();
    return;
  }
  if (upstream_) upstream_->resumeReading();
}

void ProxyRequest::onUpstreamError(UpstreamError err, int uv_status) {
  UpstreamConnection* c = upstream_;
  upstream_ = nullptr;  // already closed by UpstreamConnection::fail
  bool reused = c != nullptr && c->reused();
  bool got_bytes = c != nullptr && c->responseStarted();
  if (response_started_) {
    // Bytes of this response already went to the client: the only honest
    // signal left is to close the client connection.
    if (backend_ && pool_) pool_->recordFailure(*backend_, upstreamErrorName(err), uv_now(conn_.server().loop()));
    logAccess(status_);
    releaseCounters();
    transitionTo(State::Done);
    conn_.close();
    return;
  }
  // A keep-alive connection the backend closed just as we reused it: retry
  // once on a fresh connection, if nothing of the body was consumed yet.
  // This is not a backend failure (the race is normal keep-alive life).
  // A non-idempotent request that was written is not replayed: the backend
  // may have run it before dying (nginx and HAProxy draw the same line).
  if (reused && !got_bytes && body_in_ == 0 && retries_on_fresh_ == 0 && (idempotent_ || !written_) &&
      (err == UpstreamError::Reset || err == UpstreamError::WriteFailed)) {
    ++retries_on_fresh_;
    ++pool_->stats().retries[static_cast<size_t>(RetryReason::StaleConnection)];
    req_batch_.clear();
    req_batch_.addBorrowed(req_head_.data(), req_head_.size());
    if (request_complete_ && req_framing_ == BodyFraming::Chunked) req_batch_.addLastChunk();
    response_timer_armed_ = false;
    written_ = false;
    connectTo(backend_, true);
    return;
  }
  std::string why = uv_status < 0 && err != UpstreamError::ResponseTimeout ? std::string(uv_strerror(uv_status))
                                                                          : std::string(upstreamErrorDetail(err));
  if (err == UpstreamError::ResponseTimeout) {
    why = "no response within " + config::formatDuration(runtime_->config->timeouts.backend_response);
  } else if (err == UpstreamError::ConnectTimeout) {
    why = "connect timeout after " + config::formatDuration(runtime_->config->timeouts.connect);
  } else if (err == UpstreamError::InvalidResponse) {
    why = "invalid response";
  }
  if (backend_ && pool_) {
    uint64_t now = uv_now(conn_.server().loop());
    pool_->recordFailure(*backend_, why, now);
    backend_->stats().errors_1m.add(now);
    if (err == UpstreamError::ConnectFailed || err == UpstreamError::ConnectTimeout) ++backend_->stats().connect_failures;
  }
  if (log().enabled(config::LogLevel::Warn)) {
    auto& j = log().eventLine(config::LogLevel::Warn, "backend_error");
    j.str("request_id", request_id_).str("pool", pool_ ? std::string_view(pool_->name()) : "");
    j.str("backend", backend_ ? std::string_view(backend_->name()) : "").str("error", upstreamErrorName(err));
    j.str("detail", why).num("attempt", static_cast<uint64_t>(attempts_ + 1));
    log().emit(config::LogLevel::Warn);
  }
  config::RetryOn cause = config::RetryOn::Reset;
  switch (err) {
    case UpstreamError::ConnectFailed:
    case UpstreamError::ConnectTimeout:
      cause = config::RetryOn::ConnectFailure;
      break;
    case UpstreamError::ResponseTimeout:
      cause = config::RetryOn::Timeout;
      break;
    default:
      cause = config::RetryOn::Reset;
  }
  if (tryRetry(cause, why)) return;
  ErrorKind kind = ErrorKind::Reset;
  switch (err) {
    case UpstreamError::ConnectFailed: kind = ErrorKind::ConnectFailure; break;
    case UpstreamError::ConnectTimeout: kind = ErrorKind::ConnectTimeout; break;
    case UpstreamError::ResponseTimeout: kind = ErrorKind::ResponseTimeout; break;
    case UpstreamError::InvalidResponse: kind = ErrorKind::InvalidResponse; break;
    case UpstreamError::Reset:
    case UpstreamError::WriteFailed: kind = ErrorKind::Reset; break;
  }
  reply(upstreamErrorStatus(err), upstreamErrorDetail(err), kind);
}

bool ProxyRequest::canRetry(config::RetryOn cause) const {
  if (pool_ == nullptr || response_started_) return false;
  const auto& rc = pool_->config().retries;
  if (!rc.retries(cause) || attempts_ >= rc.attempts) return false;
  // Written to a backend: it may have run there. Only idempotent methods,
  // and only if the body we already consumed can be replayed.
  if (written_ && (!idempotent_ || (body_in_ > 0 && !replayable_))) return false;
  if (tried_.size() >= pool_->backends().size()) return false;
  return true;
}

bool ProxyRequest::tryRetry(config::RetryOn cause, std::string_view why) {
  if (!canRetry(cause)) return false;
  // The budget bounds the extra load retries put on backends. A request that
  // never reached a backend (connect refused or timed out) adds none when
  // retried, so only retries of written requests count against it; this is
  // what keeps a dead backend from costing clients anything before the
  // probes notice.
  bool budgeted = written_;
  if (budgeted && !retry_counted_ && !pool_->retryAllowed()) {
    pool_->noteBudgetExhausted();
    auto& j = log().eventLine(config::LogLevel::Warn, "retry_budget_exhausted");
    j.str("request_id", request_id_).str("pool", pool_->name());
    log().emit(config::LogLevel::Warn);
    return false;
  }
  Backend* next = pool_->pick(tried_);
  if (next == nullptr) return false;
  if (budgeted && !retry_counted_) {
    pool_->retryStarted();
    retry_counted_ = true;
  }
  ++attempts_;
  {
    RetryReason rr = RetryReason::Reset;
    switch (cause) {
      case config::RetryOn::ConnectFailure: rr = RetryReason::ConnectFailure; break;
      case config::RetryOn::Reset: rr = RetryReason::Reset; break;
      case config::RetryOn::Timeout: rr = RetryReason::Timeout; break;
      case config::RetryOn::Status502: rr = RetryReason::Status502; break;
      case config::RetryOn::Status503: rr = RetryReason::Status503; break;
      case config::RetryOn::Status504: rr = RetryReason::Status504; break;
    }
    ++pool_->stats().retries[static_cast<size_t>(rr)];
  }
  if (log().enabled(config::LogLevel::Info)) {
    auto& j = log().eventLine(config::LogLevel::Info, "retry");
    j.str("request_id", request_id_).str("pool", pool_->name()).str("from", backend_ ? backend_->name() : "");
    j.str("to", next->name()).str("reason", why).num("attempt", static_cast<uint64_t>(attempts_ + 1));
    log().emit(config::LogLevel::Info);
  }
  if (written_) {
    // Rebuild from the kept head and the replay copy; the client buffer is
    // no longer referenced.
    req_batch_.clear();
    req_batch_.addBorrowed(req_head_.data(), req_head_.size());
    if (!replay_.empty()) {
      if (req_framing_ == BodyFraming::Chunked) {
        req_batch_.addChunk(replay_.data(), replay_.size());
      } else {
        req_batch_.addBorrowed(replay_.data(), replay_.size());
      }
    }
    if (request_complete_ && req_framing_ == BodyFraming::Chunked) req_batch_.addLastChunk();
    conn_.requestBufferReleased();
  }
  // Never written: req_batch_ still holds the head and the body spans.
  if (backend_) backend_->requestFinished();
  backend_ = next;
  tried_.add(next);
  next->requestStarted();
  written_ = false;
  response_timer_armed_ = false;
  retries_on_fresh_ = 0;
  connectTo(next, false);
  return true;
}

void ProxyRequest::releaseCounters() {
  if (backend_) backend_->requestFinished();
  backend_ = nullptr;
  if (pool_ && pool_counted_) pool_->requestFinished();
  if (pool_ && retry_counted_) pool_->retryFinished();
  pool_counted_ = false;
  retry_counted_ = false;
}

void ProxyRequest::localReplyAndClose(int status, std::string_view detail) {
  if (state_ == State::Idle || state_ == State::Done) beginRequest();
  if (!local_detail_.empty()) detail = local_detail_;
  close_client_ = true;
  if (response_started_) {
    conn_.close();
    return;
  }
  if (upstream_) {
    upstream_->close();
    upstream_ = nullptr;
  }
  ErrorKind kind = ErrorKind::BadRequest;
  if (status == 408) kind = ErrorKind::RequestTimeout;
  if (status == 413) kind = ErrorKind::BodyTooLarge;
  if (status == 431) kind = ErrorKind::HeadTooLarge;
  reply(status, detail, kind);
}

void ProxyRequest::reply(int status, std::string_view detail, ErrorKind kind) {
  transitionTo(State::LocalReply);
  status_ = status;
  if (kind != ErrorKind::kCount) ++processStats().errors[static_cast<size_t>(kind)];
  req_batch_.clear();
  if (request_id_.empty()) conn_.server().newRequestId(request_id_);
  response_started_ = true;
  response_complete_ = true;
  close_client_ = close_client_ || clientMustClose() || closesConnection(status);

  std::string_view reason = reasonPhrase(status);
  char num[8];
  int nlen = snprintf(num, sizeof num, "%d", status);
  // Body: "502 Bad Gateway: backend refused the connection\n"
  size_t body_len = static_cast<size_t>(nlen) + 1 + reason.size() + 2 + detail.size() + 1;
  char lenbuf[24];
  int llen = snprintf(lenbuf, sizeof lenbuf, "%zu", body_len);
  resp_head_.clear();
  resp_head_.append("HTTP/1.1 ").append(num, static_cast<size_t>(nlen)).append(" ").append(reason);
  resp_head_.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  resp_head_.append(lenbuf, static_cast<size_t>(llen));
  resp_head_.append("\r\nX-Request-Id: ").append(request_id_);
  if (status == 503) resp_head_.append("\r\nRetry-After: 1");
  if (close_client_) {
    resp_head_.append("\r\nConnection: close");
  } else if (client_http10_) {
    resp_head_.append("\r\nConnection: keep-alive");
  }
  resp_head_.append("\r\n\r\n");
  resp_head_.append(num, static_cast<size_t>(nlen)).append(" ").append(reason).append(": ").append(detail).append("\n");
  if (head_request_) resp_head_.resize(resp_head_.size() - body_len);
  resp_batch_.clear();
  resp_batch_.addBorrowed(resp_head_.data(), resp_head_.size());
  flushResponse();
}

bool ProxyRequest::clientMustClose() const {
  // The one keep-alive rule for every response, proxied or local: the client
  // did not ask for keep-alive, its body was not read to the end (the byte
  // stream cannot be resynchronised), or the server is draining.
  return !client_keep_alive_ || !request_complete_ || conn_.server().stopping();
}

void ProxyRequest::finish() {
  if (state_ == State::Done || state_ == State::Idle) return;
  transitionTo(State::Done);
  if (upstream_ != nullptr) {
    UpstreamConnection* c = upstream_;
    upstream_ = nullptr;
    if (request_complete_ && req_batch_.empty() && response_complete_) {
      c->release();
    } else {
      c->close();
    }
  }
  logAccess(status_);
  releaseCounters();
  bool close = close_client_ || clientMustClose();
  pool_ = nullptr;
  runtime_.reset();
  // May start the next pipelined request on this same object: touch nothing after.
  conn_.requestFinished(close);
}

void ProxyRequest::abort() {
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
  if (state_ != State::Idle && state_ != State::Done) {
    // 499: the client closed the connection before the response was complete
    // (nginx's convention, which operators already grep for).
    logAccess(response_complete_ ? status_ : 499);
    transitionTo(State::Done);
  }
  releaseCounters();
  pool_ = nullptr;
  runtime_.reset();
}

void ProxyRequest::logAccess(int status) {
  Log& l = log();
  uint64_t in = conn_.takeBytesIn();
  double ms = static_cast<double>(nowNs() - start_ns_) / 1e6;
  // Metrics first: they do not depend on the access log being on.
#ifndef BALLAST_NO_METRICS
  size_t code = status >= 0 && status < 600 ? static_cast<size_t>(status) : 0;
  if (backend_ != nullptr) {
    BackendStats& bs = backend_->stats();
    ++bs.responses[code];
    uint64_t now = uv_now(conn_.server().loop());
    bs.requests_1m.add(now);
    if (status >= 500) bs.errors_1m.add(now);
  } else if (pool_ != nullptr) {
    ++pool_->stats().local_responses[code];
  } else {
    ++processStats().unrouted_responses[code];
  }
  if (pool_ != nullptr) pool_->stats().request_duration.observe(ms / 1000.0);
#endif
  if (!l.accessEnabled()) return;
  JsonLine& j = accessLine();
  j.begin()
      .time("time")
      .str("request_id", request_id_)
      .str("client", conn_.clientAddr())
      .str("method", method_)
      .str("path", path_)
      .num("status", status)
      .str("pool", pool_ ? std::string_view(pool_->name()) : std::string_view())
      .str("backend", backend_ ? std::string_view(backend_->name()) : std::string_view())
      .dbl("duration_ms", ms)
      .num("bytes_in", in)
      .num("bytes_out", bytes_out_)
      .end();
  l.access(j.view());
}

}  // namespace ballast
