// sd_notify against a fake NOTIFY_SOCKET: the test binds a unixgram socket
// where systemd would, starts ballast with NOTIFY_SOCKET and WATCHDOG_USEC
// set, and reads what a Type=notify unit would see: READY=1 only after the
// first health round, WATCHDOG=1 pings, RELOADING=1 then READY=1 around a
// reload, MAINPID= naming the new process of a hot upgrade, STOPPING=1 on
// drain.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// The systemd side of the protocol: a bound unixgram socket.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof a.sun_path);
    std::copy(path.begin(), path.end(), a.sun_path);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~FakeNotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // The next datagram that is not a bare watchdog ping (those are counted),
  // or "" after `timeout`.
  std::string next(Ms timeout = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string m(buf, static_cast<size_t>(n));
      if (m == "WATCHDOG=1") {
        ++watchdog_pings;
        continue;
      }
      return m;
    }
  }
  // Waits for a message holding `needle`; returns it ("" on timeout).
  std::string waitFor(const std::string& needle, Ms timeout = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string m = next(std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now()));
      if (m.find(needle) != std::string::npos) return m;
      if (!m.empty()) seen += m + "|";
    }
    return "";
  }
  int watchdog_pings = 0;
  std::string seen;  // messages passed over by waitFor

 private:
  std::string path_;
  int fd_ = -1;
};

// Sets environment variables for the children started in this scope.
struct ScopedEnv {
  std::vector<std::string> names;
  void set(const std::string& k, const std::string& v) {
    ::setenv(k.c_str(), v.c_str(), 1);
    names.push_back(k);
  }
  ~ScopedEnv() {
    for (const auto& n : names) ::unsetenv(n.c_str());
  }
};

struct PidGuard {
  int pid = 0;
  ~PidGuard() {
    if (pid > 0) ::kill(pid, SIGKILL);
  }
};

std::string notifyConfig(const std::string& backend) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: off, events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    health_check: { interval: 200ms, timeout: 150ms, jitter: 0% }\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

}  // namespace

TEST_CASE("sd_notify: READY after the first probe round, reload, watchdog, MAINPID on upgrade, STOPPING",
          "[systemd]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  FakeNotifySocket sock(dir.path() + "/notify.sock");
  ScopedEnv env;
  env.set("NOTIFY_SOCKET", dir.path() + "/notify.sock");
  env.set("WATCHDOG_USEC", "200000");  // pings every 100 ms
  auto lb = std::make_unique<Ballast>(dir, notifyConfig(a.address()));
  const uint16_t port = lb->port();
  const uint16_t admin = lb->adminPort();

  // READY=1 comes once the first probe has passed: by then its event is
  // written and /readyz says 200.
  std::string ready = sock.waitFor("READY=1");
  REQUIRE(ready != "");
  CHECK(countEvents(*lb, "backend_state", backendState(a.address(), "healthy")) == 1);
  CHECK(fetch(admin, get("/readyz")).status == 200);
  INFO("passed over: " << sock.seen);
  CHECK(sock.seen.find("RELOADING") == std::string::npos);

  // The watchdog pings from the loop.
  CHECK(sock.waitFor("never", 450ms) == "");
  CHECK(sock.watchdog_pings >= 2);

  // Reload: RELOADING=1, then READY=1.
  lb->process().signal(SIGHUP);
  std::string reloading = sock.next();
  CHECK(reloading.find("RELOADING=1") != std::string::npos);
  CHECK(reloading.find("MONOTONIC_USEC=") != std::string::npos);
  std::string reloaded = sock.next();
  CHECK(reloaded.find("READY=1") != std::string::npos);
  waitEvent(*lb, "config_reloaded");

  // Hot upgrade: the old process names the new one once it is ready, and
  // then says nothing more (no STOPPING=1 from a process that is no longer
  // the main one).
  lb->process().signal(SIGUSR2);
  JsonObject started = waitEvent(*lb, "upgrade_started");
  PidGuard child{std::atoi(jsonText(started, "new_pid").c_str())};
  REQUIRE(child.pid > 0);
  std::string handover = sock.next();
  CHECK(handover.find("MAINPID=" + std::to_string(child.pid) + "\n") != std::string::npos);
  CHECK(handover.find("READY=1") != std::string::npos);
  auto code = lb->process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  lb.reset();
  CHECK(fetch(port, get("/")).status == 200);
  // The new process did not announce READY=1 by itself; its pings go on.
  int pings = sock.watchdog_pings;
  CHECK(sock.waitFor("never", 450ms) == "");
  CHECK(sock.watchdog_pings >= pings + 2);
  CHECK(sock.seen == "");

  // SIGTERM to the new main process: STOPPING=1 as the drain begins.
  REQUIRE(::kill(child.pid, SIGTERM) == 0);
  std::string stopping = sock.next();
  CHECK(stopping.find("STOPPING=1") != std::string::npos);
  CHECK(pollUntil([&] { return tryConnect(port) != 0; }, 10000ms));
}

TEST_CASE("sd_notify: without NOTIFY_SOCKET nothing is sent and nothing fails", "[systemd]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  ::unsetenv("NOTIFY_SOCKET");
  Ballast lb(dir, notifyConfig(a.address()));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));
  CHECK(fetch(lb.port(), get("/")).status == 200);
  CHECK(countEvents(lb, "systemd_notify_failed") == 0);
  CHECK(countEvents(lb, "systemd_watchdog") == 0);
}
