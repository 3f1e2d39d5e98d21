#include "lb/backend.h"

namespace ballast {

Backend::Backend(std::string pool_name, const config::BackendConfig& cfg)
    : pool_name_(std::move(pool_name)), address_(cfg.address), weight_(cfg.weight) {}

Backend::~Backend() = default;

}  // namespace ballast
