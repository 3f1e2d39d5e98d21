#include "lb/admin/route_metrics.h"

#include "lb/admin/metric_family.h"

#include <utility>

namespace ballast {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void add(MetricFamily& f, const std::string& route, double v) { addSample(f, {ClientMetric::Label{"route", route}}, v); }

}  // namespace

void appendRouteMetrics(const Runtime& rt, std::vector<MetricFamily>& out) {
  auto denied = metricFamily("ballast_route_denied_total",
                       "Requests answered 403 because the client address is in the route's deny list or not in its "
                       "allow list.",
                       MetricType::Counter);
  auto limited = metricFamily("ballast_route_rate_limited_total",
                        "Requests answered 429 because the route's rate limit bucket for their key was empty.",
                        MetricType::Counter);
  auto keys = metricFamily("ballast_route_rate_limit_keys", "Keys the route's rate limiter tracks now.", MetricType::Gauge);
  auto evictions = metricFamily("ballast_route_rate_limit_evictions_total",
                          "Keys the route's rate limiter forgot because its table was full (least recently used).",
                          MetricType::Counter);
  for (const Route& r : rt.router.routes()) {
    if (!r.config->allow.empty() || !r.config->deny.empty()) add(denied, r.name, static_cast<double>(r.stats->denied));
    if (r.limiter) {
      add(limited, r.name, static_cast<double>(r.stats->rate_limited));
      add(keys, r.name, static_cast<double>(r.limiter->keys()));
      add(evictions, r.name, static_cast<double>(r.limiter->evictions()));
    }
  }
  for (auto* f : {&denied, &limited, &keys, &evictions}) {
    if (!f->metric.empty()) out.push_back(std::move(*f));
  }
}

}  // namespace ballast
