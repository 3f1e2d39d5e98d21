// Metric families of the routes' own decisions: requests refused by
// allow/deny and by rate limits, and the rate limiters' key tables. Label:
// route (its `name:`, or "routes[N]"), bounded by the config.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "lb/proxy/runtime.h"

namespace ballast {

// Appends the families to `out`; a family with no series is left out.
void appendRouteMetrics(const Runtime& rt, std::vector<prometheus::MetricFamily>& out);

}  // namespace ballast
