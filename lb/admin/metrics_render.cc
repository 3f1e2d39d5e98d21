#include "lb/admin/metrics_render.h"

#include <dirent.h>
#include <uv.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "lb/admin/journal_metrics.h"
#include "lb/admin/metric_family.h"
#include "lb/admin/route_metrics.h"
#include "lb/proxy/access_log.h"
#include "lb/stats/local_resources.h"
#include "lb/stats/stats.h"
#include "lb/stats/tls_stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Low-rate metrics live in a prometheus-cpp registry (built once); the hot
// ones are plain fields turned into families at scrape time.
struct RegistryMetrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Gauge>& build_info =
      prometheus::BuildGauge().Name("ballast_build_info").Help("Build information; value is always 1.").Register(*registry);
  prometheus::Gauge& build = build_info.Add({{"version", BALLAST_VERSION}});
};

RegistryMetrics& registryMetrics() {
  static RegistryMetrics m;
  return m;
}

MetricFamily family(const char* name, const char* help, MetricType type) { return metricFamily(name, help, type); }

ClientMetric::Label label(const char* name, std::string value) { return ClientMetric::Label{name, std::move(value)}; }

void addValue(MetricFamily& f, std::vector<ClientMetric::Label> labels, double v) { addSample(f, std::move(labels), v); }

void addHistogram(MetricFamily& f, std::vector<ClientMetric::Label> labels, const Histogram& h) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = h.sum();
  uint64_t cum = 0;
  for (size_t i = 0; i < h.bounds().size(); ++i) {
    cum += h.counts()[i];
    m.histogram.bucket.push_back(ClientMetric::Bucket{cum, h.bounds()[i]});
  }
  cum += h.counts().back();
  m.histogram.bucket.push_back(ClientMetric::Bucket{cum, std::numeric_limits<double>::infinity()});
  f.metric.push_back(std::move(m));
}

void addCodes(MetricFamily& f, const std::string& pool, const std::string& backend, const std::array<uint64_t, 600>& codes) {
  for (size_t code = 0; code < codes.size(); ++code) {
    if (codes[code] == 0) continue;
    addValue(f, {label("pool", pool), label("backend", backend), label("code", std::to_string(code))},
             static_cast<double>(codes[code]));
  }
}

double residentBytes() {
  long pages = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f) {
    long size = 0;
    if (std::fscanf(f, "%ld %ld", &size, &pages) != 2) pages = 0;
    std::fclose(f);
  }
  return static_cast<double>(pages) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double openFds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n += 1;
  }
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

std::string renderMetrics(const Runtime& rt, double start_time, const std::vector<DnsWatcherPtr>& discovery) {
  RegistryMetrics& reg = registryMetrics();
  reg.build.Set(1);
  std::vector<MetricFamily> fams = reg.registry->Collect();
  const ProcessStats& ps = processStats();

  auto requests = family("ballast_requests_total", "Responses sent to clients, by pool, backend and status code.",
                         MetricType::Counter);
  auto req_dur = family("ballast_request_duration_seconds",
                        "Time from the end of the request head to the end of the response, per pool.",
                        MetricType::Histogram);
  auto be_dur = family("ballast_backend_response_duration_seconds",
                       "Time from the start of an attempt to the backend's response head.", MetricType::Histogram);
  auto up = family("ballast_backend_up", "1 when the backend takes traffic (healthy, not ejected, enabled), else 0.",
                   MetricType::Gauge);
  auto state = family("ballast_backend_state", "Current state of each backend (1 for the current state).",
                      MetricType::Gauge);
  auto checks = family("ballast_health_checks_total", "Active health probes by result.", MetricType::Counter);
  auto check_dur = family("ballast_health_check_duration_seconds", "Active health probe latency, per pool.",
                          MetricType::Histogram);
  auto active = family("ballast_backend_active_requests", "Requests in flight on each backend.", MetricType::Gauge);
  auto conns = family("ballast_backend_connections", "Upstream connections by state (active: serving a request).",
                      MetricType::Gauge);
  auto cfail = family("ballast_backend_connect_failures_total", "Failed connects to each backend.",
                      MetricType::Counter);
  auto reused = family("ballast_upstream_connections_reused_total",
                       "Request attempts sent on an idle keep-alive upstream connection.", MetricType::Counter);
  auto fresh = family("ballast_upstream_connections_new_total",
                      "Request attempts that opened a new upstream connection.", MetricType::Counter);
  auto retries = family("ballast_retries_total", "Retries by pool and reason.", MetricType::Counter);
  auto budget = family("ballast_retry_budget_exhausted_total", "Retries refused by the retry budget.",
                       MetricType::Counter);
  auto ejections = family("ballast_outlier_ejections_total", "Outlier ejections of each backend.", MetricType::Counter);
  auto healthy = family("ballast_pool_healthy_backends", "Backends of the pool that take traffic.", MetricType::Gauge);
  auto total = family("ballast_pool_backends", "Backends configured in the pool.", MetricType::Gauge);
  auto terminated = family("ballast_requests_terminated_total",
                           "Requests whose response never reached the client complete, by pool and termination "
                           "code (who ended it: C client, c client timeout, S backend, s backend timeout, K "
                           "shutdown; phase: R request, C connect, H response head, D response body).",
                           MetricType::Counter);
  auto rollbacks = family("ballast_config_rollbacks_total",
                          "Reloads rolled back by reload.guard (a changed pool fell below its min_available).",
                          MetricType::Counter);
  addValue(rollbacks, {}, static_cast<double>(ps.rollbacks));
  auto stale = family("ballast_backend_override_stale",
                      "1 while a drain/disable without an expiry is older than overrides.warn_after.",
                      MetricType::Gauge);
  auto disagree = family("ballast_backend_probe_traffic_disagreement",
                         "1 while a backend's probes and its real traffic disagree over the last minute (probes "
                         "pass while most requests fail, or the reverse).",
                         MetricType::Gauge);
  auto tunnels_active = family("ballast_tunnels_active", "Open tunnels (upgraded connections such as WebSockets), per pool.",
                               MetricType::Gauge);
  auto tunnels_total = family("ballast_tunnels_total",
                              "Tunnels ended, per pool and how: closed (both sides), client_error, backend_error, "
                              "idle_timeout (timeouts.tunnel), shutdown, backend_unhealthy.",
                              MetricType::Counter);
  auto tunnel_bytes = family("ballast_tunnel_bytes_total",
                             "Bytes relayed through tunnels, per pool: up (client to backend) and down.",
                             MetricType::Counter);
  auto q_len = family("ballast_queue_length", "Requests waiting in the pool's queue for a backend slot (max_connections).",
                      MetricType::Gauge);
  auto q_wait = family("ballast_queue_wait_seconds", "Time a request waited in the pool's queue before dispatch.",
                       MetricType::Histogram);
  auto q_timeouts = family("ballast_queue_timeouts_total",
                           "Requests answered 503 after waiting queue.timeout in the pool's queue.",
                           MetricType::Counter);
  auto q_full = family("ballast_queue_full_total",
                       "Requests answered 503 at once: every backend at max_connections and the queue full (or no queue).",
                       MetricType::Counter);
  auto weight_factor = family("ballast_backend_weight_factor",
                              "Share of its configured weight a backend takes now (slow start ramps it from 0.1 to 1).",
                              MetricType::Gauge);
  auto zone_backends = family("ballast_pool_zone_backends", "Primary backends of the pool in each zone.",
                              MetricType::Gauge);
  auto zone_available = family("ballast_pool_zone_available_backends",
                               "Primary backends of the pool in each zone that take traffic.", MetricType::Gauge);
  auto spill = family("ballast_pool_zone_spill_ratio",
                      "Share of the pool's traffic sent outside the local zone (zone_aware pools).", MetricType::Gauge);
  const auto addTerminations = [&](const std::string& pool, const TerminationCounts& counts) {
    for (size_t slot = 1; slot < counts.size(); ++slot) {
      if (counts[slot] == 0) continue;
      const Termination t = terminationOfSlot(slot);
      const char code[2] = {t.cause, t.phase};
      addValue(terminated, {label("pool", pool), label("termination", std::string(code, 2))},
               static_cast<double>(counts[slot]));
    }
  };

  for (const auto& pool : rt.pools) {
    const std::string& pn = pool->name();
    const PoolStats& pst = pool->stats();
    addCodes(requests, pn, "", pst.local_responses);
    addTerminations(pn, pst.terminated);
    addValue(tunnels_active, {label("pool", pn)}, static_cast<double>(pst.tunnels_active));
    for (size_t e = 0; e < pst.tunnels_total.size(); ++e) {
      addValue(tunnels_total, {label("pool", pn), label("result", tunnelEndName(static_cast<TunnelEnd>(e)))},
               static_cast<double>(pst.tunnels_total[e]));
    }
    addValue(tunnel_bytes, {label("pool", pn), label("direction", "up")}, static_cast<double>(pst.tunnel_bytes_up));
    addValue(tunnel_bytes, {label("pool", pn), label("direction", "down")},
             static_cast<double>(pst.tunnel_bytes_down));
    addHistogram(req_dur, {label("pool", pn)}, pst.request_duration);
    addHistogram(check_dur, {label("pool", pn)}, pst.health_check_duration);
    for (size_t r = 0; r < pst.retries.size(); ++r) {
      addValue(retries, {label("pool", pn), label("reason", retryReasonName(static_cast<RetryReason>(r)))},
               static_cast<double>(pst.retries[r]));
    }
    addValue(budget, {label("pool", pn)}, static_cast<double>(pool->retryBudget().exhausted()));
    addValue(healthy, {label("pool", pn)}, static_cast<double>(pool->availableCount()));
    addValue(total, {label("pool", pn)}, static_cast<double>(pool->backends().size()));
    if (pool->hasQueue()) {
      addValue(q_len, {label("pool", pn)}, static_cast<double>(pool->queueLength()));
      addHistogram(q_wait, {label("pool", pn)}, pst.queue_wait);
      addValue(q_timeouts, {label("pool", pn)}, static_cast<double>(pst.queue_timeouts));
    }
    addValue(q_full, {label("pool", pn)}, static_cast<double>(pst.queue_full));
    if (pool->config().zone_aware) {
      for (const ZoneInfo& z : pool->zones()) {
        addValue(zone_backends, {label("pool", pn), label("zone", z.name)}, z.backends);
        addValue(zone_available, {label("pool", pn), label("zone", z.name)}, z.available);
      }
      addValue(spill, {label("pool", pn)}, pool->spillRatio());
    }
    for (const auto& b : pool->backends()) {
      const std::string& bn = b->name();
      const BackendStats& bs = b->stats();
      addCodes(requests, pn, bn, bs.responses);
      addHistogram(be_dur, {label("pool", pn), label("backend", bn)}, bs.response_duration);
      addValue(up, {label("pool", pn), label("backend", bn)}, b->available() ? 1 : 0);
      addValue(weight_factor, {label("pool", pn), label("backend", bn)}, b->rampPermille() / 1000.0);
      std::string cur = b->stateName();
      for (const char* s : Backend::kStateNames) {
        addValue(state, {label("pool", pn), label("backend", bn), label("state", s)}, cur == s ? 1 : 0);
      }
      if (pool->config().health_check) {
        addValue(checks, {label("pool", pn), label("backend", bn), label("result", "pass")},
                 static_cast<double>(bs.health_pass));
        addValue(checks, {label("pool", pn), label("backend", bn), label("result", "fail")},
                 static_cast<double>(bs.health_fail));
      }
      addValue(active, {label("pool", pn), label("backend", bn)}, static_cast<double>(b->activeRequests()));
      addValue(conns, {label("pool", pn), label("backend", bn), label("state", "active")},
               static_cast<double>(bs.connections_active));
      addValue(conns, {label("pool", pn), label("backend", bn), label("state", "idle")},
               static_cast<double>(b->idle().size()));
      addValue(cfail, {label("pool", pn), label("backend", bn)}, static_cast<double>(bs.connect_failures));
      addValue(reused, {label("pool", pn), label("backend", bn)}, static_cast<double>(bs.connections_reused));
      addValue(fresh, {label("pool", pn), label("backend", bn)}, static_cast<double>(bs.connections_new));
      addValue(ejections, {label("pool", pn), label("backend", bn)}, static_cast<double>(bs.ejections));
      addValue(disagree, {label("pool", pn), label("backend", bn)}, b->probeTraffic() != ProbeTraffic::Agree ? 1 : 0);
      addValue(stale, {label("pool", pn), label("backend", bn)},
               b->adminState() != AdminState::Enabled && b->adminOverride().stale ? 1 : 0);
    }
  }
  addCodes(requests, "", "", ps.unrouted_responses);
  addTerminations("", ps.unrouted_terminated);

  auto clients = family("ballast_client_connections", "Client connections by state.", MetricType::Gauge);
  addValue(clients, {label("state", "active")}, ps.clients_active);
  addValue(clients, {label("state", "idle")}, ps.clients_idle);
  auto accepted = family("ballast_client_connections_accepted_total", "Client connections accepted.",
                         MetricType::Counter);
  addValue(accepted, {}, static_cast<double>(ps.accepted));
  auto bytes = family("ballast_bytes_total", "Bytes read from (in) and written to (out) clients.", MetricType::Counter);
  addValue(bytes, {label("direction", "in")}, static_cast<double>(ps.bytes_in));
  addValue(bytes, {label("direction", "out")}, static_cast<double>(ps.bytes_out));
  auto errors = family("ballast_errors_total", "Errors answered to clients, by status and cause.", MetricType::Counter);
  for (size_t k = 0; k < ps.errors.size(); ++k) {
    addValue(errors, {label("kind", errorKindName(static_cast<ErrorKind>(k)))}, static_cast<double>(ps.errors[k]));
  }
  auto reloads = family("ballast_config_reloads_total", "Configuration reloads by result.", MetricType::Counter);
  addValue(reloads, {label("result", "success")}, static_cast<double>(ps.reloads_success));
  addValue(reloads, {label("result", "failure")}, static_cast<double>(ps.reloads_failure));
  auto last_reload = family("ballast_config_last_reload_success_timestamp_seconds",
                            "Unix time of the last successful configuration load.", MetricType::Gauge);
  addValue(last_reload, {}, ps.last_reload_success);
  auto last_fail = family("ballast_config_last_reload_failure_timestamp_seconds",
                          "Unix time of the last failed configuration reload (0 = none).", MetricType::Gauge);
  addValue(last_fail, {}, ps.last_reload_failure);
  auto hash = family("ballast_config_hash", "Hash of the loaded configuration file (label); value is always 1.",
                     MetricType::Gauge);
  addValue(hash, {label("hash", ps.config_hash)}, 1);

  auto local = family("ballast_local_resource_errors_total",
                      "Operations that failed because ballast ran out of a local resource (descriptors, buffers, "
                      "ports), by site (accept, upstream_connect, probe) and error; never counted against a backend.",
                      MetricType::Counter);
  const LocalResourceCounts& lrc = localResourceCounts();
  for (size_t s = 0; s < lrc.size(); ++s) {
    for (size_t e = 0; e < kLocalResourceErrors.size(); ++e) {
      addValue(local,
               {label("site", toString(static_cast<ResourceSite>(s))), label("error", uv_err_name(kLocalResourceErrors[e]))},
               static_cast<double>(lrc[s][e]));
    }
  }
  // TLS, per listener (lb/stats/tls_stats.h).
  auto tls_hs = family("ballast_tls_handshakes_total",
                       "TLS handshakes on each listener by result: success (full), resumed, failure, timeout "
                       "(not done within timeouts.client_header), closed (the client left).",
                       MetricType::Counter);
  auto tls_dur = family("ballast_tls_handshake_duration_seconds",
                        "Time from a client's first byte to the end of its completed handshake.",
                        MetricType::Histogram);
  auto tls_neg = family("ballast_tls_negotiated_total",
                        "Completed TLS handshakes by protocol version and cipher.", MetricType::Counter);
  auto tls_exp = family("ballast_tls_certificate_expiry_timestamp_seconds",
                        "Unix time the certificate (or the first of its chain) expires, by listener and file.",
                        MetricType::Gauge);
  for (const auto& [listener, st] : tlsListenerStats()) {
    for (size_t r = 0; r < st.handshakes.size(); ++r) {
      addValue(tls_hs, {label("listener", listener), label("result", handshakeResultName(static_cast<HandshakeResult>(r)))},
               static_cast<double>(st.handshakes[r]));
    }
    addHistogram(tls_dur, {label("listener", listener)}, st.handshake_duration);
    for (const auto& [key, n] : st.negotiated) {
      addValue(tls_neg, {label("listener", listener), label("protocol", key.first), label("cipher", key.second)},
               static_cast<double>(n));
    }
    for (const auto& c : st.certificates) {
      addValue(tls_exp, {label("listener", listener), label("cert", c.cert)}, c.not_after);
    }
  }

  // DNS discovery, per pool that has it (lb/upstream/dns_watcher.h).
  auto dns_res = family("ballast_discovery_resolutions_total",
                        "DNS discovery rounds by pool and result: ok, empty (zero records, a failure unless "
                        "allow_empty), timeout, servfail, nxdomain, error.",
                        MetricType::Counter);
  auto dns_members = family("ballast_discovery_members", "Backends the pool's DNS discovery currently contributes.",
                            MetricType::Gauge);
  auto dns_last = family("ballast_discovery_last_success_timestamp_seconds",
                         "Unix time of the pool's last successful DNS resolution (0 = none yet).", MetricType::Gauge);
  auto dns_stale = family("ballast_discovery_stale",
                          "1 while failed resolutions keep the pool's last good set of discovered members.",
                          MetricType::Gauge);
  for (const auto& w : discovery) {
    if (!w) continue;
    for (size_t r = 0; r < DnsWatcher::kResults; ++r) {
      const auto result = static_cast<DnsResult>(r);
      addValue(dns_res, {label("pool", w->pool()), label("result", toString(result))},
               static_cast<double>(w->resolutions(result)));
    }
    addValue(dns_members, {label("pool", w->pool())}, static_cast<double>(w->state().members().size()));
    addValue(dns_last, {label("pool", w->pool())}, static_cast<double>(w->lastSuccessUnix()));
    addValue(dns_stale, {label("pool", w->pool())}, w->state().stale() ? 1 : 0);
  }

  auto rss = family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge);
  addValue(rss, {}, residentBytes());
  auto cpu = family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    MetricType::Counter);
  addValue(cpu, {}, cpuSeconds());
  auto fds = family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  addValue(fds, {}, openFds());
  auto max_fds = family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge);
  rlimit nofile{};
  addValue(max_fds, {}, getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? static_cast<double>(nofile.rlim_cur) : 0);
  auto start = family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                      MetricType::Gauge);
  addValue(start, {}, start_time);

  for (auto* f : {&requests, &req_dur, &be_dur, &up, &state, &checks, &check_dur, &active, &conns, &cfail, &reused, &fresh, &retries,
                  &budget, &ejections, &healthy, &total, &terminated, &rollbacks, &stale, &disagree, &tunnels_active, &tunnels_total,
                  &tunnel_bytes, &q_len, &q_wait, &q_timeouts, &q_full,
                  &weight_factor, &zone_backends, &zone_available, &spill, &clients, &accepted, &bytes, &errors, &reloads,
                  &last_reload, &last_fail, &hash, &local, &tls_hs, &tls_dur, &tls_neg, &tls_exp, &dns_res, &dns_members, &dns_last, &dns_stale, &rss, &cpu, &fds, &max_fds, &start}) {
    fams.push_back(std::move(*f));
  }
  appendRouteMetrics(rt, fams);
  appendJournalMetrics(fams);
  appendNotifyMetrics(fams);
  prometheus::TextSerializer ser;
  return ser.Serialize(fams);
}

}  // namespace ballast
