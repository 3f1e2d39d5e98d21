#include "lb/base/crash.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>

namespace ballast {

namespace {

void writeStr(const char* s) {
  ssize_t r = ::write(2, s, strlen(s));
  (void)r;
}

void onFatal(int sig, siginfo_t* info, void*) {
  // Only async-signal-safe work here. backtrace() is safe once it has been
  // called before (libgcc loaded): installCrashHandler() primes it.
  char num[16];
  int n = sig;
  int i = 15;
  num[i] = '\0';
  do {
    num[--i] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0 && i > 0);
  writeStr("{\"event\":\"fatal_signal\",\"signal\":");
  writeStr(num + i);
  writeStr(",\"name\":\"");
  writeStr(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  writeStr("\"}\nballast: fatal signal SIG");
  writeStr(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  if (info && (sig == SIGSEGV || sig == SIGBUS)) writeStr(" (bad memory access)");
  writeStr(", stack trace:\n");
  void* frames[64];
  int count = backtrace(frames, 64);
  backtrace_symbols_fd(frames, count, 2);
  // SA_RESETHAND restored the default action: die of the same signal.
  raise(sig);
}

}  // namespace

void installCrashHandler() {
  static char altstack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  sigaltstack(&ss, nullptr);
  void* prime[1];
  backtrace(prime, 1);  // loads the unwinder now, not inside the handler
  struct sigaction sa{};
  sa.sa_sigaction = &onFatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace ballast
