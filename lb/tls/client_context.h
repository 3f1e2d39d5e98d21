// The client side of TLS to the backends of one pool: the trust store (a
// CA file or the system's), whether to verify, the name sent as SNI and
// checked against the certificate, ALPN http/1.1, and one cached session
// per backend so a new connection resumes instead of a full handshake.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"
#include "lb/tls/openssl_ptr.h"

namespace ballast::tls {

class ClientContext {
 public:
  // Loads the CA file (errors at its place in `config_file`); nullptr on error.
  static std::shared_ptr<ClientContext> build(const config::PoolTlsConfig& cfg, const std::string& config_file,
                                              std::vector<config::ConfigError>& errors);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A client SSL for a connection to `backend`: SNI and the verified name
  // are the pool's `sni`, else the backend's host (an IP address is
  // verified as such and sent as no SNI). Offers the session last saved
  // for that backend. The caller keeps this context alive as long as the SSL.
  SslPtr newSsl(const config::Address& backend);
  // Sessions held (one per backend at most).
  size_t cachedSessions() const;

 private:
  ClientContext() = default;
  static int onNewSession(SSL* ssl, SSL_SESSION* session);

  SslCtxPtr ctx_;
  config::PoolTlsConfig cfg_;
  // Backend address text -> its last session. Node addresses are stable:
  // an SSL points at its slot (ex-data) to store the session it receives.
  std::map<std::string, SessionPtr> sessions_;
};

}  // namespace ballast::tls
