// No heap allocation per request on the steady-state path (issue 15): the
// ballast process runs with the malloc-counting shim preloaded
// (tests/support/malloc_count.c); after a warm-up, thousands more keep-alive
// requests on the same client connection must not add allocations in
// proportion (a single allocation per request would add one per request).
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

#ifdef MALLOC_COUNT_LIB
namespace {

// The process's allocation count so far: signal the shim, wait for the file.
uint64_t allocationsSoFar(Ballast& lb, const std::string& file) {
  ::unlink(file.c_str());
  lb.process().signal(SIGRTMIN + 5);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::string line;
    if (std::getline(in, line) && !in.eof()) return std::stoull(line);  // the newline was written too
    std::this_thread::sleep_for(2ms);
  }
  FAIL("the malloc-count shim did not report");
  return 0;
}

std::string allocationConfig(const std::string& backend, const std::string& access) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: " + access + ", events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

}  // namespace

TEST_CASE("steady-state keep-alive requests allocate nothing per request", "[performance][allocations]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  const std::string count_file = dir.path() + "/allocations";
  const bool access_log = GENERATE(false, true);
  INFO("access log " << (access_log ? "to a file" : "off"));
  ::setenv("LD_PRELOAD", MALLOC_COUNT_LIB, 1);
  ::setenv("MALLOC_COUNT_FILE", count_file.c_str(), 1);
  Ballast lb(dir, allocationConfig(a.address(), access_log ? dir.path() + "/access.log" : "off"));
  ::unsetenv("LD_PRELOAD");
  ::unsetenv("MALLOC_COUNT_FILE");

  Client c(lb.port());
  auto run = [&](int n) {
    for (int i = 0; i < n; ++i) REQUIRE(c.roundTrip(get("/steady")).status == 200);
  };
  // Warm-up: buffers, the pooled upstream connection, and the request
  // explanation ring (explain.buffer, 1,000 entries by default), whose
  // entries keep their string capacity once filled.
  run(1500);
  const uint64_t before = allocationsSoFar(lb, count_file);
  constexpr int kRequests = 5000;
  run(kRequests);
  const uint64_t after = allocationsSoFar(lb, count_file);
  INFO("allocations during " << kRequests << " requests: " << after - before);
  // Periodic work (the 4 Hz sweeps, the status sparkline) may allocate a
  // little with time; one allocation per request would be 5,000.
  CHECK(after - before < kRequests / 100);
}
#else
TEST_CASE("steady-state keep-alive requests allocate nothing per request", "[performance][allocations]") {
  WARN("skipped: the malloc-count shim is not built (sanitizer build)");
}
#endif
