// Reload guard and rollback (issue 13): a reload that points a pool at
// backends that all fail is rolled back by itself (reload.guard), under
// load; POST /config/rollback goes back to the previous config by hand.
#include <catch2/catch.hpp>

#include <signal.h>

#include <set>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {


EventPredicate triggerIs(const std::string& trigger) {
  return [trigger](const JsonObject& o) { return jsonText(o, "trigger") == trigger; };
}

}  // namespace

TEST_CASE("reload guard: a reload to backends that all fail is rolled back by itself under load", "[reload][guard]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DeadPort d1, d2, d3;
  const std::vector<std::string> keys = {"health_check: { interval: 100ms, timeout: 80ms, rise: 1, fall: 1 }"};
  const std::string guard = "reload: { guard: { window: 10s, min_available: 50% } }";
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, keys, guard));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"));

  Load load(lb.port(), 4);
  REQUIRE(pollUntil([&] { return load.total() >= 200; }, 10000ms));
  const uint64_t before = load.total();
  const auto t0 = Clock::now();
  replaceConfig(lb.configPath(),
                failoverConfig({{d1.address()}, {d2.address()}, {d3.address()}}, keys, guard));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", triggerIs("SIGHUP"), 20000ms);
  JsonObject armed = waitEvent(lb, "reload_guard_armed");
  CHECK(jsonText(armed, "pools") == "web");
  JsonObject rolled = waitEvent(lb, "reload_rolled_back", {}, 10000ms);
  CHECK(jsonText(rolled, "pool") == "web");
  CHECK(jsonText(rolled, "available") == "0");
  waitEvent(lb, "config_reloaded", triggerIs("guard_rollback"), 5000ms);
  const auto took = std::chrono::duration_cast<Ms>(Clock::now() - t0);
  // a and b were kept through the rollback? They are new backends again:
  // wait until they take traffic, then nothing may fail any more.
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms, 1);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms, 1);
  // A request sent before the rollback (to a dead backend) may still be on
  // its way back: let every client finish a few more before counting.
  const uint64_t settled = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= settled + 40; }, 10000ms));
  const size_t failed_during = load.failures().size();
  load.mark();
  const uint64_t at = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at + 400; }, 20000ms));
  load.stop();
  const auto after = load.byBackendAfterMark();
  WARN("reload guard: bad reload to rollback in " << took.count() << " ms; " << failed_during << " of "
                                                  << (at - before) << " requests failed in between; 0 of "
                                                  << (load.total() - at) << " after");
  CHECK(load.failures().size() == failed_during);
  CHECK(after.count("a") == 1);
  CHECK(after.count("b") == 1);
  CHECK(metricSum(metricsText(lb.adminPort()), "ballast_config_rollbacks_total").value_or(-1) == 1);
}

TEST_CASE("reload guard: a reload whose pools stay healthy passes the guard", "[reload][guard]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::vector<std::string> keys = {"health_check: { interval: 100ms, timeout: 80ms, rise: 1, fall: 1 }"};
  const std::string guard = "reload: { guard: { window: 600ms, min_available: 50% } }";
  Ballast lb(dir, failoverConfig({{a.address()}}, keys, guard));
  replaceConfig(lb.configPath(), failoverConfig({{a.address()}, {b.address()}}, keys, guard));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", triggerIs("SIGHUP"), 20000ms);
  waitEvent(lb, "reload_guard_passed", {}, 5000ms);
  CHECK(countEvents(lb, "reload_rolled_back") == 0);
}

TEST_CASE("POST /config/rollback goes back to the previous config, 409 when there is none", "[reload][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address()}));
  Response none = adminRequest(lb.adminPort(), "POST", "/config/rollback");
  CHECK(none.status == 409);
  CHECK(none.body.find("no previous configuration") != std::string::npos);

  replaceConfig(lb.configPath(), webConfig({b.address()}));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", triggerIs("SIGHUP"), 20000ms);
  REQUIRE(backendsOf(lb.port(), 2, "rb") == std::vector<std::string>{"b", "b"});
  Response r = adminRequest(lb.adminPort(), "POST", "/config/rollback");
  INFO(r.describe());
  CHECK(r.status == 200);
  waitEvent(lb, "config_reloaded", triggerIs("admin_rollback"));
  CHECK(backendsOf(lb.port(), 2, "rb") == std::vector<std::string>{"a", "a"});
  CHECK(adminRequest(lb.adminPort(), "POST", "/config/rollback?to=1").status == 400);
}

TEST_CASE("config history: every applied config with time, hash and trigger, its text by hash, pruned to keep",
          "[reload][history]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  // An admin token: the text of a config is only for those who hold it.
  auto yaml = [&](const std::string& backend) {
    std::string y = webConfig({backend}, "config_history: { dir: history, keep: 3 }");
    const std::string plain = "admin: { listen: 127.0.0.1:0 }\n";
    y.replace(y.find(plain), plain.size(), "admin: { listen: 127.0.0.1:0, token: t0k }\n");
    return y;
  };
  const std::string first = yaml(a.address());
  Ballast lb(dir, first);
  const std::vector<std::string> auth = {"Authorization: Bearer t0k"};
  auto get = [&](const std::string& path, bool with_token) {
    Client c(lb.adminPort());
    return c.roundTrip(request("GET", path, with_token ? auth : std::vector<std::string>{}, "",
                               "127.0.0.1:" + std::to_string(lb.adminPort())));
  };
  Response h1 = get("/config/history", false);
  INFO(h1.describe());
  REQUIRE(h1.status == 200);
  CHECK(h1.body.find("\"trigger\":\"start\",\"current\":true") != std::string::npos);
  const std::string hash1 = h1.body.substr(h1.body.find("\"hash\":\"") + 8, 16);

  // The text of a config needs the token (it may hold secrets).
  CHECK(get("/config/history/" + hash1, false).status == 401);
  Response t1 = get("/config/history/" + hash1, true);
  CHECK(t1.status == 200);
  CHECK(t1.body == first);
  CHECK(get("/config/history/0123456789abcdef", true).status == 404);

  for (int i = 0; i < 3; ++i) {
    replaceConfig(lb.configPath(), yaml(i % 2 == 0 ? b.address() : a.address()) + "# change " + std::to_string(i) + "\n");
    const size_t done = countEvents(lb, "config_reloaded");
    lb.process().signal(SIGHUP);
    waitEvent(lb, "config_reloaded", {}, 20000ms, done);
  }
  Response h2 = get("/config/history", false);
  INFO(h2.describe());
  // Newest first, three kept: the start entry is gone, and so is its file.
  CHECK(h2.body.find("\"trigger\":\"SIGHUP\",\"current\":true") != std::string::npos);
  CHECK(h2.body.find("\"trigger\":\"start\"") == std::string::npos);
  CHECK(get("/config/history/" + hash1, true).status == 404);
  size_t entries = 0;
  for (size_t p = 0; (p = h2.body.find("\"hash\":", p)) != std::string::npos; ++p) ++entries;
  CHECK(entries == 3);

  // A rollback is an entry too.
  Client c(lb.adminPort());
  ReadOptions opts;
  opts.method = "POST";
  Response rb = c.roundTrip(request("POST", "/config/rollback", auth, "", "127.0.0.1:" + std::to_string(lb.adminPort())),
                            opts);
  CHECK(rb.status == 200);
  CHECK(get("/config/history", false).body.find("\"trigger\":\"admin_rollback\",\"current\":true") != std::string::npos);
}
