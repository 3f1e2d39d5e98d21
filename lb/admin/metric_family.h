// Building Prometheus families at scrape time (prometheus-cpp's plain
// MetricFamily / ClientMetric, serialised by its TextSerializer): the one
// family constructor and sample adder every metrics file of this layer uses.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace ballast {

inline prometheus::MetricFamily metricFamily(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

// One sample: a counter's or a gauge's value, after the family's type.
inline void addSample(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels, double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace ballast
