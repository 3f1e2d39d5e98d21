#include "tests/fuzz/proxy_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "config/config_loader.h"
#include "lb/base/listener.h"
#include "lb/proxy/context.h"
#include "lb/proxy/downstream_connection.h"
#include "lb/proxy/runtime.h"

namespace ballast::fuzz {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "proxy harness: %s (errno %d)\n", what, errno);
  std::abort();
}

void closeHard(int& fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
  fd = -1;
}

// Appends what is readable; false on EOF or a hard error.
bool readSome(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

// Sends what the kernel takes now; returns the bytes sent.
size_t sendSome(int fd, const char* data, size_t len) {
  ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

struct UpstreamPeer {
  int fd = -1;
  std::string received;
  size_t answered = 0;     // complete requests answered
  std::string to_send;     // answers not yet written
  size_t sent = 0;
  bool shut_after = false;  // shut the write side once to_send is out
  bool shut = false;
  bool eof = false;
};

}  // namespace

int connectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return fd;
  if (errno != EINPROGRESS && errno != EINTR) die("client connect");
  pollfd p{fd, POLLOUT, 0};
  while (::poll(&p, 1, 5000) < 0 && errno == EINTR) {
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    errno = err;
    die("client connect");
  }
  return fd;
}

struct ProxyHarness::Impl {
  uv_loop_t loop;
  std::unique_ptr<ProxyContext> ctx;
  std::unique_ptr<Listener> listener;
  int backend_fd = -1;
  uint16_t proxy_port = 0;

  void turn() { uv_run(&loop, UV_RUN_NOWAIT); }
};

ProxyHarness::ProxyHarness(const std::string& extra) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (uv_loop_init(&m.loop) != 0) die("uv_loop_init");
  m.backend_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(m.backend_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(m.backend_fd, 64) != 0 ||
      ::getsockname(m.backend_fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    die("backend listen");
  }
  const std::string backend = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  auto r = config::loadConfigString("listen: 127.0.0.1:0\nlog: { access: off, events: off }\n" + extra +
                                    "pools:\n  - name: web\n    retries: { attempts: 0 }\n"
                                    "    backends:\n      - { address: \"" +
                                    backend + "\" }\n");
  if (!r.ok()) {
    std::fprintf(stderr, "proxy harness config: %s\n", r.errors[0].format().c_str());
    std::abort();
  }
  m.ctx = std::make_unique<ProxyContext>(&m.loop);
  m.ctx->setRuntime(Runtime::build(*r.config, 0));
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ProxyContext* ctx = m.ctx.get();
  m.listener = std::make_unique<Listener>(&m.loop, ss, "127.0.0.1:0", "proxy",
                                          [ctx](Listener& x) { DownstreamConnection::accept(*ctx, x.stream()); });
  if (m.listener->bind() != 0) die("proxy listen");
  const std::string& a = m.listener->boundAddress();
  m.proxy_port = static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
}

ProxyHarness::~ProxyHarness() {
  Impl& m = *impl_;
  m.listener->close();
  m.ctx->clients().forEach([](DownstreamConnection* c) { c->close(); });
  m.ctx->upstream().closeAll();
  m.ctx->deferred().close();
  uv_run(&m.loop, UV_RUN_DEFAULT);
  while (m.ctx->deferred().runRemaining()) {
  }
  m.listener.reset();
  m.ctx.reset();
  uv_loop_close(&m.loop);
  ::close(m.backend_fd);
}

Outcome ProxyHarness::run(const Exchange& ex, const BackendScript& script, size_t backend_piece, uint64_t stall_ms) {
  Impl& m = *impl_;
  Outcome out;
  std::vector<UpstreamPeer> peers;

  int client = connectLoopback(m.proxy_port);

  size_t client_sent = 0;
  bool client_shut = false, client_eof = false;
  size_t seq = 0;
  auto last_progress = std::chrono::steady_clock::now();

  // The backend: accept, read, answer each complete request, notice EOF.
  auto serveBackend = [&]() -> bool {
    bool progress = false;
    for (;;) {
      int fd = ::accept4(m.backend_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      peers.emplace_back();
      peers.back().fd = fd;
      out.upstream_received.emplace_back();
      progress = true;
    }
    for (size_t i = 0; i < peers.size(); ++i) {
      UpstreamPeer& p = peers[i];
      if (p.fd < 0) continue;
      const size_t before = p.received.size();
      if (!p.eof && !readSome(p.fd, p.received)) p.eof = true;
      if (p.received.size() != before) {
        progress = true;
        out.upstream_received[i] = p.received;
        const ParsedStream ps = parseRequests(p.received, false);
        for (size_t k = p.answered; k < ps.messages.size() && ps.messages[k].complete; ++k) {
          if (p.shut_after) break;  // nothing more after an until-close answer
          BackendReply reply = script(i, seq, ps.messages[k]);
          out.forwarded.push_back(ps.messages[k]);
          out.forwarded_conn.push_back(i);
          out.replies.push_back(reply);
          ++seq;
          p.answered = k + 1;
          p.to_send += reply.bytes;
          if (reply.close) p.shut_after = true;
        }
      }
      if (p.sent < p.to_send.size()) {
        size_t n = p.to_send.size() - p.sent;
        if (backend_piece != 0 && n > backend_piece) n = backend_piece;
        const size_t w = sendSome(p.fd, p.to_send.data() + p.sent, n);
        if (w > 0) progress = true;
        p.sent += w;
      }
      if (p.sent == p.to_send.size() && p.shut_after && !p.shut) {
        ::shutdown(p.fd, SHUT_WR);
        p.shut = true;
        progress = true;
      }
      if (p.eof && (p.sent == p.to_send.size() || p.shut)) {
        closeHard(p.fd);
        progress = true;
      }
    }
    return progress;
  };

  for (;;) {
    bool progress = false;
    // The client: its bytes in pieces, then its write side shut.
    if (client_sent < ex.client_bytes.size()) {
      size_t n = ex.client_bytes.size() - client_sent;
      if (ex.piece != 0 && n > ex.piece) n = ex.piece;
      const size_t w = sendSome(client, ex.client_bytes.data() + client_sent, n);
      client_sent += w;
      if (w > 0) progress = true;
    } else if (!client_shut) {
      ::shutdown(client, SHUT_WR);
      client_shut = true;
      progress = true;
    }
    m.turn();
    if (serveBackend()) progress = true;
    if (!client_eof) {
      const size_t before = out.client_received.size();
      if (!readSome(client, out.client_received)) client_eof = true;
      if (client_eof || out.client_received.size() != before) progress = true;
    }
    if (client_eof && m.ctx->clients().empty()) break;
    const auto now = std::chrono::steady_clock::now();
    if (progress) {
      last_progress = now;
    } else if (now - last_progress > std::chrono::milliseconds(stall_ms)) {
      std::string what = "no progress for " + std::to_string(stall_ms) + " ms: ballast waits on something the "
                         "reference parser says was sent\n---- client received:\n" +
                         printable(out.client_received);
      for (size_t i = 0; i < out.upstream_received.size(); ++i) {
        what += "\n---- upstream connection " + std::to_string(i) + " received:\n" + printable(out.upstream_received[i]);
      }
      violation(what, ex.client_bytes);
    } else {
      ::usleep(50);
    }
  }
  closeHard(client);
  // Idle upstream connections are not carried into the next run.
  m.ctx->upstream().closeAll();
  while (!m.ctx->upstream().live.empty() || !m.ctx->clients().empty()) {
    m.turn();
    serveBackend();
  }
  for (UpstreamPeer& p : peers) {
    readSome(p.fd, p.received);
    closeHard(p.fd);
  }
  for (size_t i = 0; i < peers.size(); ++i) out.upstream_received[i] = peers[i].received;
  return out;
}

}  // namespace ballast::fuzz
