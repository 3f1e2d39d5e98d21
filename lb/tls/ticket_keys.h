// Session ticket keys kept in memory only (never on disk, never shared
// between processes): a new key encrypts tickets each `rotate_every`; the
// previous ones still decrypt (and ask the client to take a fresh ticket)
// until they fall off the end of the ring. A reload keeps the ring, so
// clients resume across reloads; a restart starts a new one.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <deque>

namespace ballast::tls {

class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name;
    std::array<unsigned char, 32> aes;   // AES-256-CBC
    std::array<unsigned char, 32> hmac;  // HMAC-SHA256
    int64_t created = 0;                 // unix seconds
  };
  static constexpr int64_t kRotateEverySeconds = 3600;
  static constexpr size_t kKeys = 3;  // the current one and two before it

  explicit TicketKeys(int64_t rotate_every = kRotateEverySeconds) : rotate_every_(rotate_every) {}

  // The key that encrypts new tickets at `now`, generating a new one when
  // the current is older than rotate_every.
  const Key& current(int64_t now);
  // The key named `name`, or nullptr; `is_current` says whether it is the
  // newest (an older one decrypts, but the ticket should be renewed).
  const Key* find(const unsigned char* name, bool& is_current) const;
  size_t size() const { return keys_.size(); }

  // Installs the OpenSSL ticket callback on `ctx`; the callback finds this
  // object through SSL_CTX ex-data, so it must outlive every SSL of ctx.
  void attach(SSL_CTX* ctx);

 private:
  static int onTicket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int encrypt);
  int64_t rotate_every_;
  std::deque<Key> keys_;  // newest first
};

}  // namespace ballast::tls
