// The server side of TLS termination for one listener: one OpenSSL context
// per certificate (the first is the default), SNI choosing among them
// (exact name, then wildcard), the protocol floor, ciphers, ALPN and
// session tickets. Built (and every certificate checked) on each load and
// reload; a connection keeps the context it started with (shared_ptr), so
// a reload changes only new handshakes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"
#include "lb/tls/openssl_ptr.h"
#include "lb/tls/ticket_keys.h"

namespace ballast::tls {

// Index into `names` (one list of lower-case DNS names per certificate) of
// the certificate for `server_name`: the first with that exact name, else
// the first whose wildcard ("*.example.com") covers it (one label, as
// RFC 6125 says), else 0, the default. Case-insensitive.
size_t pickCertificate(const std::vector<std::vector<std::string>>& names, std::string_view server_name);

// TLS 1.2 ciphers when the config names none: forward secrecy and AEAD only
// (Mozilla's "intermediate" list).
inline constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

class ServerContext {
 public:
  struct CertificateInfo {
    std::string label;               // the cert path as written
    std::vector<std::string> names;  // subjectAltName DNS names
    int64_t not_after = 0;           // unix seconds (earliest in the chain)
  };

  // Reads and checks every certificate at unix time `now`; each problem is
  // one error at the certificate's (or the ciphers') place in `config_file`.
  // Returns nullptr when there was any. `keys`: the ticket keys to keep (a
  // reload passes the running context's); nullptr = a new ring.
  static std::shared_ptr<ServerContext> build(const config::ListenerTlsConfig& cfg, const std::string& config_file,
                                              int64_t now, std::vector<config::ConfigError>& errors,
                                              std::shared_ptr<TicketKeys> keys = nullptr);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A server SSL for one connection (nullptr when OpenSSL is out of
  // memory). The caller keeps this context alive as long as the SSL.
  SslPtr newSsl() const;
  const std::vector<CertificateInfo>& certificates() const { return infos_; }
  const std::shared_ptr<TicketKeys>& ticketKeys() const { return keys_; }

 private:
  ServerContext() = default;
  static int onServerName(SSL* ssl, int* alert, void* arg);
  static int onAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                    unsigned int in_len, void* arg);

  std::vector<SslCtxPtr> ctxs_;  // one per certificate; [0] is the default
  std::vector<std::vector<std::string>> names_;
  std::vector<CertificateInfo> infos_;
  std::string alpn_wire_;  // ALPN protocols, length-prefixed
  std::shared_ptr<TicketKeys> keys_;  // null when session tickets are off
};

}  // namespace ballast::tls
