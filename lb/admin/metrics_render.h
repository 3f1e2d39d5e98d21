// GET /metrics: the statistics of the runtime in force and of the process,
// turned into prometheus-cpp MetricFamily objects at scrape time (together
// with the registry's own low-rate metrics) and written by prometheus-cpp's
// TextSerializer (text format 0.0.4). Labels are bounded: pool, backend
// (configured addresses), code (100..599), state, result, reason, kind,
// direction, termination. Never a client address or a path.
#pragma once

#include <string>

#include <vector>

#include "lb/proxy/runtime.h"
#include "lb/upstream/dns_watcher.h"

namespace ballast {

// `start_time`: Unix time the process started (process_start_time_seconds).
// `discovery`: the DNS discovery of each pool that has one (ballast_discovery_*).
std::string renderMetrics(const Runtime& rt, double start_time, const std::vector<DnsWatcherPtr>& discovery = {});

}  // namespace ballast
