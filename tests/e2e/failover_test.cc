// Failover policy end to end: which failed attempts are retried (never a
// non-idempotent request already sent), how the retry budget bounds retries
// when every backend fails, outlier ejection and its end, backups, the
// answer when nothing is available, and panic mode.
//
// Waits are on event lines and responses, bounded by deadlines derived from
// the configured intervals with a 3x slack for slow CI machines.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

constexpr Ms kInterval{200};
constexpr Ms kProbeTimeout{100};
constexpr int kSlack = 3;
constexpr Ms kMaxInterval{kInterval.count() * 110 / 100};  // default 10% jitter
// fall = rise = 2 probes, one of which may time out.
constexpr Ms kStateBound{kSlack * (kMaxInterval.count() * 2 + kProbeTimeout.count())};

std::string healthCheck() {
  return "health_check: { interval: " + std::to_string(kInterval.count()) +
         "ms, timeout: " + std::to_string(kProbeTimeout.count()) + "ms, rise: 2, fall: 2 }";
}

Ms since(Clock::time_point t) { return std::chrono::duration_cast<Ms>(Clock::now() - t); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sends `n` GETs over one keep-alive connection and returns the responses.
std::vector<Response> gets(uint16_t port, int n, const std::string& tag) {
  Client c(port);
  std::vector<Response> out;
  for (int i = 0; i < n; ++i) out.push_back(c.roundTrip(get("/" + tag + "-" + std::to_string(i))));
  return out;
}



std::set<std::string> asSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// Lines a --verbose demo-backend printed for requests whose target contains
// `part` (one line per request answered).
size_t requestsSeen(Process& p, const std::string& part) {
  size_t n = 0;
  for (const auto& l : p.lines(Stream::Stderr))
    if (contains(l, part)) ++n;
  return n;
}

// "b0", "b1"... (built by appending: GCC 12 warns falsely (-Wrestrict) on
// "b" + std::to_string(i) here).
std::string backendName(int i) {
  std::string s = "b";
  s += std::to_string(i);
  return s;
}

EventPredicate requestId(const std::string& id) {
  return [id](const JsonObject& o) { return jsonText(o, "request_id") == id; };
}

}  // namespace

// ---------------------------------------------------------------------------
// Retries

TEST_CASE("a GET reset by a backend is retried on another, a POST already sent is not", "[failover][retry]") {
  TempDir dir;
  // r resets every connection once it has read a whole request.
  FakeServer r([](const FakeRequest&) { return FakeReply::reset(); });
  DemoBackend d(dir, "d", {"--verbose"});
  Ballast lb(dir, failoverConfig({{r.address()}, {d.address()}}, {}));  // default retries: connect_failure, reset
  Client c(lb.port());

  SECTION("GET") {
    for (int i = 0; r.requests() == 0; ++i) {
      REQUIRE(i < 4);  // round robin reaches r within two requests
      Response resp = c.roundTrip(get("/get-" + std::to_string(i)));
      INFO(resp.describe());
      CHECK(resp.status == 200);
      CHECK(resp.headerOr("X-Backend") == "d");
    }
    CHECK(r.requests() == 1);
    JsonObject ev = waitEvent(lb, "retry", {}, 1000ms);
    CHECK(jsonText(ev, "from") == r.address());
    CHECK(jsonText(ev, "to") == d.address());
  }

  SECTION("POST") {
    std::string hit;  // the target that reached r
    for (int i = 0; r.requests() == 0; ++i) {
      REQUIRE(i < 4);
      std::string target = "/post-" + std::to_string(i);
      Response resp = c.roundTrip(request("POST", target, {"X-Request-Id: post-" + std::to_string(i)}, "order=1"));
      INFO(resp.describe());
      if (r.requests() > 0) {
        hit = target;
        CHECK(resp.status == 502);
        CHECK(resp.headerOr("X-Backend") == "<absent>");
      } else {
        CHECK(resp.status == 200);
      }
    }
    REQUIRE_FALSE(hit.empty());
    CHECK(r.requests() == 1);
    // d never saw the POST that reached r, and no retry was even attempted.
    CHECK(requestsSeen(d.process(), hit + " -> ") == 0);
    CHECK(countEvents(lb, "retry") == 0);
    // The client connection survives the 502.
    Response after = c.roundTrip(get("/after"));
    CHECK(after.status == 200);
  }
}

TEST_CASE("a POST sent on a reused connection that the backend then resets is not replayed", "[failover][retry]") {
  // The backend answers the first request of each connection and resets the
  // connection after reading the second: the second request was delivered,
  // so it may have run there.
  std::mutex mu;
  std::map<uint64_t, int> per_conn;
  std::vector<std::string> seen;
  FakeServer r([&](const FakeRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req.method + " " + req.target);
    if (++per_conn[req.conn_id] >= 2) return FakeReply::reset();
    return FakeReply::respond(200, "ok\n", {"X-Backend: r"});
  });
  TempDir dir;
  Ballast lb(dir, failoverConfig({{r.address()}}, {}));
  Client c(lb.port());
  Response warm = c.roundTrip(get("/warm"));  // leaves one pooled keep-alive connection
  REQUIRE(warm.status == 200);

  Response resp = c.roundTrip(request("POST", "/charge", {"Content-Length: 0"}));
  INFO(resp.describe());
  std::string log;
  size_t posts = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& x : seen) {
      log += x + "\n";
      if (x == "POST /charge") ++posts;
    }
  }
  INFO("the backend saw:\n" << log);
  CHECK(posts == 1);
  CHECK(resp.status == 502);
  r.stop();
}

TEST_CASE("a POST that could not be sent (connection refused) is retried", "[failover][retry]") {
  TempDir dir;
  DeadPort dead;
  DemoBackend d(dir, "d");
  Ballast lb(dir, failoverConfig({{dead.address()}, {d.address()}}, {}));
  Client c(lb.port());
  for (int i = 0; i < 4; ++i) {
    Response resp = c.roundTrip(request("POST", "/p" + std::to_string(i), {}, "x=1"));
    INFO(resp.describe());
    CHECK(resp.status == 200);
    CHECK(resp.headerOr("X-Backend") == "d");
  }
  CHECK(countEvents(lb, "retry", [&](const JsonObject& o) { return jsonText(o, "from") == dead.address(); }) >= 1);
}

TEST_CASE("retries stop after `attempts` extra attempts when every backend fails", "[failover][retry]") {
  TempDir dir;
  std::vector<std::unique_ptr<DemoBackend>> bs;
  std::vector<PoolBackend> pool;
  for (int i = 0; i < 5; ++i) {
    bs.push_back(std::make_unique<DemoBackend>(dir, backendName(i),
                                               std::vector<std::string>{"--status", "503", "--verbose"}));
    pool.push_back({bs.back()->address()});
  }
  Ballast lb(dir, failoverConfig(pool, {"retries: { attempts: 2, on: [503], budget_min: 100 }"}));

  auto start = Clock::now();
  Response resp = fetch(lb.port(), get("/bounded", {"X-Request-Id: bounded-1"}));
  Ms elapsed = since(start);
  INFO(resp.describe() << "after " << elapsed.count() << " ms");
  CHECK(resp.status == 503);
  CHECK(resp.headerOr("X-Backend") != "<absent>");  // the last attempt's answer, passed through
  CHECK(elapsed < 1000ms);                            // far below any timeout
  size_t attempts = 0;
  for (auto& b : bs) attempts += requestsSeen(b->process(), " /bounded ");
  CHECK(attempts == 3);  // 1 + attempts, although 5 backends were there to try
  waitEvent(lb, "retry", requestId("bounded-1"), 1000ms, 1);
  CHECK(countEvents(lb, "retry", requestId("bounded-1")) == 2);
}

TEST_CASE("the retry budget bounds retries when every backend fails", "[failover][retry][budget]") {
  TempDir dir;
  constexpr int kDelayMs = 400;
  std::vector<std::unique_ptr<DemoBackend>> bs;
  std::vector<PoolBackend> pool;
  for (int i = 0; i < 4; ++i) {
    bs.push_back(std::make_unique<DemoBackend>(
        dir, backendName(i),
        std::vector<std::string>{"--status", "503", "--delay", std::to_string(kDelayMs), "--verbose"}));
    pool.push_back({bs.back()->address()});
  }
  // 20% of the requests in flight may be retrying; no minimum.
  Ballast lb(dir, failoverConfig(pool, {"retries: { attempts: 3, on: [503], budget_percent: 20, budget_min: 0 }"}));
  auto attemptsOf = [&](const std::string& target) {
    size_t n = 0;
    for (auto& b : bs) n += requestsSeen(b->process(), " " + target + " ");
    return n;
  };

  SECTION("a lone request may not retry (20% of 1 is 0)") {
    auto start = Clock::now();
    Response resp = fetch(lb.port(), get("/alone", {"X-Request-Id: alone"}));
    Ms elapsed = since(start);
    INFO(resp.describe() << "after " << elapsed.count() << " ms");
    CHECK(resp.status == 503);
    CHECK(elapsed < Ms(2 * kDelayMs));  // one backend delay, no second attempt
    CHECK(attemptsOf("/alone") == 1);
    // The event log is flushed once per loop turn: the answer may arrive first.
    waitEvent(lb, "retry_budget_exhausted", requestId("alone"), 1000ms);
    CHECK(countEvents(lb, "retry_budget_exhausted", requestId("alone")) == 1);
    CHECK(countEvents(lb, "retry") == 0);
  }

  SECTION("10 concurrent requests: at most 2 of them retry") {
    constexpr int kRequests = 10;
    constexpr int kMaxRetrying = kRequests * 20 / 100;
    std::vector<Client> clients;
    for (int i = 0; i < kRequests; ++i) clients.emplace_back(lb.port());
    for (int i = 0; i < kRequests; ++i)
      clients[i].sendAll(get("/burst-" + std::to_string(i), {"X-Request-Id: burst-" + std::to_string(i)}));
    for (int i = 0; i < kRequests; ++i) {
      Response resp = clients[i].readResponse();
      INFO("burst-" << i << "\n" << resp.describe());
      CHECK(resp.status == 503);
    }
    // How long each took inside ballast (responses were read one by one, so
    // the client side cannot tell).
    std::map<std::string, double> duration_ms;
    for (const auto& line : lb.waitAccessLog(kRequests)) {
      JsonObject o = parseFlatJson(line);
      duration_ms[jsonText(o, "request_id")] = std::stod(jsonText(o, "duration_ms"));
    }
    // Every request either retried or was refused a retry; the event log is
    // flushed once per loop turn, so the last events may trail the answers.
    std::set<std::string> retried;
    size_t exhausted = 0;
    pollUntil(
        [&] {
          retried.clear();
          for (const auto& o : eventObjects(lb, "retry")) retried.insert(jsonText(o, "request_id"));
          exhausted = countEvents(lb, "retry_budget_exhausted");
          return retried.size() + exhausted >= static_cast<size_t>(kRequests);
        },
        1000ms);
    size_t total_attempts = 0;
    std::string summary;
    for (int i = 0; i < kRequests; ++i) {
      std::string id = "burst-" + std::to_string(i);
      size_t n = attemptsOf("/" + id);
      total_attempts += n;
      summary += id + ": " + std::to_string(n) + " attempts, " + std::to_string(duration_ms[id]) + " ms\n";
      INFO(id);
      CHECK(n >= 1);
      CHECK(n <= 4);  // 1 + attempts
      if (retried.count(id) == 0) {
        CHECK(n == 1);
        CHECK(duration_ms[id] < 2 * kDelayMs);  // the error came back after one attempt
      }
    }
    INFO(summary << retried.size() << " requests retried, " << exhausted << " budget_exhausted events");
    CHECK(retried.size() >= 1);
    CHECK(retried.size() <= static_cast<size_t>(kMaxRetrying));
    CHECK(exhausted >= static_cast<size_t>(kRequests - kMaxRetrying));
    CHECK(total_attempts <= static_cast<size_t>(kRequests + kMaxRetrying * 3));
  }
}

// ---------------------------------------------------------------------------
// Outlier detection

TEST_CASE("a backend failing traffic while passing probes is ejected, gets nothing, and returns on time",
          "[failover][outlier]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}},
                                 {healthCheck(),
                                  "outlier_detection: { consecutive_failures: 3, base_ejection: 500ms, "
                                  "max_ejection: 10s, uneject_on_probe_pass: false }"}));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), kStateBound);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), kStateBound);

  demoControl(a.port(), "status=503");
  Client c(lb.port());
  int fails = 0;
  for (int i = 0; countEvents(lb, "backend_state", backendState(a.address(), "ejected")) == 0; ++i) {
    REQUIRE(i < 40);
    Response r = c.roundTrip(get("/fail-" + std::to_string(i)));
    if (r.status == 503) {
      CHECK(r.headerOr("X-Backend") == "a");  // a's own answer, passed through
      ++fails;
    }
  }
  JsonObject ej = waitEvent(lb, "backend_state", backendState(a.address(), "ejected"), 1000ms);
  auto ejected = Clock::now();
  INFO(jsonText(ej, "reason"));
  CHECK(fails == 3);
  CHECK(jsonText(ej, "old") == "healthy");
  CHECK(contains(jsonText(ej, "reason"), "3 consecutive failures: status 503"));

  // While ejected (500 ms), everything goes to b.
  for (int i = 0; i < 10; ++i) {
    Response r = c.roundTrip(get("/ejected-" + std::to_string(i)));
    INFO(r.describe());
    bool over = countEvents(lb, "backend_state", backendState(a.address(), "healthy")) > 1;
    if (!over) {
      CHECK(r.status == 200);
      CHECK(r.headerOr("X-Backend") == "b");
    }
  }
  INFO("10 requests took " << since(ejected).count() << " ms");
  CHECK(since(ejected) < 500ms);  // the loop above really ran inside the ejection

  JsonObject back = waitEvent(lb, "backend_state",
                              [&](const JsonObject& o) {
                                return backendState(a.address(), "healthy")(o) && jsonText(o, "old") == "ejected";
                              },
                              Ms(500 + kSlack * 300));
  INFO(jsonText(back, "reason") << ", ejected for " << jsonText(back, "since_last_change_ms") << " ms");
  CHECK(contains(jsonText(back, "reason"), "ejection of 500ms ended"));
  long ejected_ms = std::stol(jsonText(back, "since_last_change_ms"));
  CHECK(ejected_ms >= 500);
  CHECK(ejected_ms <= 500 + 300);  // the sweep runs every 100 ms
  // a takes traffic again (and still fails it).
  bool reached = false;
  for (int i = 0; i < 4 && !reached; ++i)
    reached = c.roundTrip(get("/back-" + std::to_string(i))).headerOr("X-Backend") == "a";
  CHECK(reached);
}

TEST_CASE("with uneject_on_probe_pass an ejected backend returns at the first probe passed after the ejection",
          "[failover][outlier]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}},
                                 {healthCheck(),
                                  "outlier_detection: { consecutive_failures: 2, base_ejection: 30s, "
                                  "uneject_on_probe_pass: true }"}));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), kStateBound);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), kStateBound);

  demoControl(a.port(), "status=503");
  Client c(lb.port());
  for (int i = 0; countEvents(lb, "backend_state", backendState(a.address(), "ejected")) == 0; ++i) {
    REQUIRE(i < 40);
    c.roundTrip(get("/fail-" + std::to_string(i)));
  }
  auto ejected = Clock::now();
  JsonObject back = waitEvent(lb, "backend_state",
                              [&](const JsonObject& o) {
                                return backendState(a.address(), "healthy")(o) && jsonText(o, "old") == "ejected";
                              },
                              Ms(kSlack * (kMaxInterval.count() + kProbeTimeout.count())));
  INFO(jsonText(back, "reason") << " after " << since(ejected).count() << " ms");
  CHECK(contains(jsonText(back, "reason"), "active probe passed after ejection"));
  CHECK(std::stol(jsonText(back, "since_last_change_ms")) < 30000);
  bool reached = false;
  for (int i = 0; i < 4 && !reached; ++i)
    reached = c.roundTrip(get("/back-" + std::to_string(i))).headerOr("X-Backend") == "a";
  CHECK(reached);
}

TEST_CASE("max_ejected_percent 50 with two failing backends ejects only one", "[failover][outlier]") {
  TempDir dir;
  DemoBackend a(dir, "a", {"--status", "503"});
  DemoBackend b(dir, "b", {"--status", "503"});
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}},
                                 {"outlier_detection: { consecutive_failures: 2, base_ejection: 10s, "
                                  "max_ejected_percent: 50 }"}));
  Client c(lb.port());
  for (int i = 0; countEvents(lb, "ejection_suppressed") == 0; ++i) {
    REQUIRE(i < 40);
    Response r = c.roundTrip(get("/fail-" + std::to_string(i)));
    INFO(r.describe());
    CHECK(r.status == 503);
    CHECK(r.headerOr("X-Backend") != "<absent>");  // always a backend's own answer, never "none available"
  }
  auto ejections = eventObjects(lb, "backend_state");
  REQUIRE(ejections.size() == 1);
  CHECK(jsonText(ejections[0], "new") == "ejected");
  std::string ejected = jsonText(ejections[0], "backend");
  std::string other = ejected == a.address() ? b.address() : a.address();
  JsonObject sup = waitEvent(lb, "ejection_suppressed", {}, 1000ms);
  CHECK(jsonText(sup, "backend") == other);
  CHECK(contains(jsonText(sup, "reason"), "max_ejected_percent"));
  // The other one keeps taking traffic.
  std::string other_name = ejected == a.address() ? "b" : "a";
  for (const auto& r : gets(lb.port(), 4, "after")) CHECK(r.headerOr("X-Backend") == other_name);
  CHECK(countEvents(lb, "backend_state") == 1);
}

// ---------------------------------------------------------------------------
// Backups, nothing available, panic

TEST_CASE("a backup takes traffic only while every primary is down", "[failover][backup]") {
  TempDir dir;
  DemoBackend p1(dir, "p1");
  DemoBackend p2(dir, "p2");
  DemoBackend k(dir, "k");
  Ballast lb(dir, failoverConfig({{p1.address()}, {p2.address()}, {k.address(), true}}, {healthCheck()}));
  for (auto* d : {&p1, &p2, &k}) waitEvent(lb, "backend_state", backendState(d->address(), "healthy"), kStateBound);

  CHECK(asSet(backendsOf(lb.port(), 8, "all-up")) == std::set<std::string>{"p1", "p2"});

  demoControl(p1.port(), "health_status=500");
  waitEvent(lb, "backend_state", backendState(p1.address(), "unhealthy"), kStateBound);
  CHECK(asSet(backendsOf(lb.port(), 6, "p2-only")) == std::set<std::string>{"p2"});

  demoControl(p2.port(), "health_status=500");
  waitEvent(lb, "backend_state", backendState(p2.address(), "unhealthy"), kStateBound);
  CHECK(asSet(backendsOf(lb.port(), 6, "backup")) == std::set<std::string>{"k"});

  demoControl(p1.port(), "health_status=200");
  waitEvent(lb, "backend_state", backendState(p1.address(), "healthy"), kStateBound, 1);
  CHECK(asSet(backendsOf(lb.port(), 6, "p1-back")) == std::set<std::string>{"p1"});
}

TEST_CASE("a backup takes no traffic while the primaries still await their first probe", "[failover][backup][startup]") {
  TempDir dir;
  DemoBackend p1(dir, "p1");
  DemoBackend p2(dir, "p2");
  DemoBackend k(dir, "k");
  // The primaries' probes hang longer than the test: they stay unknown (not
  // down); the backup's first probe passes at once.
  demoControl(p1.port(), "health_hang=1");
  demoControl(p2.port(), "health_hang=1");
  Ballast lb(dir, failoverConfig({{p1.address()}, {p2.address()}, {k.address(), true}},
                                 {"health_check: { interval: 10s, timeout: 10s, rise: 2, fall: 2 }"}));
  waitEvent(lb, "backend_state", backendState(k.address(), "healthy"), 3000ms);
  CHECK(asSet(backendsOf(lb.port(), 6, "startup")) == std::set<std::string>{"p1", "p2"});
  CHECK(countEvents(lb, "backend_state") == 1);  // p1 and p2 are still unknown
}

TEST_CASE("with no backend available the answer is 503 at once, with Retry-After", "[failover]") {
  TempDir dir;
  DemoBackend a(dir, "a", {"--health-status", "500", "--verbose"});
  DemoBackend b(dir, "b", {"--health-status", "500", "--verbose"});
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {healthCheck()}));
  waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kStateBound);
  waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), kStateBound);

  Client c(lb.port());
  for (int i = 0; i < 2; ++i) {  // twice on one connection: it is kept
    auto start = Clock::now();
    Response r = c.roundTrip(get("/none-" + std::to_string(i)));
    Ms elapsed = since(start);
    INFO(r.describe() << "after " << elapsed.count() << " ms");
    CHECK(r.status == 503);
    CHECK(r.headerOr("Retry-After") == "1");
    CHECK(r.headerOr("X-Backend") == "<absent>");
    CHECK(elapsed < 500ms);
  }
  CHECK(requestsSeen(a.process(), "/none-") == 0);
  CHECK(requestsSeen(b.process(), "/none-") == 0);
}

TEST_CASE("under panic_threshold every primary takes traffic again", "[failover][panic]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}, {c.address()}}, {healthCheck(), "panic_threshold: 50"}));
  for (auto* d : {&a, &b, &c}) waitEvent(lb, "backend_state", backendState(d->address(), "healthy"), kStateBound);

  // 2 of 3 healthy (67% >= 50%): normal mode, a is left out.
  demoControl(a.port(), "health_status=500");
  waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kStateBound);
  CHECK(asSet(backendsOf(lb.port(), 6, "normal")) == std::set<std::string>{"b", "c"});

  // 1 of 3 (33% < 50%): panic, all three.
  demoControl(b.port(), "health_status=500");
  waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), kStateBound);
  CHECK(asSet(backendsOf(lb.port(), 9, "panic")) == std::set<std::string>{"a", "b", "c"});
}
