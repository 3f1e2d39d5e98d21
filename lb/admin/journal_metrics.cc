#include "lb/admin/journal_metrics.h"

#include <utility>

#include "lb/base/journal.h"
#include "lb/stats/notify_stats.h"

namespace ballast {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void addCounter(std::vector<MetricFamily>& out, const char* name, const char* help, uint64_t v) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = MetricType::Counter;
  ClientMetric m;
  m.counter.value = static_cast<double>(v);
  f.metric.push_back(std::move(m));
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
  MetricFamily total;
  total.name = "ballast_notifications_total";
  total.help = "Notification attempts by target and result: sent (2xx), failed (one per failed attempt), dropped "
               "(given up: retries exhausted, queue full, target removed by a reload, shutdown).";
  total.type = MetricType::Counter;
  MetricFamily queue;
  queue.name = "ballast_notification_queue";
  queue.help = "Notifications waiting or in flight per configured target.";
  queue.type = MetricType::Gauge;
  for (const auto& [name, st] : all) {
    for (const auto& [result, v] : {std::pair{"sent", st.sent}, {"failed", st.failed}, {"dropped", st.dropped}}) {
      ClientMetric m;
      m.label = {{"target", name}, {"result", result}};
      m.counter.value = static_cast<double>(v);
      total.metric.push_back(std::move(m));
    }
    if (st.configured) {
      ClientMetric m;
      m.label = {{"target", name}};
      m.gauge.value = static_cast<double>(st.queued);
      queue.metric.push_back(std::move(m));
    }
  }
  out.push_back(std::move(total));
  if (!queue.metric.empty()) out.push_back(std::move(queue));
}

}  // namespace ballast
