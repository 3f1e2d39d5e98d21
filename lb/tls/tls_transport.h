// TLS under a connection, on the connection's own loop: ciphertext moves
// between the socket and a TlsSession (memory BIO), plaintext between the
// session and the connection, through the Transport contract (base/transport.h).
//
// Server side (a TLS listener's connection): the handshake runs as soon as
// the connection reads, and the connection sees only plaintext; until the
// handshake is done nothing reaches it, so its first-request timer
// (timeouts.client_header) bounds the handshake too. The result is recorded
// in the listener's TLS statistics.
//
// Memory: no ciphertext buffer is held between reads (reads land in one
// buffer shared by all TLS connections of the thread and are fed to the
// session at once), written ciphertext is freed when the kernel has it, and
// OpenSSL's own record buffers are released while idle
// (SSL_MODE_RELEASE_BUFFERS).
#pragma once

#include <memory>
#include <string>

#include "lb/base/transport.h"
#include "lb/stats/tls_stats.h"
#include "lb/tls/client_context.h"
#include "lb/tls/server_context.h"
#include "lb/tls/tls_session.h"

namespace ballast::tls {

class TlsTransport final : public Transport {
 public:
  // One accepted connection of the TLS listener `listener` (its address as
  // written: where handshakes are counted, if it is still configured).
  TlsTransport(uv_loop_t* loop, TransportUser& user, std::shared_ptr<ServerContext> ctx, std::string listener);
  // A connection to `backend` of a pool speaking TLS: connect the socket
  // (tcp()), then connected() runs the handshake.
  TlsTransport(uv_loop_t* loop, TransportUser& user, std::shared_ptr<ClientContext> ctx,
               const config::Address& backend);
  ~TlsTransport() override;

  int readStart() override;
  void readStop() override;
  int write(uv_buf_t* bufs, unsigned n) override;
  bool writePending() const override { return user_write_pending_; }
  int shutdown() override;
  void close() override;
  bool secure() const override { return true; }
  int connected() override;
  std::string error() const override { return session_.error(); }

  const TlsSession& session() const { return session_; }

 private:
  void process();
  void deliver();
  // Sends what the session has produced. < 0 on a socket error.
  int flush();
  void maybeShutdown();
  void recordHandshake(HandshakeResult failed_as);

  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onDeliver(uv_timer_t* t);
  static void onClose(uv_handle_t* h);

  void init(uv_loop_t* loop);

  // Keep the SSL's context (and its callbacks' targets) alive; one is set.
  std::shared_ptr<ServerContext> server_ctx_;
  std::shared_ptr<ClientContext> client_ctx_;
  std::string listener_;  // server side: where handshakes are counted
  TlsSession session_;
  uv_timer_t deliver_;  // runs deliver() on a later turn after readStart()
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  std::string inflight_;  // ciphertext handed to uv_write
  std::string queued_;    // ciphertext produced while a write is in flight
  uint64_t first_byte_ms_ = 0;  // loop time of the client's first byte
  int open_handles_ = 2;
  bool user_reading_ = false;
  bool socket_reading_ = false;
  bool write_inflight_ = false;
  bool user_write_pending_ = false;
  bool shutdown_wanted_ = false;
  bool shutdown_started_ = false;
  bool eof_ = false;
  bool handshake_recorded_ = false;
  bool closing_ = false;
  bool client_ = false;
};

}  // namespace ballast::tls
