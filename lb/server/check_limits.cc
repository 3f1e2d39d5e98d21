#include "lb/server/check_limits.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

namespace ballast {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

void onCpuLimit(int) {
  static const char msg[] = "ballast: the configuration check used its whole CPU time limit and was stopped\n";
  ssize_t n = ::write(2, msg, sizeof msg - 1);
  (void)n;
  _exit(3);
}

}  // namespace

void applyCheckLimits() {
  rlimit cpu{kCheckCpuSeconds, kCheckCpuSeconds + 1};
  setrlimit(RLIMIT_CPU, &cpu);
  struct sigaction sa{};
  sa.sa_handler = &onCpuLimit;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGXCPU, &sa, nullptr);
  if (!kSanitized) {
    rlimit as{kCheckAddressSpaceBytes, kCheckAddressSpaceBytes};
    setrlimit(RLIMIT_AS, &as);
  }
}

}  // namespace ballast
