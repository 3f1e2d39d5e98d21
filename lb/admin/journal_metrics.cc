#include "lb/admin/journal_metrics.h"

#include <utility>

#include "lb/base/journal.h"

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
