// A named pool of backends with its balancer. Built from config; immutable
// membership for its lifetime (a reload builds a new Pool and carries state
// of unchanged backends over).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/backend.h"
#include "lb/balancer.h"

namespace ballast {

class Pool {
 public:
  explicit Pool(const config::PoolConfig& cfg);
  const std::string& name() const { return name_; }
  const std::vector<BackendPtr>& backends() const { return backends_; }
  // Available backend not in `tried`, per the balancer; nullptr if none.
  Backend* pick(const TriedSet& tried) { return balancer_->pick(tried); }

 private:
  std::string name_;
  std::vector<BackendPtr> backends_;
  BalancerPtr balancer_;
};

using PoolPtr = std::shared_ptr<Pool>;

}  // namespace ballast
