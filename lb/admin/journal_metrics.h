// Metric families of the journal (lb/base/journal.h): lines written, lines
// lost to write errors, rotations. No labels: there is one journal.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace ballast {

// Appends the families to `out` (nothing when no journal is configured).
void appendJournalMetrics(std::vector<prometheus::MetricFamily>& out);

}  // namespace ballast
