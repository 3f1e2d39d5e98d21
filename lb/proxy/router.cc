#include "lb/proxy/router.h"

#include "lb/http/http_message.h"

namespace ballast {

namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// `host` any case, `suffix` lower-case.
bool iendsWith(std::string_view host, std::string_view suffix) {
  if (host.size() < suffix.size()) return false;
  std::string_view tail = host.substr(host.size() - suffix.size());
  for (size_t i = 0; i < tail.size(); ++i) {
    if (lower(tail[i]) != suffix[i]) return false;
  }
  return true;
}

}  // namespace

void Router::build(const std::vector<config::RouteConfig>& routes, const std::vector<Pool*>& pools) {
  routes_.clear();
  routes_.reserve(routes.size());
  for (const auto& rc : routes) {
    Route r;
    if (rc.host.size() > 2 && rc.host[0] == '*' && rc.host[1] == '.') {
      r.wildcard = true;
      r.host = rc.host.substr(1);  // ".example.com"
    } else {
      r.host = rc.host;
    }
    for (auto& c : r.host) c = lower(c);
    r.path_prefix = rc.path_prefix;
    r.pool = rc.pool_index < pools.size() ? pools[rc.pool_index] : nullptr;
    routes_.push_back(std::move(r));
  }
}

std::string_view Router::stripPort(std::string_view host) {
  host = trimOws(host);
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) host = host.substr(0, colon);
  // A trailing dot names the same host ("example.com." == "example.com").
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

const Route* Router::match(std::string_view host_header, std::string_view path) const {
  std::string_view host = stripPort(host_header);
  for (const auto& r : routes_) {
    if (!r.host.empty()) {
      if (r.wildcard) {
        // "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
        if (host.size() <= r.host.size() || !iendsWith(host, r.host)) continue;
      } else if (!iequals(host, r.host)) {
        continue;
      }
    }
    if (!r.path_prefix.empty() && path.substr(0, r.path_prefix.size()) != r.path_prefix) continue;
    return &r;
  }
  return nullptr;
}

}  // namespace ballast
