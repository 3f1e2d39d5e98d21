// Active health checking end to end: a backend that dies or stops passing
// its probe leaves rotation within interval * fall (+ timeout), comes back
// within interval * rise, a flapping probe never changes the state (rise/fall
// hysteresis), and start-up with every backend still unknown keeps serving.
//
// Every wait is on an event line or a response, bounded by a deadline derived
// from the configured interval with a 3x slack for slow CI machines.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

constexpr Ms kInterval{200};
constexpr Ms kProbeTimeout{100};
constexpr uint32_t kRise = 2;
constexpr uint32_t kFall = 2;
constexpr int kSlack = 3;  // CI slack factor on every derived bound

// The longest wait between two probe starts with the default 10% jitter.
constexpr Ms kMaxInterval{kInterval.count() * 110 / 100};
// Detection bounds: fall (resp. rise) probes, one of which may time out.
constexpr Ms kFallBound{kSlack * (kMaxInterval.count() * kFall + kProbeTimeout.count())};
constexpr Ms kRiseBound{kSlack * (kMaxInterval.count() * kRise + kProbeTimeout.count())};

std::string healthCheck(const std::string& more = "") {
  return "health_check: { interval: " + std::to_string(kInterval.count()) +
         "ms, timeout: " + std::to_string(kProbeTimeout.count()) + "ms, rise: " + std::to_string(kRise) +
         ", fall: " + std::to_string(kFall) + (more.empty() ? "" : ", " + more) + " }";
}

Ms since(Clock::time_point t) { return std::chrono::duration_cast<Ms>(Clock::now() - t); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }


// Waits until ballast logged a backend_state event for every address given
// (whatever the new state), i.e. the first probe of each has decided.
void waitHealthy(Ballast& lb, const std::vector<std::string>& addresses) {
  for (const auto& a : addresses) waitEvent(lb, "backend_state", backendState(a, "healthy"), kRiseBound);
}


}  // namespace

TEST_CASE("a backend killed under keep-alive load costs no request and is marked unhealthy in time",
          "[health][failover]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {healthCheck()}));
  waitHealthy(lb, {a.address(), b.address()});

  // Three connections: with the default retry budget (budget_min 3) every
  // request in flight may retry at once.
  Load load(lb.port(), 3);
  auto load_start = Clock::now();
  REQUIRE(pollUntil([&] { return load.total() >= 200 && load.byBackend().size() == 2 && since(load_start) >= 500ms; },
                    5000ms));

  a.process().signal(SIGKILL);
  auto killed = Clock::now();
  JsonObject ev = waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kFallBound);
  Ms detected = since(killed);
  INFO("unhealthy after " << detected.count() << " ms (bound " << kFallBound.count() << " ms): " << jsonText(ev, "reason"));
  CHECK(detected <= kFallBound);
  CHECK(jsonText(ev, "old") == "healthy");
  CHECK(contains(jsonText(ev, "reason"), std::to_string(kFall) + " consecutive failures"));

  // Keep the stream going a while after the event too.
  uint64_t at_event = load.total();
  auto event_seen = Clock::now();
  REQUIRE(pollUntil([&] { return load.total() >= at_event + 200 && since(event_seen) >= 500ms; }, 5000ms));
  load.stop();

  auto failures = load.failures();
  INFO(load.total() << " requests, " << failures.size() << " failed; first failure:\n"
                    << (failures.empty() ? std::string("-") : failures.front()));
  CHECK(failures.empty());
  CHECK(load.byBackend()["b"] > 0);
  // Zero failures came from retrying onto b, not from luck.
  CHECK(countEvents(lb, "retry", [&](const JsonObject& o) {
          return jsonText(o, "from") == a.address() && jsonText(o, "to") == b.address();
        }) >= 1);
}

TEST_CASE("a backend brought back on its port receives traffic again within interval * rise", "[health][failover]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {healthCheck()}));
  waitHealthy(lb, {a.address(), b.address()});

  a.process().signal(SIGKILL);
  REQUIRE(a.process().waitExit(5000ms).has_value());
  waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kFallBound);
  for (const auto& x : backendsOf(lb.port(), 4, "down")) CHECK(x == "b");

  auto back = startDemoBackendAt(dir, "a2", a.address());
  auto started = Clock::now();
  // Poll through ballast until the new process answers; every answer is a 200.
  Client c(lb.port());
  bool seen = false;
  for (int i = 0; !seen; ++i) {
    Response r = c.roundTrip(get("/back-" + std::to_string(i)));
    INFO(r.describe());
    REQUIRE(r.status == 200);
    seen = r.headerOr("X-Backend") == "a2";
    if (!seen) {
      INFO("a2 not answering after " << since(started).count() << " ms");
      REQUIRE(since(started) <= kRiseBound);
      std::this_thread::sleep_for(10ms);
    }
  }
  Ms returned = since(started);
  INFO("traffic again after " << returned.count() << " ms (bound " << kRiseBound.count() << " ms)");
  CHECK(returned <= kRiseBound);
  JsonObject ev = waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 1000ms, 1);
  CHECK(jsonText(ev, "old") == "unhealthy");
  CHECK(contains(jsonText(ev, "reason"), std::to_string(kRise) + " consecutive passes"));
}

TEST_CASE("a backend whose health path answers 500 leaves rotation although its traffic path works",
          "[health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {healthCheck()}));
  waitHealthy(lb, {a.address(), b.address()});
  auto before = backendsOf(lb.port(), 4, "before");
  CHECK(std::set<std::string>(before.begin(), before.end()) == std::set<std::string>{"a", "b"});

  demoControl(a.port(), "health_status=500");
  JsonObject ev = waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kFallBound);
  INFO(jsonText(ev, "reason"));
  CHECK(contains(jsonText(ev, "reason"), "status 500"));
  CHECK(jsonText(ev, "available_in_pool") == "1");

  // a still answers traffic directly, but ballast no longer sends it any.
  Response direct = fetch(a.port(), get("/direct"));
  CHECK(direct.status == 200);
  for (const auto& x : backendsOf(lb.port(), 10, "after")) CHECK(x == "b");
}

TEST_CASE("a backend whose health path hangs leaves rotation by probe timeout", "[health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {healthCheck()}));
  waitHealthy(lb, {a.address(), b.address()});

  demoControl(a.port(), "health_hang=1");
  auto hung = Clock::now();
  JsonObject ev = waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), kFallBound);
  INFO(jsonText(ev, "reason") << " after " << since(hung).count() << " ms");
  CHECK(contains(jsonText(ev, "reason"), "timeout"));
  // fall probes had to time out: not before fall * timeout.
  CHECK(since(hung) >= Ms(kFall * kProbeTimeout.count()));
  for (const auto& x : backendsOf(lb.port(), 10, "after")) CHECK(x == "b");
}

TEST_CASE("a probe alternating pass and fail never changes the state with rise 2 fall 2", "[health][flapping]") {
  TempDir dir;
  // The demo backend cannot alternate: a fake one answers the health path
  // 200, 500, 200, 500... and everything else 200.
  std::atomic<int> probes{0};
  FakeServer fake([&](const FakeRequest& req) {
    if (req.target == "/healthz") {
      int k = probes++;
      return FakeReply::respond(k % 2 == 0 ? 200 : 500, k % 2 == 0 ? "pass\n" : "fail\n");
    }
    return FakeReply::respond(200, "fake\n", {"X-Backend: fake"});
  });
  // A timeout as long as the interval: a probe answered late on a loaded
  // machine must not count as a failure and break the alternation.
  constexpr Ms kFlapInterval{250};
  Ballast lb(dir, failoverConfig({{fake.address()}}, {"health_check: { interval: 250ms, timeout: 250ms, rise: " +
                                                        std::to_string(kRise) + ", fall: " + std::to_string(kFall) +
                                                        " }"}));

  JsonObject first = waitEvent(lb, "backend_state", backendState(fake.address(), "healthy"), kRiseBound);
  CHECK(jsonText(first, "old") == "unknown");

  // 11 results (5 failures among them, never two in a row); the 12th probe
  // starts only once the 11th result was handled.
  constexpr int kResults = 11;
  REQUIRE(pollUntil([&] { return probes.load() >= kResults + 1; },
                    Ms(kSlack * (kResults + 1) * kFlapInterval.count() * 110 / 100)));
  std::string states;
  for (const auto& o : eventObjects(lb, "backend_state")) states += jsonText(o, "new") + " (" + jsonText(o, "reason") + ")\n";
  INFO("backend_state events:\n" << states);
  CHECK(countEvents(lb, "backend_state", backendState(fake.address())) == 1);
  // Still in rotation.
  for (const auto& x : backendsOf(lb.port(), 3, "flap")) CHECK(x == "fake");
  fake.stop();
}

TEST_CASE("at start-up the first probe result decides, and a backend still unknown takes no traffic",
          "[health][startup]") {
  TempDir dir;
  DemoBackend a(dir, "a", {"--health-status", "500", "--verbose"});
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c", {"--verbose"});
  demoControl(c.port(), "health_hang=1");  // c stays unknown for the whole test
  // rise/fall 3 every 10 s: only "the first result decides" can change a
  // state within the few seconds this test runs.
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}, {c.address()}},
                                 {"health_check: { interval: 10s, timeout: 10s, rise: 3, fall: 3 }"}));

  JsonObject ea = waitEvent(lb, "backend_state", backendState(a.address(), "unhealthy"), 3000ms);
  JsonObject eb = waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 3000ms);
  CHECK(jsonText(ea, "old") == "unknown");
  CHECK(contains(jsonText(ea, "reason"), "first probe failed"));
  CHECK(contains(jsonText(eb, "reason"), "first probe passed"));

  for (const auto& x : backendsOf(lb.port(), 9, "startup")) CHECK(x == "b");
  CHECK(countEvents(lb, "backend_state", backendState(c.address())) == 0);  // c is still unknown
  // Neither a (failed) nor c (unknown) ever saw a request.
  for (DemoBackend* d : {&a, &c}) {
    size_t traffic = 0;
    for (const auto& l : d->process().lines(Stream::Stderr))
      if (contains(l, "/startup-")) ++traffic;
    INFO(d->name());
    CHECK(traffic == 0);
  }
}

TEST_CASE("while every backend awaits its first probe result, traffic still flows", "[health][startup]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  // Probes hang longer than the test: both stay unknown.
  demoControl(a.port(), "health_hang=1");
  demoControl(b.port(), "health_hang=1");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}},
                                 {"health_check: { interval: 10s, timeout: 10s, rise: 2, fall: 2 }"}));

  auto got = backendsOf(lb.port(), 4, "unknown");  // requires 200 each (no 503)
  CHECK(std::set<std::string>(got.begin(), got.end()) == std::set<std::string>{"a", "b"});
  CHECK(countEvents(lb, "backend_state") == 0);
}


TEST_CASE("probes start every interval even when each one times out", "[health][timing]") {
  TempDir dir;
  // interval is "between probe starts" (config.h); a timeout (<= interval)
  // must not stretch it. A fake backend whose health path never answers
  // records when each probe arrives.
  std::mutex mu;
  std::vector<Clock::time_point> arrivals;
  FakeServer fake([&](const FakeRequest& req) {
    if (req.target != "/healthz") return FakeReply::respond(200, "fake\n");
    std::lock_guard<std::mutex> lock(mu);
    arrivals.push_back(Clock::now());
    FakeReply r;
    r.action = FakeReply::Action::Hang;
    return r;
  });
  constexpr Ms kIv{200};
  constexpr Ms kTo{150};
  Ballast lb(dir, failoverConfig({{fake.address()}}, {"health_check: { interval: " + std::to_string(kIv.count()) +
                                                         "ms, timeout: " + std::to_string(kTo.count()) +
                                                         "ms, jitter: 0%, rise: 2, fall: 2 }"}));
  constexpr size_t kProbes = 5;
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return arrivals.size();
  };
  REQUIRE(pollUntil([&] { return count() >= kProbes; }, Ms(kSlack * kProbes * (kIv + kTo).count())));
  std::vector<Clock::time_point> at;
  {
    std::lock_guard<std::mutex> lock(mu);
    at = arrivals;
  }
  std::string gaps;
  Ms longest{0};
  for (size_t i = 1; i < kProbes; ++i) {
    Ms gap = std::chrono::duration_cast<Ms>(at[i] - at[i - 1]);
    gaps += std::to_string(gap.count()) + " ms ";
    longest = std::max(longest, gap);
  }
  INFO("gaps between probe starts: " << gaps << "(interval " << kIv.count() << " ms, timeout " << kTo.count()
                                     << " ms)");
  CHECK(longest < kIv + kTo / 2);  // interval, not interval + timeout
  // Timed-out probes also bring the backend down in fall * interval.
  JsonObject ev = waitEvent(lb, "backend_state", backendState(fake.address(), "unhealthy"), 1000ms);
  CHECK(contains(jsonText(ev, "reason"), "timeout after 150ms"));
  fake.stop();
}
