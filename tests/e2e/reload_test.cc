// Zero-downtime reload end to end: SIGHUP and POST /reload under load lose no
// request, a failed reload leaves the running config untouched (and says
// why), kept backends keep their health and admin state, kept listeners keep
// their socket, new ones answer, removed ones refuse, and a removed
// backend's metric series go away.
//
// Every reload is synchronised on its config_reloaded (or
// config_reload_failed) event: the test waits for the N-th one before the
// next step, so every reload counted really happened.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void replaceConfig(const Ballast& lb, const std::string& yaml) { ballast::test::replaceConfig(lb.configPath(), yaml); }

// Rewrites the config, sends SIGHUP and waits for the next config_reloaded
// event (the (done+1)-th); returns it. Throws (failing the test) when it does
// not come.
JsonObject reloadOk(Ballast& lb, const std::string& yaml, Ms timeout = Ms(5000)) {
  const size_t done = countEvents(lb, "config_reloaded");
  replaceConfig(lb, yaml);
  lb.process().signal(SIGHUP);
  return waitEvent(lb, "config_reloaded", {}, timeout, done);
}

// Same, but the reload must fail: waits for the next config_reload_failed.
JsonObject reloadFails(Ballast& lb, const std::string& yaml) {
  const size_t done = countEvents(lb, "config_reload_failed");
  replaceConfig(lb, yaml);
  lb.process().signal(SIGHUP);
  return waitEvent(lb, "config_reload_failed", {}, Ms(5000), done);
}

// One admin request on a fresh connection.
Response admin(const Ballast& lb, const std::string& method, const std::string& path) {
  ReadOptions opts;
  opts.method = method;
  return fetch(lb.adminPort(), request(method, path, {}, "", "127.0.0.1:" + std::to_string(lb.adminPort())), opts);
}

std::string metrics(const Ballast& lb) {
  Response r = admin(lb, "GET", "/metrics");
  REQUIRE(r.status == 200);
  return r.body;
}

// The value of the sample line starting with `series` (name and labels
// exactly as printed), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
  for (const auto& line : splitLines(text, true)) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Lines of /metrics of family `family` that carry backend="ADDR".
std::vector<std::string> backendSeries(const std::string& text, const std::string& family,
                                       const std::string& address) {
  std::vector<std::string> out;
  for (const auto& line : splitLines(text, true)) {
    if (line.compare(0, family.size() + 1, family + "{") == 0 && contains(line, "backend=\"" + address + "\""))
      out.push_back(line);
  }
  return out;
}

// The backend object of /status with this address, as text (from its
// "address" key to the next one), or "" when absent.
std::string statusBackend(const std::string& status_json, const std::string& address) {
  const std::string key = "\"address\":\"" + address + "\"";
  size_t at = status_json.find(key);
  if (at == std::string::npos) return "";
  size_t next = status_json.find("\"address\":", at + key.size());
  return status_json.substr(at, next == std::string::npos ? std::string::npos : next - at);
}

size_t countOf(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

// Two free ports and two configs in front of `backend`: `one` listens on
// p1, `two` on p1 and p2.
struct TwoListeners {
  uint16_t p1;
  uint16_t p2;
  std::string one;
  std::string two;
};
TwoListeners twoListenerConfigs(const std::string& backend) {
  const uint16_t p1 = freePort();
  uint16_t p2 = freePort();
  while (p2 == p1) p2 = freePort();
  const std::string one = configYaml({PoolSpec{"web", {{backend, 1}}}}, "", "127.0.0.1:" + std::to_string(p1));
  const std::string two = configYaml({PoolSpec{"web", {{backend, 1}}}}, "",
                                     "[127.0.0.1:" + std::to_string(p1) + ", 127.0.0.1:" + std::to_string(p2) + "]");
  return {p1, p2, one, two};
}

// A socket listening on 127.0.0.1:0, so nobody else can bind its port (even
// with SO_REUSEADDR).
class BusyPort {
 public:
  BusyPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      throw std::runtime_error("BusyPort: bind/listen failed");
    port_ = ntohs(sa.sin_port);
  }
  ~BusyPort() { ::close(fd_); }
  BusyPort(const BusyPort&) = delete;
  BusyPort& operator=(const BusyPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace

TEST_CASE("100 SIGHUP reloads adding and removing a backend under load fail no request", "[reload]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  const std::string ab = webConfig({a.address(), b.address()});
  const std::string abc = webConfig({a.address(), b.address(), c.address()});
  Ballast lb(dir, ab);

  Load load(lb.port(), 2, 2);
  REQUIRE(pollUntil([&] { return load.total() >= 50; }, 5000ms));

  // Each reload runs `ballast --check` in a child: under AddressSanitizer
  // that child alone takes half a second, so fewer reloads (an even number:
  // the last one removes c).
  constexpr int kReloads = kSanitizerBuild ? 40 : 100;
  for (int i = 1; i <= kReloads; ++i) {
    const bool with_c = i % 2 == 1;
    JsonObject ev = reloadOk(lb, with_c ? abc : ab);
    INFO("reload " << i);
    CHECK(jsonText(ev, "trigger") == "SIGHUP");
    CHECK(jsonText(ev, "backends_added") == (with_c ? "1" : "0"));
    CHECK(jsonText(ev, "backends_removed") == (with_c ? "0" : "1"));
    CHECK(jsonText(ev, "backends_kept") == "2");
    // Give c a moment of traffic while it is in (without a fixed sleep: a
    // few more requests through the load).
    const uint64_t t = load.total();
    REQUIRE(pollUntil([&] { return load.total() >= t + 4; }, 5000ms));
  }
  // The last reload (an even one) removed c: requests sent from now on must
  // never reach it.
  load.mark();
  const uint64_t at_mark = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at_mark + 200; }, 10000ms));
  load.stop();

  CHECK(countEvents(lb, "config_reloaded") == kReloads);
  CHECK(countEvents(lb, "config_reload_failed") == 0);
  const auto failures = load.failures();
  const auto by = load.byBackend();
  const auto after = load.byBackendAfterMark();
  auto n = [](const std::map<std::string, uint64_t>& m, const std::string& k) { return m.count(k) ? m.at(k) : 0; };
  INFO("requests: " << load.total() << ", reloads: " << kReloads << ", answered by a/b/c: " << n(by, "a") << "/"
                    << n(by, "b") << "/" << n(by, "c") << "; after the last reload a/b/c: " << n(after, "a") << "/"
                    << n(after, "b") << "/" << n(after, "c"));
  INFO("first failures:\n" << firstFailures(failures));
  WARN("reload under load: " << load.total() << " requests, " << kReloads << " reloads, " << failures.size()
                             << " failed");
  CHECK(failures.empty());
  CHECK(by.count("c") == 1);  // c took traffic while it was in
  CHECK(after.count("c") == 0);
  CHECK(after.count("a") == 1);
  CHECK(after.count("b") == 1);

  // And from a fresh client, after the last reload: only a and b.
  auto seen = backendsOf(lb.port(), 20, "after");
  CHECK(countOf(seen, "c") == 0);
  CHECK(countOf(seen, "a") == 10);
  CHECK(countOf(seen, "b") == 10);
}

TEST_CASE("a failed reload (syntax, unknown key, bad address, busy port) changes nothing and fails no request",
          "[reload]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string good = webConfig({a.address(), b.address()});
  Ballast lb(dir, good);
  const std::string failure_series = "ballast_config_reloads_total{result=\"failure\"}";
  const std::string success_series = "ballast_config_reloads_total{result=\"success\"}";
  const double failures_before = sample(metrics(lb), failure_series);
  const double successes_before = sample(metrics(lb), success_series);
  REQUIRE(failures_before == 0);

  BusyPort busy;
  struct Bad {
    std::string what;
    std::string yaml;
    std::string expect;  // part of the error text
  };
  std::string unknown_key = good;
  unknown_key.replace(unknown_key.find(", weight: 1"), 11, ", wieght: 1");
  std::string bad_address = good;
  bad_address.replace(bad_address.find(a.address()), a.address().size(), "127.0.0.1:notaport");
  const std::vector<Bad> bads = {
      {"YAML syntax error", good + "limits: { max_connections: [1, \n", lb.configPath()},
      {"unknown key", unknown_key, "pools[0].backends[0].wieght"},
      {"bad address", bad_address, "pools[0].backends[0].address"},
      {"listen port in use",
       configYaml({PoolSpec{"web", {{a.address(), 1}, {b.address(), 1}}}}, "",
                  "[127.0.0.1:0, 127.0.0.1:" + std::to_string(busy.port()) + "]"),
       "cannot bind"},
  };

  Load load(lb.port(), 2, 2);
  REQUIRE(pollUntil([&] { return load.total() >= 50; }, 5000ms));

  int failed_reloads = 0;
  for (const auto& bad : bads) {
    INFO(bad.what);
    JsonObject ev = reloadFails(lb, bad.yaml);
    ++failed_reloads;
    INFO("event errors: " << jsonText(ev, "errors"));
    CHECK(jsonText(ev, "trigger") == "SIGHUP");
    CHECK(jsonText(ev, "file") == lb.configPath());
    CHECK(std::stoi(jsonText(ev, "error_count")) >= 1);
    CHECK(contains(jsonText(ev, "errors"), bad.expect));
    CHECK(contains(jsonText(ev, "result"), "unchanged"));
    const uint64_t t = load.total();
    REQUIRE(pollUntil([&] { return load.total() >= t + 20; }, 5000ms));
  }
  // The busy port is still ours, not half-taken by ballast.
  CHECK(tryConnect(busy.port()) == 0);

  // POST /reload with a bad file: 422 and the errors as JSON.
  replaceConfig(lb, unknown_key);
  Response r = admin(lb, "POST", "/reload");
  ++failed_reloads;
  INFO(r.describe());
  CHECK(r.status == 422);
  CHECK(contains(r.headerOr("Content-Type"), "application/json"));
  CHECK(contains(r.body, "\"success\":false"));
  CHECK(contains(r.body, "\"errors\":[\""));
  CHECK(contains(r.body, "pools[0].backends[0].wieght"));
  JsonObject ev = waitEvent(lb, "config_reload_failed", {}, Ms(5000), failed_reloads - 1);
  CHECK(jsonText(ev, "trigger") == "admin");

  const uint64_t t = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= t + 50; }, 5000ms));
  load.stop();

  const auto failures = load.failures();
  INFO("requests: " << load.total() << "; first failures:\n" << firstFailures(failures));
  CHECK(failures.empty());
  CHECK(countEvents(lb, "config_reloaded") == 0);
  const std::string m = metrics(lb);
  CHECK(sample(m, failure_series) == failures_before + failed_reloads);
  CHECK(sample(m, success_series) == successes_before);

  // Old behaviour unchanged: a and b in turn.
  auto seen = backendsOf(lb.port(), 10, "after");
  CHECK(countOf(seen, "a") == 5);
  CHECK(countOf(seen, "b") == 5);

  // POST /reload with a good file: 200, success, no errors.
  replaceConfig(lb, good);
  Response ok = admin(lb, "POST", "/reload");
  INFO(ok.describe());
  CHECK(ok.status == 200);
  CHECK(contains(ok.body, "{\"success\":true,\"errors\":[]}"));
  JsonObject done = waitEvent(lb, "config_reloaded");
  CHECK(jsonText(done, "trigger") == "admin");
  CHECK(sample(metrics(lb), success_series) == successes_before + 1);
}

TEST_CASE("a backend unhealthy before a reload stays out of rotation after it", "[reload][health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  // initial: healthy, so that a backend rebuilt from scratch by the reload
  // would take traffic at once (and fail this test) until fall probes fail.
  const std::string hc = "health_check: { interval: 500ms, timeout: 200ms, rise: 2, fall: 2, initial: healthy }";
  demoControl(b.port(), "health_status=500");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {hc}));
  waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), Ms(5000));
  REQUIRE(countOf(backendsOf(lb.port(), 10, "before"), "b") == 0);

  JsonObject ev = reloadOk(lb, failoverConfig({{a.address()}, {b.address()}, {c.address()}}, {hc}));
  CHECK(jsonText(ev, "backends_kept") == "2");
  CHECK(jsonText(ev, "backends_added") == "1");
  auto seen = backendsOf(lb.port(), 50, "after");
  CHECK(countOf(seen, "b") == 0);
  CHECK(countOf(seen, "a") == 25);
  CHECK(countOf(seen, "c") == 25);

  Response st = admin(lb, "GET", "/status");
  REQUIRE(st.status == 200);
  std::string sb = statusBackend(st.body, b.address());
  INFO(sb);
  CHECK(contains(sb, "\"state\":\"unhealthy\""));
  // No event put b back to healthy or unknown.
  CHECK(countEvents(lb, "backend_state", backendState(b.address(), "healthy")) == 0);
  CHECK(countEvents(lb, "backend_state", backendState(b.address(), "unknown")) == 0);
}

TEST_CASE("a backend drained through the admin API stays drained across a reload", "[reload][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  Ballast lb(dir, webConfig({a.address(), b.address()}));
  Response d = admin(lb, "POST", "/pools/web/backends/" + b.address() + "/drain");
  INFO(d.describe());
  REQUIRE(d.status == 200);
  REQUIRE(pollUntil(
      [&] { return contains(statusBackend(admin(lb, "GET", "/status").body, b.address()), "\"state\":\"drained\""); },
      5000ms));
  REQUIRE(countOf(backendsOf(lb.port(), 10, "before"), "b") == 0);

  JsonObject ev = reloadOk(lb, webConfig({a.address(), b.address(), c.address()}));
  CHECK(jsonText(ev, "backends_kept") == "2");
  auto seen = backendsOf(lb.port(), 30, "after");
  CHECK(countOf(seen, "b") == 0);
  CHECK(countOf(seen, "a") == 15);
  CHECK(countOf(seen, "c") == 15);
  std::string sb = statusBackend(admin(lb, "GET", "/status").body, b.address());
  INFO(sb);
  CHECK(contains(sb, "\"state\":\"drained\""));
}

TEST_CASE("listeners across reloads: kept ones never refuse, new ones answer, removed ones refuse",
          "[reload][listeners]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  const TwoListeners configs = twoListenerConfigs(a.address());
  const uint16_t p1 = configs.p1, p2 = configs.p2;
  const std::string& one = configs.one;
  const std::string& two = configs.two;
  Ballast lb(dir, one);
  REQUIRE(lb.port() == p1);
  REQUIRE(tryConnect(p2) == ECONNREFUSED);

  // A thread connecting to the kept address in a loop, one request each.
  // Joined by its destructor, so a failed REQUIRE below unwinds cleanly.
  struct Prober {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> ok{0};
    std::mutex mu;
    std::vector<std::string> failures;
    std::thread thread;
    explicit Prober(uint16_t port) {
      thread = std::thread([this, port] {
        while (!stop) {
          try {
            Response r = fetch(port, get("/probe"));
            if (r.status == 200) {
              ++ok;
            } else {
              std::lock_guard<std::mutex> lock(mu);
              failures.push_back(r.describe());
            }
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            failures.push_back(std::string("client error: ") + e.what());
          }
        }
      });
    }
    ~Prober() { join(); }
    void join() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } prober(p1);

  constexpr int kReloads = 20;
  for (int i = 1; i <= kReloads; ++i) {
    const bool with_p2 = i % 2 == 1;
    const size_t listening_before = countEvents(lb, "listening");
    JsonObject ev = reloadOk(lb, with_p2 ? two : one);
    INFO("reload " << i);
    CHECK(jsonText(ev, "listeners_added") == (with_p2 ? "1" : "0"));
    CHECK(jsonText(ev, "listeners_removed") == (with_p2 ? "0" : "1"));
    if (with_p2) {
      CHECK(countEvents(lb, "listening", [&](const JsonObject& o) {
              return jsonText(o, "address") == "127.0.0.1:" + std::to_string(p2);
            }) == static_cast<size_t>((i + 1) / 2));
      CHECK(countEvents(lb, "listening") == listening_before + 1);
      Response r = fetch(p2, get("/new-listener"));
      INFO(r.describe());
      CHECK(r.status == 200);
    } else {
      CHECK(tryConnect(p2) == ECONNREFUSED);
    }
    const uint64_t t = prober.ok.load();
    REQUIRE(pollUntil([&] { return prober.ok.load() >= t + 3; }, 5000ms));
  }
  prober.join();
  INFO("requests on the kept listener: " << prober.ok.load() << "; first failures:\n"
                                          << firstFailures(prober.failures));
  CHECK(prober.ok.load() >= 60);
  CHECK(prober.failures.empty());
  CHECK(tryConnect(p2) == ECONNREFUSED);
  CHECK(fetch(p1, get("/still")).status == 200);
}

TEST_CASE("a removed backend's series disappear from /metrics after the reload", "[reload][metrics]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  Ballast lb(dir, webConfig({a.address(), b.address(), c.address()}));
  // Some traffic so that every per-backend family has c's series.
  auto seen = backendsOf(lb.port(), 6, "before");
  REQUIRE(countOf(seen, "c") == 2);
  std::string m = metrics(lb);
  REQUIRE(backendSeries(m, "ballast_backend_up", c.address()).size() == 1);
  REQUIRE(!backendSeries(m, "ballast_requests_total", c.address()).empty());

  reloadOk(lb, webConfig({a.address(), b.address()}));
  m = metrics(lb);
  for (const char* family : {"ballast_backend_up", "ballast_backend_state", "ballast_requests_total",
                             "ballast_backend_active_requests", "ballast_backend_connections",
                             "ballast_backend_response_duration_seconds_count"}) {
    auto left = backendSeries(m, family, c.address());
    INFO(family << ": " << (left.empty() ? "" : left.front()));
    CHECK(left.empty());
  }
  CHECK(backendSeries(m, "ballast_backend_up", a.address()).size() == 1);
  CHECK(backendSeries(m, "ballast_backend_up", b.address()).size() == 1);
}

TEST_CASE("/readyz stays 200 across a reload that keeps every backend", "[reload][readyz]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  // b's health endpoint hangs: each of its probes takes the whole timeout,
  // which makes a readiness gap after the reload (if any) wide enough to see.
  demoControl(b.port(), "health_hang=1");
  const std::string cfg =
      failoverConfig({{a.address()}, {b.address()}}, {"health_check: { interval: 500ms, timeout: 400ms, rise: 1, fall: 1 }"});
  Ballast lb(dir, cfg);
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), Ms(5000));
  waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), Ms(5000));
  // Every backend has a probe result: ready.
  REQUIRE(pollUntil([&] { return admin(lb, "GET", "/readyz").status == 200; }, 5000ms));

  // Same backends, same listeners: nothing for readiness to wait for.
  JsonObject ev = reloadOk(lb, cfg);
  REQUIRE(jsonText(ev, "backends_kept") == "2");
  Response r = admin(lb, "GET", "/readyz");
  INFO(r.describe());
  CHECK(r.status == 200);
}

namespace {

// `yaml` with its admin listener moved to 127.0.0.1:PORT.
std::string withAdminPort(std::string yaml, uint16_t port) {
  const std::string from = "admin: { listen: 127.0.0.1:0 }";
  const size_t at = yaml.find(from);
  REQUIRE(at != std::string::npos);
  yaml.replace(at, from.size(), "admin: { listen: 127.0.0.1:" + std::to_string(port) + " }");
  return yaml;
}

std::string adminRequest(const std::string& method, const std::string& path, uint16_t port) {
  return request(method, path, {}, "", "127.0.0.1:" + std::to_string(port));
}

}  // namespace

// Regression: a POST /reload that moved admin.listen closed the admin
// server with the connection serving the request, then wrote the answer on
// it: uv_close twice, SIGABRT.
TEST_CASE("POST /reload that moves admin.listen answers on the old connection, then the old port closes",
          "[reload][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  const std::string base = webConfig({a.address()});
  Ballast lb(dir, base);
  const uint16_t old_port = lb.adminPort();
  const uint16_t new_port = freePort();
  replaceConfig(lb, withAdminPort(base, new_port));

  Response r = fetch(old_port, adminRequest("POST", "/reload", old_port));
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(contains(r.body, "\"success\":true"));
  waitEvent(lb, "config_reloaded");
  CHECK(lb.process().running());
  // The new admin answers; the old one refuses.
  Response ready = fetch(new_port, adminRequest("GET", "/readyz", new_port));
  CHECK(ready.status == 200);
  CHECK(pollUntil([&] { return tryConnect(old_port) == ECONNREFUSED; }, 5000ms));
  // And back, through the new port this time.
  replaceConfig(lb, base);
  Response back = fetch(new_port, adminRequest("POST", "/reload", new_port));
  CHECK(back.status == 200);
  CHECK(fetch(lb.port(), get("/after")).status == 200);
}

TEST_CASE("SIGHUP that moves admin.listen while admin requests are in flight", "[reload][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  // Enough backends that /metrics (several MB) cannot sit in the socket
  // buffers of a client that does not read: its answer is still being
  // written when the reload comes.
  PoolSpec web{"web", {{a.address(), 1}}};
  for (int i = 1; i <= 2500; ++i) web.backends.push_back({"127.0.0.2:" + std::to_string(i), 1});
  const std::string base = configYaml({web});
  Ballast lb(dir, base);
  const uint16_t old_port = lb.adminPort();
  const uint16_t new_port = freePort();

  // One admin request half sent (still reading), one complete request
  // whose answer the client has not read yet.
  Client half(old_port);
  half.sendAll("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  Client whole(old_port, kDefaultTimeout, 4096);
  whole.sendAll(adminRequest("GET", "/metrics", old_port));
  REQUIRE(pollUntil([&] { return !whole.quietFor(Ms(20)); }, 10000ms));

  // 2,500 backends: generous under a sanitizer build on a busy machine.
  reloadOk(lb, withAdminPort(base, new_port), Ms(30000));
  CHECK(lb.process().running());
  // The answer in flight is completed; the half request is closed (its
  // admin server is gone); the new admin serves.
  ReadOptions slow;
  slow.read_size = 64 * 1024;
  Response m = whole.readResponse(slow);
  INFO("metrics answer: " << m.body_bytes << " bytes, complete: " << m.complete);
  CHECK(m.status == 200);
  CHECK(m.complete);
  CHECK(m.body_bytes > 4u * 1024 * 1024);
  CHECK(contains(m.body, "127.0.0.2:2500"));
  CHECK(half.readUntilClose().empty());
  CHECK(fetch(new_port, adminRequest("GET", "/healthz", new_port)).status == 200);
  CHECK(pollUntil([&] { return tryConnect(old_port) == ECONNREFUSED; }, 5000ms));
  CHECK(fetch(lb.port(), get("/after")).status == 200);
}

TEST_CASE("a reload that removes the listener a pipelining client uses answers every request on it",
          "[reload][listeners]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  const TwoListeners configs = twoListenerConfigs(a.address());
  const uint16_t p1 = configs.p1, p2 = configs.p2;
  const std::string& one = configs.one;
  const std::string& two = configs.two;
  Ballast lb(dir, two);
  Client c(p2);
  // Five pipelined requests, each held 100 ms by the backend: the reload
  // lands while most of them are queued on the connection.
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += get("/slow-" + std::to_string(i) + "?delay=100");
  c.sendAll(batch);
  REQUIRE(pollUntil([&] { return lb.accessLog().size() >= 1; }, 5000ms));
  reloadOk(lb, one);
  CHECK(tryConnect(p2) == ECONNREFUSED);
  for (int i = 0; i < 5; ++i) {
    Response r = c.readResponse();
    INFO("pipelined request " << i << "\n" << r.describe());
    CHECK(r.status == 200);
  }
  // The connection stays usable after its listener is gone.
  CHECK(c.roundTrip(get("/after-reload")).status == 200);
  CHECK(fetch(p1, get("/kept")).status == 200);
}
