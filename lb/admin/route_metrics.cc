#include "lb/admin/route_metrics.h"

#include <utility>

namespace ballast {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add(MetricFamily& f, const std::string& route, double v) {
  ClientMetric m;
  m.label = {ClientMetric::Label{"route", route}};
  if (f.type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace

void appendRouteMetrics(const Runtime& rt, std::vector<MetricFamily>& out) {
  auto denied = family("ballast_route_denied_total",
                       "Requests answered 403 because the client address is in the route's deny list or not in its "
                       "allow list.",
                       MetricType::Counter);
  auto limited = family("ballast_route_rate_limited_total",
                        "Requests answered 429 because the route's rate limit bucket for their key was empty.",
                        MetricType::Counter);
  auto keys = family("ballast_route_rate_limit_keys", "Keys the route's rate limiter tracks now.", MetricType::Gauge);
  auto evictions = family("ballast_route_rate_limit_evictions_total",
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
