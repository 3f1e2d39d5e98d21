#include "lb/tls/server_context.h"

#include <openssl/err.h>

#include <algorithm>

#include "lb/tls/certificate.h"

namespace ballast::tls {

namespace {

config::ConfigError errorAt(const std::string& file, const config::Position& where, std::string message) {
  return config::ConfigError{file, where.line, where.column, where.path, std::move(message)};
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

size_t pickCertificate(const std::vector<std::vector<std::string>>& names, std::string_view server_name) {
  if (server_name.empty()) return 0;
  for (size_t i = 0; i < names.size(); ++i) {
    for (const std::string& n : names[i]) {
      if (n.rfind("*.", 0) != 0 && equalsIgnoreCase(n, server_name)) return i;
    }
  }
  // "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com".
  const size_t dot = server_name.find('.');
  if (dot == std::string_view::npos || dot == 0) return 0;
  const std::string_view parent = server_name.substr(dot);  // ".example.com"
  for (size_t i = 0; i < names.size(); ++i) {
    for (const std::string& n : names[i]) {
      if (n.rfind("*.", 0) == 0 && equalsIgnoreCase(std::string_view(n).substr(1), parent)) return i;
    }
  }
  return 0;
}

ServerContext::~ServerContext() = default;

std::shared_ptr<ServerContext> ServerContext::build(const config::ListenerTlsConfig& cfg,
                                                    const std::string& config_file, int64_t now,
                                                    std::vector<config::ConfigError>& errors,
                                                    std::shared_ptr<TicketKeys> keys) {
  const size_t errors_before = errors.size();
  std::shared_ptr<ServerContext> self(new ServerContext());
  for (const std::string& p : cfg.alpn) {
    self->alpn_wire_.push_back(static_cast<char>(p.size()));
    self->alpn_wire_ += p;
  }
  if (cfg.session_tickets) self->keys_ = keys ? std::move(keys) : std::make_shared<TicketKeys>();

  for (const config::CertificateConfig& cc : cfg.certificates) {
    std::string problem;
    std::optional<Certificate> cert = loadCertificate(cc, now, problem);
    if (!cert) {
      errors.push_back(errorAt(config_file, cc.where, std::move(problem)));
      continue;
    }
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
      errors.push_back(errorAt(config_file, cc.where, "cannot create a TLS context: " + takeOpenSslError()));
      continue;
    }
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, cfg.min_version == config::TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // No renegotiation (a client could make the server do handshakes
    // without new connections), the server's cipher order, and a truncated
    // stream read as EOF: HTTP's own framing says whether a message was cut.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
    // An idle connection gives its read and write buffers back (~34 KiB).
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    // Resumption is by ticket only: no server-side session cache to grow.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    if (self->keys_) {
      self->keys_->attach(c);
      SSL_CTX_set_timeout(c, static_cast<long>(TicketKeys::kRotateEverySeconds));
    } else {
      SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(c, 0);
    }
    const std::string& ciphers = cfg.ciphers.empty() ? std::string(kDefaultCiphers) : cfg.ciphers;
    if (SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1) {
      ERR_clear_error();
      // Once is enough: every certificate's context gets the same list.
      if (self->ctxs_.empty() && errors.size() == errors_before) {
        errors.push_back(errorAt(config_file, cfg.ciphers_where, "no cipher matches \"" + ciphers + "\""));
      }
      continue;
    }
    if (SSL_CTX_use_certificate(c, cert->leaf.get()) != 1 || SSL_CTX_use_PrivateKey(c, cert->key.get()) != 1) {
      errors.push_back(errorAt(config_file, cc.where, cc.cert + ": " + takeOpenSslError()));
      continue;
    }
    for (auto& x : cert->chain) {
      // add1: the context takes its own reference.
      if (SSL_CTX_add1_chain_cert(c, x.get()) != 1) {
        errors.push_back(errorAt(config_file, cc.where, cc.cert + ": " + takeOpenSslError()));
        break;
      }
    }
    if (!self->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(c, &ServerContext::onAlpn, self.get());
    self->ctxs_.push_back(std::move(ctx));
    self->names_.push_back(cert->dns_names);
    self->infos_.push_back(CertificateInfo{cc.cert, cert->dns_names, cert->not_after});
  }
  if (errors.size() != errors_before || self->ctxs_.empty()) return nullptr;
  // SNI is read on the default context: it picks, and switches the
  // connection to, the certificate's context.
  SSL_CTX_set_tlsext_servername_callback(self->ctxs_[0].get(), &ServerContext::onServerName);
  SSL_CTX_set_tlsext_servername_arg(self->ctxs_[0].get(), self.get());
  return self;
}

SslPtr ServerContext::newSsl() const {
  SslPtr ssl(SSL_new(ctxs_[0].get()));
  if (!ssl) {
    ERR_clear_error();
    return ssl;
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

int ServerContext::onServerName(SSL* ssl, int* /*alert*/, void* arg) {
  auto* self = static_cast<ServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  const size_t i = pickCertificate(self->names_, name);
  if (i != 0) SSL_set_SSL_CTX(ssl, self->ctxs_[i].get());
  return SSL_TLSEXT_ERR_OK;
}

int ServerContext::onAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                          unsigned int in_len, void* arg) {
  auto* self = static_cast<ServerContext*>(arg);
  unsigned char* selected = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(self->alpn_wire_.data());
  if (SSL_select_next_proto(&selected, out_len, ours, static_cast<unsigned int>(self->alpn_wire_.size()), in,
                            in_len) != OPENSSL_NPN_NEGOTIATED) {
    // The client speaks none of our protocols (h2 only): RFC 7301 3.2.
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace ballast::tls
