// workers: N (lb/server/supervisor.h) end to end: a supervisor and two
// worker processes sharing the listeners with SO_REUSEPORT. Both workers
// serve; worker 0 alone probes and the other applies what it publishes;
// /metrics and /status are merged; admin POSTs reach every worker; a worker
// that dies is restarted (with backoff when it keeps dying); and reload,
// drain and hot upgrade keep their zero-failure results with two workers.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

constexpr Ms kReady{15000};

// `workers: 2` in front of `backends`, probed every 200 ms.
std::string workersConfig(const std::vector<std::string>& backends, const std::string& extra = "",
                          const std::string& workers = "2") {
  std::string y = "listen: 127.0.0.1:0\n"
                  "admin: { listen: 127.0.0.1:0 }\n"
                  "log: { level: info, access: off, events: stderr }\n"
                  "workers: " + workers + "\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    health_check: { path: /healthz, interval: 200ms, timeout: 150ms, jitter: 0%, rise: 1, fall: 1 }\n"
                  "    backends:\n";
  for (const auto& b : backends) y += "      - { address: " + b + " }\n";
  return y + extra;
}

// The supervisor's "all workers are ready" (the skip+1-th).
JsonObject waitWorkersReady(Ballast& lb, size_t skip = 0) { return waitEvent(lb, "workers_ready", {}, kReady, skip); }

EventPredicate ofWorker(int w) {
  return [w](const JsonObject& o) { return jsonText(o, "worker") == std::to_string(w); };
}

// The pid of worker `w` as the supervisor last started it.
int workerPid(Ballast& lb, int w) {
  int pid = 0;
  for (const auto& o : eventObjects(lb, "worker_started")) {
    if (jsonText(o, "worker") == std::to_string(w)) pid = std::atoi(jsonText(o, "pid").c_str());
  }
  return pid;
}

// Worker `w`'s own admin port (its last "worker_admin" listening line).
uint16_t workerAdminPort(Ballast& lb, int w) {
  uint16_t port = 0;
  for (const auto& o : eventObjects(lb, "listening")) {
    if (jsonText(o, "kind") != "worker_admin" || jsonText(o, "worker") != std::to_string(w)) continue;
    const std::string a = jsonText(o, "address");
    port = static_cast<uint16_t>(std::atoi(a.substr(a.rfind(':') + 1).c_str()));
  }
  return port;
}

Response adminGet(uint16_t port, const std::string& path) {
  return fetch(port, request("GET", path, {}, "", "127.0.0.1:" + std::to_string(port)));
}

Response adminPost(uint16_t port, const std::string& path, const std::string& body = "") {
  ReadOptions o;
  o.method = "POST";
  return fetch(port, request("POST", path, {}, body, "127.0.0.1:" + std::to_string(port)), o);
}

// The value of the sample `series` (name and labels as printed), or -1.
double sample(const std::string& text, const std::string& series) {
  for (const auto& line : splitLines(text, true)) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Sum of every sample of `family` whose labels contain `part`.
double sumOf(const std::string& text, const std::string& family, const std::string& part = "") {
  double total = 0;
  for (const auto& line : splitLines(text, true)) {
    if (line.compare(0, family.size() + 1, family + "{") != 0 || !has(line, part)) continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

// After a hot upgrade under `load`: the old process exits 0, the new one
// (`new_pid`) serves 200 more requests, not one request failed in all, and
// the new one stops the operator's way with nothing left listening.
void upgradeEndsClean(Ballast& lb, Load& load, int new_pid, const std::string& what) {
  auto code = lb.process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const uint64_t after = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= after + 200; }, 10000ms));
  load.stop();
  const auto failures = load.failures();
  INFO("first failures:\n" << firstFailures(failures));
  WARN(what << ", hot upgrade under load: " << load.total() << " requests, " << failures.size() << " failed");
  CHECK(failures.empty());
  CHECK(::kill(new_pid, 0) == 0);
  CHECK(fetch(lb.port(), get("/")).status == 200);
  // The new generation answers the admin too (with two workers: "ready (2 workers)").
  const Response ready = adminGet(lb.adminPort(), "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.body == "ready (2 workers)\n");
  ::kill(new_pid, SIGTERM);
  REQUIRE(pollUntil([&] { return ::kill(new_pid, 0) != 0 && tryConnect(lb.port()) != 0; }, 10000ms));
}

// A request held by the backend for `delay_ms`, sent through `lb` and
// waited for until it is in flight (in one of the workers).
Client requestInFlight(Ballast& lb, int delay_ms) {
  Client slow(lb.port());
  slow.sendAll(get("/slow?delay=" + std::to_string(delay_ms)));
  REQUIRE(pollUntil([&] { return sumOf(adminGet(lb.adminPort(), "/metrics").body, "ballast_backend_active_requests") >= 1; },
                    5000ms));
  return slow;
}

// The request of requestInFlight() gets its whole answer during the drain,
// and the supervisor then exits 0.
void completesThenExits0(Ballast& lb, Client& slow) {
  slow.setTimeout(5000ms);
  Response r = slow.readResponse();
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(r.complete);
  auto code = lb.process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

// A backend that counts its probes (GET /healthz) and names itself.
struct CountingBackend {
  std::atomic<uint64_t> probes{0};
  std::mutex mu;
  std::vector<Clock::time_point> probe_times;
  FakeServer server{[this](const FakeRequest& r) {
    if (r.target == "/healthz") {
      ++probes;
      std::lock_guard<std::mutex> l(mu);
      probe_times.push_back(Clock::now());
    }
    return FakeReply::respond(200, "ok", {"X-Backend: counted"});
  }};
};

}  // namespace

TEST_CASE("workers: 2 both serve, one probes for both, and /metrics sums them", "[workers]") {
  TempDir dir;
  CountingBackend a;
  Ballast lb(dir, workersConfig({a.server.address()}));
  waitWorkersReady(lb);

  // Fresh connections are spread by the kernel over both workers' sockets.
  const uint16_t w0 = workerAdminPort(lb, 0), w1 = workerAdminPort(lb, 1);
  REQUIRE(w0 != 0);
  REQUIRE(w1 != 0);
  const std::string series = "ballast_requests_total{pool=\"web\",backend=\"" + a.server.address() + "\",code=\"200\"}";
  int sent = 0;
  REQUIRE(pollUntil(
      [&] {
        for (int i = 0; i < 10; ++i, ++sent) REQUIRE(fetch(lb.port(), get("/spread")).status == 200);
        return sample(adminGet(w0, "/metrics").body, series) > 0 && sample(adminGet(w1, "/metrics").body, series) > 0;
      },
      10000ms));
  const double n0 = sample(adminGet(w0, "/metrics").body, series);
  const double n1 = sample(adminGet(w1, "/metrics").body, series);
  INFO("worker 0 served " << n0 << ", worker 1 served " << n1 << " of " << sent);
  CHECK(n0 + n1 == sent);
  // The supervisor's /metrics: the sum, and its own families.
  const Response m = adminGet(lb.adminPort(), "/metrics");
  REQUIRE(m.status == 200);
  CHECK(sample(m.body, series) == sent);
  CHECK(sample(m.body, "ballast_workers{state=\"ready\"}") == 2);
  CHECK(sample(m.body, "ballast_worker_restarts_total{worker=\"1\"}") == 0);
  CHECK(has(m.body, "# TYPE ballast_requests_total counter"));

  // One prober: backend_state events come from worker 0 only, and the
  // probes arrive at the rate of one instance (10 intervals of 200 ms take
  // at least 1.6 s; two probers would send them in about 1 s).
  CHECK(countEvents(lb, "backend_state") >= 1);
  CHECK(countEvents(lb, "backend_state", ofWorker(1)) == 0);
  const uint64_t base = a.probes;
  REQUIRE(pollUntil([&] { return a.probes >= base + 11; }, 10000ms));
  {
    std::lock_guard<std::mutex> l(a.mu);
    const auto& t = a.probe_times;
    const auto span = std::chrono::duration_cast<Ms>(t[base + 10] - t[base]);
    INFO("10 probe intervals took " << span.count() << " ms");
    CHECK(span >= 1600ms);
  }

  // Workers run /proc/self/exe; they still show as ballast in ps and top.
  CHECK(readFile("/proc/" + std::to_string(workerPid(lb, 1)) + "/comm") == "ballast\n");

  // /status: worker 0's view, and both workers listed.
  const Response s = adminGet(lb.adminPort(), "/status");
  REQUIRE(s.status == 200);
  CHECK(has(s.body, "\"workers\""));
  CHECK(has(s.body, a.server.address()));
  // The admin address is the supervisor's, not a worker's loopback port.
  CHECK(has(s.body, "\"address\":\"127.0.0.1:" + std::to_string(lb.adminPort()) + "\""));
  CHECK(!has(s.body, "127.0.0.1:" + std::to_string(w0) + "\""));
  CHECK(adminGet(lb.adminPort(), "/readyz").status == 200);
}

TEST_CASE("workers: a backend that fails its probe leaves the rotation of every worker", "[workers][health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, workersConfig({a.address(), b.address()}));
  waitWorkersReady(lb);
  const uint16_t w1 = workerAdminPort(lb, 1);
  const std::string up_a = "ballast_backend_up{pool=\"web\",backend=\"" + a.address() + "\"}";
  REQUIRE(pollUntil([&] { return sample(adminGet(w1, "/metrics").body, up_a) == 1; }, 5000ms));

  a.process().signal(SIGKILL);
  waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), 5000ms);
  // Worker 1 runs no probe: it takes a out because worker 0 said so.
  REQUIRE(pollUntil([&] { return sample(adminGet(w1, "/metrics").body, up_a) == 0; }, 5000ms));
  CHECK(countEvents(lb, "backend_state", ofWorker(1)) == 0);
  for (int i = 0; i < 20; ++i) {
    Response r = fetch(lb.port(), get("/after-a-" + std::to_string(i)));
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(r.headerOr("X-Backend") == "b");
  }
}

TEST_CASE("workers: an admin POST reaches every worker and is answered once all applied it", "[workers][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, workersConfig({a.address(), b.address()}));
  waitWorkersReady(lb);
  Response r = adminPost(lb.adminPort(), "/pools/web/backends/" + a.address() + "/disable");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.headerOr("X-Ballast-Workers") == "2");
  // Both workers: no request goes to a any more.
  for (int i = 0; i < 20; ++i) CHECK(fetch(lb.port(), get("/disabled")).headerOr("X-Backend") == "b");
  // An unknown query parameter is refused by every worker: 400, nothing applied.
  Response bad = adminPost(lb.adminPort(), "/reload?dry_runn=1");
  CHECK(bad.status == 400);
  CHECK(has(bad.body, "dry_runn"));
  // HEAD and an unknown path behave as with one process.
  CHECK(adminGet(lb.adminPort(), "/no-such-thing").status == 404);
}

TEST_CASE("workers: a change the workers answer differently is a 502 naming each worker's answer",
          "[workers][admin]") {
  // A drill lives in each worker's memory: a worker restarted while it
  // runs does not know it, so stopping it succeeds in one worker only.
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, workersConfig({a.address()}));
  waitWorkersReady(lb);
  Response started = adminPost(lb.adminPort(), "/drills",
                               R"({"action":"abort","pool":"web","percent":10,"status":503,"duration":"60s"})");
  INFO(started.describe());
  REQUIRE(started.status == 200);
  CHECK(started.headerOr("X-Ballast-Workers") == "2");
  REQUIRE(has(started.body, "\"id\":\"1\""));
  REQUIRE(::kill(workerPid(lb, 1), SIGKILL) == 0);
  waitEvent(lb, "worker_ready", [](const JsonObject& o) { return jsonText(o, "worker") == "1" && !jsonText(o, "pid").empty(); },
            5000ms, 1);
  Response stop = adminPost(lb.adminPort(), "/drills/1/stop");
  INFO(stop.describe());
  CHECK(stop.status == 502);
  CHECK(has(stop.body, "the workers answered differently"));
  CHECK(has(stop.body, "{\"worker\":0,\"status\":200"));
  CHECK(has(stop.body, "{\"worker\":1,\"status\":404"));
}

TEST_CASE("workers: a worker that dies is restarted, with backoff when it keeps dying, and keeps the overrides",
          "[workers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, workersConfig({a.address(), b.address()}));
  waitWorkersReady(lb);
  // An operator's override before the crash: the restarted worker must not
  // forget it.
  REQUIRE(adminPost(lb.adminPort(), "/pools/web/backends/" + a.address() + "/disable").status == 200);
  // Worker 0 passes its state to the supervisor within a sweep (250 ms).
  REQUIRE(pollUntil([&] { return has(adminGet(lb.adminPort(), "/status").body, "disabled"); }, 5000ms));

  const int pid1 = workerPid(lb, 1);
  REQUIRE(pid1 > 0);
  REQUIRE(::kill(pid1, SIGKILL) == 0);
  JsonObject exited = waitEvent(lb, "worker_exited", ofWorker(1), 5000ms);
  CHECK(jsonText(exited, "signal") == "9");
  CHECK(jsonText(exited, "restart_in_ms") == "100");  // it had run less than 10 s
  waitEvent(lb, "worker_ready", [](const JsonObject& o) { return jsonText(o, "worker") == "1" && !jsonText(o, "pid").empty(); },
            5000ms, 1);
  // Dies again at once: the backoff doubles.
  const int pid2 = workerPid(lb, 1);
  REQUIRE(pid2 != pid1);
  REQUIRE(::kill(pid2, SIGKILL) == 0);
  JsonObject again = waitEvent(lb, "worker_exited", ofWorker(1), 5000ms, 1);
  CHECK(jsonText(again, "restart_in_ms") == "200");
  CHECK(jsonText(again, "exits_in_a_row") == "2");
  waitEvent(lb, "worker_ready", [](const JsonObject& o) { return jsonText(o, "worker") == "1" && !jsonText(o, "pid").empty(); },
            5000ms, 2);

  const Response m = adminGet(lb.adminPort(), "/metrics");
  CHECK(sample(m.body, "ballast_worker_restarts_total{worker=\"1\"}") == 2);
  CHECK(sample(m.body, "ballast_worker_restarts_total{worker=\"0\"}") == 0);
  // The restarted worker took the override: every fresh connection (both
  // workers) is answered by b.
  JsonObject st = waitEvent(lb, "worker_state_applied", ofWorker(1), 5000ms);
  CHECK(jsonText(st, "overrides") == "1");
  for (int i = 0; i < 20; ++i) {
    Response r = fetch(lb.port(), get("/after-restart"));
    CHECK(r.status == 200);
    CHECK(r.headerOr("X-Backend") == "b");
  }
}

TEST_CASE("workers: a worker whose loop stops answering is killed after worker_watchdog and restarted",
          "[workers]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, workersConfig({a.address()}, "worker_watchdog: 1s\n"));
  waitWorkersReady(lb);
  const int pid1 = workerPid(lb, 1);
  REQUIRE(pid1 > 0);
  // A stopped process stands for a loop stuck in a bug: it answers nothing.
  const auto t0 = Clock::now();
  REQUIRE(::kill(pid1, SIGSTOP) == 0);
  JsonObject hung = waitEvent(lb, "worker_hung", ofWorker(1), 10000ms);
  const auto after = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  INFO("worker_hung after " << after.count() << " ms");
  CHECK(after >= 750ms);  // not before the watchdog time (pings go out every 250 ms)
  CHECK(std::atoi(jsonText(hung, "silent_ms").c_str()) >= 1000);
  JsonObject exited = waitEvent(lb, "worker_exited", ofWorker(1), 5000ms);
  CHECK(jsonText(exited, "signal") == "9");
  waitEvent(lb, "worker_ready", [](const JsonObject& o) { return jsonText(o, "worker") == "1" && !jsonText(o, "pid").empty(); },
            5000ms, 1);
  CHECK(workerPid(lb, 1) != pid1);
  // Worker 0 was never touched; both serve.
  CHECK(countEvents(lb, "worker_hung") == 1);
  for (int i = 0; i < 20; ++i) CHECK(fetch(lb.port(), get("/after-watchdog")).status == 200);
}

TEST_CASE("workers: a signal sent to every ballast process acts once, through the supervisor", "[workers][drain]") {
  // `kill -TERM $(pidof ballast)` or a control-group kill reaches the
  // workers too: they ignore it (the supervisor forwards it on their
  // channel), so it is one drain, never "second signal: stop now".
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, workersConfig({a.address()}, "drain: { delay: 200ms, timeout: 10s }\n"));
  waitWorkersReady(lb);
  const std::vector<int> all = {lb.process().pid(), workerPid(lb, 0), workerPid(lb, 1)};
  for (int pid : all) REQUIRE(::kill(pid, SIGHUP) == 0);
  waitEvent(lb, "config_reloaded", ofWorker(0), 10000ms);
  waitEvent(lb, "config_reloaded", ofWorker(1), 10000ms);
  CHECK(countEvents(lb, "signal_ignored", ofWorker(0)) >= 1);
  CHECK(countEvents(lb, "signal_ignored", ofWorker(1)) >= 1);

  Client slow = requestInFlight(lb, 1000);
  for (int pid : all) REQUIRE(::kill(pid, SIGTERM) == 0);
  completesThenExits0(lb, slow);
  CHECK(countEvents(lb, "shutdown_now") == 0);
  // One reload per worker for the three SIGHUPs.
  CHECK(countEvents(lb, "config_reloaded") == 2);
}

TEST_CASE("workers: SIGHUP reloads under load with two workers fail no request", "[workers][reload]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  const std::string ab = workersConfig({a.address(), b.address()});
  const std::string abc = workersConfig({a.address(), b.address(), c.address()});
  Ballast lb(dir, ab);
  waitWorkersReady(lb);
  Load load(lb.port(), 2, 2);
  REQUIRE(pollUntil([&] { return load.total() >= 50; }, 5000ms));

  constexpr int kReloads = kSanitizerBuild ? 10 : 30;
  for (int i = 1; i <= kReloads; ++i) {
    const size_t done = countEvents(lb, "config_reloaded");
    replaceConfig(lb.configPath(), i % 2 == 1 ? abc : ab);
    lb.process().signal(SIGHUP);
    // One config_reloaded per worker.
    waitEvent(lb, "config_reloaded", {}, 10000ms, done + 1);
    const uint64_t t = load.total();
    REQUIRE(pollUntil([&] { return load.total() >= t + 4; }, 5000ms));
  }
  load.mark();
  const uint64_t at_mark = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at_mark + 200; }, 10000ms));
  load.stop();
  CHECK(countEvents(lb, "config_reloaded", ofWorker(0)) == kReloads);
  CHECK(countEvents(lb, "config_reloaded", ofWorker(1)) == kReloads);
  CHECK(countEvents(lb, "config_reload_failed") == 0);
  const auto failures = load.failures();
  INFO("first failures:\n" << firstFailures(failures));
  WARN("workers: 2, reload under load: " << load.total() << " requests, " << kReloads << " reloads, "
                                         << failures.size() << " failed");
  CHECK(failures.empty());
  CHECK(load.byBackend().count("c") == 1);
  CHECK(load.byBackendAfterMark().count("c") == 0);
}

TEST_CASE("workers: SIGTERM drains both workers: readyz 503, the slow request completes, exit 0", "[workers][drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, workersConfig({a.address()}, "drain: { delay: 500ms, timeout: 10s }\n"));
  waitWorkersReady(lb);
  Client slow = requestInFlight(lb, 1500);
  lb.process().signal(SIGTERM);
  waitEvent(lb, "draining", [](const JsonObject& o) { return jsonText(o, "worker").empty(); });
  CHECK(adminGet(lb.adminPort(), "/readyz").status == 503);
  completesThenExits0(lb, slow);
  CHECK(countEvents(lb, "worker_exited") == 2);
  CHECK(countEvents(lb, "stopped", ofWorker(0)) == 1);
  CHECK(countEvents(lb, "stopped", ofWorker(1)) == 1);
  CHECK(countEvents(lb, "drain_timeout") == 0);
  CHECK(!has(lb.process().text(Stream::Stderr), "loop_not_closed"));
}

TEST_CASE("workers: hot upgrade under load with two workers: zero failed requests", "[workers][upgrade]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, workersConfig({a.address(), b.address()}));
  waitWorkersReady(lb);
  Load load(lb.port(), 3, 1);
  REQUIRE(pollUntil([&] { return load.total() >= 200; }, 5000ms));

  lb.process().signal(SIGUSR2);
  JsonObject started = waitEvent(lb, "upgrade_started");
  const int new_pid = std::atoi(jsonText(started, "new_pid").c_str());
  REQUIRE(new_pid > 0);
  struct Guard {
    int pid;
    ~Guard() {
      ::kill(pid, SIGTERM);
    }
  } guard{new_pid};
  // The new supervisor's workers are ready: the old generation drains.
  waitEvent(lb, "upgrade_handover", {}, kReady);
  upgradeEndsClean(lb, load, new_pid, "workers: 2");
}

TEST_CASE("workers: a hot upgrade from one process to workers: 2 under load fails no request", "[workers][upgrade]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, workersConfig({a.address()}, "", "1"));
  Load load(lb.port(), 3, 1);
  REQUIRE(pollUntil([&] { return load.total() >= 200; }, 5000ms));
  // The new binary's config asks for two workers: the single process's
  // socket (no SO_REUSEPORT) is shared by both.
  replaceConfig(lb.configPath(), workersConfig({a.address()}));
  lb.process().signal(SIGUSR2);
  JsonObject started = waitEvent(lb, "upgrade_started");
  const int new_pid = std::atoi(jsonText(started, "new_pid").c_str());
  REQUIRE(new_pid > 0);
  struct Guard {
    int pid;
    ~Guard() { ::kill(pid, SIGTERM); }
  } guard{new_pid};
  JsonObject listening = waitEvent(lb, "listening", [](const JsonObject& o) { return jsonText(o, "workers") == "2"; }, kReady);
  CHECK(jsonText(listening, "shared_socket") == "true");
  waitWorkersReady(lb);
  upgradeEndsClean(lb, load, new_pid, "one process -> workers: 2");
}

TEST_CASE("workers: a bad value is a config error naming the line, and auto is the number of CPUs", "[workers][config]") {
  TempDir dir;
  for (const std::string bad : {"0", "65", "many", "[2]", "2\nworker_watchdog: 500ms", "2\nworker_watchdog: soon"}) {
    const std::string path = dir.file("bad-" + std::to_string(std::hash<std::string>{}(bad)) + ".yaml");
    writeFile(path, "workers: " + bad + "\npools:\n  - name: web\n    backends:\n      - address: 127.0.0.1:1\n");
    CliResult r = runBallastCli(dir, {"--config", path, "--check"});
    INFO(bad << ": " << r.err);
    CHECK(r.exit_code == 1);
    // file:line:column of the bad value, and its key.
    CHECK((has(r.err, ".yaml:1:") || has(r.err, ".yaml:2:")));
    CHECK((has(r.err, "workers") || has(r.err, "worker_watchdog")));
  }
  const std::string ok = dir.file("auto.yaml");
  writeFile(ok, "workers: auto\npools:\n  - name: web\n    backends:\n      - address: 127.0.0.1:1\n");
  CliResult r = runBallastCli(dir, {"--config", ok, "--check"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
}
