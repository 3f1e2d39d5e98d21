// Everything derived from one config: the config itself, its pools and its
// router. Requests hold a shared_ptr to the Runtime they started with, so a
// reload can swap in a new one while old requests finish on the pools,
// backends and timeouts they began with.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "lb/proxy/router.h"
#include "lb/tls/tls_contexts.h"
#include "lb/upstream/pool.h"

namespace ballast {

struct Runtime {
  std::shared_ptr<const config::Config> config;
  std::vector<PoolPtr> pools;
  Router router;
  std::string zone;  // this instance's zone (--zone, else `zone:`); empty = none

  // `previous` (may be null): backends with the same pool name and address
  // are carried over as the same objects, with their health, ejection,
  // admin state, statistics and idle connections.
  // `zone_override` (--zone) replaces the config's `zone` when not empty.
  // `tls` (may be null): the contexts built for `cfg`; each pool that
  // speaks TLS to its backends gets its client context.
  static std::shared_ptr<Runtime> build(const config::Config& cfg, uint64_t now_ms, const Runtime* previous = nullptr,
                                        const std::string& zone_override = {}, const tls::TlsContexts* tls = nullptr);

  Pool* findPool(std::string_view name) const;
};

}  // namespace ballast
