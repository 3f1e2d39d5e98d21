#include "lb/tls/client_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace ballast::tls {

namespace {

int slotIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

ClientContext::~ClientContext() = default;

std::shared_ptr<ClientContext> ClientContext::build(const config::PoolTlsConfig& cfg, const std::string& config_file,
                                                    std::vector<config::ConfigError>& errors) {
  std::shared_ptr<ClientContext> self(new ClientContext());
  self->cfg_ = cfg;
  self->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* c = self->ctx_.get();
  if (c == nullptr) {
    errors.push_back({config_file, cfg.where.line, cfg.where.column, cfg.where.path,
                      "cannot create a TLS context: " + takeOpenSslError()});
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL");
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c, kAlpn, sizeof kAlpn - 1);
  // Sessions are kept per backend by us, not in OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, &ClientContext::onNewSession);
  if (!cfg.ca_path.empty()) {
    if (SSL_CTX_load_verify_file(c, cfg.ca_path.c_str()) != 1) {
      ERR_clear_error();
      errors.push_back({config_file, cfg.ca_where.line, cfg.ca_where.column, cfg.ca_where.path,
                        cfg.ca + ": cannot read a PEM CA certificate from it"});
      return nullptr;
    }
  } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
    ERR_clear_error();
  }
  return self;
}

SslPtr ClientContext::newSsl(const config::Address& backend) {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) {
    ERR_clear_error();
    return ssl;
  }
  const std::string& name = cfg_.sni.empty() ? backend.host : cfg_.sni;
  const bool ip = isIpLiteral(name);
  if (!ip) SSL_set_tlsext_host_name(ssl.get(), name.c_str());
  if (cfg_.verify) {
    SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl.get(), name.c_str());
    }
  }
  SSL_set_connect_state(ssl.get());
  SessionPtr& slot = sessions_[backend.text];
  if (slot) {
    // A copy again: the connection's session is marked not resumable if
    // it ends without close_notify, and a resumed TLS 1.3 connection may
    // bring no new ticket to replace it.
    SessionPtr offered(SSL_SESSION_dup(slot.get()));
    if (offered) SSL_set_session(ssl.get(), offered.get());  // takes its own reference
  }
  SSL_set_ex_data(ssl.get(), slotIndex(), &slot);
  return ssl;
}

size_t ClientContext::cachedSessions() const {
  size_t n = 0;
  for (const auto& [_, s] : sessions_) n += s ? 1 : 0;
  return n;
}

// Keeps a copy: OpenSSL marks the session it handed us not resumable when
// its connection ends without close_notify (a backend that just closes an
// idle connection), which must not cost the next connection its resumption.
// Returning 0 leaves OpenSSL's own reference to OpenSSL.
int ClientContext::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionPtr*>(SSL_get_ex_data(ssl, slotIndex()));
  if (slot != nullptr) {
    if (SSL_SESSION* copy = SSL_SESSION_dup(session)) slot->reset(copy);
  }
  return 0;
}

}  // namespace ballast::tls
