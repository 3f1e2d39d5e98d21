#include "lb/proxy/proxy_request.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>

#include "config/duration.h"
#include "lb/base/clock.h"
#include "lb/base/log.h"
#include "lb/http/local_reply.h"
#include "lb/proxy/access_log.h"
#include "lb/proxy/context.h"
#include "lb/proxy/downstream_connection.h"
#include "lb/proxy/hash_key.h"
#include "lb/proxy/retry_policy.h"
#include "lb/proxy/runtime.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

// Status codes after which the client byte stream cannot be trusted or
// resynchronised: the connection is closed once the reply is written.
bool closesConnection(int status) { return status == 400 || status == 408 || status == 413 || status == 431; }

}  // namespace

RequestStorage RequestStorage::fresh() {
  RequestStorage s;
  s.req_head.reserve(1024);
  s.resp_head.reserve(1024);
  s.request_id.reserve(40);
  s.method.reserve(16);
  s.path.reserve(256);
  s.req_batch = WriteBatch();
  s.resp_batch = WriteBatch();
  return s;
}

ProxyRequest::ProxyRequest() : st_(RequestStorage::fresh()) {}

namespace {

// Requests of no connection (ProxyRequest::acquire and release). One list
// per thread: one loop per thread.
thread_local std::vector<std::unique_ptr<ProxyRequest>> free_requests;

}  // namespace

std::unique_ptr<ProxyRequest> ProxyRequest::acquire(DownstreamConnection& conn) {
  std::unique_ptr<ProxyRequest> r;
  if (free_requests.empty()) {
    r.reset(new ProxyRequest());
  } else {
    r = std::move(free_requests.back());
    free_requests.pop_back();
  }
  r->conn_ = &conn;
  return r;
}

void ProxyRequest::release(std::unique_ptr<ProxyRequest> r) {
  if (r == nullptr) return;
  assert((r->state_ == RequestState::Idle || r->state_ == RequestState::Done) && "request released in flight");
  DeferredQueue& deferred = r->conn_->context().deferred();
  r->conn_ = nullptr;
  r->head_.headers.setBuffer(nullptr, nullptr);
  free_requests.push_back(std::move(r));
  if (free_requests.size() > kCached) {
    // The oldest go: the newest may be the one whose call is still running.
    deferred.post([] {
      if (free_requests.size() <= kCached) return;
      const auto surplus = static_cast<std::ptrdiff_t>(free_requests.size() - kCached);
      free_requests.erase(free_requests.begin(), free_requests.begin() + surplus);
    });
  }
}

ProxyRequest::~ProxyRequest() { abort(); }

void ProxyRequest::transitionTo(RequestState s) {
  assert(transitionAllowed(state_, s) && "invalid request state transition");
  state_ = s;
}

uint64_t ProxyRequest::loopNow() const { return uv_now(conn_->context().loop()); }

void ProxyRequest::noteClientLimit() {
  // One line a second at most: a client over its limit tends to keep trying.
  static uint64_t last_ms = 0;
  static uint64_t suppressed = 0;
  const uint64_t now = loopNow();
  if (last_ms != 0 && now < last_ms + 1000) {
    ++suppressed;
    return;
  }
  auto& j = log().eventLine(LogLevel::Warn, "client_connection_limit");
  j.str("client", conn_->clientAddr()).num("limit", static_cast<uint64_t>(runtime_->config->limits.max_connections_per_client));
  j.num("suppressed_since_last", suppressed);
  log().emit(LogLevel::Warn);
  last_ms = now;
  suppressed = 0;
}

void ProxyRequest::beginRequest() {
  transitionTo(RequestState::PickingBackend);
  runtime_ = conn_->context().runtime();
  pool_ = nullptr;
  backend_ = nullptr;
  upstream_ = nullptr;
  tried_.clear();
  pick_ = PickRequest{};
  pick_.tried = &tried_;
  sticky_in_.clear();
  attempts_ = 0;
  pick_held_ = false;
  retry_counted_ = false;
  stale_retried_ = false;
  written_ = false;
  replayable_ = false;
  storage().replay.clear();
  termination_ = Termination{};
  local_detail_ = {};
  local_status_ = 0;
  local_kind_ = ErrorKind::NoRoute;
  route_.action = RouteDecision::Action::Proxy;
  route_.request_edits = nullptr;
  route_.response_edits = nullptr;
  route_name_ = {};
  timeouts_ = &runtime_->config->timeouts;
  retries_ = nullptr;
  head_request_ = false;
  client_keep_alive_ = true;
  client_http10_ = false;
  expect_continue_ = false;
  idempotent_ = false;
  req_framing_ = BodyFraming::None;
  max_body_ = runtime_->config->limits.max_body_bytes;
  upgrade_.clear();
  drill_status_ = 0;
  drill_delay_ms_ = 0;
  method_name_ = {};
  n_explain_ = 0;
  tunnel_started_ = false;
  tunnel_counted_ = false;
  client_eof_ = false;
  backend_eof_ = false;
  tunnel_early_ = {};
  storage().req_batch.clear();
  request_complete_ = false;
  body_in_ = 0;
  storage().resp_batch.clear();
  resp_framing_ = BodyFraming::None;
  response_complete_ = false;
  close_client_ = false;
  status_ = 0;
  storage().request_id.clear();
  storage().method.clear();
  storage().path.clear();
  start_ns_ = nowNs();
  bytes_out_ = 0;
}

int ProxyRequest::onRequestHead(RequestHead& h) {
  beginRequest();
  storage().method.assign(h.method_name);
  method_name_ = h.method_name;  // llhttp's static name
  storage().path.assign(h.url);
  head_request_ = h.method == HTTP_HEAD;
  client_http10_ = h.http_major == 1 && h.http_minor == 0;
  client_keep_alive_ = h.keep_alive;
  expect_continue_ = h.expect_continue;
  req_framing_ = h.framing;
  idempotent_ = isIdempotent(h.method);

  const bool has_rid = !h.request_id.empty() && h.request_id.size() <= 128;
  if (has_rid) {
    storage().request_id.assign(h.request_id);
  } else {
    conn_->context().requestIds().next(storage().request_id);
  }

  if (conn_->overClientLimit()) {
    noteClientLimit();
    return 429;
  }
  if (max_body_ != 0 && h.framing == BodyFraming::ContentLength && h.content_length > max_body_) return 413;
  // An upgrade (RFC 9110 7.8) counts from an HTTP/1.1 client that lists
  // `upgrade` in Connection; h2c is never offered to a backend.
  if (!client_http10_ && h.hop.connectionUpgrade()) upgradeProtocols(h.headers.headers(), upgrade_);
  if (!upgrade_.empty() && h.framing != BodyFraming::None) {
    // Where would the body end and the new protocol begin? Refused rather
    // than guessed (a smuggling vector behind some proxies).
    local_detail_ = "an Upgrade request must not have a body";
    return 400;
  }

  // Exactly one Host (RFC 9112 3.2): several, or none from an HTTP/1.1
  // client, is a malformed request and a classic smuggling/poisoning vector.
  std::string_view host = h.host;
  std::string_view url = h.url;
  std::string_view authority;
  std::string_view origin_path;
  bool absolute = splitAbsoluteForm(h.url, &authority, &origin_path);
  if (!absolute && h.url.size() >= 7 && (iequals(h.url.substr(0, 7), "http://") ||
                                         (h.url.size() >= 8 && iequals(h.url.substr(0, 8), "https://")))) {
    // "http:///x": an absolute-form target with no host (found by the
    // request fuzz target; it used to be forwarded as it came).
    local_detail_ = "the request target is absolute-form without a host";
    return 400;
  }
  if (absolute && !origin_path.empty() && origin_path[0] == '?') {
    // "http://h?q": the origin form is "/?q" (RFC 9112 3.2.1); never
    // forwarded as it came (found by the request fuzz target).
    abs_path_.resize(origin_path.size() + 1);
    abs_path_[0] = '/';
    origin_path.copy(abs_path_.data() + 1, origin_path.size());
    origin_path = abs_path_;
  }
  const int hosts = h.host_count;
  if (hosts > 1 || (hosts == 0 && !client_http10_ && !absolute)) {
    local_detail_ = hosts > 1 ? "more than one Host header" : "missing Host header";
    return 400;
  }
  if (hosts == 1 && !validAuthority(trimOws(h.host))) {
    local_detail_ = "Host is not a valid host[:port]";
    return 400;
  }
  if (absolute) {
    // Absolute form: the authority in the target decides, and it must be a
    // plain host[:port] (no userinfo trick) that agrees with Host.
    if (!validAuthority(authority)) {
      local_detail_ = "the request target's authority is not a valid host[:port]";
      return 400;
    }
    if (hosts == 1 && !iequals(authority, trimOws(h.host))) {
      local_detail_ = "the request target's authority and Host disagree";
      return 400;
    }
    host = authority;
    url = origin_path;
  }
  const RouteRequest route_request(host, url, h.method_name, h.headers.headers(), conn_->clientIp());
  const Route* route = runtime_->router.match(route_request);
  if (route != nullptr) {
    route_name_ = route->name;
    route->decide(route_request, start_ns_, route_);  // start_ns_: this loop turn
  }
  if (route != nullptr && route_.action != RouteDecision::Action::Proxy) {
    // return, allow/deny, rate_limit: answered like a 404, once the head is parsed.
    local_status_ = route_.status;
    local_kind_ = ErrorKind::kCount;
    local_detail_ = route_.action == RouteDecision::Action::Denied        ? "the client address is not allowed here"
                    : route_.action == RouteDecision::Action::RateLimited ? "rate limit exceeded, see Retry-After"
                    : !route_.location.empty()                            ? std::string_view(route_.location)
                                                                          : "answered by ballast's route";
    transitionTo(RequestState::LocalReply);
    return 0;
  }
  if (route == nullptr || route_.pool == nullptr) {
    local_status_ = 404;
    local_detail_ = "no route matches this host and path";
    transitionTo(RequestState::LocalReply);
    return 0;
  }
  pool_ = route_.pool;
  if (!pool_->faultDrills().empty()) {
    // Fault drills on this pool (POST /drills, config `drills:`): a share
    // of the requests they match (their route only, and only those
    // carrying the drill header, when they say so) get an injected error,
    // or are held for a while first, as clients would see a failing or a
    // slow dependency. Each drill draws on its own.
    const uint64_t now = loopNow();
    for (const Pool::FaultDrill& drill : pool_->faultDrills()) {
      if (drill.until_ms <= now || (!drill.route.empty() && drill.route != route_name_)) continue;
      std::string_view ignored;
      if (!drill.header.empty() && !h.headers.find(drill.header, &ignored)) continue;
      if (static_cast<uint32_t>(std::rand() % 100) >= drill.percent) continue;
      if (drill.kind == Pool::FaultDrill::Kind::Abort) {
        if (drill_status_ == 0) drill_status_ = drill.status;
      } else {
        drill_delay_ms_ = std::max(drill_delay_ms_, drill.delay_ms);
      }
    }
  }
  retries_ = route_.retries != nullptr ? route_.retries : &pool_->config().retries;
  timeouts_ = route_.timeouts;
  if (route_.rewrite_target) url = route_.target;
  {
    // What the balancer needs from the head, read before the head is gone.
    const config::PoolConfig& pc = pool_->config();
    if (pc.balance == config::Balance::ConsistentHash) {
      pick_.has_hash = requestHash(pc.hash_key, h.headers.headers(), url, conn_->clientIp(), &pick_.hash);
    }
    std::string_view sticky;
    if (pc.sticky && cookieValue(h.headers.headers(), pc.sticky->cookie, &sticky) && sticky.size() <= 64) {
      sticky_in_.assign(sticky);
      pick_.sticky = sticky_in_;
    }
  }
  if (idempotent_ && h.framing != BodyFraming::None) {
    // Keep a copy of a small body so the request can be replayed on another
    // backend after it was written. Reserved once: appends never move it,
    // so a pending write may borrow it.
    uint64_t limit = retries_->replay_buffer;
    uint64_t want = h.framing == BodyFraming::ContentLength ? std::min<uint64_t>(h.content_length, limit) : limit;
    replayable_ = h.framing == BodyFraming::Chunked || h.content_length <= limit;
    if (replayable_ && storage().replay.capacity() < want) storage().replay.reserve(want);
  }
  ForwardInfo info{conn_->clientIp(), conn_->secure() ? "https" : "http", storage().request_id, !has_rid, absolute ? authority : std::string_view(),
                   upgrade_};
  if (!route_.host.empty()) info.host_override = route_.host;  // rewrite.host
  buildRequestHead(storage().req_head, h.method_name, url, h.headers.headers(), h.hop, info, h.framing, h.content_length);
  if (route_.request_edits != nullptr) route_.request_edits->apply(storage().req_head, edit_scratch_);
  storage().req_batch.addBorrowed(storage().req_head.data(), storage().req_head.size());
  return 0;
}

int ProxyRequest::onRequestBody(const char* at, size_t len) {
  body_in_ += len;
  if (max_body_ != 0 && body_in_ > max_body_) return 413;
  if (state_ == RequestState::LocalReply) return 0;  // discarded
  if (replayable_) {
    if (storage().replay.size() + len <= storage().replay.capacity()) {
      storage().replay.append(at, len);
    } else {
      replayable_ = false;  // too big to replay: a written attempt is final
    }
  }
  if (req_framing_ == BodyFraming::Chunked) {
    storage().req_batch.addChunk(at, len);
  } else {
    storage().req_batch.addBorrowed(at, len);
  }
  return 0;
}

void ProxyRequest::onRequestComplete() {
  request_complete_ = true;
  if (state_ != RequestState::LocalReply && req_framing_ == BodyFraming::Chunked) storage().req_batch.addLastChunk();
}

void ProxyRequest::afterParse() {
  switch (state_) {
    case RequestState::LocalReply:
      if (status_ == 0) {
        const bool from_route = route_.action != RouteDecision::Action::Proxy;
        // A route's return is a normal answer; 404, 403 and 429 are refusals.
        if (route_.action != RouteDecision::Action::Return) termination_ = Termination{'P', 'R'};
        reply(local_status_, local_detail_, local_kind_, from_route ? &route_ : nullptr);
      }
      break;
    case RequestState::PickingBackend:
      start();
      break;
    case RequestState::Sending:
    case RequestState::AwaitingResponse:
    case RequestState::Streaming:
      flushRequest();
      break;
    case RequestState::Idle:
    case RequestState::Delayed:
    case RequestState::Queued:
    case RequestState::Connecting:
    case RequestState::DiscardingResponse:
    case RequestState::Tunnel:
    case RequestState::Done:
    case RequestState::kCount:
      break;
  }
}

void ProxyRequest::start() {
  if (drill_delay_ms_ != 0) {
    // A delay drill picked it: held on the request timer (no backend, no
    // blocking), then it goes on from here as any other request.
    const uint64_t ms = drill_delay_ms_;
    drill_delay_ms_ = 0;
    transitionTo(RequestState::Delayed);
    // +1: the loop's clock counts whole milliseconds, so a timer of `ms`
    // may fire up to 1 ms early; a held request waits at least the delay.
    conn_->startRequestTimer(DownstreamConnection::RequestTimer::DrillDelay, ms + 1);
    return;
  }
  if (drill_status_ != 0) {
    termination_ = Termination{'P', 'C'};
    reply(drill_status_, "drill: injected failure (POST /drills)");
    return;
  }
  pool_->retryBudget().onRequest();
  const PickResult picked = pool_->pick(pick_);
  if (picked.status == PickStatus::Full) {
    if (!pool_->enqueue(*this, pick_, loopNow())) return refuseQueued(false);
    transitionTo(RequestState::Queued);
    conn_->startRequestTimer(DownstreamConnection::RequestTimer::Queue,
                            static_cast<uint64_t>(pool_->config().queue->timeout.count()));
    return;
  }
  backend_ = picked.backend;
  if (backend_ == nullptr) {
    termination_ = Termination{'P', 'C'};
    reply(503, "no backend available", ErrorKind::NoBackend);
    return;
  }
  pick_held_ = true;
  tried_.add(backend_);
  connectTo(backend_, false);
}

void ProxyRequest::onDrillDelayOver() {
  if (state_ != RequestState::Delayed) return;
  transitionTo(RequestState::PickingBackend);
  start();
}

void ProxyRequest::onDispatched(Backend& b) {
  // The pool picked (and counted) `b` for this request.
  conn_->stopRequestTimer();
  const uint64_t now = loopNow();
  BALLAST_METRIC(pool_->stats().queue_wait.observe(
      static_cast<double>(now >= enqueuedMs() ? now - enqueuedMs() : 0) / 1000.0));
  backend_ = &b;
  pick_held_ = true;
  tried_.add(backend_);
  connectTo(backend_, false);
}

void ProxyRequest::leaveQueue() {
  if (!queued()) return;
  conn_->stopRequestTimer();
  if (pool_ != nullptr) pool_->leaveQueue(*this);
}

void ProxyRequest::onQueueTimeout() {
  if (state_ != RequestState::Queued) return;
  leaveQueue();
  refuseQueued(true);
}

void ProxyRequest::refuseQueued(bool timeout) {
  PoolStats& ps = pool_->stats();
  ++(timeout ? ps.queue_timeouts : ps.queue_full);
  // One line a second at most per kind: a full queue refuses in bursts.
  static uint64_t last_ms[2] = {0, 0};
  static uint64_t suppressed[2] = {0, 0};
  const uint64_t now = loopNow();
  const int k = timeout ? 1 : 0;
  if (last_ms[k] != 0 && now < last_ms[k] + 1000) {
    ++suppressed[k];
  } else {
    auto& j = log().eventLine(LogLevel::Warn, timeout ? "queue_timeout" : "queue_full");
    j.str("request_id", storage().request_id).str("pool", pool_->name());
    j.num("queue_length", static_cast<uint64_t>(pool_->queueLength()));
    if (pool_->hasQueue()) {
      j.num("queue_size", static_cast<uint64_t>(pool_->config().queue->size));
      if (timeout) j.num("waited_ms", now - enqueuedMs());
    }
    j.num("suppressed_since_last", suppressed[k]);
    log().emit(LogLevel::Warn);
    last_ms[k] = now;
    suppressed[k] = 0;
  }
  termination_ = Termination{timeout ? 's' : 'P', 'Q'};
  reply(503,
        timeout ? "no backend slot became free within the queue timeout"
                : (pool_->hasQueue() ? "every backend is at max_connections and the queue is full"
                                     : "every backend is at max_connections"),
        timeout ? ErrorKind::QueueTimeout : ErrorKind::QueueFull);
}

void ProxyRequest::endAttempt(AttemptOutcome outcome) {
  if (!pick_held_) return;
  pick_held_ = false;
  pool_->release(*backend_, outcome);
}

void ProxyRequest::connectTo(Backend* b, bool fresh_only) {
  attempt_start_ns_ = nowNs();
  ExplainAttempt* note = beginExplainAttempt(*b);
  const config::Timeouts& timeouts = *timeouts_;
  UpstreamConnection* c = fresh_only ? nullptr : b->idle().acquire();
  // Not reused: a connection made under another TLS setting of the pool (a
  // reload changed it), or one with input nobody asked for (a plain
  // connection the backend wrote to or closed, not yet seen by the loop).
  while (c != nullptr && (c->tlsContext() != pool_->tls().get() || (c->tlsContext() == nullptr && c->idleInputPending()))) {
    c->close();
    c = b->idle().acquire();
  }
  if (c != nullptr) {
    if (note != nullptr) note->reused = true;
    ++b->stats().connections_reused;
    upstream_ = c;
    c->attach(this, timeouts);
    transitionTo(RequestState::Sending);
    flushRequest();
    return;
  }
  transitionTo(RequestState::Connecting);
  ++b->stats().connections_new;
  upstream_ = UpstreamConnection::connect(conn_->context().upstream(), b->shared_from_this(), timeouts, this,
                                          pool_->tls());
}

void ProxyRequest::onUpstreamConnected(UpstreamConnection&) {
  transitionTo(RequestState::Sending);
  flushRequest();
}

void ProxyRequest::flushRequest() {
  if (upstream_ == nullptr || upstream_->writePending()) return;
  if (!storage().req_batch.empty()) {
    storage().req_batch.finalize();
    if (!upstream_->write(storage().req_batch)) {
      // write() closed the connection without calling us back.
      onUpstreamError(UpstreamError::WriteFailed, UV_EPIPE);
      return;
    }
    written_ = true;
    if (upstream_->writePending()) return;  // onUpstreamWritten continues
    storage().req_batch.clear();
    conn_->requestBufferReleased();
  }
  if (request_complete_ && upstream_ != nullptr) {
    upstream_->expectResponse();
    if (state_ == RequestState::Sending) transitionTo(RequestState::AwaitingResponse);
  }
}

void ProxyRequest::onUpstreamWritten() {
  if (state_ == RequestState::Tunnel) {
    storage().req_batch.clear();
    conn_->tunnelActivity();
    if (!tunnel_early_.empty()) {
      // The upgrade request's head went out: now the bytes that followed it.
      const std::string_view early = tunnel_early_;
      tunnel_early_ = {};
      onTunnelFromClient(early.data(), early.size());
      return;
    }
    conn_->requestBufferReleased();
    maybeEndTunnel();
    return;
  }
  storage().req_batch.clear();
  conn_->requestBufferReleased();
  flushRequest();
}

void ProxyRequest::onUpstreamInterim(UpstreamConnection& c) {
  // Relay 100 Continue to a client that asked for it; other 1xx are dropped.
  if (c.status() == 100 && expect_continue_ && !client_http10_) {
    storage().resp_batch.addCopy("HTTP/1.1 100 Continue\r\n\r\n");
    expect_continue_ = false;
  }
}

bool ProxyRequest::onUpstreamHead(UpstreamConnection& c) {
  const int code = c.status();
  const uint64_t now_ns = nowNs();
  endExplainAttempt("response", code, now_ns);
  BALLAST_METRIC(backend_->stats().response_duration.observe(static_cast<double>(now_ns - attempt_start_ns_) / 1e9));
  if (code >= 500) {
    pool_->recordFailure(*backend_, "status " + std::to_string(code), loopNow());
  } else {
    pool_->recordSuccess(*backend_);
  }
  if (code == 101) {
    // The connection checked that we asked and that the backend named the
    // protocol. From here the exchange is a byte tunnel: never retried.
    status_ = 101;
    ResponseHeadInfo info;
    info.status = 101;
    info.reason = c.reason();
    info.request_id = storage().request_id;
    for (const Header& hd : c.headers()) {
      if (classified(hd) == HeaderName::Upgrade) {
        info.upgrade = hd.value;
        break;
      }
    }
    buildResponseHead(storage().resp_head, c.headers(), c.hop(), info);
    storage().resp_batch.addBorrowed(storage().resp_head.data(), storage().resp_head.size());
    transitionTo(RequestState::Tunnel);
    return false;
  }
  if (code == 502 || code == 503 || code == 504) {
    auto cause = code == 502 ? config::RetryOn::Status502
                 : code == 503 ? config::RetryOn::Status503 : config::RetryOn::Status504;
    AttemptFacts f{written_, idempotent_, body_in_ > 0, replayable_, attempts_, tried_.size(), pool_->backends().size()};
    if (retryAllowed(*retries_, cause, f)) {
      // Discard this response (no byte reaches the client); the retry starts
      // in onUpstreamReadDone, outside the parser.
      transitionTo(RequestState::DiscardingResponse);
      discard_cause_ = cause;
      status_ = code;
      return true;
    }
  }
  status_ = code;
  ResponseHeadInfo info;
  info.status = status_;
  info.reason = c.reason();
  info.request_id = storage().request_id;
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
  buildResponseHead(storage().resp_head, c.headers(), c.hop(), info);
  if (route_.response_edits != nullptr) route_.response_edits->apply(storage().resp_head, edit_scratch_);
  if (const auto& sticky = pool_->config().sticky; sticky && sticky_in_ != backend_->stickyId()) {
    addStickyCookie(storage().resp_head, *sticky, backend_->stickyId());
  }
  storage().resp_batch.addBorrowed(storage().resp_head.data(), storage().resp_head.size());
  transitionTo(RequestState::Streaming);
  return head_request_;
}

void ProxyRequest::onUpstreamBody(const char* at, size_t len) {
  if (state_ != RequestState::Streaming) return;
  if (resp_framing_ == BodyFraming::Chunked) {
    storage().resp_batch.addChunk(at, len);
  } else {
    storage().resp_batch.addBorrowed(at, len);
  }
}

void ProxyRequest::onUpstreamComplete() {
  if (state_ != RequestState::Streaming) return;
  response_complete_ = true;
  if (resp_framing_ == BodyFraming::Chunked) storage().resp_batch.addLastChunk();
}

void ProxyRequest::onUpstreamReadDone() {
  if (state_ == RequestState::Tunnel) {
    if (!tunnel_started_) startTunnel();
    return;
  }
  if (state_ == RequestState::DiscardingResponse) {
    const int code = status_;
    status_ = 0;
    if (upstream_) {
      upstream_->close();  // its response was not consumed: never reuse
      upstream_ = nullptr;
    }
    const RetryReason reason = discard_cause_ == config::RetryOn::Status502   ? RetryReason::Status502
                               : discard_cause_ == config::RetryOn::Status503 ? RetryReason::Status503
                                                                               : RetryReason::Status504;
    if (!tryRetry(discard_cause_, reason, "status " + std::to_string(code))) {
      endAttempt(AttemptOutcome::Failure);
      termination_ = Termination{'S', 'H'};
      reply(code, "backend answered with this status and no retry was possible");
    }
    return;
  }
  flushResponse();
}

void ProxyRequest::flushResponse() {
  if (conn_->writePending()) return;
  if (!storage().resp_batch.empty()) {
    size_t n = storage().resp_batch.bytes();
    int r = conn_->write(storage().resp_batch);
    if (r < 0) {
      conn_->close();  // client gone; close() aborts this request
      return;
    }
    bytes_out_ += n;
    BALLAST_METRIC(processStats().bytes_out += n);
    if (r == 1) {
      if (upstream_) upstream_->pauseReading();
      return;
    }
    storage().resp_batch.clear();
  }
  if (response_complete_) finish();
}

void ProxyRequest::onClientWriteDone(int status) {
  if (status < 0) {
    conn_->close();
    return;
  }
  storage().resp_batch.clear();
  if (state_ == RequestState::Tunnel) {
    conn_->tunnelActivity();
    if (upstream_) upstream_->resumeReading();
    maybeEndTunnel();
    return;
  }
  if (response_complete_) {
    finish();
    return;
  }
  if (upstream_) upstream_->resumeReading();
}

void ProxyRequest::onUpstreamError(UpstreamError err, int uv_status) {
  const UpstreamErrorInfo& info = errorInfo(err);
  endExplainAttempt(info.name, 0, nowNs());
  UpstreamConnection* c = upstream_;
  upstream_ = nullptr;  // already closed by UpstreamConnection::fail
  const bool reused = c != nullptr && c->reused();
  const bool got_bytes = c != nullptr && c->responseStarted();
  const char cause = !info.backend_fault ? 'R' : info.timeout ? 's' : 'S';
  const uint64_t now = loopNow();
  if (state_ == RequestState::Tunnel) {
    // The backend reset the tunnel (or a write to it failed). Not a mark
    // against its health: long-lived connections end this way too.
    endTunnel(TunnelEnd::BackendError, Termination{'S', 'D'});
    return;
  }
  if (state_ == RequestState::Streaming) {
    // Bytes of this response already went to the client: the only honest
    // signal left is to close the client connection, and to log the
    // response as cut short.
    if (info.backend_fault) pool_->recordFailure(*backend_, info.name, now);
    endAttempt(info.backend_fault ? AttemptOutcome::Failure : AttemptOutcome::Aborted);
    termination_ = Termination{cause, 'D'};
    conn_->close();  // aborts this request: logged with the termination above
    return;
  }
  AttemptFacts f{written_, idempotent_, body_in_ > 0, replayable_, attempts_, tried_.size(), pool_->backends().size()};
  if (info.stale_candidate && staleConnectionRetryAllowed(reused, got_bytes, f, stale_retried_)) {
    stale_retried_ = true;
    ++pool_->stats().retries[static_cast<size_t>(RetryReason::StaleConnection)];
    rebuildRequestBatch(false);
    written_ = false;
    connectTo(backend_, true);
    return;
  }
  const std::string why = upstreamErrorDetail(err, uv_status, *timeouts_);
  if (info.backend_fault) {
    pool_->recordFailure(*backend_, why, now);
    backend_->stats().errors_1m.add(now);
    if (info.connect_phase) ++backend_->stats().connect_failures;
  }
  if (log().enabled(LogLevel::Warn)) {
    auto& j = log().eventLine(LogLevel::Warn, "backend_error");
    j.str("request_id", storage().request_id).str("pool", pool_->name()).str("backend", backend_->name());
    j.str("error", info.name).str("detail", why).num("attempt", static_cast<uint64_t>(attempts_ + 1));
    log().emit(LogLevel::Warn);
  }
  const RequestState failed_in = state_;
  if (info.retryable && tryRetry(info.retry_on, info.retry_reason, why)) return;
  endAttempt(info.backend_fault ? AttemptOutcome::Failure : AttemptOutcome::Aborted);
  termination_ = Termination{cause, terminationPhase(failed_in)};
  reply(info.client_status, info.client_text, info.error_kind);
}

void ProxyRequest::rebuildRequestBatch(bool with_replay) {
  storage().req_batch.clear();
  storage().req_batch.addBorrowed(storage().req_head.data(), storage().req_head.size());
  if (with_replay && !storage().replay.empty()) {
    if (req_framing_ == BodyFraming::Chunked) {
      storage().req_batch.addChunk(storage().replay.data(), storage().replay.size());
    } else {
      storage().req_batch.addBorrowed(storage().replay.data(), storage().replay.size());
    }
  }
  if (request_complete_ && req_framing_ == BodyFraming::Chunked) storage().req_batch.addLastChunk();
}

bool ProxyRequest::tryRetry(config::RetryOn cause, RetryReason reason, std::string_view why) {
  if (!beforeResponse(state_)) return false;
  AttemptFacts f{written_, idempotent_, body_in_ > 0, replayable_, attempts_, tried_.size(), pool_->backends().size()};
  if (!retryAllowed(*retries_, cause, f)) return false;
  // The budget bounds the extra load retries put on backends. A request that
  // never reached a backend (connect refused or timed out) adds none when
  // retried, so only retries of written requests count against it; this is
  // what keeps a dead backend from costing clients anything before the
  // probes notice.
  RetryBudget& budget = pool_->retryBudget();
  const bool budgeted = written_;
  if (budgeted && !retry_counted_ && !budget.allows()) {
    budget.noteExhausted();
    auto& j = log().eventLine(LogLevel::Warn, "retry_budget_exhausted");
    j.str("request_id", storage().request_id).str("pool", pool_->name());
    log().emit(LogLevel::Warn);
    return false;
  }
  Backend* next = pool_->pick(pick_).backend;
  if (next == nullptr) return false;
  if (budgeted && !retry_counted_) {
    budget.retryStarted();
    retry_counted_ = true;
  }
  ++attempts_;
  ++pool_->stats().retries[static_cast<size_t>(reason)];
  if (log().enabled(LogLevel::Info)) {
    auto& j = log().eventLine(LogLevel::Info, "retry");
    j.str("request_id", storage().request_id).str("pool", pool_->name()).str("from", backend_->name());
    j.str("to", next->name()).str("reason", why).num("attempt", static_cast<uint64_t>(attempts_ + 1));
    log().emit(LogLevel::Info);
  }
  if (written_) {
    // Rebuild from the kept head and the replay copy; the client buffer is
    // no longer referenced. Never written: storage().req_batch still holds the head
    // and the body spans.
    rebuildRequestBatch(true);
    conn_->requestBufferReleased();
  }
  endAttempt(AttemptOutcome::Failure);
  backend_ = next;
  pick_held_ = true;
  tried_.add(next);
  written_ = false;
  stale_retried_ = false;
  connectTo(next, false);
  return true;
}

void ProxyRequest::localReplyAndClose(int status, std::string_view detail, ErrorKind kind, bool head) {
  if (state_ == RequestState::Idle || state_ == RequestState::Done) {
    beginRequest();
    head_request_ = head;
  }
  if (!local_detail_.empty()) detail = local_detail_;
  close_client_ = true;
  if (responseStarted()) {
    conn_->close();
    return;
  }
  if (upstream_) {
    upstream_->close();
    upstream_ = nullptr;
  }
  if (termination_.normal()) termination_ = Termination{'P', 'R'};
  endAttempt(AttemptOutcome::Aborted);
  reply(status, detail, kind);
}

void ProxyRequest::reply(int status, std::string_view detail, ErrorKind kind, const RouteDecision* route) {
  leaveQueue();
  if (state_ != RequestState::LocalReply) transitionTo(RequestState::LocalReply);
  status_ = status;
  if (kind != ErrorKind::kCount) ++processStats().errors[static_cast<size_t>(kind)];
  storage().req_batch.clear();
  if (storage().request_id.empty()) conn_->context().requestIds().next(storage().request_id);
  response_complete_ = true;
  close_client_ = close_client_ || clientMustClose() || closesConnection(status);
  LocalReply r;
  r.status = status;
  r.detail = detail;
  r.request_id = storage().request_id;
  r.close = close_client_;
  r.keep_alive_10 = client_http10_ && !close_client_;
  r.head = head_request_;
  if (route != nullptr) {
    r.retry_after = static_cast<int>(route->retry_after_s);
    r.location = route->location;
    if (route->body != nullptr && route->body->has_value()) {
      r.custom_body = true;
      r.body = **route->body;
    }
  }
  buildLocalReply(storage().resp_head, r);
  if (route != nullptr && route->action == RouteDecision::Action::Return && route->response_edits != nullptr) {
    route->response_edits->apply(storage().resp_head, edit_scratch_);
  }
  storage().resp_batch.clear();
  storage().resp_batch.addBorrowed(storage().resp_head.data(), storage().resp_head.size());
  flushResponse();
}

bool ProxyRequest::clientMustClose() const {
  // The one keep-alive rule for every response, proxied or local: the client
  // did not ask for keep-alive, its body was not read to the end (the byte
  // stream cannot be resynchronised), or the process is draining.
  return !client_keep_alive_ || !request_complete_ || conn_->context().draining();
}

void ProxyRequest::finish() {
  if (state_ == RequestState::Done || state_ == RequestState::Idle) return;
  transitionTo(RequestState::Done);
  if (upstream_ != nullptr) {
    UpstreamConnection* c = upstream_;
    upstream_ = nullptr;
    if (request_complete_ && storage().req_batch.empty() && response_complete_) {
      c->release();
    } else {
      c->close();
    }
  }
  endAttempt(AttemptOutcome::Success);
  logAccess(status_, true);
  if (retry_counted_) pool_->retryBudget().retryFinished();
  retry_counted_ = false;
  const bool close = close_client_ || clientMustClose();
  pool_ = nullptr;
  runtime_.reset();
  conn_->requestFinished(close);
}

void ProxyRequest::abort() {
  leaveQueue();
  if (state_ == RequestState::Delayed) conn_->stopRequestTimer();
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
  if (state_ == RequestState::Tunnel) {
    // The client connection closes under the tunnel: the client failed, or
    // ballast is shutting down (kill() set 'K').
    Termination t = termination_;
    if (t.normal()) t.cause = 'C';
    t.phase = 'D';
    finishTunnel(t.cause == 'K' ? TunnelEnd::Shutdown : TunnelEnd::ClientError, t);
  }
  if (state_ != RequestState::Idle && state_ != RequestState::Done) {
    if (termination_.normal()) termination_.cause = 'C';
    if (termination_.phase == '-') termination_.phase = terminationPhase(state_);
    endAttempt(AttemptOutcome::Aborted);
    // The response did not reach the client complete. When the client left
    // (or stopped reading) the status is 499, nginx's convention that
    // operators already grep for; otherwise the status being sent stays, and
    // the termination code says the response was cut short.
    const bool client_side = termination_.cause == 'C' || termination_.cause == 'c';
    logAccess(client_side || status_ == 0 ? 499 : status_, false);
    transitionTo(RequestState::Done);
    if (retry_counted_ && pool_ != nullptr) pool_->retryBudget().retryFinished();
    retry_counted_ = false;
  }
  pool_ = nullptr;
  runtime_.reset();
}

// ---- tunnels ----

void ProxyRequest::startTunnel() {
  tunnel_started_ = true;
  tunnel_counted_ = true;
  ++pool_->stats().tunnels_active;
  if (log().enabled(LogLevel::Debug)) {
    auto& j = log().eventLine(LogLevel::Debug, "tunnel_open");
    j.str("request_id", storage().request_id).str("pool", pool_->name()).str("backend", backend_->name());
    log().emit(LogLevel::Debug);
  }
  const std::string_view early = conn_->enterTunnel();
  // The 101 head, and whatever the backend sent right after it.
  flushResponse();
  if (state_ != RequestState::Tunnel || early.empty()) return;
  if (upstream_ != nullptr && upstream_->writePending()) {
    tunnel_early_ = early;  // after the head (onUpstreamWritten)
    return;
  }
  onTunnelFromClient(early.data(), early.size());
}

void ProxyRequest::onTunnelFromClient(const char* at, size_t len) {
  if (state_ != RequestState::Tunnel || upstream_ == nullptr) return;
  pool_->stats().tunnel_bytes_up += len;
  conn_->tunnelActivity();
  storage().req_batch.clear();
  storage().req_batch.addBorrowed(at, len);
  storage().req_batch.finalize();
  if (!upstream_->write(storage().req_batch)) {
    // write() closed the connection without calling us back.
    onUpstreamError(UpstreamError::WriteFailed, UV_EPIPE);
    return;
  }
  if (upstream_->writePending()) return;  // the client waits: onUpstreamWritten
  storage().req_batch.clear();
  conn_->requestBufferReleased();
}

void ProxyRequest::onUpstreamTunnelData(const char* at, size_t len) {
  if (state_ != RequestState::Tunnel) return;
  pool_->stats().tunnel_bytes_down += len;
  storage().resp_batch.addBorrowed(at, len);
  if (!tunnel_started_) return;  // goes out right behind the 101 (startTunnel)
  conn_->tunnelActivity();
  flushResponse();  // pauses the backend while the client has not taken it
}

void ProxyRequest::onTunnelClientEof(bool clean) {
  if (state_ != RequestState::Tunnel) return;
  if (!clean) {
    endTunnel(TunnelEnd::ClientError, Termination{'C', 'D'});
    return;
  }
  client_eof_ = true;
  if (upstream_ != nullptr) upstream_->shutdownWrite();  // after the pending write, if any
  maybeEndTunnel();
}

void ProxyRequest::onUpstreamTunnelEof() {
  if (state_ != RequestState::Tunnel) return;
  backend_eof_ = true;
  conn_->shutdownWrite();  // after the pending write, if any
  maybeEndTunnel();
}

void ProxyRequest::onUpstreamTunnelAborted() {
  upstream_ = nullptr;  // closed by abortTunnel()
  endTunnel(TunnelEnd::BackendUnhealthy, Termination{'K', 'D'});
}

void ProxyRequest::onTunnelIdle() { endTunnel(TunnelEnd::IdleTimeout, Termination{'c', 'D'}); }

void ProxyRequest::maybeEndTunnel() {
  if (state_ != RequestState::Tunnel || !client_eof_ || !backend_eof_) return;
  if (conn_->writePending() || (upstream_ != nullptr && upstream_->writePending())) return;
  endTunnel(TunnelEnd::Closed, Termination{});
}

void ProxyRequest::endTunnel(TunnelEnd how, Termination t) {
  if (state_ != RequestState::Tunnel) return;
  finishTunnel(how, t);
  conn_->close();
}

void ProxyRequest::finishTunnel(TunnelEnd how, Termination t) {
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
  termination_ = t;
  if (tunnel_counted_) {
    tunnel_counted_ = false;
    --pool_->stats().tunnels_active;
  }
  ++pool_->stats().tunnels_total[static_cast<size_t>(how)];
  endAttempt(how == TunnelEnd::Closed || how == TunnelEnd::IdleTimeout ? AttemptOutcome::Success
                                                                         : AttemptOutcome::Aborted);
  transitionTo(RequestState::Done);
  // One line per tunnel, when it ends: status 101, its duration and the
  // bytes each way. Only a tunnel both sides closed is "complete".
  logAccess(101, how == TunnelEnd::Closed);
  if (retry_counted_) pool_->retryBudget().retryFinished();
  retry_counted_ = false;
  tunnel_early_ = {};
}

ExplainAttempt* ProxyRequest::beginExplainAttempt(const Backend& b) {
  if (!explainLog().enabled()) return nullptr;
  if (n_explain_ == storage().explain_attempts.size()) storage().explain_attempts.emplace_back();
  ExplainAttempt& a = storage().explain_attempts[n_explain_++];
  a.backend.assign(b.name());
  a.start_ms = static_cast<double>(attempt_start_ns_ - start_ns_) / 1e6;
  a.duration_ms = 0;
  a.reused = false;
  a.outcome = "pending";
  a.http_status = 0;
  return &a;
}

void ProxyRequest::endExplainAttempt(std::string_view outcome, int http_status, uint64_t now_ns) {
  if (n_explain_ == 0) return;
  ExplainAttempt& a = storage().explain_attempts[n_explain_ - 1];
  if (a.outcome != "pending") return;  // the first end says it
  a.outcome = outcome;  // static (upstream-error names, literals)
  a.http_status = http_status;
  a.duration_ms = static_cast<double>(now_ns - attempt_start_ns_) / 1e6;
}

void ProxyRequest::recordExplanation(int status, bool complete, uint64_t now_ns) {
  ExplainLog& log = explainLog();
  if (!log.enabled() || storage().request_id.empty()) return;
  endExplainAttempt(termination_.cause == 'C' || termination_.cause == 'c' ? "aborted" : "ended", 0, now_ns);
  const bool failed = status >= 500 || !complete || n_explain_ > 1;
  ExplainRecord& r = log.slot(failed);
  r.failed = failed;
  r.request_id.assign(storage().request_id);
  r.end_ms = loopNow();
  r.method = method_name_;
  r.path.assign(storage().path.data(), std::min(storage().path.size(), ExplainLog::kMaxPath));
  r.route.assign(route_name_);
  if (pool_ != nullptr) {
    r.pool.assign(pool_->name());
  } else {
    r.pool.clear();
  }
  r.status = status;
  r.termination[0] = termination_.cause;
  r.termination[1] = termination_.phase;
  r.duration_ms = static_cast<double>(now_ns - start_ns_) / 1e6;
  if (r.attempts.size() < n_explain_) r.attempts.resize(n_explain_);
  r.attempts.erase(r.attempts.begin() + static_cast<std::ptrdiff_t>(n_explain_), r.attempts.end());
  for (size_t i = 0; i < n_explain_; ++i) {
    ExplainAttempt& d = r.attempts[i];
    const ExplainAttempt& s = storage().explain_attempts[i];
    d.backend.assign(s.backend);
    d.outcome = s.outcome;
    d.start_ms = s.start_ms;
    d.duration_ms = s.duration_ms;
    d.reused = s.reused;
    d.http_status = s.http_status;
  }
  r.candidates.clear();
  if (failed && pool_ != nullptr) {
    // The pool as this request leaves it: which backends could have taken
    // it, and why the others did not.
    for (const auto& bp : pool_->backends()) {
      if (r.candidates.size() >= ExplainLog::kMaxCandidates) break;
      ExplainCandidate c;
      c.backend = bp->name();
      c.state = bp->stateName();
      c.available = bp->available();
      c.at_capacity = !bp->hasCapacity();
      c.tried = tried_.contains(bp.get());
      r.candidates.push_back(std::move(c));
    }
  }
  r.retry_budget_tokens = pool_ != nullptr ? pool_->retryBudget().tokens() : 0;
  r.retries_in_flight = pool_ != nullptr ? pool_->retryBudget().inFlight() : 0;
  // The hash changes only on reloads: most slots already hold it.
  if (r.config_hash != processStats().config_hash) r.config_hash.assign(processStats().config_hash);
}

void ProxyRequest::logAccess(int status, bool complete) {
  // One clock read for the explanation and the access line: the same end.
  const uint64_t now_ns = nowNs();
  recordExplanation(status, complete, now_ns);
  AccessRecord r;
  r.request_id = storage().request_id;
  r.client = conn_->clientAddr();
  r.method = storage().method;
  r.path = storage().path;
  r.status = status;
  r.route = route_name_;
  r.pool = pool_;
  r.backend = backend_;
  r.duration_ms = static_cast<double>(now_ns - start_ns_) / 1e6;
  r.bytes_in = conn_->takeBytesIn();
  r.bytes_out = bytes_out_;
  r.termination = termination_;
  r.response_complete = complete;
  r.now_ms = loopNow();
  recordRequest(r);
}

}  // namespace ballast
