// The transport under a connection: plain TCP, or TLS over the same socket
// (lb/tls/tls_transport.h). A connection reads, writes, shuts down and
// closes through it and never touches the socket itself, so timeouts,
// limits, lingering close, pipelining and tunnels behave the same over both.
//
// Contract, the same as a libuv stream's:
//   - readStart() delivers data through onTransportAlloc/onTransportRead
//     (a negative nread is UV_EOF or an error), never synchronously inside
//     readStart(); readStop() stops it (TLS: plaintext already decrypted
//     stays inside until the next readStart()).
//   - write() has StreamWriter's semantics: 0 written at once, 1 pending
//     (onTransportWriteDone follows), < 0 an error with nothing pending; at
//     most one write of the owner's in flight; the buffers are the owner's
//     until the write is done (the TLS transport has copied them by the
//     time write() returns).
//   - shutdown() sends the end of the stream after the pending writes (TLS:
//     close_notify, then FIN); onTransportShutdown follows.
//   - close() is idempotent; pending writes and the shutdown are cancelled
//     (their callbacks run with UV_ECANCELED, or not at all once the owner
//     is closing); onTransportClosed is called once, after the last handle's
//     close callback: only then may the transport be deleted.
#pragma once

#include <uv.h>

#include <string>

#include "lb/base/write_batch.h"

namespace ballast {

class TransportUser {
 public:
  virtual ~TransportUser() = default;
  // Where the next bytes go (len 0: nothing now).
  virtual uv_buf_t onTransportAlloc() = 0;
  // > 0 bytes were put at the last buffer; < 0 end of stream or an error.
  virtual void onTransportRead(ssize_t nread) = 0;
  virtual void onTransportWriteDone(int status) = 0;
  virtual void onTransportShutdown(int /*status*/) {}
  // Client side of TLS: the handshake after connect() ended (0, or an error).
  virtual void onTransportHandshake(int /*status*/) {}
  virtual void onTransportClosed() = 0;
};

class Transport {
 public:
  Transport(uv_loop_t* loop, TransportUser& user);
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // For accept, getpeername and socket options.
  uv_tcp_t* tcp() { return &tcp_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  virtual int readStart() = 0;
  virtual void readStop() = 0;
  virtual int write(uv_buf_t* bufs, unsigned n) = 0;
  virtual bool writePending() const = 0;
  virtual int shutdown() = 0;
  virtual void close() = 0;
  // TLS under the connection (X-Forwarded-Proto: https).
  virtual bool secure() const { return false; }
  // Client side, after the TCP connect succeeded: plain TCP is ready now
  // (returns 0, no callback); TLS starts its handshake and returns 1,
  // onTransportHandshake follows.
  virtual int connected() { return 0; }
  // Why the TLS handshake failed ("" otherwise).
  virtual std::string error() const { return {}; }

 protected:
  TransportUser& user_;  // borrowed: the connection owns this transport
  uv_tcp_t tcp_;
};

// Plain TCP: the libuv calls, one to one.
class TcpTransport final : public Transport {
 public:
  TcpTransport(uv_loop_t* loop, TransportUser& user);
  int readStart() override;
  void readStop() override;
  int write(uv_buf_t* bufs, unsigned n) override { return writer_.write(stream(), bufs, n); }
  bool writePending() const override { return writer_.pending(); }
  int shutdown() override;
  void close() override;

 private:
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWriteDone(void* owner, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onClose(uv_handle_t* h);

  StreamWriter writer_;
  uv_shutdown_t shutdown_req_;
  bool closing_ = false;
};

}  // namespace ballast
