#include "lb/tls/tls_contexts.h"

namespace ballast::tls {

bool buildTlsContexts(const config::Config& cfg, int64_t now, std::vector<config::ConfigError>& errors,
                      TlsContexts& out, const TlsContexts* previous) {
  const size_t errors_before = errors.size();
  TlsContexts built;
  for (const config::ListenConfig& l : cfg.listen) {
    built.listener_names.push_back(l.text);
    if (!l.tls) {
      built.listeners.push_back(nullptr);
      continue;
    }
    std::shared_ptr<TicketKeys> keys;
    if (previous != nullptr) {
      for (size_t i = 0; i < previous->listeners.size(); ++i) {
        if (previous->listener_names[i] == l.text && previous->listeners[i]) {
          keys = previous->listeners[i]->ticketKeys();
        }
      }
    }
    built.listeners.push_back(ServerContext::build(*l.tls, cfg.source_path, now, errors, std::move(keys)));
  }
  for (const config::PoolConfig& p : cfg.pools) {
    built.pools.push_back(p.usesTls() ? ClientContext::build(*p.tls, cfg.source_path, errors) : nullptr);
  }
  for (const config::NotifyTarget& t : cfg.notify.targets) {
    built.notify.push_back(t.https ? ClientContext::build(t.tls, cfg.source_path, errors) : nullptr);
  }
  if (errors.size() != errors_before) return false;
  out = std::move(built);
  return true;
}

}  // namespace ballast::tls
