/* A malloc-counting shim for tests (LD_PRELOAD): counts every allocation
 * call (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign;
 * C++ operator new goes through malloc) made by the process. On signal
 * SIGRTMIN+5 it writes the count so far, as "N\n", to the file named by
 * MALLOC_COUNT_FILE (open/write/close only: async-signal-safe). Used by
 * tests/e2e/allocation_test.cc to prove that the steady-state request path
 * allocates nothing. Not built for sanitizer builds (ASan owns malloc). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static atomic_ulong allocations;

static void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  count();
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(size_t al, size_t n) {
  count();
  return __libc_memalign(al, n);
}
void* aligned_alloc(size_t al, size_t n) {
  count();
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, size_t al, size_t n) {
  count();
  void* p = __libc_memalign(al, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

static void report(int sig) {
  (void)sig;
  const char* path = getenv("MALLOC_COUNT_FILE");
  if (path == NULL) return;
  char buf[32];
  int i = (int)sizeof buf - 1;
  buf[i] = '\n';
  unsigned long v = atomic_load(&allocations);
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  int saved = errno;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ssize_t w = write(fd, buf + i, sizeof buf - (size_t)i);
    (void)w;
    close(fd);
  }
  errno = saved;
}

__attribute__((constructor)) static void install(void) {
  struct sigaction sa;
  sa.sa_handler = report;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGRTMIN + 5, &sa, NULL);
}
