// Admin request router: request bytes -> the admin's answer, on a real
// AdminServer and loop with a test double for the control interface (it
// counts reloads; the backends' admin states are the other side effect).
// Input: one flags byte (bit 0: the admin has a token and protects reads),
// then the bytes one client sends on one connection.
//
// Asserts: the client gets nothing or one well-formed answer that closes
// the connection (no body after HEAD); an unknown path is 404, a known path
// with a method it does not take is 405 with Allow, a query parameter is
// 400 (after the method, origin and token checks); a reload or a backend
// state change happens only for a whole, authorised POST to that endpoint,
// answered 200, and nothing changes with any other answer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/config_loader.h"
#include "lb/admin/admin_control.h"
#include "lb/admin/admin_server.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"
#include "tests/fuzz/http_reference.h"
#include "tests/fuzz/proxy_harness.h"

using namespace ballast;
using namespace ballast::fuzz;

namespace {

class FakeControl final : public AdminControl {
 public:
  FakeControl(uv_loop_t* loop, std::shared_ptr<Runtime> rt) : loop_(loop), rt_(std::move(rt)) {}
  uv_loop_t* loop() override { return loop_; }
  std::shared_ptr<Runtime> runtime() const override { return rt_; }
  const std::vector<std::unique_ptr<health::HealthChecker>>& checkers() const override { return checkers_; }
  std::vector<ListenerInfo> listeners() const override { return {{"127.0.0.1:1", "127.0.0.1:1"}}; }
  bool ready() const override { return true; }
  bool stopping() const override { return false; }
  double startTime() const override { return 0; }
  uint64_t startedMs() const override { return 0; }
  void reload(std::string_view, ReloadDone done) override {
    ++reloads;
    ReloadResult r;
    r.ok = true;
    if (done) done(r);
  }
  int reloads = 0;

 private:
  uv_loop_t* loop_;
  std::shared_ptr<Runtime> rt_;
  std::vector<std::unique_ptr<health::HealthChecker>> checkers_;
};

struct Admin {
  uv_loop_t loop;
  std::unique_ptr<FakeControl> control;
  std::unique_ptr<AdminServer> server;
  uint16_t port = 0;
  bool token = false;

  explicit Admin(bool with_token) : token(with_token) {
    uv_loop_init(&loop);
    const std::string admin = with_token ? "admin: { listen: 127.0.0.1:0, token: s3cret, protect_reads: true }\n"
                                         : "admin: { listen: 127.0.0.1:0 }\n";
    auto r = config::loadConfigString("listen: 127.0.0.1:0\n" + admin +
                                      "log: { access: off, events: off }\n"
                                      "pools:\n  - name: web\n    backends:\n"
                                      "      - { address: \"127.0.0.1:1\" }\n      - { address: \"127.0.0.1:2\" }\n");
    if (!r.ok()) {
      std::fprintf(stderr, "admin fuzzer config: %s\n", r.errors[0].format().c_str());
      std::abort();
    }
    control = std::make_unique<FakeControl>(&loop, Runtime::build(*r.config, 0));
    config::Address addr;
    auto* in = reinterpret_cast<sockaddr_in*>(&addr.addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.text = "127.0.0.1:0";
    server = std::make_unique<AdminServer>(*control, addr);
    if (server->bind() != 0) std::abort();
    const std::string& b = server->boundAddress();
    port = static_cast<uint16_t>(std::stoi(b.substr(b.rfind(':') + 1)));
  }

  std::string states() const {
    std::string s;
    for (const auto& pool : control->runtime()->pools) {
      for (const auto& b : pool->backends()) s += toString(b->adminState()) + std::string(";");
    }
    return s;
  }
  void resetStates() {
    for (const auto& pool : control->runtime()->pools) {
      for (const auto& b : pool->backends()) b->setAdminState(AdminState::Enabled);
    }
  }

  // One connection: the bytes, the write side shut, everything the admin
  // answers until it closes.
  std::string exchange(const std::string& bytes) {
    const int fd = connectLoopback(port);
    size_t sent = 0;
    bool shut = false;
    std::string got;
    auto last = std::chrono::steady_clock::now();
    for (;;) {
      bool progress = false;
      if (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<size_t>(n);
          progress = true;
        }
      } else if (!shut) {
        ::shutdown(fd, SHUT_WR);
        shut = true;
      }
      uv_run(&loop, UV_RUN_NOWAIT);
      char buf[65536];
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (progress) {
        last = now;
      } else if (now - last > std::chrono::seconds(5)) {
        violation("the admin neither answered nor closed within 5 s", bytes);
      } else {
        ::usleep(50);
      }
    }
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
    // The connection closes itself on the EOF it has read or will read.
    for (int i = 0; i < 4; ++i) uv_run(&loop, UV_RUN_NOWAIT);
    return got;
  }
};

bool isKnownReadPath(std::string_view p) {
  return p == "/" || p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/status";
}

// The endpoints added after the first version of this target (drills,
// config history and rollback, request explanations, incidents and
// POST /incidents/{id}/ack, which the FakeControl answers 404: it has no
// incident tracker).
bool isOtherEndpoint(std::string_view path) {
  for (std::string_view p : {"/drills", "/config/rollback", "/config/history", "/incidents"}) {
    if (path == p) return true;
  }
  for (std::string_view p : {"/drills/", "/config/history/", "/requests/", "/incidents/"}) {
    if (path.size() > p.size() && path.substr(0, p.size()) == p) return true;
  }
  return false;
}

// "/pools/{pool}/backends/{address}/{drain|disable|enable}", as the router shapes it.
bool isBackendActionPath(std::string_view p) {
  constexpr std::string_view kPools = "/pools/";
  if (p.substr(0, kPools.size()) != kPools) return false;
  p.remove_prefix(kPools.size());
  std::vector<std::string_view> seg;
  for (;;) {
    const size_t slash = p.find('/');
    seg.push_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return seg.size() == 4 && !seg[0].empty() && seg[1] == "backends" && !seg[2].empty() &&
         (seg[3] == "drain" || seg[3] == "disable" || seg[3] == "enable");
}

// RFC 9110 11.1: the scheme is case-insensitive, then one or more spaces
// or tabs, then the token (surrounding whitespace is not part of it).
bool bearerIs(std::string_view v, std::string_view token) {
  if (v.size() < 7 || !iequal(v.substr(0, 6), "bearer") || (v[6] != ' ' && v[6] != '\t')) return false;
  v.remove_prefix(6);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v == token;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static Admin* with_token = new Admin(true);
  static Admin* open = new Admin(false);
  Admin& admin = (data[0] & 1) ? *with_token : *open;
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  const int reloads = admin.control->reloads;
  const std::string states = admin.states();
  const std::string got = admin.exchange(bytes);
  const bool reloaded = admin.control->reloads != reloads;
  const bool changed = admin.states() != states;
  admin.resetStates();

  auto fail = [&](const std::string& what) {
    violation(what + "\n---- admin answered:\n" + printable(got), bytes);
  };
  const ParsedStream req = parseRequests(bytes, true);
  const bool whole = !req.messages.empty() && req.messages[0].complete;
  const int method = whole ? req.messages[0].method : HTTP_GET;
  ParsedStream ans = parseResponses(got, {method}, true);
  // A request refused before it was read whole: whether the admin knew it
  // was HEAD (and sent no body) depends on how far it got.
  if (!whole && !ans.clean()) ans = parseResponses(got, {HTTP_HEAD}, true);
  if (!ans.clean()) {
    fail(std::string("not a well-formed answer (") + llhttp_errno_name(ans.error) + ": " + ans.reason + ")");
  }
  if (ans.messages.size() > 1) fail("more than one answer on one connection");
  if ((reloaded || changed) && ans.messages.empty()) fail("a side effect without an answer");
  if (ans.messages.empty()) return 0;
  const HttpMessage& a = ans.messages[0];
  std::string conn;
  if (!a.get("connection", &conn) || conn != "close") fail("the answer does not say Connection: close");
  if ((reloaded || changed) && a.status != 200) fail("side effect with status " + std::to_string(a.status));
  if (!whole) {
    // A request that was not read whole gets 400, 413 or 431, nothing else.
    if (a.status != 400 && a.status != 413 && a.status != 431) fail("an unfinished request answered " + std::to_string(a.status));
    if (reloaded || changed) fail("side effect of an unfinished request");
    return 0;
  }
  if (a.status == 431 || a.status == 413) {
    // The admin's own size limits (8 KiB of head, 64 KiB of body). The
    // head is measured as its fields and values plus 4 bytes a line, which
    // can pass the real size (a line "a:b" is 5 bytes, counted 6), never
    // double it.
    if (bytes.size() * 2 <= 8 * 1024) fail("a size limit answer to a request under 4 KiB");
    if (reloaded || changed) fail("side effect of a request over a size limit");
    return 0;
  }
  const HttpMessage& m = req.messages[0];
  std::string_view path = m.url;
  std::string_view query;
  if (const size_t q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  const bool get = m.method == HTTP_GET || m.method == HTTP_HEAD;
  const bool post = m.method == HTTP_POST;
  std::string auth;
  m.get("authorization", &auth);
  const bool authorised = !admin.token || bearerIs(auth, "s3cret");
  std::string allow;
  const bool has_allow = a.get("allow", &allow);
  auto expectOneOf = [&](std::initializer_list<int> statuses, const char* why) {
    for (int s : statuses) {
      if (a.status == s) return;
    }
    fail(std::string(why) + ", answered " + std::to_string(a.status));
  };
  if (isKnownReadPath(path)) {
    if (!get) {
      expectOneOf({405}, "a read endpoint with another method");
      if (!has_allow || allow != "GET, HEAD") fail("405 without Allow: GET, HEAD");
    } else if (!query.empty()) {
      expectOneOf({400}, "a read endpoint with a query");
    } else {
      expectOneOf({200, 401}, "a read endpoint");
      if (a.status == 401 && (!admin.token || (path != "/status" && path != "/metrics") || authorised)) {
        fail("401 where no token is needed or the right one was sent");
      }
    }
    if (reloaded || changed) fail("a read endpoint changed something");
  } else if (path == "/reload" || isBackendActionPath(path)) {
    if (!post) {
      expectOneOf({405}, "an action endpoint with another method than POST");
      if (!has_allow || allow != "POST") fail("405 without Allow: POST");
    } else if (!authorised) {
      expectOneOf({401, 403}, "an action without the token");
    } else {
      // /reload?dry_run=1 answers 422 when the test double has no dry run;
      // drain/disable take for, reason and by (anything else is a 400).
      expectOneOf({200, 400, 403, 404, 422}, "an authorised action");
      if (a.status == 200 && path == "/reload" && query.empty() && !reloaded) fail("200 for /reload without a reload");
    }
    // A dry run (or any /reload with a query) never reloads.
    if (reloaded && (path != "/reload" || !query.empty())) fail("a reload from another endpoint or from a dry run");
    if (changed && path == "/reload") fail("/reload changed a backend");
    if ((reloaded || changed) && !authorised) fail("a side effect without the token");
  } else if (isOtherEndpoint(path)) {
    // Drills, config history and rollback, request explanations, incidents:
    // answered (or refused) without a reload or a backend state change.
    expectOneOf({200, 400, 401, 403, 404, 405, 409}, "another admin endpoint");
    if (reloaded || changed) fail("an endpoint other than /reload and the backend actions changed something");
  } else {
    expectOneOf({404}, "an unknown path");
    if (reloaded || changed) fail("an unknown path changed something");
  }
  return 0;
}
