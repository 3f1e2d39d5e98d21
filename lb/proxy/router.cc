#include "lb/proxy/router.h"

#include <algorithm>
#include <limits>

#include "lb/http/http_message.h"

namespace ballast {

namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

constexpr uint32_t kNoRoute = std::numeric_limits<uint32_t>::max();
// Longer host names cannot be valid (RFC 1035); such a request only
// matches routes without a host.
constexpr size_t kMaxHostBytes = 255;

bool sameRateLimit(const config::RateLimitConfig& a, const config::RateLimitConfig& b) {
  return a.requests_per_second == b.requests_per_second && a.burst == b.burst && a.key.text == b.key.text &&
         a.max_keys == b.max_keys;
}

// Location of a return: {host} is Host without its port, {path} the
// request target (rewritten when the route rewrites it).
void expandLocation(std::string_view tmpl, std::string_view host, std::string_view path, std::string& out) {
  out.clear();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      if (tmpl.substr(i, 6) == "{host}") {
        // An IPv6 literal keeps its brackets: "https://[::1]/x".
        const bool v6 = host.find(':') != std::string_view::npos;
        if (v6) out.push_back('[');
        out.append(host);
        if (v6) out.push_back(']');
        i += 5;
        continue;
      }
      if (tmpl.substr(i, 6) == "{path}") {
        out.append(path);
        i += 5;
        continue;
      }
    }
    out.push_back(tmpl[i]);
  }
}

}  // namespace

void Router::PathIndex::add(const Route& r, uint32_t index) {
  if (!r.path.empty()) {
    exact[r.path].push_back(index);
  } else if (!r.path_prefix.empty()) {
    prefix[r.path_prefix].push_back(index);
    auto it = std::lower_bound(prefix_lengths.begin(), prefix_lengths.end(), r.path_prefix.size());
    if (it == prefix_lengths.end() || *it != r.path_prefix.size()) prefix_lengths.insert(it, r.path_prefix.size());
  } else {
    any.push_back(index);
  }
}

void Router::build(const config::Config& cfg, const std::vector<Pool*>& pools, const Router* previous) {
  routes_.clear();
  exact_hosts_.clear();
  wildcard_hosts_.clear();
  any_host_ = PathIndex{};
  routes_.reserve(cfg.routes.size());
  for (const config::RouteConfig& rc : cfg.routes) {
    Route& r = routes_.emplace_back(rc);
    r.name = rc.name;
    if (rc.host.size() > 2 && rc.host[0] == '*' && rc.host[1] == '.') {
      r.wildcard = true;
      r.host = rc.host.substr(1);  // ".example.com"
    } else {
      r.host = rc.host;
    }
    for (auto& c : r.host) c = lower(c);
    r.path_prefix = rc.path_prefix;
    r.path = rc.path;

    const bool overrides_retries = rc.retry_attempts || rc.retry_on || rc.retry_replay_buffer;
    std::vector<std::pair<size_t, uint32_t>> targets;  // pool index, weight
    if (!rc.split.empty()) {
      for (const config::SplitTarget& t : rc.split) targets.emplace_back(t.pool_index, t.weight);
    } else if (!rc.ret) {
      targets.emplace_back(rc.pool_index, 1);
    }
    r.merged_retries.reserve(targets.size());  // Target::retries points into it: no reallocation
    std::vector<uint32_t> weights;
    for (const auto& [index, weight] : targets) {
      Route::Target t;
      t.pool = index < pools.size() ? pools[index] : nullptr;
      if (overrides_retries && index < cfg.pools.size()) {
        config::RetryConfig merged = cfg.pools[index].retries;
        if (rc.retry_attempts) merged.attempts = *rc.retry_attempts;
        if (rc.retry_on) merged.on = *rc.retry_on;
        if (rc.retry_replay_buffer) merged.replay_buffer = *rc.retry_replay_buffer;
        r.merged_retries.push_back(std::move(merged));
        t.retries = &r.merged_retries.back();
      }
      r.targets.push_back(t);
      weights.push_back(weight);
    }
    if (!r.targets.empty()) r.pool = r.targets.front().pool;
    if (r.targets.size() > 1) r.split = std::make_unique<TrafficSplit>(std::move(weights));

    r.timeouts = cfg.timeouts;
    if (rc.connect_timeout) r.timeouts.connect = *rc.connect_timeout;
    if (rc.backend_response_timeout) r.timeouts.backend_response = *rc.backend_response_timeout;
    r.request_edits = HeaderEdits(rc.request_headers);
    r.response_edits = HeaderEdits(rc.response_headers);

    // Counters and buckets live on across a reload under the same name.
    const Route* old = nullptr;
    if (previous != nullptr) {
      for (const Route& p : previous->routes_) {
        if (p.name == r.name) old = &p;
      }
    }
    r.stats = old != nullptr ? old->stats : std::make_shared<RouteStats>();
    if (rc.rate_limit) {
      const config::RateLimitConfig& rl = *rc.rate_limit;
      if (old != nullptr && old->limiter && old->config->rate_limit && sameRateLimit(*old->config->rate_limit, rl)) {
        r.limiter = old->limiter;
      } else {
        r.limiter = std::make_shared<RateLimiter>(rl.requests_per_second, rl.burst, rl.max_keys);
      }
    }
  }

  for (uint32_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    if (r.host.empty()) {
      any_host_.add(r, i);
    } else if (r.wildcard) {
      wildcard_hosts_[r.host].add(r, i);
    } else {
      exact_hosts_[r.host].add(r, i);
    }
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

void Router::scan(const RouteList& list, const RouteRequest& req, uint32_t& best) const {
  for (uint32_t i : list) {
    if (i >= best) return;
    if (routes_[i].match.matches(req)) {
      best = i;
      return;
    }
  }
}

void Router::scan(const PathIndex& index, const RouteRequest& req, uint32_t& best) const {
  scan(index.any, req, best);
  if (!index.exact.empty()) {
    if (auto it = index.exact.find(req.path()); it != index.exact.end()) scan(it->second, req, best);
  }
  const std::string_view target = req.target();
  for (size_t len : index.prefix_lengths) {
    if (len > target.size()) break;
    if (auto it = index.prefix.find(target.substr(0, len)); it != index.prefix.end()) scan(it->second, req, best);
  }
}

const Route* Router::match(const RouteRequest& req) const {
  uint32_t best = kNoRoute;
  scan(any_host_, req, best);
  if (exact_hosts_.empty() && wildcard_hosts_.empty()) return best == kNoRoute ? nullptr : &routes_[best];
  const std::string_view raw = stripPort(req.host());
  if (!raw.empty() && raw.size() <= kMaxHostBytes) {
    char buf[kMaxHostBytes];
    for (size_t i = 0; i < raw.size(); ++i) buf[i] = lower(raw[i]);
    const std::string_view host(buf, raw.size());
    if (auto it = exact_hosts_.find(host); it != exact_hosts_.end()) scan(it->second, req, best);
    if (!wildcard_hosts_.empty()) {
      // "*.example.com" matches "a.example.com" and "a.b.example.com", not
      // "example.com": only suffixes after a non-empty first label.
      for (size_t dot = host.find('.', 1); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
        if (auto it = wildcard_hosts_.find(host.substr(dot)); it != wildcard_hosts_.end()) scan(it->second, req, best);
      }
    }
  }
  return best == kNoRoute ? nullptr : &routes_[best];
}

void Route::decide(const RouteRequest& req, uint64_t now_ns, RouteDecision& d) const {
  const config::RouteConfig& rc = *config;
  d.action = RouteDecision::Action::Proxy;
  d.pool = nullptr;
  d.retries = nullptr;
  d.timeouts = &timeouts;
  d.rewrite_target = false;
  d.host = rc.rewrite_host;
  d.request_edits = request_edits.empty() ? nullptr : &request_edits;
  d.response_edits = response_edits.empty() ? nullptr : &response_edits;
  d.status = 0;
  d.retry_after_s = 0;
  d.location.clear();
  d.body = nullptr;

  if (!rc.deny.empty() || !rc.allow.empty()) {
    const ClientAddress& a = req.clientAddress();
    if (anyCidrContains(rc.deny, a) || (!rc.allow.empty() && !anyCidrContains(rc.allow, a))) {
      ++stats->denied;
      d.action = RouteDecision::Action::Denied;
      d.status = 403;
      return;
    }
  }
  if (limiter) {
    // A request without the key's header (cookie, parameter) is limited by
    // its client address instead of escaping the limit.
    if (!req.key(rc.rate_limit->key, d.key)) d.key.assign(req.clientIp());
    const RateLimiter::Result r = limiter->take(d.key, now_ns);
    if (!r.allowed) {
      ++stats->rate_limited;
      d.action = RouteDecision::Action::RateLimited;
      d.status = 429;
      d.retry_after_s = r.retry_after_s;
      return;
    }
  }
  if (rc.rewrite_path_prefix) {
    // The loader allows this only with a path prefix or an exact path, which
    // the target starts with (the index chose this route by it).
    const size_t matched = !path.empty() ? path.size() : path_prefix.size();
    const std::string_view target = req.target();
    d.target.assign(*rc.rewrite_path_prefix);
    d.target.append(target.substr(std::min(matched, target.size())));
    d.rewrite_target = true;
  }
  if (rc.ret) {
    d.action = RouteDecision::Action::Return;
    d.status = rc.ret->status;
    if (!rc.ret->location.empty()) {
      expandLocation(rc.ret->location, Router::stripPort(req.host()), d.rewrite_target ? d.target : req.target(),
                     d.location);
    }
    d.body = &rc.ret->body;
    return;
  }
  size_t t = 0;
  if (split) {
    t = rc.split_key && req.key(*rc.split_key, d.key) ? split->forKey(d.key) : split->next();
  }
  d.pool = targets[t].pool;
  d.retries = targets[t].retries;
}

}  // namespace ballast
