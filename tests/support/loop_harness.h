// Loop-level test helpers: a libuv loop that a test drives step by step
// (with a deadline, so a hang fails instead of blocking the suite) and ends
// with uv_loop_close() == 0 (nothing leaked), and plain non-blocking
// sockets on 127.0.0.1 that play the client or the backend in between.
// Header-only; used by tests/unit/*_test.cc.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ballast::test {

class TestLoop {
 public:
  TestLoop() { REQUIRE(uv_loop_init(&loop_) == 0); }
  ~TestLoop() {
    if (!closed_) {
      // A failed test: close what is left so the next test starts clean.
      uv_walk(
          &loop_,
          [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
          },
          nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
      uv_loop_close(&loop_);
    }
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs loop iterations until `done()` holds; false after `timeout_ms`.
  bool runUntil(const std::function<bool()>& done, uint64_t timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      uv_run(&loop_, UV_RUN_NOWAIT);
      if (!done()) ::usleep(200);
    }
    return true;
  }
  // Runs until every handle has closed, then closes the loop. Returns
  // uv_loop_close's result (0: nothing was left open).
  int finish(uint64_t timeout_ms = 5000) {
    runUntil([&] { return !uv_loop_alive(&loop_); }, timeout_ms);
    int rc = uv_loop_close(&loop_);
    closed_ = rc == 0;
    return rc;
  }

 private:
  uv_loop_t loop_;
  bool closed_ = false;
};

// A non-blocking TCP socket on 127.0.0.1 (client side, or an accepted peer).
class RawSocket {
 public:
  RawSocket() = default;
  explicit RawSocket(int fd) : fd_(fd) {}
  ~RawSocket() { close(); }
  RawSocket(RawSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RawSocket& operator=(RawSocket&& o) noexcept {
    close();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }

  // Connects to 127.0.0.1:port (the kernel completes it from the listen
  // backlog, so this does not need the loop to run). `rcvbuf` > 0 sets
  // SO_RCVBUF first (a client that reads slowly).
  static RawSocket connectTo(uint16_t port, int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return RawSocket(fd);
  }

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  // Sends what the kernel takes now; returns the bytes sent (may be short).
  size_t sendSome(const std::string& data) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
  // Reads what is there (appended to `out`). Returns false on EOF or error.
  bool readAvailable(std::string& out) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return false;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A listening socket on 127.0.0.1:0 (a test backend); accept() is
// non-blocking and returns a closed RawSocket while nobody is waiting.
class RawListener {
 public:
  RawListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port_ = ntohs(sa.sin_port);
  }
  ~RawListener() { ::close(fd_); }
  RawListener(const RawListener&) = delete;
  RawListener& operator=(const RawListener&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  RawSocket accept() {
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return RawSocket(fd);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace ballast::test
