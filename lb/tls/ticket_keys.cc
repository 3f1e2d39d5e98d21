#include "lb/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <ctime>

namespace ballast::tls {

namespace {

int exIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool setMacKey(EVP_MAC_CTX* mac, const TicketKeys::Key& k) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac.data()),
                                        k.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

const TicketKeys::Key& TicketKeys::current(int64_t now) {
  if (keys_.empty() || now - keys_.front().created >= rotate_every_) {
    Key k;
    // RAND_bytes fails only when the system has no entropy source at all;
    // a key of zeroes would then be guessable, so refuse to issue tickets
    // by keeping the created time at 0 (checked by the callback).
    const bool ok = RAND_bytes(k.name.data(), k.name.size()) == 1 && RAND_bytes(k.aes.data(), k.aes.size()) == 1 &&
                    RAND_bytes(k.hmac.data(), k.hmac.size()) == 1;
    k.created = ok ? now : 0;
    keys_.push_front(k);
    while (keys_.size() > kKeys) keys_.pop_back();
  }
  return keys_.front();
}

const TicketKeys::Key* TicketKeys::find(const unsigned char* name, bool& is_current) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].created != 0 && std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) == 0) {
      is_current = i == 0;
      return &keys_[i];
    }
  }
  return nullptr;
}

void TicketKeys::attach(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, exIndex(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::onTicket);
}

// OpenSSL's contract: encrypt -> 1 (ticket issued) or 0 (none); decrypt ->
// 0 (unknown key: full handshake), 1 (resume), 2 (resume and renew).
int TicketKeys::onTicket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int encrypt) {
  // The session context: the one the connection started on, whichever
  // certificate SNI switched it to.
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  auto* self = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(ctx, exIndex()));
  if (self == nullptr) return 0;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (encrypt) {
    const Key& k = self->current(now);
    if (k.created == 0) return 0;
    const int iv_len = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    if (RAND_bytes(iv, iv_len) != 1) return -1;
    std::memcpy(name, k.name.data(), k.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
    return setMacKey(mac, k) ? 1 : -1;
  }
  self->current(now);  // ages the ring even when no ticket was issued for a while
  bool is_current = false;
  const Key* k = self->find(name, is_current);
  if (k == nullptr) return 0;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes.data(), iv) != 1) return -1;
  if (!setMacKey(mac, *k)) return -1;
  return is_current ? 1 : 2;
}

}  // namespace ballast::tls
