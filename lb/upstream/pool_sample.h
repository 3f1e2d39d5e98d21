// A pool's availability and cumulative client-side counters, as the
// incident tracker (lb/stats/incidents.h) takes them.
#pragma once

#include "lb/stats/incidents.h"
#include "lb/upstream/pool.h"

namespace ballast {

// Backends still awaiting their first probe count neither as available nor
// in the total: a pool starting up is not an incident.
PoolSample samplePool(const Pool& pool);

}  // namespace ballast
