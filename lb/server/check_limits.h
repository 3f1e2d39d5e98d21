// Bounds on `ballast --check`, which the server also runs as a child on
// every reload: whatever the file, the check ends within kCpuSeconds of CPU
// and never holds more than kAddressSpaceBytes (not under a sanitizer,
// whose shadow memory needs terabytes of address space).
#pragma once

#include <cstdint>

namespace ballast {

inline constexpr unsigned kCheckCpuSeconds = 20;
inline constexpr uint64_t kCheckAddressSpaceBytes = 2ULL << 30;

// Applies both limits to this process; a CPU overrun prints what happened
// and exits with status 3.
void applyCheckLimits();

}  // namespace ballast
