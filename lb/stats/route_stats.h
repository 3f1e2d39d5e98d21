// Counters of one route's own decisions (ballast_route_*_total). Shared by
// the runtimes a route lives through: a reload keeps a route's counters
// when its name stays.
#pragma once

#include <cstdint>

namespace ballast {

struct RouteStats {
  uint64_t denied = 0;        // 403: the client address is in deny, or not in allow
  uint64_t rate_limited = 0;  // 429: its rate_limit bucket was empty
};

}  // namespace ballast
