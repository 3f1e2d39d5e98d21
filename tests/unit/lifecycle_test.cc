// Close ordering on a real libuv loop, with no Server: the proxy, upstream,
// health and admin objects built on a bare loop with their narrow contexts
// (ProxyContext, AdminControl), each scenario ending with every handle
// closed and uv_loop_close() == 0. Run under BALLAST_SANITIZE=1 these are
// also use-after-free and leak checks.
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <cerrno>
#include <memory>
#include <string>

#include "config/config_loader.h"
#include "health/health_checker.h"
#include "health/health_session.h"
#include "lb/admin/admin_control.h"
#include "lb/admin/admin_server.h"
#include "lb/base/listener.h"
#include "lb/proxy/access_log.h"
#include "lb/proxy/context.h"
#include "lb/proxy/downstream_connection.h"
#include "lb/stats/local_resources.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"
#include "tests/support/loop_harness.h"

using namespace ballast;
using ballast::test::RawListener;
using ballast::test::RawSocket;
using ballast::test::TestLoop;

namespace {

std::shared_ptr<Runtime> runtimeFor(const std::string& extra_pool_keys, const std::string& backend,
                                    const std::string& extra = "") {
  auto r = config::loadConfigString("listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\n"
                                    "log: { access: off, events: off }\n" +
                                    extra + "pools:\n  - name: web\n" + extra_pool_keys +
                                    "    backends:\n      - { address: \"" + backend + "\" }\n");
  INFO((r.errors.empty() ? std::string() : r.errors[0].format()));
  REQUIRE(r.ok());
  return Runtime::build(*r.config, 0);
}

// A proxy on a bare loop: a ProxyContext, and a listener accepting into it.
struct Proxy {
  TestLoop& loop;
  ProxyContext ctx;
  std::unique_ptr<Listener> listener;
  int closed_clients = 0;

  Proxy(TestLoop& l, std::shared_ptr<Runtime> rt) : loop(l), ctx(l.get()) {
    ctx.setRuntime(std::move(rt));
    ctx.on_client_closed = [this] { ++closed_clients; };
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = std::make_unique<Listener>(l.get(), ss, "127.0.0.1:0", "proxy",
                                          [this](Listener& x) { DownstreamConnection::accept(ctx, x.stream()); });
    REQUIRE(listener->bind() == 0);
  }
  uint16_t port() const {
    const std::string& a = listener->boundAddress();
    return static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
  }
  // Closes everything (as the server's stop() does); the test then
  // finishes the loop.
  void close() {
    closed = true;
    listener->close();
    ctx.clients().forEach([](DownstreamConnection* c) { c->close(); });
    ctx.upstream().closeAll();
    ctx.deferred().close();
  }
  ~Proxy() {
    if (!closed) {
      // A failed REQUIRE: shut down here, while the loop is still open.
      close();
      uv_run(loop.get(), UV_RUN_DEFAULT);
    }
    // Connections deleted after the queue's handle closed.
    while (ctx.deferred().runRemaining()) {
    }
  }
  bool closed = false;
};

std::string getRequest(const std::string& path) { return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"; }

// Runs the loop until `backend` has accepted ballast's connection into
// `upstream` and read a whole request head from it.
void acceptRequest(TestLoop& loop, RawListener& backend, RawSocket& upstream) {
  std::string seen;
  REQUIRE(loop.runUntil([&] {
    if (!upstream.open()) upstream = backend.accept();
    if (upstream.open()) upstream.readAvailable(seen);
    return seen.find("\r\n\r\n") != std::string::npos;
  }));
}

}  // namespace

TEST_CASE("loop: a client closing mid-request closes its connection and the upstream one", "[loop][lifecycle]") {
  TestLoop loop;
  RawListener backend;
  Proxy proxy(loop, runtimeFor("", backend.address()));

  SECTION("half a request head, then the client goes") {
    RawSocket client = RawSocket::connectTo(proxy.port());
    client.sendSome("GET /half HTTP/1.1\r\nHost: t\r\n");
    REQUIRE(loop.runUntil([&] { return proxy.ctx.clients().size() == 1; }));
    client.close();
    REQUIRE(loop.runUntil([&] { return proxy.ctx.clients().empty(); }));
    CHECK(proxy.closed_clients == 1);
  }
  SECTION("the request was forwarded and the backend answers after the client left") {
    RawSocket client = RawSocket::connectTo(proxy.port());
    client.sendSome(getRequest("/wait"));
    RawSocket upstream;
    acceptRequest(loop, backend, upstream);
    CHECK(proxy.ctx.upstream().live.size() == 1);
    client.close();
    // Without option abortonclose (HAProxy's default) a client's FIN does
    // not abort the request: the answer is written, fails to reach the
    // client, and the connection goes; nothing stays counted.
    upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    REQUIRE(loop.runUntil([&] { return proxy.ctx.clients().empty(); }));
    Backend& b = *proxy.ctx.runtime()->pools[0]->backends()[0];
    CHECK(b.activeRequests() == 0);
    CHECK(b.stats().connections_active == 0);
  }
  proxy.close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("loop: a backend closing while the client write is pending cuts the response, logged SD",
          "[loop][lifecycle]") {
  TestLoop loop;
  RawListener backend;
  Proxy proxy(loop, runtimeFor("", backend.address()));
  Pool& pool = *proxy.ctx.runtime()->pools[0];
  const uint64_t sd_before = pool.stats().terminated[terminationSlot(Termination{'S', 'D'})];

  // A client that does not read, with a small receive buffer.
  RawSocket client = RawSocket::connectTo(proxy.port(), 4096);
  client.sendSome(getRequest("/big"));
  RawSocket upstream;
  acceptRequest(loop, backend, upstream);
  // The backend announces 64 MiB and sends as much as fits until ballast's
  // write to the client is pending (it stops reading the backend) ...
  upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 67108864\r\n\r\n");
  const std::string chunk(64 * 1024, 'x');
  size_t sent = 0;
  REQUIRE(loop.runUntil([&] {
    sent += upstream.sendSome(chunk);
    return sent >= 4u * 1024 * 1024 || upstream.sendSome(chunk) == 0;
  }));
  REQUIRE(loop.runUntil([&] { return proxy.ctx.clients().size() == 1; }));
  // ... then closes: the response ends short while the client write waits.
  upstream.close();
  // Ballast must see the EOF: resume reading when the client drains some.
  std::string got;
  bool client_eof = false;
  REQUIRE(loop.runUntil(
      [&] {
        if (!client.readAvailable(got)) client_eof = true;
        return client_eof && proxy.ctx.clients().empty() && proxy.ctx.upstream().live.empty();
      },
      20000));
  CHECK(got.size() < 67108864u);
  CHECK(pool.stats().terminated[terminationSlot(Termination{'S', 'D'})] == sd_before + 1);
  CHECK(pool.backends()[0]->activeRequests() == 0);
  proxy.close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("loop: out of descriptors, an upstream connect is ballast's failure (503), not the backend's",
          "[loop][lifecycle][resources]") {
  TestLoop loop;
  RawListener backend;
  Proxy proxy(loop, runtimeFor("    outlier_detection: { consecutive_failures: 1 }\n", backend.address()));
  Backend& b = *proxy.ctx.runtime()->pools[0]->backends()[0];
  const uint64_t emfile_before = localResourceCounts()[static_cast<size_t>(ResourceSite::UpstreamConnect)][0];

  RawSocket client = RawSocket::connectTo(proxy.port());
  REQUIRE(loop.runUntil([&] { return proxy.ctx.clients().size() == 1; }));
  // One request served first: the same code then runs with no descriptor
  // left (and UBSan's type checks, which need a descriptor to inspect memory
  // they have not seen, have seen it).
  std::string got;
  {
    client.sendSome(getRequest("/warm-up"));
    RawSocket upstream;
    acceptRequest(loop, backend, upstream);
    upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    REQUIRE(loop.runUntil([&] {
      client.readAvailable(got);
      return got.find("\r\n\r\nok") != std::string::npos;
    }));
    got.clear();
  }
  // Use up every descriptor the process may have, then ask for a request.
  rlimit saved{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low{512, saved.rlim_max};
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> hogs;
  for (int fd; (fd = ::dup(0)) >= 0;) hogs.push_back(fd);
  REQUIRE(errno == EMFILE);
  client.sendSome(getRequest("/needs-a-backend"));
  const bool answered = loop.runUntil([&] {
    client.readAvailable(got);
    return got.find("\r\n\r\n") != std::string::npos && got.find("\n", got.find("\r\n\r\n") + 4) != std::string::npos;
  });
  for (int fd : hogs) ::close(fd);
  setrlimit(RLIMIT_NOFILE, &saved);
  REQUIRE(answered);
  INFO(got);
  CHECK(got.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(got.find("out of local resources") != std::string::npos);
  // Not the backend's failure: not ejected, no connect failure counted.
  CHECK_FALSE(b.ejected());
  CHECK(b.stats().connect_failures == 0);
  CHECK(localResourceCounts()[static_cast<size_t>(ResourceSite::UpstreamConnect)][0] == emfile_before + 1);
  // With descriptors back, the same connection is served by the backend.
  client.sendSome(getRequest("/again"));
  RawSocket upstream;
  acceptRequest(loop, backend, upstream);
  upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  got.clear();
  REQUIRE(loop.runUntil([&] {
    client.readAvailable(got);
    return got.find("\r\n\r\nok") != std::string::npos;
  }));
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
  proxy.close();
  CHECK(loop.finish() == 0);
}

TEST_CASE("loop: a probe timing out while its checker is removed by a reload", "[loop][lifecycle][health]") {
  TestLoop loop;
  // Accepts (the kernel backlog does) and never answers: every probe times out.
  RawListener silent;
  auto rt = runtimeFor("    health_check: { interval: 200ms, timeout: 50ms, fall: 1 }\n", silent.address());
  Pool& pool = *rt->pools[0];
  int results = 0;
  int timeouts = 0;
  std::unique_ptr<health::HealthChecker> checker;
  auto make = [&] {
    checker = std::make_unique<health::HealthChecker>(
        loop.get(), pool.name(), pool.backends(), *pool.config().health_check,
        [&](Backend& b, const ProbeResult& r) {
          ++results;
          if (!r.passed && std::string(r.reason).find("timeout") != std::string::npos) ++timeouts;
          pool.onProbe(b, r, uv_now(loop.get()));
          // The reload: the checker (and its sessions) go away from inside
          // the callback of the probe result they published.
          checker->close();
          checker.reset();
        });
    checker->start();
  };

  SECTION("removed from inside its own timeout result") {
    make();
    REQUIRE(loop.runUntil([&] { return results == 1; }));
    CHECK(timeouts == 1);
    CHECK(checker == nullptr);
  }
  SECTION("removed while the probe is in flight, just before its timeout") {
    make();
    uv_timer_t reload;
    uv_timer_init(loop.get(), &reload);
    reload.data = &checker;
    uv_timer_start(
        &reload,
        [](uv_timer_t* t) {
          auto& c = *static_cast<std::unique_ptr<health::HealthChecker>*>(t->data);
          c->close();
          c.reset();
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        },
        49, 0);
    REQUIRE(loop.runUntil([&] { return checker == nullptr; }));
    // Nothing is published after close.
    loop.runUntil([] { return false; }, 120);
    CHECK(results == 0);
  }
  // The backend was not marked healthy by a result that never came, and a
  // closed checker leaves nothing behind.
  CHECK(loop.finish() == 0);
}

TEST_CASE("loop: a probe started right after a long step of the loop is not failed by the stale clock",
          "[loop][lifecycle][health]") {
  TestLoop loop;
  RawListener backend;
  auto rt = runtimeFor("    health_check: { interval: 5s, timeout: 100ms, fall: 1 }\n", backend.address());
  Pool& pool = *rt->pools[0];
  std::vector<ProbeResult> results;
  std::vector<std::string> reasons;
  std::unique_ptr<health::HealthChecker> checker;
  // A step of the loop that takes 300 ms (a slow reload, say), at the end of
  // which the probes start: the loop's clock is 300 ms behind when their
  // timeout timers are armed.
  uv_timer_t slow;
  uv_timer_init(loop.get(), &slow);
  struct Ctx {
    std::unique_ptr<health::HealthChecker>* checker;
    std::function<void()> start;
  } ctx{&checker, [&] {
          checker = std::make_unique<health::HealthChecker>(
              loop.get(), pool.name(), pool.backends(), *pool.config().health_check,
              [&](Backend&, const ProbeResult& r) {
                results.push_back(r);
                reasons.emplace_back(r.reason);
              });
          checker->start();
        }};
  slow.data = &ctx;
  uv_timer_start(
      &slow,
      [](uv_timer_t* t) {
        const uint64_t until = uv_hrtime() + 300'000'000;
        while (uv_hrtime() < until) {
        }
        static_cast<Ctx*>(t->data)->start();
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      0, 0);
  // The backend answers the probe promptly (well within 100 ms of real time).
  RawSocket conn;
  std::string seen;
  REQUIRE(loop.runUntil([&] {
    if (!conn.open()) conn = backend.accept();
    if (conn.open() && seen.find("\r\n\r\n") == std::string::npos) {
      conn.readAvailable(seen);
      if (seen.find("\r\n\r\n") != std::string::npos) conn.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
    return !results.empty();
  }));
  INFO("first probe: " << reasons[0]);
  CHECK(results[0].passed);
  checker->close();
  checker.reset();
  CHECK(loop.finish() == 0);
}

namespace {

// An AdminControl with nothing behind it but a runtime; reload() does what
// the test asks of the admin server the request arrived on.
class FakeControl final : public AdminControl {
 public:
  FakeControl(uv_loop_t* loop, std::shared_ptr<Runtime> rt) : loop_(loop), rt_(std::move(rt)) {}
  uv_loop_t* loop() override { return loop_; }
  std::shared_ptr<Runtime> runtime() const override { return rt_; }
  const std::vector<std::unique_ptr<health::HealthChecker>>& checkers() const override { return checkers_; }
  std::vector<ListenerInfo> listeners() const override { return {}; }
  bool ready() const override { return true; }
  bool stopping() const override { return false; }
  double startTime() const override { return 0; }
  uint64_t startedMs() const override { return 0; }
  // Answers at once (the server answers later, on the loop: same contract).
  void reload(std::string_view, ReloadDone done) override {
    ++reloads;
    if (on_reload) on_reload();
    ReloadResult r;
    r.ok = true;
    if (done) done(r);
  }
  std::function<void()> on_reload;
  int reloads = 0;

 private:
  uv_loop_t* loop_;
  std::shared_ptr<Runtime> rt_;
  std::vector<std::unique_ptr<health::HealthChecker>> checkers_;
};

}  // namespace

TEST_CASE("loop: an admin server closed or retired while it is replying", "[loop][lifecycle][admin]") {
  TestLoop loop;
  FakeControl control(loop.get(), runtimeFor("", "127.0.0.1:1"));
  config::Address addr;
  auto* in = reinterpret_cast<sockaddr_in*>(&addr.addr);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.text = "127.0.0.1:0";
  auto admin = std::make_unique<AdminServer>(control, addr);
  REQUIRE(admin->bind() == 0);
  const std::string& bound = admin->boundAddress();
  const auto port = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
  const std::string post = "POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";

  SECTION("closed: no answer, no second close") {
    // The regression: the reload closed the server (and this connection),
    // then the answer was sent on the closed connection -> uv_close twice.
    control.on_reload = [&] { admin->close(); };
    RawSocket client = RawSocket::connectTo(port);
    client.sendSome(post);
    std::string got;
    bool eof = false;
    REQUIRE(loop.runUntil([&] {
      if (!client.readAvailable(got)) eof = true;
      return eof && admin->idle();
    }));
    CHECK(control.reloads == 1);
    CHECK(got.empty());
  }
  SECTION("retired: the request in flight is answered, the idle reader is closed") {
    RawSocket idle_reader = RawSocket::connectTo(port);
    idle_reader.sendSome("GET /status HTTP/1.1\r\n");
    control.on_reload = [&] { admin->retire(); };
    RawSocket client = RawSocket::connectTo(port);
    // Let the idle reader be accepted first.
    loop.runUntil([] { return false; }, 20);
    client.sendSome(post);
    std::string got, idle_got;
    bool eof = false, idle_eof = false;
    REQUIRE(loop.runUntil([&] {
      if (!client.readAvailable(got)) eof = true;
      if (!idle_reader.readAvailable(idle_got)) idle_eof = true;
      return eof && idle_eof && admin->idle();
    }));
    CHECK(control.reloads == 1);
    CHECK(got.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(got.find("\"success\":true") != std::string::npos);
    CHECK(idle_got.empty());
  }
  admin->close();
  REQUIRE(loop.runUntil([&] { return admin->idle(); }));
  admin.reset();
  CHECK(loop.finish() == 0);
}

TEST_CASE("loop: a pooled connection with bytes nobody asked for, or closed, is seen before reuse", "[loop][lifecycle]") {
  // Found by the response fuzz target: a backend writes an unsolicited
  // response on an idle pooled connection; a request that takes the
  // connection in the same loop turn, before the loop has read those bytes,
  // would read them as its own response. ProxyRequest::connectTo skips and
  // closes such a connection (idleInputPending(): a non-blocking peek).
  TestLoop loop;
  RawListener backend;
  Proxy proxy(loop, runtimeFor("", backend.address()));
  RawSocket client = RawSocket::connectTo(proxy.port());
  Backend& b = *proxy.ctx.runtime()->pools[0]->backends()[0];
  RawSocket upstream;
  auto exchange = [&](const std::string& path) {
    client.sendSome(getRequest(path));
    if (!upstream.open()) {
      acceptRequest(loop, backend, upstream);
    } else {
      std::string seen;
      REQUIRE(loop.runUntil([&] {
        upstream.readAvailable(seen);
        return seen.find("\r\n\r\n") != std::string::npos;
      }));
    }
    upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab");
    std::string got;
    REQUIRE(loop.runUntil([&] {
      client.readAvailable(got);
      return got.find("\r\n\r\nab") != std::string::npos && b.idle().size() == 1;
    }));
  };

  SECTION("clean: reusable") {
    exchange("/first");
    UpstreamConnection* c = b.idle().acquire();
    REQUIRE(c != nullptr);
    CHECK_FALSE(c->idleInputPending());
    c->close();
  }
  SECTION("stale bytes not yet read by the loop") {
    exchange("/first");
    upstream.sendSome("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
    UpstreamConnection* c = b.idle().acquire();
    REQUIRE(c != nullptr);
    CHECK(c->idleInputPending());
    c->close();
  }
  SECTION("closed by the backend, not yet seen by the loop") {
    exchange("/first");
    upstream.close();
    UpstreamConnection* c = b.idle().acquire();
    REQUIRE(c != nullptr);
    CHECK(c->idleInputPending());
    c->close();
  }
  REQUIRE(loop.runUntil([&] { return proxy.ctx.upstream().live.empty(); }));
}

TEST_CASE("loop: HealthChecker::update probes added backends, closes removed ones, leaves kept ones alone",
          "[loop][lifecycle][health]") {
  TestLoop loop;
  // TCP checks against listeners whose kernel backlog accepts: every probe passes.
  RawListener a, b, c;
  const auto runtime = [](const std::vector<std::string>& addresses, const Runtime* previous) {
    std::string y = "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nlog: { access: off, events: off }\n"
                    "pools:\n  - name: web\n    health_check: { type: tcp, interval: 30s, timeout: 1s, rise: 1 }\n"
                    "    backends:\n";
    for (const auto& x : addresses) y += "      - { address: \"" + x + "\" }\n";
    auto r = config::loadConfigString(y);
    INFO((r.errors.empty() ? std::string() : r.errors[0].format()));
    REQUIRE(r.ok());
    return Runtime::build(*r.config, 0, previous);
  };
  auto rt1 = runtime({a.address(), b.address()}, nullptr);
  auto rt2 = runtime({a.address(), c.address()}, rt1.get());
  const BackendPtr& kept = rt1->pools[0]->backends()[0];
  REQUIRE(rt2->pools[0]->backends()[0] == kept);  // carried over: the same object

  std::vector<std::string> probed;  // backend name per published result
  health::HealthChecker checker(loop.get(), "web", rt1->pools[0]->backends(), *rt1->pools[0]->config().health_check,
                                [&](Backend& x, const ProbeResult& r) {
                                  probed.push_back(x.name());
                                  if (r.changed) x.setHealth(r.status);
                                });
  checker.start();
  REQUIRE(loop.runUntil([&] { return probed.size() == 2; }));
  REQUIRE(checker.firstRoundDone());
  const health::HealthSession* kept_session = checker.sessionFor(*kept);
  REQUIRE(kept_session != nullptr);

  const auto u = checker.update(rt2->pools[0]->backends());
  CHECK(u.added == 1);
  CHECK(u.removed == 1);
  CHECK(checker.sessions().size() == 2);
  CHECK(checker.sessionFor(*kept) == kept_session);  // the same session, same schedule
  CHECK(checker.firstRoundDone());                   // an added backend does not undo readiness
  REQUIRE(loop.runUntil([&] { return probed.size() == 3; }));
  CHECK(probed.back() == c.address());  // only the added backend was probed
  CHECK(kept_session->probes() == 1);
  // Nothing more within the interval.
  loop.runUntil([] { return false; }, 100);
  CHECK(probed.size() == 3);
  checker.close();
  CHECK(loop.finish() == 0);
}
