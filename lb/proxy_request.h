// The per-request state machine: pick a backend, connect (or reuse an idle
// connection), send the head and stream the body, await and stream the
// response, retry where it is safe, map failures to 502/503/504.
//
// One ProxyRequest is embedded in each DownstreamConnection and reset per
// request, so a request costs no heap allocation once the connection's
// buffers have grown to their working size.
//
// States and what each owns:
//   Idle             - nothing (between requests)
//   PickingBackend   - the forwarded head in req_head_; no upstream
//   Connecting       - a connecting UpstreamConnection (upstream_); body bytes
//                      queued in req_batch_ point into the client read buffer
//   Sending          - upstream_ borrowed; request bytes being written
//   AwaitingResponse - request fully written; upstream response timer armed
//   Streaming        - response bytes sent to the client: no retry from here
//   LocalReply       - ballast answers itself (404/413/503...); no upstream
//   Done             - access log written; upstream released or closed
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "lb/balancer.h"
#include "lb/http_message.h"
#include "lb/metrics.h"
#include "lb/upstream_connection.h"
#include "lb/uv_util.h"

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
  HeaderCollector headers;
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

class ProxyRequest final : public UpstreamHandler {
 public:
  enum class State : uint8_t {
    Idle, PickingBackend, Connecting, Sending, AwaitingResponse, Streaming, LocalReply, Done
  };

  explicit ProxyRequest(DownstreamConnection& conn);
  ~ProxyRequest() override;

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
  bool holdsClientBuffer() const { return !req_batch_.empty(); }
  // The client connection's pending write finished (status < 0: failed).
  void onClientWriteDone(int status);
  // The client went away or the connection is being closed: drop everything.
  void abort();
  // A protocol error on the client side (400/408/413/431): answer with
  // `status` and close the connection once written.
  void localReplyAndClose(int status, std::string_view detail);

  State state() const { return state_; }
  bool active() const { return state_ != State::Idle && state_ != State::Done; }
  const std::string& requestId() const { return request_id_; }

  // ---- UpstreamHandler ----
  void onUpstreamConnected(UpstreamConnection& c) override;
  void onUpstreamInterim(UpstreamConnection& c) override;
  int onUpstreamHead(UpstreamConnection& c) override;
  void onUpstreamBody(const char* at, size_t len) override;
  void onUpstreamComplete() override;
  void onUpstreamReadDone() override;
  void onUpstreamWritten() override;
  void onUpstreamError(UpstreamError err, int uv_status) override;

 private:
  void transitionTo(State s) { state_ = s; }
  void beginRequest();
  void start();
  // Whether a failed attempt may be retried (attempts, budget, method,
  // replay); no side effects.
  bool canRetry(config::RetryOn cause) const;
  // Retries on another backend; false when not possible (nothing changed).
  bool tryRetry(config::RetryOn cause, std::string_view why);
  // Releases the pool's request/retry counters (once per request).
  void releaseCounters();
  void connectTo(Backend* b, bool fresh_only);
  void flushRequest();
  void flushResponse();
  void finish();
  bool clientMustClose() const;
  // Answers the client with an error page (status + plain-text body).
  void reply(int status, std::string_view detail, ErrorKind kind = ErrorKind::kCount);
  std::string_view local_detail_;  // pending local reply's reason (static strings only)
  int local_status_ = 0;           // pending local reply (404/503) decided at head time
  void logAccess(int status);

  DownstreamConnection& conn_;  // owner
  State state_ = State::Idle;
  std::shared_ptr<Runtime> runtime_;  // keeps pools/backends of this request's config alive
  Pool* pool_ = nullptr;              // borrowed from runtime_
  Backend* backend_ = nullptr;        // borrowed from pool_
  UpstreamConnection* upstream_ = nullptr;  // borrowed while attached
  TriedSet tried_;
  int retries_on_fresh_ = 0;
  uint32_t attempts_ = 0;          // retries on other backends so far
  bool pool_counted_ = false;      // pool_->requestStarted() done
  bool retry_counted_ = false;     // pool_->retryStarted() done
  bool written_ = false;           // some request byte went to the current attempt's backend
  bool idempotent_ = false;
  bool replayable_ = false;        // replay_ holds the whole body received so far
  bool retry_status_pending_ = false;  // a 502/503/504 response is being discarded for a retry
  config::RetryOn retry_status_cause_ = config::RetryOn::Status502;
  std::string replay_;             // body copy for retrying idempotent requests (reserved once)

  // Request side.
  std::string req_head_;   // forwarded head, kept for a retry
  WriteBatch req_batch_;   // head + body pieces not yet written upstream
  BodyFraming req_framing_ = BodyFraming::None;
  bool request_complete_ = false;  // client message fully parsed
  bool head_request_ = false;
  bool client_keep_alive_ = true;
  bool client_http10_ = false;
  bool expect_continue_ = false;
  uint64_t body_in_ = 0;          // request body bytes received from the client
  uint64_t max_body_ = 0;

  // Response side.
  std::string resp_head_;
  WriteBatch resp_batch_;
  BodyFraming resp_framing_ = BodyFraming::None;
  bool response_started_ = false;   // a final head was queued to the client
  bool response_timer_armed_ = false;
  bool client_write_pending_ = false;
  bool response_complete_ = false;
  bool close_client_ = false;       // close the client connection after this response
  int status_ = 0;

  // Access log facts.
  std::string request_id_;
  std::string method_;
  std::string path_;
  uint64_t start_ns_ = 0;
  uint64_t attempt_start_ns_ = 0;
  uint64_t bytes_out_ = 0;
};

}  // namespace ballast
