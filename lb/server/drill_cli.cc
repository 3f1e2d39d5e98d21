#include "lb/server/drill_cli.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "lb/base/json.h"

namespace ballast {

namespace {

int cliUsageError(const std::string& what) {
  std::fprintf(stderr, "ballast: %s (try 'ballast --help')\n", what.c_str());
  return 2;
}

}  // namespace

// `ballast drill ...`: starts a simulate_down drill through a running
// ballast's admin API (POST /drills) and prints its answer.
int drillCommand(int argc, char** argv) {
  std::string admin, pool, backend, duration, token;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    std::string* target = a == "--admin" ? &admin : a == "--pool" ? &pool : a == "--backend" ? &backend
                        : a == "--duration" ? &duration : a == "--token" ? &token : nullptr;
    if (target == nullptr) return cliUsageError("drill: unknown option '" + a + "'");
    if (i + 1 >= argc) return cliUsageError("drill: option '" + a + "' needs a value");
    *target = argv[++i];
  }
  if (admin.empty() || pool.empty() || backend.empty() || duration.empty()) {
    return cliUsageError("drill needs --admin, --pool, --backend and --duration");
  }
  const size_t colon = admin.rfind(':');
  if (colon == std::string::npos) return cliUsageError("drill: --admin takes HOST:PORT");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(admin.substr(0, colon).c_str(), admin.substr(colon + 1).c_str(), &hints, &res) != 0 || res == nullptr) {
    std::fprintf(stderr, "ballast drill: cannot resolve %s\n", admin.c_str());
    return 1;
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected = fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!connected) {
    std::fprintf(stderr, "ballast drill: cannot connect to %s: %s\n", admin.c_str(), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 1;
  }
  JsonWriter w;
  w.beginObject().str("action", "simulate_down").str("pool", pool).str("backend", backend).str("duration", duration);
  w.str("by", "ballast drill").endObject();
  const std::string body = w.take();
  std::string request = "POST /drills HTTP/1.1\r\nHost: " + admin + "\r\nContent-Type: application/json\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  for (size_t off = 0; off < request.size();) {
    const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = answer.find("\r\n\r\n");
  const bool ok = answer.rfind("HTTP/1.1 200 ", 0) == 0;
  std::fputs(end == std::string::npos ? answer.c_str() : answer.c_str() + end + 4, ok ? stdout : stderr);
  return ok ? 0 : 1;
}

}  // namespace ballast
