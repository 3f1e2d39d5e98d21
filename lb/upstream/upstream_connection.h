// One TCP connection to a backend and its response parser.
//
// Lifetime: owns itself. Created by a request (or reused from the backend's
// idle pool), it is deleted from its own last close callback after close()
// has cut every back-pointer. While idle in the pool it watches the socket:
// any byte or EOF from the backend closes it, so a connection the backend
// closed is never handed to a request.
//
// States and the one timer (each timer guards the backend side only, and
// runs only while ballast is waiting on the backend):
//   Connecting  - uv_tcp_connect pending; timer = timeouts.connect
//   Active      - attached to a handler (a request). timer = backend_response
//                 while a request write is pending (the backend is not
//                 reading) or while a response is expected and we are
//                 reading; restarted on every byte of progress. No timer
//                 while reading is paused because the client is slow, nor
//                 while the request body is still coming from the client.
//   Idle        - in the backend's idle pool; reading to detect close;
//                 timer = backend_idle
//   Tunnel      - the backend answered 101 to an upgrade: raw bytes both
//                 ways, handed to the handler one read at a time; no timer
//                 here (the client connection keeps the tunnel's idle
//                 timer, which covers both directions). Never pooled.
//   Closing     - uv_close issued on both handles; waiting for close callbacks
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "config/config.h"
#include "lb/base/deadline_timer.h"
#include "lb/base/transport.h"
#include "lb/base/write_batch.h"
#include "lb/http/http_message.h"
#include "lb/tls/client_context.h"
#include "lb/upstream/upstream_env.h"
#include "lb/upstream/upstream_error.h"

namespace ballast {

class Backend;
class UpstreamConnection;

// Implemented by the request. Parser callbacks run inside llhttp_execute:
// they only compute and queue bytes; they never close anything. The others
// may close this connection (and must not touch it afterwards).
class UpstreamHandler {
 public:
  virtual ~UpstreamHandler() = default;
  virtual void onUpstreamConnected(UpstreamConnection& c) = 0;
  // Interim 1xx response (not 101).
  virtual void onUpstreamInterim(UpstreamConnection& c) = 0;
  // Final response head parsed. Return true when the request was HEAD: the
  // response then has no body whatever its headers say (as 1xx, 204 and 304
  // never have; the connection decides those itself).
  virtual bool onUpstreamHead(UpstreamConnection& c) = 0;
  virtual void onUpstreamBody(const char* at, size_t len) = 0;
  virtual void onUpstreamComplete() = 0;
  // A read was parsed; flush what the callbacks queued.
  virtual void onUpstreamReadDone() = 0;
  // The pending write to the backend completed.
  virtual void onUpstreamWritten() = 0;
  // The connection failed and is already closed.
  virtual void onUpstreamError(UpstreamError err, int uv_status) = 0;

  // ---- upgrades ----
  // The request asked for an upgrade: a 101 is a valid answer (otherwise it
  // is an invalid response).
  virtual bool upgradeRequested() const = 0;
  // Tunnel bytes from the backend (the first call may carry bytes that came
  // right after the 101, before onUpstreamReadDone). The bytes stay valid
  // until reading is resumed, or until this returns if reading was not
  // paused. May close the connection.
  virtual void onUpstreamTunnelData(const char* at, size_t len) = 0;
  // The backend shut down its write side of the tunnel (clean FIN). A reset
  // comes as onUpstreamError.
  virtual void onUpstreamTunnelEof() = 0;
  // Ballast closed the tunnel's backend side (abortTunnel); it is closed.
  virtual void onUpstreamTunnelAborted() = 0;
};

class UpstreamConnection final : private TransportUser {
 public:
  // Interim (1xx) responses accepted before the final one; more is a
  // broken or hostile backend (502).
  static constexpr uint32_t kMaxInterimResponses = 16;

  // Starts connecting; `handler` is called back with onUpstreamConnected or
  // onUpstreamError(ConnectFailed/ConnectTimeout), never from inside this
  // call. `timeouts` is borrowed from the request's config snapshot, which
  // outlives the attachment. Never returns nullptr. `tls`: the pool's client
  // context when it speaks TLS to its backends (the handshake is part of
  // connecting, bounded by timeouts.connect; a failed one is a connect
  // failure), else null.
  static UpstreamConnection* connect(UpstreamEnv& env, std::shared_ptr<Backend> backend,
                                     const config::Timeouts& timeouts, UpstreamHandler* handler,
                                     std::shared_ptr<tls::ClientContext> tls = nullptr);
  // The TLS context it was made with (null: plain TCP). A pooled connection
  // is reused only by a pool with the same one (a reload may change it).
  const tls::ClientContext* tlsContext() const { return tls_ctx_; }

  // An idle connection the backend wrote to (bytes nobody asked for) or
  // closed, not yet seen by the loop: reusing it would read those bytes as
  // the next response (found by the response fuzz target). A non-blocking
  // peek at the socket.
  bool idleInputPending();
  // Attaches an idle connection taken from the pool to a request.
  void attach(UpstreamHandler* handler, const config::Timeouts& timeouts);
  // Detaches after a complete response; returns it to the backend's idle pool
  // or closes it (not reusable, pool full, backend out of rotation, draining).
  void release();
  // Idempotent. Cuts the handler pointer; the object is freed later.
  void close();
  // Tunnel only: sends FIN once pending writes are done (half-close).
  void shutdownWrite();
  bool tunneling() const { return state_ == State::Tunnel; }
  // Tunnel only: ballast closes it (health_check.close_tunnels_on_unhealthy);
  // the handler hears onUpstreamTunnelAborted().
  void abortTunnel();

  // Sends a batch (finalized by the caller). Returns false if the write failed
  // at once (the connection is then closed and the handler NOT called).
  // Check writePending() afterwards; onUpstreamWritten comes when it drains.
  bool write(WriteBatch& batch);
  bool writePending() const { return transport_->writePending(); }

  // The request has been written completely: from now the backend owes a
  // response (the response timer runs while we read).
  void expectResponse();
  // Backpressure from the client side: stop / restart reading. While
  // paused, the response timer does not run (we wait on the client).
  void pauseReading();
  void resumeReading();

  // Whether it came from the idle pool (a failure before any response byte is
  // then retried once on a fresh connection).
  bool reused() const { return reused_; }
  bool responseStarted() const { return response_bytes_ > 0; }
  Backend& backend() { return *backend_; }

  // Response head, valid inside onUpstreamHead/onUpstreamInterim only.
  int status() const { return parser_.status_code; }
  std::string_view reason() const { return reason_; }
  const std::vector<Header>& headers() const { return headers_.headers(); }
  const HopByHop& hop() const { return hop_; }
  bool chunked() const { return (parser_.flags & F_CHUNKED) != 0; }
  bool hasContentLength() const { return (parser_.flags & F_CONTENT_LENGTH) != 0; }
  uint64_t contentLength() const { return parser_.content_length; }
  bool keepAlive() const { return llhttp_should_keep_alive(&parser_) != 0; }

 private:
  enum class State : uint8_t { Connecting, Active, Idle, Tunnel, Closing };

  UpstreamConnection(UpstreamEnv& env, std::shared_ptr<Backend> backend, std::shared_ptr<tls::ClientContext> tls);
  ~UpstreamConnection() override;
  // Connected (and, over TLS, the handshake done): Active, and the handler hears it.
  void onReady();

  void startReading();
  void stopReading();
  // Arms or stops the timer for what we are waiting on now (see above).
  // `progress`: a byte moved, so a running response timer starts over.
  void updateTimer(bool progress);
  void fail(UpstreamError err, int uv_status);
  // A connect that failed with `uv_status`: the backend refused, or we are
  // out of local resources (then not the backend's failure).
  void failConnect(int uv_status);
  void parse(const char* data, size_t len);
  // After a 101: switches to Tunnel and hands over `len` bytes at `rest`
  // (what the backend sent right after the 101 head).
  void startTunnel(const char* rest, size_t len);
  void resetParser();
  void setCountedActive(bool v);

  static void onConnect(uv_connect_t* req, int status);
  static void onTimer(uv_timer_t* t);
  static void onHandlesClosed(UpstreamConnection* self);

  // ---- TransportUser ----
  uv_buf_t onTransportAlloc() override;
  void onTransportRead(ssize_t nread) override;
  void onTransportWriteDone(int status) override;
  void onTransportShutdown(int status) override;
  void onTransportHandshake(int status) override;
  void onTransportClosed() override;

  static int onMessageBegin(llhttp_t* p);
  static int onStatus(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeadersComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  template <class U>
  friend llhttp_settings_t makeParserSettings();
  template <class U>
  friend void closeHandles(U* owner, std::initializer_list<uv_handle_t*> handles);

  UpstreamEnv& env_;
  std::shared_ptr<Backend> backend_;
  UpstreamHandler* handler_ = nullptr;         // borrowed; null when idle or closing
  const config::Timeouts* timeouts_ = nullptr;  // borrowed from the attached request's config
  uint64_t idle_timeout_ms_ = 0;                // backend_idle, kept when the request detaches
  State state_ = State::Connecting;
  enum class TimerMode : uint8_t { None, Connect, Response, Idle } timer_mode_ = TimerMode::None;
  int pending_closes_ = 0;
  int deferred_error_ = 0;     // synchronous uv_tcp_connect failure, reported from the timer
  bool reading_ = false;
  bool paused_ = false;
  bool reused_ = false;
  bool expect_response_ = false;  // request fully written
  bool head_done_ = false;        // final response head parsed
  bool complete_ = false;         // final response complete
  bool reusable_ = true;          // no protocol reason to close after the response
  bool counted_active_ = false;   // counted in BackendStats::connections_active
  bool upgraded_ = false;         // the final response is a 101 the handler asked for
  bool shutdown_sent_ = false;    // tunnel write side shut down
  bool tunnel_eof_ = false;       // tunnel: the backend sent its FIN (reading is over)
  uint32_t interim_ = 0;          // interim responses of this exchange
  uint64_t response_bytes_ = 0;

  std::unique_ptr<Transport> transport_;  // the socket: plain TCP or TLS
  const tls::ClientContext* tls_ctx_ = nullptr;
  DeadlineTimer timer_;
  uv_connect_t connect_req_;
  llhttp_t parser_;
  HeaderCollector headers_;
  HopByHop hop_;
  std::string_view reason_;

  static constexpr size_t kBufSize = 32 * 1024;
  std::unique_ptr<char[]> buf_;
  size_t end_ = 0;  // bytes in buf_ (response head in progress is kept from 0)

  template <class>
  friend class IntrusiveList;
  UpstreamConnection* next_ = nullptr;  // UpstreamEnv::live
  UpstreamConnection* prev_ = nullptr;
};

}  // namespace ballast
