// The incident tracker (lb/stats/incidents.h), driven by hand-made pool
// samples: when incidents open and close, what they count, the traffic
// lines they journal (whose failures must add up to the counters'), the
// timeline, and the incident tag on event lines.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "lb/base/journal.h"
#include "lb/base/json_read.h"
#include "lb/base/log.h"
#include "lb/stats/incidents.h"
#include "lb/stats/stats.h"

using ballast::IncidentTracker;
using ballast::PoolSample;

namespace {

// One pool of `total` backends; counters advanced by hand.
struct FakePool {
  PoolSample s;
  FakePool(const char* name, uint32_t total) {
    s.name = name;
    s.total = total;
    s.available = total;
    s.counters.latency.assign(ballast::latencyBuckets().size() + 1, 0);
  }
  void ok(uint64_t n) {
    s.counters.requests += n;
    s.counters.latency[0] += n;
  }
  void fail(int status, uint64_t n) {
    s.counters.requests += n;
    s.counters.failed += n;
    s.counters.failed_by_status[static_cast<size_t>(status - 500)] += n;
    s.counters.latency[3] += n;
  }
};

std::vector<std::vector<std::pair<std::string, std::string>>> journalLines(const std::string& path) {
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) {
    std::vector<std::pair<std::string, std::string>> m;
    std::string err;
    INFO(l);
    REQUIRE(ballast::parseFlatJsonObject(l, m, err));
    out.push_back(std::move(m));
  }
  return out;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& m, const std::string& k) {
  for (const auto& [key, v] : m) {
    if (key == k) return v;
  }
  return {};
}

}  // namespace

TEST_CASE("incidents: open on the last backend lost, count the impact, close after settle", "[incidents]") {
  char tmpl[] = "/tmp/ballast-incidents-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string path = std::string(tmpl) + "/journal.jsonl";
  ballast::Journal& j = ballast::journal();
  REQUIRE(j.open(path, 1 << 20, 1, nullptr));
  IncidentTracker t(ballast::latencyBuckets());
  t.configure(50, 2000);
  j.setObserver([&](std::string_view l) { t.onEvent(l); });
  ballast::log().setJournal(&j);

  FakePool web("web", 2);
  FakePool api("api", 4);
  uint64_t now = 1000000;
  const double wall0 = 1.8e9;
  const auto tick = [&](uint64_t ms) {
    now += ms;
    t.update(now, wall0 + static_cast<double>(now - 1000000) / 1000.0, {web.s, api.s});
  };
  tick(250);                       // the first snapshot: nothing yet
  for (int i = 0; i < 20; ++i) {  // 5 s of healthy traffic
    web.ok(10);
    api.ok(10);
    tick(250);
  }
  CHECK(t.list().empty());
  // Failures begin before the pool crosses the threshold (detection time).
  web.fail(502, 7);
  tick(250);
  // One of two available: 50% is not below 50%.
  web.s.available = 1;
  tick(250);
  CHECK_FALSE(t.anyOpen());
  // api losing 2 of 4 is not below 50% either; 1 of 4 is.
  api.s.available = 2;
  tick(250);
  CHECK_FALSE(t.anyOpen());
  web.s.available = 0;
  web.fail(503, 5);
  tick(250);
  REQUIRE(t.anyOpen());
  REQUIRE(t.list().size() == 1);
  const ballast::Incident* inc = t.list()[0];
  CHECK(inc->pool == "web");
  CHECK(inc->reason == "no available backend");
  CHECK(inc->open());
  ballast::logEvent(ballast::LogLevel::Warn, "some_event_without_pool");
  {
    auto& e = ballast::log().eventLine(ballast::LogLevel::Warn, "backend_state");
    e.str("pool", "api").str("backend", "x");
    ballast::log().emit(ballast::LogLevel::Warn);
  }
  for (int i = 0; i < 8; ++i) {  // 2 s down: every request fails
    web.fail(503, 3);
    tick(250);
  }
  web.s.available = 2;
  for (int i = 0; i < 4; ++i) {  // recovered, settling (1 s < 2 s)
    web.ok(10);
    tick(250);
  }
  CHECK(inc->open());
  CHECK(inc->recovered_at > 0);
  // Falling again while settling keeps the same incident.
  web.s.available = 0;
  web.fail(503, 1);
  tick(250);
  CHECK(inc->recovered_at == 0);
  web.s.available = 2;
  for (int i = 0; i < 9; ++i) {  // healthy: closes 2 s after the first of these
    web.ok(10);
    tick(250);
  }
  CHECK_FALSE(inc->open());
  CHECK_FALSE(t.anyOpen());
  REQUIRE(t.list().size() == 1);
  CHECK(inc->min_available == 0);
  CHECK(inc->closed_at - inc->opened_at == Approx(5.5).margin(0.01));
  // during: the 5 x 503 at the opening were counted before it (in `before`).
  CHECK(inc->during.failed == 24 + 1);
  CHECK(inc->during.requests == 24 + 40 + 1 + 90);  // closed on the 9th healthy tick
  CHECK(inc->during.failed_by_status[3] == 25);
  CHECK(inc->before.failed == 7 + 5);
  CHECK(inc->before.requests == 200 + 12);
  CHECK(inc->before.p50 == Approx(ballast::latencyBuckets()[0]));
  CHECK(inc->during.p99 == Approx(ballast::latencyBuckets()[3]));
  // Timeline: its own opening, the event with no pool; not api's event.
  std::vector<std::string> events;
  for (const auto& e : inc->timeline) events.push_back(e.event);
  CHECK(events == std::vector<std::string>{"incident_opened", "some_event_without_pool", "incident_closed"});
  // The after minute runs on after the close.
  web.fail(500, 2);
  tick(250);
  CHECK(inc->after.failed == 2);
  CHECK_FALSE(inc->after_complete);
  for (int i = 0; i < 241; ++i) tick(250);
  CHECK(inc->after_complete);

  ballast::log().setJournal(nullptr);
  j.setObserver(nullptr);
  j.close();
  // The journal: every failure from the first failed second on is in an
  // incident_traffic line of this incident, and events inside carry its id.
  uint64_t failed = 0, requests = 0;
  int opened = 0, closed = 0, tagged = 0;
  for (const auto& m : journalLines(path)) {
    const std::string ev = field(m, "event");
    if (ev == "incident_traffic") {
      CHECK(field(m, "incident") == inc->id);
      failed += std::stoull(field(m, "failed"));
      requests += std::stoull(field(m, "requests"));
    }
    if (ev == "incident_opened") ++opened;
    if (ev == "incident_closed") ++closed;
    if (ev == "some_event_without_pool" && field(m, "incident") == inc->id) ++tagged;
  }
  CHECK(opened == 1);
  CHECK(closed == 1);
  CHECK(tagged == 1);
  CHECK(failed == 7 + 5 + 25);
  CHECK(requests == 200 + 12 + 24 + 40 + 1 + 90);
  const std::string rm = std::string("rm -rf '") + tmpl + "'";
  CHECK(std::system(rm.c_str()) == 0);
}

TEST_CASE("incidents: below the threshold share opens, and a removed pool closes its incident", "[incidents]") {
  IncidentTracker t(ballast::latencyBuckets());
  t.configure(75, 1000);
  FakePool api("api", 4);
  uint64_t now = 5000;
  api.s.available = 3;  // 75%: not below
  t.update(now, 1.8e9, {api.s});
  CHECK_FALSE(t.anyOpen());
  api.s.available = 2;
  t.update(now += 250, 1.8e9 + 0.25, {api.s});
  REQUIRE(t.anyOpen());
  CHECK(t.list()[0]->reason == "2 of 4 backends available, below 75%");
  CHECK(t.find(t.list()[0]->id) == t.list()[0]);
  CHECK(t.find("nope") == nullptr);
  t.update(now += 250, 1.8e9 + 0.5, {});
  CHECK_FALSE(t.anyOpen());
  CHECK(t.list().size() == 1);
  // A pool whose backends all await their first probe (total 0) is no incident.
  FakePool fresh("fresh", 0);
  fresh.s.available = 0;
  t.update(now += 250, 1.8e9 + 0.75, {fresh.s});
  CHECK_FALSE(t.anyOpen());
}
