// Several instances: two ballast processes (127.0.0.2 and 127.0.0.3) in
// front of the same three backends, behind a small L4 stand-in (this file)
// that spreads client connections over them and, like an L4 balancer or a
// Kubernetes Service with a health-checked endpoint list, tries the other
// instance when a connect is refused. One instance is SIGKILLed under load
// and restarted; the other is drained (SIGTERM) and restarted. The client
// sees no failed request.
//
// The client re-sends a GET (at most twice) when its connection ended
// before any response byte, as HTTP clients do for idempotent requests
// (RFC 9112 section 9.3.1). A connection killed with its instance can end
// no other way (nor can one the L4 stand-in connected into the kernel's
// accept queue of the instance just before it died: a retry can meet that
// too); those re-sends are counted and reported apart from failures, and
// the drain must need none. A request that got a partial response, an
// error status, or no answer after its re-sends is a failure.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

sockaddr_in ipv4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// The L4 stand-in: accepts on 127.0.0.1:0, connects each client connection
// to the next instance in turn (the other one when that connect is refused)
// and copies bytes both ways until either side ends. One thread per
// connection; the test's clients hold few at a time.
class L4StandIn {
 public:
  struct Target {
    std::string ip;
    uint16_t port;
  };
  explicit L4StandIn(std::vector<Target> targets) : targets_(std::move(targets)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = ipv4("127.0.0.1", 0);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 128) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] { acceptLoop(); });
  }
  ~L4StandIn() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    accepter_.join();
    ::close(fd_);
    std::lock_guard<std::mutex> g(mu_);
    for (auto& t : conns_) t.join();
  }
  uint16_t port() const { return port_; }
  std::atomic<uint64_t> connected[2] = {0, 0};  // per target
  std::atomic<uint64_t> refused_then_other{0};  // a refused connect retried on the other
  std::atomic<uint64_t> none_available{0};      // both refused: client closed

 private:
  void acceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      size_t first = next_++ % 2;
      std::lock_guard<std::mutex> g(mu_);
      conns_.emplace_back([this, c, first] { serve(c, first); });
    }
  }
  int connectTo(size_t i) {
    int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = ipv4(targets_[i].ip, targets_[i].port);
    if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(u);
      return -1;
    }
    return u;
  }
  void serve(int c, size_t first) {
    size_t used = first;
    int u = connectTo(first);
    if (u < 0) {
      used = 1 - first;
      u = connectTo(used);
      if (u >= 0) ++refused_then_other;
    }
    if (u < 0) {
      ++none_available;
      ::close(c);
      return;
    }
    ++connected[used];
    // Copy both ways; a half close is passed on, an error ends both.
    bool open[2] = {true, true};  // c->u, u->c
    char buf[16384];
    while (open[0] || open[1]) {
      pollfd p[2] = {{c, static_cast<short>(open[0] ? POLLIN : 0), 0}, {u, static_cast<short>(open[1] ? POLLIN : 0), 0}};
      if (::poll(p, 2, 200) < 0) break;
      bool broken = false;
      for (int k = 0; k < 2 && !broken; ++k) {
        if (!open[k] || p[k].revents == 0) continue;
        int from = k == 0 ? c : u;
        int to = k == 0 ? u : c;
        ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n > 0) {
          if (::send(to, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) broken = true;
        } else if (n == 0) {
          open[k] = false;
          ::shutdown(to, SHUT_WR);
        } else {
          broken = true;
        }
      }
      if (broken) break;
      if (stop_ && !open[0]) break;
    }
    ::close(u);
    ::close(c);
  }

  std::vector<Target> targets_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_{0};
  std::thread accepter_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

std::string instanceConfig(const std::string& ip, uint16_t port, const std::vector<std::string>& backends) {
  std::string y = "listen: " + ip + ":" + std::to_string(port) + "\n" +
                  "admin: { listen: " + ip + ":0 }\n"
                  "log: { level: info, access: off, events: stderr }\n"
                  "drain: { delay: 0s, timeout: 10s }\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    health_check: { interval: 200ms, timeout: 150ms, jitter: 0% }\n"
                  "    backends:\n";
  for (const auto& b : backends) y += "      - { address: " + b + " }\n";
  return y;
}

}  // namespace

TEST_CASE("two instances behind an L4 stand-in: SIGKILL one, drain and restart the other, 0 failed requests",
          "[scaleout]") {
  TempDir dir;
  DemoBackend b1(dir, "b1");
  DemoBackend b2(dir, "b2");
  DemoBackend b3(dir, "b3");
  const std::vector<std::string> backends{b1.address(), b2.address(), b3.address()};
  auto a = std::make_unique<Ballast>(dir, instanceConfig("127.0.0.2", 0, backends));
  auto b = std::make_unique<Ballast>(dir, instanceConfig("127.0.0.3", 0, backends));
  const uint16_t port_a = a->port();
  const uint16_t port_b = b->port();
  L4StandIn l4({{"127.0.0.2", port_a}, {"127.0.0.3", port_b}});

  // Clients: keep-alive, a new connection every 20 requests (so the L4
  // stand-in spreads them), and on Connection: close.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok{0}, failed{0}, resent{0};
  std::mutex fail_mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      std::unique_ptr<Client> c;
      int on_this_connection = 0;
      while (!stop) {
        bool done = false;
        for (int attempt = 0; attempt < 3 && !done; ++attempt) {
          std::string why;
          bool retryable = false;
          try {
            if (!c) {
              c = std::make_unique<Client>(l4.port(), 5000ms);
              on_this_connection = 0;
            }
            if (!c->trySendAll(get("/"))) {
              retryable = true;
              why = "connection closed before the request was sent";
            } else {
              Response r = c->readResponse();
              ++on_this_connection;
              if (r.head_complete && r.complete && r.status == 200) {
                ++ok;
                done = true;
                if (r.headerOr("Connection", "") == "close" || on_this_connection >= 20) c.reset();
                continue;
              }
              retryable = !r.head_complete && r.raw_head.empty();
              why = r.head_complete ? "status " + std::to_string(r.status) + (r.complete ? "" : " (incomplete)")
                                    : "connection ended with " + std::to_string(r.raw_head.size()) + " head bytes";
            }
          } catch (const std::exception& e) {
            why = e.what();
          }
          c.reset();
          if (retryable && attempt < 2) {
            ++resent;
            continue;
          }
          ++failed;
          std::lock_guard<std::mutex> g(fail_mu);
          failures.push_back(why);
          done = true;
        }
      }
    });
  }
  auto waitOk = [&](uint64_t more) {
    uint64_t target = ok + more;
    REQUIRE(pollUntil([&] { return ok >= target; }, 15000ms));
  };
  auto waitConnected = [&](size_t i) {
    uint64_t before = l4.connected[i];
    REQUIRE(pollUntil([&] { return l4.connected[i] > before; }, 15000ms));
  };

  waitOk(500);
  CHECK(l4.connected[0] > 0);
  CHECK(l4.connected[1] > 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  };

  // 1. SIGKILL instance A under load; B carries everything; restart A on
  //    the same address.
  uint64_t ok_before_kill = ok, resent_before_kill = resent;
  a->process().signal(SIGKILL);
  REQUIRE(a->process().waitExit(5000ms).has_value());
  waitOk(500);
  uint64_t refused_after_kill = l4.refused_then_other;
  uint64_t resent_kill = resent - resent_before_kill;
  a.reset();
  a = std::make_unique<Ballast>(dir, instanceConfig("127.0.0.2", port_a, backends));
  waitConnected(0);
  waitOk(500);
  const auto kill_ms = ms();

  // 2. Drain instance B (SIGTERM: exits 0 once its requests are done);
  //    restart it on the same address.
  uint64_t resent_before_drain = resent;
  b->process().signal(SIGTERM);
  auto code = b->process().waitExit(15000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  waitOk(500);
  b.reset();
  b = std::make_unique<Ballast>(dir, instanceConfig("127.0.0.3", port_b, backends));
  waitConnected(1);
  waitOk(500);
  uint64_t resent_drain = resent - resent_before_drain;

  stop = true;
  for (auto& t : clients) t.join();
  std::printf(
      "scale-out figures: %llu requests ok, %llu failed; SIGKILL phase: %llu ok before, %llu GETs re-sent after a "
      "connection died with the killed instance, %llu refused connects sent to the other instance; drain phase: "
      "%llu GETs re-sent; none_available=%llu; %lld ms for kill+restart\n",
      static_cast<unsigned long long>(ok.load()), static_cast<unsigned long long>(failed.load()),
      static_cast<unsigned long long>(ok_before_kill), static_cast<unsigned long long>(resent_kill),
      static_cast<unsigned long long>(refused_after_kill), static_cast<unsigned long long>(resent_drain),
      static_cast<unsigned long long>(l4.none_available.load()), static_cast<long long>(kill_ms));
  INFO("failures: " << firstFailures(failures));
  CHECK(failed == 0);
  // The failover path was taken: connects refused by the dead instance went
  // to the other one.
  CHECK(refused_after_kill > 0);
  CHECK(l4.none_available == 0);
  // A drain loses nothing, even without the client's re-sends.
  CHECK(resent_drain == 0);
}
