// Metric families of the journal (lb/base/journal.h): lines written, lines
// lost to write errors, rotations (no labels: there is one journal); and
// those of the paging chain that feeds on the same events.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace ballast {

// Appends the families to `out` (nothing when no journal is configured).
void appendJournalMetrics(std::vector<prometheus::MetricFamily>& out);
// The paging chain's families (lb/stats/notify_stats.h): nothing before a
// notify target was ever configured.
void appendNotifyMetrics(std::vector<prometheus::MetricFamily>& out);

}  // namespace ballast
