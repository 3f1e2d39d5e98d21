#include "lb/tls/tls_session.h"

#include <openssl/err.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace ballast::tls {

const BIO_METHOD* TlsSession::bioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ballast memory");
    BIO_meth_set_write(m, &TlsSession::bioWrite);
    BIO_meth_set_read(m, &TlsSession::bioRead);
    BIO_meth_set_ctrl(m, &TlsSession::bioCtrl);
    BIO_meth_set_create(m, &TlsSession::bioCreate);
    return m;
  }();
  return method;
}

int TlsSession::bioCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int TlsSession::bioWrite(BIO* b, const char* data, int len) {
  auto* self = static_cast<TlsSession*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  self->out_.append(data, static_cast<size_t>(len));
  return len;
}

int TlsSession::bioRead(BIO* b, char* data, int len) {
  auto* self = static_cast<TlsSession*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const size_t avail = self->in_.size() - self->in_pos_;
  if (avail == 0) {
    if (self->eof_) return 0;
    BIO_set_retry_read(b);
    return -1;
  }
  const size_t n = std::min(avail, static_cast<size_t>(len));
  std::memcpy(data, self->in_.data() + self->in_pos_, n);
  self->in_pos_ += n;
  if (self->in_pos_ == self->in_.size()) {
    // Consumed: give the memory back (an idle session holds no buffer).
    std::string().swap(self->in_);
    self->in_pos_ = 0;
  }
  return static_cast<int>(n);
}

long TlsSession::bioCtrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  auto* self = static_cast<TlsSession*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(self->in_.size() - self->in_pos_);
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_EOF:
      return self->eof_ && self->in_pos_ == self->in_.size() ? 1 : 0;
    default:
      return 0;
  }
}

TlsSession::TlsSession(SslPtr ssl) : ssl_(std::move(ssl)) {
  BIO* bio = BIO_new(bioMethod());
  BIO_set_data(bio, this);
  // One BIO both ways: with rbio == wbio, SSL_set_bio takes the one
  // reference we hold (a second one would leak the BIO).
  SSL_set_bio(ssl_.get(), bio, bio);
}

TlsSession::~TlsSession() = default;

void TlsSession::feed(const char* data, size_t len) {
  if (in_pos_ > 0 && in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  }
  in_.append(data, len);
}

void TlsSession::fail(int ssl_error) {
  state_ = State::Failed;
  std::string text = takeOpenSslError();
  if (text.empty()) {
    text = ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN ? "connection closed during the handshake"
                                                                              : "TLS error " + std::to_string(ssl_error);
  }
  error_ = std::move(text);
}

TlsSession::State TlsSession::handshake() {
  if (state_ != State::Handshaking) return state_;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    handshake_done_ = true;
    state_ = State::Open;
    return state_;
  }
  const int err = SSL_get_error(ssl_.get(), rc);
  if (err == SSL_ERROR_WANT_READ && !(eof_ && in_pos_ == in_.size())) return state_;
  fail(err);
  return state_;
}

ssize_t TlsSession::read(char* buf, size_t cap) {
  if (state_ == State::Handshaking && handshake() != State::Open) return state_ == State::Handshaking ? 0 : -1;
  if (state_ != State::Open) return -1;
  ERR_clear_error();
  size_t n = 0;
  const int rc = SSL_read_ex(ssl_.get(), buf, std::min(cap, static_cast<size_t>(std::numeric_limits<int>::max())), &n);
  if (rc == 1) return static_cast<ssize_t>(n);
  const int err = SSL_get_error(ssl_.get(), rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      if (eof_ && in_pos_ == in_.size()) {
        state_ = State::Closed;
        return -1;
      }
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the stream ended.
      ERR_clear_error();
      state_ = State::Closed;
      return -1;
    default:
      fail(err);
      return -1;
  }
}

bool TlsSession::write(const char* data, size_t len) {
  if (state_ != State::Open || len == 0) return false;
  ERR_clear_error();
  size_t written = 0;
  // The BIO takes everything, so a write is never partial.
  if (SSL_write_ex(ssl_.get(), data, len, &written) == 1 && written == len) return true;
  fail(SSL_get_error(ssl_.get(), 0));
  return false;
}

void TlsSession::shutdown() {
  if (shutdown_sent_ || !handshake_done_ || state_ == State::Failed) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());  // 0: sent, the peer's has not arrived; fine, we do not wait for it
  ERR_clear_error();
}

std::string TlsSession::takeOutput() {
  std::string out;
  out.swap(out_);
  return out;
}

std::string_view TlsSession::protocol() const { return handshake_done_ ? SSL_get_version(ssl_.get()) : ""; }

std::string_view TlsSession::cipher() const {
  if (!handshake_done_) return "";
  const char* name = SSL_get_cipher_name(ssl_.get());
  return name != nullptr ? name : "";
}

std::string_view TlsSession::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &p, &len);
  return p != nullptr ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view TlsSession::serverName() const {
  const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? name : "";
}

bool TlsSession::resumed() const { return handshake_done_ && SSL_session_reused(ssl_.get()) == 1; }

}  // namespace ballast::tls
