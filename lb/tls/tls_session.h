// One TLS connection's state, with no socket and no loop: ciphertext from
// the peer goes in through feed(), plaintext comes out of read(); plaintext
// goes in through write(), ciphertext to send comes out of takeOutput().
// The transport under a connection moves bytes between this and its
// socket; tests connect a client and a server session in memory.
//
// OpenSSL sees one BIO whose read side takes from our input buffer and
// whose write side appends to our output buffer; both are emptied (their
// memory freed) as soon as they are consumed, and SSL_MODE_RELEASE_BUFFERS
// frees OpenSSL's own record buffers, so an idle session holds only the
// SSL object itself.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "lb/tls/openssl_ptr.h"

namespace ballast::tls {

class TlsSession {
 public:
  enum class State : uint8_t {
    Handshaking,  // no application data yet
    Open,         // handshake done: read() and write() carry data
    Closed,       // the peer sent close_notify, or its stream ended
    Failed,       // handshake or record error; error() says which
  };

  // Takes an SSL from a ServerContext or a ClientContext (which must outlive
  // the session); a client SSL starts its handshake on the first call to
  // handshake().
  explicit TlsSession(SslPtr ssl);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the peer (copied).
  void feed(const char* data, size_t len);
  // The peer's stream ended (TCP EOF): once the input is consumed, read()
  // reports Closed (a truncated record is not an error: HTTP's own framing
  // tells whether a message was cut).
  void feedEof() { eof_ = true; }

  // Advances the handshake with the input fed so far. Output to send may
  // appear (check hasOutput()) whatever the result.
  State handshake();
  // Up to `cap` bytes of plaintext into `buf`: > 0 bytes read; 0 nothing
  // more until more ciphertext is fed; -1 the session is Closed or Failed.
  // May also produce output (TLS 1.3 key updates, the handshake's end).
  ssize_t read(char* buf, size_t cap);
  // Encrypts `len` bytes (> 0) into the output. False when the session is
  // not Open or the write failed (then Failed).
  bool write(const char* data, size_t len);
  // Queues close_notify (once; nothing if the handshake never finished).
  void shutdown();

  bool hasOutput() const { return !out_.empty(); }
  // Ciphertext fed but not yet taken by OpenSSL.
  bool hasPendingInput() const { return in_pos_ < in_.size(); }
  size_t outputSize() const { return out_.size(); }
  // The ciphertext to send, in order; the session's buffer is left empty.
  std::string takeOutput();

  State state() const { return state_; }
  bool handshakeDone() const { return handshake_done_; }
  const std::string& error() const { return error_; }
  // Negotiated values, after the handshake ("" before).
  std::string_view protocol() const;   // "TLSv1.3"
  std::string_view cipher() const;     // "TLS_AES_128_GCM_SHA256"
  std::string_view alpn() const;       // "http/1.1" or ""
  std::string_view serverName() const; // the SNI the client sent, or ""
  bool resumed() const;
  SSL* ssl() const { return ssl_.get(); }

 private:
  static int bioWrite(BIO* b, const char* data, int len);
  static int bioRead(BIO* b, char* data, int len);
  static long bioCtrl(BIO* b, int cmd, long num, void* ptr);
  static int bioCreate(BIO* b);
  static const BIO_METHOD* bioMethod();
  void fail(int ssl_error);

  SslPtr ssl_;
  std::string in_;      // ciphertext not yet taken by OpenSSL, from in_pos_
  size_t in_pos_ = 0;
  std::string out_;     // ciphertext to send
  std::string error_;
  State state_ = State::Handshaking;
  bool handshake_done_ = false;
  bool eof_ = false;
  bool shutdown_sent_ = false;
};

}  // namespace ballast::tls
