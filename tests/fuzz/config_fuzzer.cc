// Config loader: YAML text -> a Config or errors. Asserts that the loader
// never throws, answers within a bound whatever the anchors, aliases and
// nesting (LoadLimits), reports either a config or at least one error with
// a message, and that a config it accepts builds a Runtime.
#include <dlfcn.h>
#include <netdb.h>

#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/config_loader.h"
#include "lb/proxy/runtime.h"
#include "tests/fuzz/http_reference.h"

using namespace ballast;

// Name resolution without the network: a fuzzed host name would otherwise
// wait on the resolver (5 s when it does not answer), which measures DNS,
// not the loader. Numeric addresses resolve as before; "localhost" as
// 127.0.0.1; any other name fails at once, as an unknown name does. (This
// definition takes the place of libc's, and of ASan's interceptor, in this
// binary only.)
extern "C" int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                           struct addrinfo** res) {
  using Fn = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
  struct addrinfo h{};
  if (hints != nullptr) h = *hints;
  h.ai_flags |= AI_NUMERICHOST;
  if (node != nullptr && std::string_view(node) == "localhost") node = "127.0.0.1";
  return real(node, service, &h, res);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  // CPU time of this thread, not wall time: a machine busy with other
  // work (or a stopped process) must not look like a slow loader.
  auto cpuMs = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  };
  const long long t0 = cpuMs();
  config::LoadResult r;
  try {
    r = config::loadConfigString(yaml, "fuzz.yaml");
  } catch (const std::exception& e) {
    fuzz::violation(std::string("loadConfigString threw: ") + e.what(), yaml);
  }
  const long long ms = cpuMs() - t0;
  // Inputs are at most a few KiB (-max_len): even the pathological ones
  // must stay far below what LoadLimits allows a 4 MiB file.
  if (ms > 2000) fuzz::violation("the loader took " + std::to_string(ms) + " ms of CPU", yaml);
  if (r.ok() != r.config.has_value()) fuzz::violation("ok() disagrees with the config being set", yaml);
  for (const auto& e : r.errors) {
    if (e.message.empty()) fuzz::violation("an error without a message", yaml);
    if (e.line < 0 || e.column < 0) fuzz::violation("an error at a negative position", yaml);
    if (e.format().empty()) fuzz::violation("an error that formats to nothing", yaml);
  }
  if (r.ok()) {
    const config::Config& c = *r.config;
    if (c.listen.empty() || c.pools.empty() || c.routes.empty()) {
      fuzz::violation("an accepted config without listeners, pools or routes", yaml);
    }
    for (const auto& route : c.routes) {
      if (route.pool_index >= c.pools.size()) fuzz::violation("a route to a pool that does not exist", yaml);
    }
    auto rt = Runtime::build(c, 0);
    if (!rt || rt->pools.size() != c.pools.size()) fuzz::violation("Runtime::build lost pools", yaml);
  }
  return 0;
}
