#include "lb/admin/journal_metrics.h"

#include <utility>

#include "lb/admin/metric_family.h"
#include "lb/base/journal.h"
#include "lb/stats/notify_stats.h"

namespace ballast {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void addCounter(std::vector<MetricFamily>& out, const char* name, const char* help, uint64_t v) {
  MetricFamily f = metricFamily(name, help, MetricType::Counter);
  addSample(f, {}, static_cast<double>(v));
  out.push_back(std::move(f));
}

}  // namespace

void appendJournalMetrics(std::vector<MetricFamily>& out) {
  const Journal& j = journal();
  if (!j.isOpen()) return;
  addCounter(out, "ballast_journal_lines_total", "Event lines appended to the journal.", j.lines());
  addCounter(out, "ballast_journal_write_errors_total",
             "Event lines the journal could not write (disk full, I/O error): dropped, proxying went on.",
             j.writeErrors());
  addCounter(out, "ballast_journal_rotations_total", "Times the journal reached journal.max_size and was rotated.",
             j.rotations());
}

}  // namespace ballast

namespace ballast {

void appendNotifyMetrics(std::vector<MetricFamily>& out) {
  const auto& all = notifyStats();
  if (all.empty()) return;
  MetricFamily total =
      metricFamily("ballast_notifications_total",
                   "Notification attempts by target and result: sent (2xx), failed (one per failed attempt), dropped "
                   "(given up: retries exhausted, queue full, target removed by a reload, shutdown).",
                   MetricType::Counter);
  MetricFamily queue = metricFamily("ballast_notification_queue",
                                    "Notifications waiting or in flight per configured target.", MetricType::Gauge);
  for (const auto& [name, st] : all) {
    for (const auto& [result, v] : {std::pair{"sent", st.sent}, {"failed", st.failed}, {"dropped", st.dropped}}) {
      addSample(total, {{"target", name}, {"result", result}}, static_cast<double>(v));
    }
    if (st.configured) addSample(queue, {{"target", name}}, static_cast<double>(st.queued));
  }
  out.push_back(std::move(total));
  if (!queue.metric.empty()) out.push_back(std::move(queue));
}

}  // namespace ballast
