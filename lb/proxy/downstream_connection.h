// One client socket: reads and parses requests in place, drives one
// ProxyRequest at a time (pipelined requests wait in the read buffer and are
// answered in order), writes responses, keeps the connection alive.
//
// Read buffer discipline (what makes in-place parsing safe):
//   - A request head is parsed from one contiguous, unmoved region starting
//     at buf_[0]; header spans point into it until the forwarded head has
//     been built (inside on_headers_complete).
//   - Body bytes are forwarded as spans of buf_; reading stops until they
//     have been written upstream, then the buffer is reused from 0.
//   - After a message completes, the bytes of the next pipelined request stay
//     in buf_ until the response is done (reading goes on while buf_ has room:
//     stopping and restarting it would cost two epoll_ctl calls a request);
//     they are then moved to buf_[0] and parsed on a later loop turn (never
//     inside the callback that finished the previous response).
//
// Phases, and the one timer (it guards the client side only, and runs only
// while ballast waits on the client):
//   Idle        - between requests; timer = client_idle (client_header for
//                 the first request, the drain grace while draining)
//   ReadingHead - a head is arriving; timer = client_header since its first byte
//   ReadingBody - body bytes stream upstream; timer = client_idle per read,
//                 stopped while reading is paused because the backend has
//                 not taken the previous bytes yet
//   Waiting     - request parsed; the response is in progress; bytes that
//                 arrive are kept for later (a FIN stops reading until the
//                 response is out: a client may half-close after its request)
//   (any phase) - a write to the client is pending: timer = client_idle per
//                 write (a client that stops reading is cut off)
//   Lingering   - the last answer is out and the write side shut down;
//                 input is read and discarded until EOF; timer =
//                 timeouts.lingering per read, timeouts.lingering_total in all
//   Tunnel      - the backend answered 101: raw bytes are relayed both ways
//                 (ProxyRequest does the relaying); one read at a time from
//                 buf_[0]; timer = timeouts.tunnel, restarted by a byte
//                 moving either way (this one timer covers both sides)
//   Closing     - uv_close issued
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lb/base/deadline_timer.h"
#include "lb/base/transport.h"
#include "lb/base/write_batch.h"
#include "lb/proxy/proxy_request.h"
#include "lb/tls/server_context.h"

namespace ballast {

class ProxyContext;

class DownstreamConnection final : private TransportUser {
 public:
  // Accepts one pending connection from `listener`. Returns nullptr (and
  // nothing to clean up) when accept fails. `tls`: the listener's TLS
  // context (the connection then speaks TLS, and `listener_name` names the
  // listener its handshake is counted on), or null for plain TCP.
  static DownstreamConnection* accept(ProxyContext& ctx, uv_stream_t* listener,
                                      std::shared_ptr<tls::ServerContext> tls = nullptr,
                                      const std::string& listener_name = {});
  // TLS under this connection (X-Forwarded-Proto: https).
  bool secure() const { return transport_->secure(); }

  // Idempotent; the object is deleted after its last close callback, on a
  // later loop turn.
  void close();
  // Shutdown (drain timeout, stop): closes, logging the request in flight
  // as killed by ballast rather than left by the client.
  void kill();
  bool closing() const { return phase_ == Phase::Closing; }

  ProxyContext& context() { return ctx_; }
  const std::string& clientIp() const { return client_ip_; }
  const std::string& clientAddr() const { return client_addr_; }
  // More connections from this client's address than
  // limits.max_connections_per_client allowed when it was accepted.
  bool overClientLimit() const { return over_client_limit_; }
  bool idle() const { return phase_ == Phase::Idle && end_ == 0; }

  // ---- for ProxyRequest ----
  // Writes to the client: 0 done synchronously, 1 pending (ProxyRequest's
  // onClientWriteDone follows), <0 error (nothing pending). A no-op
  // (UV_ECANCELED) once closing.
  int write(WriteBatch& batch);
  bool writePending() const { return transport_->writePending(); }
  // The request's queued body bytes were written upstream: reuse the buffer.
  void requestBufferReleased();
  // The response is complete and written. Closes, or moves to the next
  // request (parsed on a later loop turn if its bytes are already here).
  void requestFinished(bool close);
  // Bytes read from the client since the last call (access log accounting).
  uint64_t takeBytesIn() {
    uint64_t b = bytes_in_;
    bytes_in_ = 0;
    return b;
  }
  // Drain: an idle connection is closed after `grace_ms` unless a request
  // arrives first (that one is answered with Connection: close).
  void drainIdle(uint64_t grace_ms);
  // Re-evaluates whether to read from the client (and the timer with it).
  void updateReading();
  // The request's own timer (the client-side timer keeps guarding the
  // client meanwhile). Its kind says what the request waits on:
  //   Queue      - a backend slot, in its pool's queue (runs out:
  //                ProxyRequest::onQueueTimeout, a 503)
  //   DrillDelay - ballast itself: a delay drill holds the request before
  //                its pick (runs out: ProxyRequest::onDrillDelayOver, the
  //                request goes on as usual)
  // One at a time: a request waits on one thing at a time.
  enum class RequestTimer : uint8_t { None, Queue, DrillDelay };
  void startRequestTimer(RequestTimer kind, uint64_t ms);
  void stopRequestTimer();

  // ---- tunnels (after a 101) ----
  // Switches to the Tunnel phase. Returns the client bytes already read
  // after the upgrade request (moved to the front of the buffer): the first
  // tunnel bytes, valid until requestBufferReleased().
  std::string_view enterTunnel();
  // A byte moved through the tunnel: the idle deadline starts over.
  void tunnelActivity();
  // Half-close towards the client (the backend sent its FIN).
  void shutdownWrite();

 private:
  enum class Phase : uint8_t { Idle, ReadingHead, ReadingBody, Waiting, Lingering, Tunnel, Closing };
  enum class TimerKind : uint8_t { None, Idle, Head, Body, Write, Linger, Tunnel };

  DownstreamConnection(ProxyContext& ctx, std::shared_ptr<tls::ServerContext> tls, const std::string& listener_name);
  ~DownstreamConnection() override;

  void parse();
  void parseLater();
  // Before a request line: consumes the one empty line tolerated (RFC 9112
  // 2.2); false when there are more (the request is then refused).
  bool skipLeadingEmptyLines();
  void refuse(int status, ErrorKind kind, const char* why);
  void updateTimer(bool progress);
  void toIdle();
  // Frees the read buffer (idle, nothing buffered); the next read allocates it.
  void releaseBuffer();
  void replyAndClose(int status, std::string_view why, ErrorKind kind);
  // Closes after a final answer; when the client may still be sending,
  // through the Lingering phase (see above).
  void closeAfterAnswer(bool client_may_send);
  void onLingerShutdown(int status);
  void onTunnelShutdown(int status);
  enum class Gauge : uint8_t { None, Idle, Active };
  void setGauge(Gauge g);

  // ---- TransportUser ----
  uv_buf_t onTransportAlloc() override;
  void onTransportRead(ssize_t nread) override;
  void onTransportWriteDone(int status) override;
  void onTransportShutdown(int status) override;
  void onTransportClosed() override;

  static void onTimer(uv_timer_t* t);
  static void onRequestTimer(uv_timer_t* t);
  static void onHandlesClosed(DownstreamConnection* self);

  static int onMessageBegin(llhttp_t* p);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  template <class U>
  friend llhttp_settings_t makeParserSettings();
  template <class U>
  friend void closeHandles(U* owner, std::initializer_list<uv_handle_t*> handles);

  ProxyContext& ctx_;
  Phase phase_ = Phase::Idle;
  TimerKind timer_kind_ = TimerKind::None;
  Gauge gauge_ = Gauge::None;
  int pending_closes_ = 0;
  bool reading_ = false;
  bool eof_while_waiting_ = false;  // FIN read during Waiting: read again once Idle (it returns EOF again)
  bool parse_posted_ = false;  // a parse() waits in the deferred queue
  uint64_t requests_ = 0;      // requests started on this connection
  uint64_t drain_grace_ms_ = 0;
  int local_status_ = 0;       // set by parser callbacks: answer locally with this status
  ErrorKind local_kind_ = ErrorKind::BadRequest;
  const char* local_why_ = nullptr;  // its reason, when the callback knows it (static text)
  uint8_t empty_lines_ = 0;    // empty lines seen before the current request line
  bool over_client_limit_ = false;
  bool tunnel_eof_ = false;        // Tunnel: the client sent its FIN (no more reading)
  bool tunnel_shutdown_ = false;   // Tunnel: our FIN to the client was requested
  bool counted_client_ = false;    // counted in the context's per-client table
  // limits.min_body_rate: body bytes and loop time of the current window
  // (while ballast waits on the client for body bytes).
  uint64_t rate_window_start_ = 0;
  uint64_t rate_window_bytes_ = 0;
  bool checkBodyRate(size_t nread);
  // Counts trailer bytes; false (and a 431 decided) past max_header_bytes.
  bool trailerBytes(size_t len);
  size_t trailer_bytes_ = 0;

  std::unique_ptr<Transport> transport_;  // the socket: plain TCP or TLS
  DeadlineTimer timer_;
  uv_timer_t request_timer_;
  RequestTimer request_timer_kind_ = RequestTimer::None;
  uint64_t linger_deadline_ = 0;  // loop time the lingering ends at the latest
  llhttp_t parser_;

  // The read buffer and the request (its head, state and working memory)
  // come from free lists when bytes arrive (onTransportAlloc) and go back
  // when the connection goes idle with nothing buffered (releaseBuffer):
  // an idle keep-alive connection holds neither. Invariant: no request
  // => none in progress.
  std::unique_ptr<char[]> buf_;
  std::unique_ptr<ProxyRequest> request_;
  // The request, taken from the free list if the connection holds none.
  ProxyRequest& request();
  // The request holds body bytes that point into buf_.
  bool requestHoldsBuffer() const { return request_ != nullptr && request_->holdsClientBuffer(); }
  size_t cap_ = 0;
  // Bytes (or an EOF) wait in the socket, not yet read by the loop.
  bool inputPending() const;
  // An idle timer that found input pending looks again this much later if
  // the read did not move the connection on.
  static constexpr uint64_t kPendingInputRecheckMs = 50;
  size_t start_ = 0;  // first unparsed byte
  size_t end_ = 0;    // end of bytes read
  uint64_t bytes_in_ = 0;

  std::string client_ip_;
  std::string client_addr_;

  template <class>
  friend class IntrusiveList;
  DownstreamConnection* next_ = nullptr;  // ProxyContext::clients()
  DownstreamConnection* prev_ = nullptr;
};

}  // namespace ballast
