// Every TLS context a config needs: one server context per TLS listener,
// one client context per pool that speaks TLS to its backends, and one per
// https notify target (lb/notify). Built on
// every load (`--check` builds them too, so it reports certificate
// problems) and every reload; a reload that cannot build them is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"
#include "lb/tls/client_context.h"
#include "lb/tls/server_context.h"

namespace ballast::tls {

struct TlsContexts {
  std::vector<std::shared_ptr<ServerContext>> listeners;  // parallel to Config::listen; null = plain
  std::vector<std::shared_ptr<ClientContext>> pools;      // parallel to Config::pools; null = plain
  std::vector<std::string> listener_names;                // Config::listen[i].text
  std::vector<std::shared_ptr<ClientContext>> notify;     // parallel to Config::notify.targets; null = http
};

// Reads every certificate, key and CA file of `cfg` at unix time `now`.
// Errors name the config file, the place and the certificate file. On any
// error returns false and leaves `out` empty. A listener with the same
// address in `previous` keeps its session ticket keys.
bool buildTlsContexts(const config::Config& cfg, int64_t now, std::vector<config::ConfigError>& errors,
                      TlsContexts& out, const TlsContexts* previous = nullptr);

}  // namespace ballast::tls
