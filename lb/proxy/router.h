// Routes compiled from the config, and the index that finds the first one a
// request matches. Built once per config (re)load and immutable afterwards,
// apart from the state of splits and rate limits.
//
// The index: routes are grouped by their host condition (an exact host, a
// "*.suffix", or any host), and within a group by their path condition (an
// exact path, a path prefix, or none). A request looks up its host, each
// "*.suffix" of it and the any-host group, and in each group its exact
// path and its prefixes of the lengths the group's prefixes have. Each
// list holds route indices in config order; it is scanned for a route
// whose remaining conditions (RouteMatch) hold, only below the best index
// found so far. So the first matching route in config order wins, and a
// request touches the routes that could match it rather than all of them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "lb/proxy/header_edit.h"
#include "lb/proxy/rate_limiter.h"
#include "lb/proxy/route_match.h"
#include "lb/proxy/traffic_split.h"
#include "lb/stats/route_stats.h"

namespace ballast {

class Pool;

// What a matched route decided for one request (Route::decide). Kept by the
// request and reused, so its strings keep their capacity.
struct RouteDecision {
  enum class Action {
    Proxy,        // send to `pool`
    Return,       // answer `status` (return:), with `location` / `body`
    Denied,       // 403: allow / deny
    RateLimited,  // 429 with Retry-After: `retry_after_s`
  };
  Action action = Action::Proxy;
  // Proxy.
  Pool* pool = nullptr;                           // borrowed from the Runtime
  const config::RetryConfig* retries = nullptr;   // the pool's, or the route's override
  const config::Timeouts* timeouts = nullptr;     // the config's, or the route's override
  bool rewrite_target = false;                    // `target` replaces the request target
  std::string target;
  std::string_view host;                          // non-empty: replaces Host (rewrite.host)
  const HeaderEdits* request_edits = nullptr;     // null when none
  const HeaderEdits* response_edits = nullptr;    // null when none
  // Local answers.
  int status = 0;
  uint32_t retry_after_s = 0;
  std::string location;                           // Return: expanded Location, or empty
  const std::optional<std::string>* body = nullptr;  // Return: the route's body (nullopt: ballast's text)

  std::string key;  // scratch for the split / rate-limit key
};

struct Route {
  const config::RouteConfig* config = nullptr;  // borrowed from the Runtime's config
  std::string name;
  std::string host;  // lower-case; "" = any; "*.x.y" stored as suffix ".x.y" with wildcard=true
  bool wildcard = false;
  std::string path_prefix;  // "" = any
  std::string path;         // exact path; "" = any
  RouteMatch match;         // the conditions the index does not decide
  Pool* pool = nullptr;     // the first target's pool (null for return); borrowed from the Runtime

  struct Target {
    Pool* pool = nullptr;                          // borrowed from the Runtime
    const config::RetryConfig* retries = nullptr;  // null: the pool's own
  };
  std::vector<Target> targets;  // empty for return
  std::unique_ptr<TrafficSplit> split;
  std::vector<config::RetryConfig> merged_retries;  // the route's overrides over each target pool's
  config::Timeouts timeouts;                        // the config's with the route's overrides
  HeaderEdits request_edits;
  HeaderEdits response_edits;
  std::shared_ptr<RouteStats> stats;
  std::shared_ptr<RateLimiter> limiter;  // null without rate_limit

  explicit Route(const config::RouteConfig& rc) : config(&rc), match(rc) {}

  // Decides what to do with a request this route matched: allow/deny,
  // rate limit, then return or a pool (split), with the rewrites, edits,
  // timeouts and retries that apply. `now_ns` is a monotonic clock.
  void decide(const RouteRequest& req, uint64_t now_ns, RouteDecision& d) const;
};

class Router {
 public:
  // `pools` is indexed like cfg.pools. `cfg` must outlive the router (the
  // Runtime owns both). `previous` (may be null): routes with the same name
  // keep their counters, and their rate-limit buckets when the limit is
  // unchanged.
  void build(const config::Config& cfg, const std::vector<Pool*>& pools, const Router* previous = nullptr);
  // The first route `req` matches, or nullptr.
  const Route* match(const RouteRequest& req) const;
  const std::vector<Route>& routes() const { return routes_; }

  // Host header without port, for matching. Handles "[v6]:port".
  static std::string_view stripPort(std::string_view host);

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  using RouteList = std::vector<uint32_t>;  // indices into routes_, ascending

  struct PathIndex {
    RouteList any;  // no exact path or prefix
    StringMap<RouteList> exact;
    StringMap<RouteList> prefix;
    std::vector<size_t> prefix_lengths;  // ascending, distinct
    void add(const Route& r, uint32_t index);
  };

  void scan(const RouteList& list, const RouteRequest& req, uint32_t& best) const;
  void scan(const PathIndex& index, const RouteRequest& req, uint32_t& best) const;

  std::vector<Route> routes_;
  StringMap<PathIndex> exact_hosts_;
  StringMap<PathIndex> wildcard_hosts_;  // by suffix, ".example.com"
  PathIndex any_host_;
};

}  // namespace ballast
