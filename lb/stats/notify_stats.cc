#include "lb/stats/notify_stats.h"

namespace ballast {

std::map<std::string, NotifyTargetStats, std::less<>>& notifyStats() {
  static std::map<std::string, NotifyTargetStats, std::less<>> stats;
  return stats;
}

}  // namespace ballast
