// Merging the admin documents of `workers: N` worker processes into the one
// answer the supervisor serves. Pure functions over the bodies the
// supervisor fetched (GET /metrics and GET /status of each worker over
// loopback): no I/O, no clock, no global state.
//
// How /metrics is merged (the table is kWorkerGauges in worker_merge.cc):
//  - Summed over workers, series by series (same name, same labels): every
//    counter, every histogram (bucket by bucket, _sum and _count), summaries
//    without quantiles, and the gauges that count something a process holds:
//    client connections, requests in flight, upstream connections (active
//    and idle), open tunnels, queue lengths, rate-limiter keys, notification
//    queues, resident memory, open descriptors. Integer samples are summed
//    exactly.
//  - Taken from the first worker that has the series (worker 0, which runs
//    the health probes, the incident tracker and the notifier; the others
//    receive its health state): backend up/state, pool sizes and healthy
//    counts, zone counts and spill ratio, weight factors, override staleness,
//    config hash, build info, certificate expiry, DNS discovery members.
//    Health-probe counters and histograms exist only in worker 0, so their
//    sum is worker 0's value.
//  - Min or max where one worker's value is the honest one: process start
//    time and last successful reload or DNS resolution take the oldest
//    (min), the last failed reload the newest (max), probe/traffic
//    disagreement and discovery staleness are 1 if any worker says so (max),
//    process_max_fds is the tightest per-process limit (min).
//  - Everything else gets a worker="<index>" label on each sample instead
//    of a value that might be a wrong sum: a gauge family not in the table,
//    an untyped family or a sample without a # TYPE, a summary with
//    quantiles, a histogram whose buckets differ between workers, a family
//    whose TYPE differs between workers, and a family in which a line of
//    some worker did not parse (that line is dropped).
// HELP and TYPE are written once per family, families in the order they
// first appear (worker 0 first), series in the order they first appear. A
// family missing in some worker merges over the workers that have it. A
// body that does not end in a newline was cut short: its last line is
// dropped. Sample timestamps are dropped.
//
// How /status is merged: worker 0's document is the base (version, pools,
// backends and their health, listeners, routes, config); when it does not
// parse, the first worker whose document does. Into it:
//  - summed over workers (pools matched by name, backends by address):
//    pools[].tunnels_active, pools[].queue.{length,timeouts,full},
//    pools[].charts.{requests,errors} (slot by slot), and per backend
//    active_requests, active_connections, idle_connections, requests_1m,
//    errors_1m and requests_15m (slot by slot);
//  - pools[].charts.p99_ms becomes the highest worker's p99 per slot (an
//    upper bound: percentiles do not add);
//  - "ready" is true only when every worker is ready (ready_reason names
//    the first that is not), "stopping" when any worker stops;
//  - "workers" is added: [{"index", "pid", "ready", "stopping",
//    "uptime_seconds", "active_requests", "active_connections",
//    "idle_connections", "requests_1m", "errors_1m", "tunnels_active",
//    "queue_length"}], or {"index", "pid", "error"} for a worker whose
//    document did not parse;
//  - "supervisor" is added from `extra` when it is not empty.
#pragma once

#include <string>
#include <vector>

namespace ballast {

// One worker's answer as fetched by the supervisor.
struct WorkerDoc {
  int index;
  int pid;
  std::string body;
};

// Merges the /metrics bodies of all workers (index order) into one
// Prometheus text body (format 0.0.4). `problems` (optional) gets one line
// per dropped or odd thing ("worker 2: line 14 does not parse (malformed
// value), dropped: ...", "c_total: kept per worker (...)").
std::string mergeMetrics(const std::vector<WorkerDoc>& workers, std::vector<std::string>* problems = nullptr);

// Merges the /status documents of all workers (see above). `extra`: a JSON
// object text added as "supervisor" (empty: none; text that does not parse
// becomes {"error": ...}). Always returns a valid JSON document ending in a
// newline, even when no worker's document parses.
std::string mergeStatus(const std::vector<WorkerDoc>& workers, const std::string& extra);

}  // namespace ballast
