// Counters of the paging chain (lb/notify), per notify target by name
// (ballast_notifications_total{target,result}, ballast_notification_queue
// {target}). An entry is created when a target is first configured and kept
// after a reload removes the target (a counter does not go back to zero;
// the dropped messages of a removed target are counted there).
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace ballast {

struct NotifyTargetStats {
  uint64_t sent = 0;     // a 2xx answer
  uint64_t failed = 0;   // an attempt that failed (each retry counts)
  uint64_t dropped = 0;  // given up: retries exhausted, queue full, target removed, shutdown
  uint64_t queued = 0;   // messages waiting or in flight now (a gauge)
  bool configured = false;
};

// Target name -> its counters.
std::map<std::string, NotifyTargetStats, std::less<>>& notifyStats();

}  // namespace ballast
