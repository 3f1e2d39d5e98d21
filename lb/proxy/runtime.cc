#include "lb/proxy/runtime.h"

namespace ballast {

std::shared_ptr<Runtime> Runtime::build(const config::Config& cfg, uint64_t now_ms, const Runtime* previous,
                                        const std::string& zone_override, const tls::TlsContexts* tls) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::make_shared<const config::Config>(cfg);
  rt->zone = zone_override.empty() ? cfg.zone : zone_override;
  std::vector<Pool*> raw;
  for (const auto& pc : rt->config->pools) {
    const Pool* old = previous ? previous->findPool(pc.name) : nullptr;
    rt->pools.push_back(std::make_shared<Pool>(pc, now_ms, old, rt->zone));
    if (tls != nullptr && rt->pools.size() <= tls->pools.size()) rt->pools.back()->setTls(tls->pools[rt->pools.size() - 1]);
    raw.push_back(rt->pools.back().get());
  }
  rt->router.build(*rt->config, raw, previous != nullptr ? &previous->router : nullptr);
  return rt;
}

Pool* Runtime::findPool(std::string_view name) const {
  for (const auto& p : pools) {
    if (p->name() == name) return p.get();
  }
  return nullptr;
}

}  // namespace ballast
