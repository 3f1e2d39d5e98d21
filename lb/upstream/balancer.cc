#include "lb/upstream/balancer.h"

#include "lb/upstream/backend.h"

namespace ballast {

bool eligible(const Backend& b, PickMode mode) {
  switch (mode) {
    case PickMode::Normal: return !b.backup() && b.available();
    case PickMode::Backup: return b.backup() && b.available();
    case PickMode::Unknown: return !b.backup() && b.enabled() && !b.ejected();
    case PickMode::Panic: return !b.backup() && b.enabled();
  }
  return false;
}

}  // namespace ballast
