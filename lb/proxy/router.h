// Maps (Host, path) to a pool. Routes are evaluated in config order; the first
// match wins. Built once per config (re)load and immutable afterwards.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ballast {

class Pool;

struct Route {
  std::string host;         // lower-case; "" = any; "*.x.y" stored as suffix ".x.y" with wildcard=true
  bool wildcard = false;
  std::string path_prefix;  // "" = any
  Pool* pool = nullptr;     // borrowed from the Runtime that owns both
};

class Router {
 public:
  // `pools` is indexed like config.pools (RouteConfig::pool_index).
  void build(const std::vector<config::RouteConfig>& routes, const std::vector<Pool*>& pools);
  // `host` is the raw Host header value (may carry a port, any case), `path`
  // the request target. Returns nullptr when no route matches.
  const Route* match(std::string_view host, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

  // Host header without port, for matching. Handles "[v6]:port".
  static std::string_view stripPort(std::string_view host);

 private:
  std::vector<Route> routes_;
};

}  // namespace ballast
