// Hot binary upgrade (SIGUSR2): the new process takes over the listening
// sockets, becomes ready, and the old one drains and exits -- with clients
// sending requests all along and not one of them failing.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// Kills the detached new process at the end of the test, whatever happens.
struct PidGuard {
  int pid = 0;
  ~PidGuard() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
    }
  }
};

std::string upgradeConfig(const std::string& a, const std::string& b) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: off, events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    health_check: { interval: 200ms, timeout: 150ms, jitter: 0% }\n"
         "    backends:\n"
         "      - { address: " + a + " }\n"
         "      - { address: " + b + " }\n";
}

}  // namespace

TEST_CASE("hot upgrade under load: zero failed requests, old process exits 0", "[upgrade]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, upgradeConfig(a.address(), b.address()));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));
  const uint16_t port = lb.port();

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      std::unique_ptr<Client> c;
      while (!stop) {
        try {
          if (!c) c = std::make_unique<Client>(port);
          Response r = c->roundTrip(get("/"));
          if (r.status == 200) {
            ++ok;
          } else {
            ++failed;
          }
          // A draining process answers with Connection: close: reconnect
          // (that is the protocol working, not a failure).
          if (r.headerOr("Connection", "") == "close" || r.peer_closed) c.reset();
        } catch (const std::exception&) {
          ++failed;
          c.reset();
        }
      }
    });
  }
  auto waitOk = [&](uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (ok < n && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  };
  waitOk(200);

  lb.process().signal(SIGUSR2);
  JsonObject started = waitEvent(lb, "upgrade_started");
  PidGuard guard{std::atoi(jsonText(started, "new_pid").c_str())};
  REQUIRE(guard.pid > 0);
  waitEvent(lb, "upgrade_ready", {}, 10000ms);
  auto code = lb.process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // The new process alone now: requests keep succeeding.
  uint64_t after_exit = ok;
  waitOk(after_exit + 200);
  stop = true;
  for (auto& t : clients) t.join();
  INFO("ok=" << ok << " failed=" << failed);
  CHECK(failed == 0);
  CHECK(ok >= after_exit + 200);
  CHECK(::kill(guard.pid, 0) == 0);  // the new process is serving
  // It took over the same port and health: a plain request works.
  CHECK(fetch(port, get("/")).status == 200);
}

TEST_CASE("a new process that cannot start leaves the old one serving", "[upgrade]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, upgradeConfig(a.address(), b.address()));
  // Break the config on disk: the new process fails its load and exits 1.
  writeFile(lb.configPath(), "listen: [\n");
  lb.process().signal(SIGUSR2);
  waitEvent(lb, "upgrade_failed", {}, 10000ms);
  CHECK(lb.process().running());
  CHECK(fetch(lb.port(), get("/")).status == 200);
}
