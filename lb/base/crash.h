// Fatal-signal reporting: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT the
// process writes the signal and a stack trace to stderr (async-signal-safe
// calls only, on an alternate stack so a stack overflow is reported too),
// then dies of the same signal so exit status and core dumps are unchanged.
#pragma once

namespace ballast {

void installCrashHandler();

}  // namespace ballast
