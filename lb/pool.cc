#include "lb/pool.h"

#include "lb/balancer_round_robin.h"

namespace ballast {

Pool::Pool(const config::PoolConfig& cfg) : name_(cfg.name) {
  std::vector<Backend*> raw;
  backends_.reserve(cfg.backends.size());
  for (const auto& bc : cfg.backends) {
    backends_.push_back(std::make_shared<Backend>(name_, bc));
    raw.push_back(backends_.back().get());
  }
  switch (cfg.balance) {
    case config::Balance::RoundRobin:
      balancer_ = std::make_unique<RoundRobinBalancer>(raw);
      break;
  }
}

}  // namespace ballast
