// The per-request state machine: pick a backend, connect (or reuse an idle
// connection), send the head and stream the body, await and stream the
// response, retry where it is safe, map failures to 502/503/504.
//
// A ProxyRequest, with the client's parsed head and its working memory, is
// taken from a free list when a request's first bytes arrive and given back
// when its connection goes idle (issue 15: an idle keep-alive client costs
// its socket and a small connection object, not a request's state). It is
// reset per request, so a request costs no heap allocation once the free
// list holds requests whose buffers have grown to their working size.
//
// The states, what each holds and which transitions are allowed are in
// request_state.h; decisions (may retry, has the response started, must the
// client connection close) read the state. What a state holds:
//   PickingBackend   - the forwarded head in req_head_; no upstream
//   Connecting       - a pick (backend_) and a connecting upstream_; body
//                      bytes queued in req_batch_ point into the client buffer
//   Sending          - upstream_ borrowed; request bytes being written
//   AwaitingResponse - request fully written; the backend owes the response
//   DiscardingResponse - a retryable 5xx is read and dropped
//   Streaming        - response bytes queued or sent to the client
//   Tunnel           - after a 101: upstream_ and the client connection
//                      relay raw bytes; req_batch_ holds one client read
//                      being written upstream, resp_batch_ one backend read
//                      being written to the client (each side stops reading
//                      until its read is written: backpressure both ways)
//   LocalReply       - ballast answers itself; no upstream
//   Done             - access log written; pick released; upstream released or closed
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "lb/base/write_batch.h"
#include "lb/http/http_message.h"
#include "lb/proxy/explain.h"
#include "lb/proxy/request_state.h"
#include "lb/proxy/router.h"
#include "lb/stats/stats.h"
#include "lb/upstream/balancer.h"
#include "lb/upstream/upstream_connection.h"
#include "lb/upstream/wait_queue.h"

namespace ballast {

class DownstreamConnection;
class Pool;
struct Runtime;

// The client's request head, as spans into the client read buffer (valid
// until the head has been turned into req_head_) plus decoded facts.
struct RequestHead {
  llhttp_method_t method = HTTP_GET;
  std::string_view method_name;
  std::string_view url;
  HeaderCollector headers;  // the request's own (kept across requests in the free list)
  HopByHop hop;
  uint8_t http_major = 1;
  uint8_t http_minor = 1;
  bool keep_alive = true;
  bool expect_continue = false;
  // From one pass over the headers (DownstreamConnection::onHeadersComplete).
  std::string_view host;        // first Host value
  int host_count = 0;
  std::string_view request_id;  // client's X-Request-Id, or empty
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;

  // Field by field: the header vector keeps its capacity across requests.
  void reset() {
    method = HTTP_GET;
    method_name = {};
    url = {};
    headers.reset();
    http_major = 1;
    http_minor = 1;
    keep_alive = true;
    expect_continue = false;
    host = {};
    host_count = 0;
    request_id = {};
    framing = BodyFraming::None;
    content_length = 0;
  }
};

// The heap working memory of a request. It stays with its ProxyRequest on
// the free list while no connection uses it, so thousands of idle
// keep-alive clients do not each hold the buffers of their last request.
struct RequestStorage {
  std::string req_head;
  std::string resp_head;
  std::string request_id;
  std::string method;
  std::string path;
  std::string replay;
  std::vector<ExplainAttempt> explain_attempts;
  WriteBatch req_batch{WriteBatch::Empty{}};
  WriteBatch resp_batch{WriteBatch::Empty{}};
  // A new one, with room for a typical request (a default-constructed one
  // holds no memory).
  static RequestStorage fresh();
};

class ProxyRequest final : public UpstreamHandler, public QueueWaiter {
 public:
  // The free list. acquire() takes a request for `conn` (a new one only when
  // the list is empty). release() gives one back; it must be Idle or Done
  // (nothing in flight, nothing borrowed). The list keeps at most kCached;
  // the surplus is freed on a later loop turn, never inside release(): the
  // request released may still be on the stack (finish() ends in the
  // connection going idle).
  static constexpr size_t kCached = 64;
  static std::unique_ptr<ProxyRequest> acquire(DownstreamConnection& conn);
  static void release(std::unique_ptr<ProxyRequest> r);
  ~ProxyRequest() override;

  // The client's head, parsed in place by the connection (spans into its
  // read buffer).
  RequestHead& head() { return head_; }

  // ---- called by DownstreamConnection inside llhttp callbacks ----
  // Head complete: route, check limits, build the forwarded head. Returns 0
  // to proceed, or an HTTP status ballast must answer itself.
  int onRequestHead(RequestHead& head);
  // Returns 0, or 413 when the body grows past limits.max_body_bytes.
  int onRequestBody(const char* at, size_t len);
  void onRequestComplete();

  // ---- called by DownstreamConnection after llhttp_execute returned ----
  // Starts the upstream side after a new head, or flushes queued body bytes.
  void afterParse();
  // The client may be read only when no body bytes wait in the read buffer.
  bool holdsClientBuffer() const { return !st_.req_batch.empty(); }
  // The client connection's pending write finished (status < 0: failed).
  void onClientWriteDone(int status);
  // The connection is closing (client gone, timeout, shutdown): drop
  // everything and log what happened (see setTermination).
  void abort();
  // A protocol error on the client side (400/408/413/431): answer with
  // `status` and close the connection once written.
  // `head`: the request is a HEAD (the answer then has no body), for a
  // refusal before onRequestHead.
  void localReplyAndClose(int status, std::string_view detail, ErrorKind kind, bool head = false);
  // ---- tunnels: called by DownstreamConnection in its Tunnel phase ----
  // Client bytes (valid until requestBufferReleased() is called back).
  void onTunnelFromClient(const char* at, size_t len);
  // The client sent its FIN (clean) or failed.
  void onTunnelClientEof(bool clean);
  // No byte either way for timeouts.tunnel.
  void onTunnelIdle();

  // Why the request is about to end, when the connection knows better than
  // the request (a client timeout, shutdown); the default for an abort is
  // "the client closed". A phase of '-' is filled in from the state.
  void setTermination(Termination t) { termination_ = t; }

  RequestState state() const { return state_; }
  bool responseStarted() const {
    return state_ == RequestState::Streaming || state_ == RequestState::Done ||
           (state_ == RequestState::LocalReply && status_ != 0);
  }

  // ---- UpstreamHandler ----
  void onUpstreamConnected(UpstreamConnection& c) override;
  void onUpstreamInterim(UpstreamConnection& c) override;
  bool onUpstreamHead(UpstreamConnection& c) override;
  void onUpstreamBody(const char* at, size_t len) override;
  void onUpstreamComplete() override;
  void onUpstreamReadDone() override;
  void onUpstreamWritten() override;
  void onUpstreamError(UpstreamError err, int uv_status) override;
  bool upgradeRequested() const override { return !upgrade_.empty(); }
  void onUpstreamTunnelData(const char* at, size_t len) override;
  void onUpstreamTunnelEof() override;
  void onUpstreamTunnelAborted() override;

  // ---- QueueWaiter (the pool's queue) ----
  void onDispatched(Backend& b) override;
  // The queue timer (owned by the connection) fired: 503.
  void onQueueTimeout();
  // The delay drill's timer (the connection's request timer) fired: the
  // request goes on to its pick.
  void onDrillDelayOver();

 private:
  ProxyRequest();
  RequestStorage& storage() { return st_; }
  void transitionTo(RequestState s);
  void beginRequest();
  void start();
  // Retries on another backend; false when not possible (nothing changed).
  bool tryRetry(config::RetryOn cause, RetryReason reason, std::string_view why);
  // Ends the attempt on backend_ (exactly once per pick).
  void endAttempt(AttemptOutcome outcome);
  void connectTo(Backend* b, bool fresh_only);
  // Puts the head (and the body kept for a replay) back into req_batch_.
  void rebuildRequestBatch(bool with_replay);
  void flushRequest();
  void flushResponse();
  void finish();
  bool clientMustClose() const;
  // Answers the client with an error page (status + plain-text body), or
  // with what `route` decided (return, 403, 429) when it is given.
  void reply(int status, std::string_view detail, ErrorKind kind = ErrorKind::kCount,
             const RouteDecision* route = nullptr);
  void logAccess(int status, bool complete);
  // Request explanations (explain.h): one entry per attempt, reused.
  ExplainAttempt* beginExplainAttempt(const Backend& b);
  // `now_ns`: nowNs() at the caller (read once for every duration it ends).
  void endExplainAttempt(std::string_view outcome, int http_status, uint64_t now_ns);
  void recordExplanation(int status, bool complete, uint64_t now_ns);
  // After the 101 was queued: starts relaying both ways.
  void startTunnel();
  // Client FIN and backend FIN both passed on and every write done: the end.
  void maybeEndTunnel();
  // Closes both sides, counts and logs the tunnel (one access-log line,
  // status 101). The client connection closes: nothing may follow.
  void endTunnel(TunnelEnd how, Termination t);
  // endTunnel without closing the client connection (it is closing).
  void finishTunnel(TunnelEnd how, Termination t);
  uint64_t loopNow() const;
  void noteClientLimit();
  // Queue full (or every backend full and no queue) / queue timeout: 503
  // with Retry-After, one event (at most one a second per kind), counted.
  void refuseQueued(bool timeout);
  void leaveQueue();

  RequestHead head_;
  RequestStorage st_;
  DownstreamConnection* conn_ = nullptr;  // owner while taken; null on the free list
  RequestState state_ = RequestState::Idle;
  std::shared_ptr<Runtime> runtime_;  // this request's config snapshot: pools, backends, timeouts
  Pool* pool_ = nullptr;              // borrowed from runtime_
  Backend* backend_ = nullptr;        // borrowed from pool_; the current (or last) attempt's backend
  UpstreamConnection* upstream_ = nullptr;  // borrowed while attached
  TriedSet tried_;
  PickRequest pick_;               // hash key and sticky id of this request (pick_.tried = &tried_)
  std::string sticky_in_;          // the request's sticky cookie value (backend id), or empty
  uint32_t attempts_ = 0;          // retries on other backends so far
  bool pick_held_ = false;         // backend_ counted by the pool until endAttempt()
  bool retry_counted_ = false;     // a budgeted retry counted in the pool's budget
  bool stale_retried_ = false;     // the one retry on a fresh connection was used
  bool written_ = false;           // some request byte went to the current attempt's backend
  bool replayable_ = false;        // replay_ holds the whole body received so far
  config::RetryOn discard_cause_ = config::RetryOn::Status502;  // DiscardingResponse: why
  Termination termination_;
  std::string_view local_detail_;  // pending local reply's reason (static strings, or route_.location)
  int local_status_ = 0;           // pending local reply (404) decided at head time
  ErrorKind local_kind_ = ErrorKind::NoRoute;  // ... and its error kind (kCount: none)
  // What the matched route decided (pool, rewrites, edits, or a local
  // answer). Its pointers borrow from runtime_.
  RouteDecision route_;
  std::string_view route_name_;                    // for the access log; borrowed from runtime_
  const config::Timeouts* timeouts_ = nullptr;     // the route's or the config's; borrowed from runtime_
  const config::RetryConfig* retries_ = nullptr;   // the route's or the pool's; borrowed from runtime_
  std::string edit_scratch_;                       // working space of header edits

  // Facts of the request (set once per request from its head).
  bool head_request_ = false;
  bool client_keep_alive_ = true;
  bool client_http10_ = false;
  bool expect_continue_ = false;
  bool idempotent_ = false;
  BodyFraming req_framing_ = BodyFraming::None;
  uint64_t max_body_ = 0;
  size_t n_explain_ = 0;
  int drill_status_ = 0;  // a fault drill picked this request: answer this status
  uint64_t drill_delay_ms_ = 0;  // a delay drill picked this request: hold it this long before the pick
  std::string_view method_name_;  // static (llhttp's table); empty before a head
  std::string abs_path_;  // origin form built for an absolute-form target with no path ("http://h?q")
  std::string upgrade_;  // protocols offered in an HTTP/1.1 upgrade request (h2c removed); empty: none

  // Tunnel (after a 101).
  bool tunnel_started_ = false;  // relaying (the 101 head may still be in flight)
  bool tunnel_counted_ = false;  // counted in the pool's tunnels_active
  bool client_eof_ = false;      // client FIN passed on to the backend
  bool backend_eof_ = false;     // backend FIN passed on to the client
  std::string_view tunnel_early_;  // client bytes read after the upgrade request, waiting for
                                   // the head's write to finish (in the client buffer)

  // Request side.
  bool request_complete_ = false;  // client message fully parsed
  uint64_t body_in_ = 0;           // request body bytes received from the client

  // Response side.
  BodyFraming resp_framing_ = BodyFraming::None;
  bool response_complete_ = false;
  bool close_client_ = false;  // close the client connection after this response
  int status_ = 0;

  // Access log facts.
  uint64_t start_ns_ = 0;
  uint64_t attempt_start_ns_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace ballast
