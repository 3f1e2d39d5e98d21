// Test helpers shared by end-to-end tests that script a backend byte by
// byte (RawBackend) and read ballast's admin side (/metrics samples).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/harness.h"

namespace ballast::test {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Admin and metrics

// One request to ballast's admin listener on a fresh connection (the admin
// answers one per connection), with an optional body and header lines.
inline Response adminRequest(uint16_t admin_port, const std::string& method, const std::string& path,
                             const std::string& body = "", const std::vector<std::string>& headers = {},
                             Ms timeout = 5000ms) {
  Client c(admin_port, timeout);
  ReadOptions opts;
  opts.method = method;
  return c.roundTrip(request(method, path, headers, body, "127.0.0.1:" + std::to_string(admin_port)), opts);
}

inline std::string metricsText(uint16_t admin_port) {
  Response r = adminRequest(admin_port, "GET", "/metrics");
  if (r.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(r.status));
  return r.body;
}

// Sum of the samples of `family` whose labels include every `k="v"` in
// `labels` (any order); nullopt when no sample of the family matches.
inline std::optional<double> metricSum(const std::string& text, const std::string& family,
                                const std::vector<std::string>& labels = {}) {
  std::optional<double> sum;
  for (const auto& line : splitLines(text, true)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, family.size(), family) != 0) continue;
    if (line.size() <= family.size() || (line[family.size()] != '{' && line[family.size()] != ' ')) continue;
    size_t sp = line.rfind(' ');
    std::string labels_part = line.substr(family.size(), sp - family.size());
    bool all = true;
    for (const auto& l : labels) all = all && labels_part.find(l) != std::string::npos;
    if (!all) continue;
    sum = sum.value_or(0) + std::stod(line.substr(sp + 1));
  }
  return sum;
}

// Every sample line of `family`, for failure messages.
inline std::string metricLines(const std::string& text, const std::string& family) {
  std::string out;
  for (const auto& line : splitLines(text, true))
    if (line.compare(0, family.size(), family) == 0) out += line + "\n";
  return out.empty() ? "(no " + family + " samples)\n" : out;
}

// ---------------------------------------------------------------------------
// RawBackend: a scripted backend over blocking sockets. One thread accepts,
// one thread per connection runs the handler, which owns the conversation
// (reads requests, writes whatever bytes it likes). When the handler returns
// the connection is closed. stop() (and the destructor) makes every read,
// send and wait give up, then joins every thread.

struct RawRequest {
  std::string method;
  std::string target;
  std::string head;  // request line to blank line, inclusive
  uint64_t content_length = 0;
  std::string body;  // read only when asked to
};

class RawBackend;

class RawConn {
 public:
  RawConn(RawBackend& server, int fd, uint64_t id) : server_(server), fd_(fd), id_(id) {}

  uint64_t id() const { return id_; }
  // True once the peer closed (EOF or RST) the connection.
  bool peerClosed() const { return eof_; }

  // Reads one request head (and its Content-Length body when `with_body`).
  // nullopt on EOF, stop or timeout (peerClosed() tells EOF apart).
  std::optional<RawRequest> readRequest(bool with_body = true, Ms timeout = 15000ms);
  // Up to `max` bytes (buffered ones first); 0 on EOF, stop or timeout.
  size_t readSome(char* out, size_t max, Ms timeout = 15000ms);
  // Sends everything; false when the peer is gone or the server stops.
  bool send(std::string_view bytes);
  // Sleeps `d` unless the server stops first (false then).
  bool pause(Ms d);

 private:
  // Reads more into buf_; false on EOF, stop or deadline.
  bool fill(Clock::time_point deadline);

  RawBackend& server_;
  int fd_;
  uint64_t id_;
  std::string buf_;
  bool eof_ = false;
};

class RawBackend {
 public:
  using Handler = std::function<void(RawConn&)>;

  // `rcvbuf` > 0 sets SO_RCVBUF on the listening socket (inherited by the
  // accepted ones): a slow reader then pushes back on its sender quickly.
  explicit RawBackend(Handler handler, int rcvbuf = 0) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("RawBackend: socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0) ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("RawBackend: bind/listen failed");
    }
    port_ = ntohs(sa.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~RawBackend() { stop(); }
  RawBackend(const RawBackend&) = delete;
  RawBackend& operator=(const RawBackend&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool stopping() const { return stopping_.load(); }
  // Connections accepted so far, and those whose handler has not returned.
  size_t accepted() const { return accepted_.load(); }
  size_t open() const { return open_.load(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      stopping_ = true;
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);  // unblocks a blocked send()
    }
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
    ::close(listen_fd_);
  }

 private:
  void acceptLoop() {
    uint64_t next_id = 0;
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      uint64_t id = ++next_id;
      ++accepted_;
      ++open_;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) {
        ::close(fd);
        --open_;
        break;
      }
      conn_fds_.push_back(fd);
      workers_.emplace_back([this, fd, id] { serve(fd, id); });
    }
  }

  void serve(int fd, uint64_t id) {
    {
      RawConn conn(*this, fd, id);
      try {
        handler_(conn);
      } catch (const std::exception&) {
        // A handler that throws just ends its connection.
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      conn_fds_.erase(std::remove(conn_fds_.begin(), conn_fds_.end(), fd), conn_fds_.end());
      ::close(fd);
    }
    --open_;
  }

  Handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> open_{0};
  std::mutex mu_;  // guards conn_fds_, workers_, stopped_
  std::vector<int> conn_fds_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
  bool stopped_ = false;
};

inline bool RawConn::fill(Clock::time_point deadline) {
  if (eof_) return false;
  char tmp[64 * 1024];
  while (!server_.stopping()) {
    if (Clock::now() >= deadline) return false;
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 20);
    if (rc <= 0) continue;
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    eof_ = true;  // EOF, or an error such as ECONNRESET: the peer is gone
    return false;
  }
  return false;
}

inline std::optional<RawRequest> RawConn::readRequest(bool with_body, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return std::nullopt;
  }
  RawRequest r;
  r.head = buf_.substr(0, end + 4);
  buf_.erase(0, end + 4);
  size_t sp1 = r.head.find(' ');
  size_t sp2 = r.head.find(' ', sp1 + 1);
  r.method = r.head.substr(0, sp1);
  r.target = r.head.substr(sp1 + 1, sp2 - sp1 - 1);
  static const std::regex cl_rx(R"(\r\ncontent-length:\s*(\d+))", std::regex::icase);
  std::smatch m;
  if (std::regex_search(r.head, m, cl_rx)) r.content_length = std::stoull(m[1].str());
  if (with_body) {
    while (buf_.size() < r.content_length) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = buf_.substr(0, r.content_length);
    buf_.erase(0, r.content_length);
  }
  return r;
}

inline size_t RawConn::readSome(char* out, size_t max, Ms timeout) {
  if (buf_.empty() && !fill(Clock::now() + timeout)) return 0;
  size_t n = std::min(max, buf_.size());
  std::memcpy(out, buf_.data(), n);
  buf_.erase(0, n);
  return n;
}

inline bool RawConn::send(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    if (server_.stopping()) return false;
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

inline bool RawConn::pause(Ms d) {
  auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (server_.stopping()) return false;
    std::this_thread::sleep_for(std::min<Ms>(Ms(10), std::chrono::duration_cast<Ms>(until - Clock::now()) + Ms(1)));
  }
  return !server_.stopping();
}

inline std::string okResponse(const std::string& body, const std::vector<std::string>& headers = {}) {
  std::string r = "HTTP/1.1 200 OK\r\n";
  for (const auto& h : headers) r += h + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}


}  // namespace ballast::test
