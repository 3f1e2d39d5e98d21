// Fault drills (issue 12): delay drills hold a share of the requests before
// they are proxied, and abort and delay drills come from the config too,
// per pool or per route, always with an expiry that ends them by themselves.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <string>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// The value of one series in /metrics text, or -1 when it is absent.
double metricValue(const std::string& metrics, const std::string& series) {
  for (const std::string& line : splitLines(metrics)) {
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

double clients(const Ballast& lb, const std::string& state) {
  return metricValue(fetch(lb.adminPort(), get("/metrics")).body,
                     "ballast_client_connections{state=\"" + state + "\"}");
}

// One GET over `c`: its status and how long it took.
std::pair<int, Ms> timed(Client& c, const std::string& raw) {
  const auto t0 = std::chrono::steady_clock::now();
  Response r = c.roundTrip(raw);
  return {r.status, std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0)};
}

std::string drillsConfig(const std::string& backend, const std::string& drills) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: 'off', events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    backends: [{ address: " + backend + " }]\n"
         "routes:\n"
         "  - { name: api, match: { path_prefix: /api }, pool: web }\n"
         "  - { name: rest, match: { path_prefix: / }, pool: web }\n"
         "drills:\n" + drills;
}

}  // namespace

TEST_CASE("drill: a delay drill holds the marked requests for the delay, then proxies them", "[drills][delay]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Response r = adminRequest(lb.adminPort(), "POST", "/drills",
                            R"({"action": "delay", "pool": "web", "percent": 100, "delay": "1s", "duration": "10m",)"
                            R"( "header": "x-ballast-drill"})");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"action\":\"delay\",\"pool\":\"web\",\"percent\":100,\"delay_ms\":1000"));
  JsonObject started = waitEvent(lb, "drill_started");
  CHECK(jsonText(started, "action") == "delay");
  CHECK(jsonText(started, "source") == "api");

  Client c(lb.port());
  for (int i = 0; i < 3; ++i) {
    auto [status, took] = timed(c, get("/held-" + std::to_string(i), {"x-ballast-drill: 1"}));
    CHECK(status == 200);  // held, then answered as usual
    CHECK(took >= 1000ms);
    CHECK(took < 5000ms);
  }
  auto [status, took] = timed(c, get("/plain"));
  CHECK(status == 200);
  CHECK(took < 1000ms);  // unmarked: not held

  {
    Response list = fetch(lb.adminPort(), get("/drills"));
    CHECK(has(list.body, "\"action\":\"delay\""));
    CHECK(has(list.body, "\"header\":\"x-ballast-drill\""));
  }
  const std::string id = jsonText(started, "id");
  CHECK(adminRequest(lb.adminPort(), "POST", "/drills/" + id + "/stop", "").status == 200);
  auto [after, took_after] = timed(c, get("/after", {"x-ballast-drill: 1"}));
  CHECK(after == 200);
  CHECK(took_after < 1000ms);

  // Its shape: delay required, unknown fields named, status only for abort.
  struct Case {
    std::string body;
    std::string says;
  };
  for (const auto& bad : std::vector<Case>{
           {R"({"action": "delay", "pool": "web", "percent": 10, "duration": "1m"})", "is required for delay"},
           {R"({"action": "delay", "pool": "web", "percent": 10, "delay": "2s", "duration": "1m", "jitter": "1s"})",
            "unknown field \\\"jitter\\\""},
           {R"({"action": "delay", "pool": "web", "percent": 10, "delay": "2s", "status": 503, "duration": "1m"})",
            "is for abort drills"},
           {R"({"action": "delay", "pool": "web", "percent": 10, "delay": "11m", "duration": "1h"})", "up to 10m"},
       }) {
    Response e = adminRequest(lb.adminPort(), "POST", "/drills", bad.body);
    INFO(bad.body << "\n" << e.describe());
    CHECK(e.status == 400);
    CHECK(has(e.body, bad.says));
  }
}

TEST_CASE("drill: a client that closes while its request is held leaves no connection behind", "[drills][delay]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  REQUIRE(adminRequest(lb.adminPort(), "POST", "/drills",
                       R"({"action": "delay", "pool": "web", "percent": 100, "delay": "1500ms", "duration": "10m"})")
              .status == 200);
  {
    Client c(lb.port());
    c.sendAll(get("/held"));
    // The request is held: one active client connection.
    REQUIRE(pollUntil([&] { return clients(lb, "active") == 1; }, 5000ms));
    c.close();
  }
  {
    // A second one, half-closed (the client says it sends nothing more).
    Client c(lb.port());
    c.sendAll(get("/held2"));
    REQUIRE(pollUntil([&] { return clients(lb, "active") >= 1; }, 5000ms));
    c.shutdownWrite();
  }
  // Noticed at the latest when the delay is over (reading is paused while
  // a request is in progress, as for a queued one): nothing stays open.
  CHECK(pollUntil([&] { return clients(lb, "active") == 0 && clients(lb, "idle") == 0; }, 10000ms));
  // The proxy still answers, and shuts down with nothing left open.
  Client c(lb.port());
  CHECK(c.roundTrip(get("/after")).status == 200);
  c.close();
  CHECK(lb.stopAndCheck() == 0);
}

TEST_CASE("drill: drills from the config start at load and end at their expiry by themselves", "[drills][config]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, drillsConfig(a.address(),
                               "  - { pool: web, abort: { percent: 100, status: 502 }, header: x-ballast-drill,"
                               " duration: 1500ms }\n"
                               "  - { route: api, delay: { percent: 100, duration: 400ms }, duration: 10m }\n"));
  JsonObject abort = waitEvent(lb, "drill_started", [](const JsonObject& o) { return jsonText(o, "action") == "abort"; });
  CHECK(jsonText(abort, "source") == "config");
  CHECK(jsonText(abort, "pool") == "web");
  JsonObject delay = waitEvent(lb, "drill_started", [](const JsonObject& o) { return jsonText(o, "action") == "delay"; });
  CHECK(jsonText(delay, "route") == "api");
  {
    Response list = fetch(lb.adminPort(), get("/drills"));
    CHECK(has(list.body, "\"source\":\"config\""));
    CHECK(has(list.body, "\"route\":\"api\""));
  }
  Client c(lb.port());
  CHECK(c.roundTrip(get("/x", {"x-ballast-drill: 1"})).status == 502);  // the pool's abort drill
  CHECK(c.roundTrip(get("/x")).status == 200);                           // unmarked
  auto [api_status, api_took] = timed(c, get("/api/x"));                 // the route's delay drill
  CHECK(api_status == 200);
  CHECK(api_took >= 400ms);
  auto [rest_status, rest_took] = timed(c, get("/other"));
  CHECK(rest_status == 200);
  CHECK(rest_took < 400ms);  // another route: not held

  // The abort drill ends by itself.
  JsonObject ended = waitEvent(lb, "drill_ended", [](const JsonObject& o) { return jsonText(o, "action") == "abort"; },
                               5000ms);
  CHECK(jsonText(ended, "why") == "its duration ran out");
  CHECK(c.roundTrip(get("/y", {"x-ballast-drill: 1"})).status == 200);

  // A reload that keeps the config unchanged restarts nothing (the ended
  // abort drill stays ended) and keeps the route drill, its id and expiry.
  const std::string delay_id = jsonText(delay, "id");
  const std::string delay_expires = jsonText(delay, "expires");
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 5000ms);
  CHECK(countEvents(lb, "drill_started") == 2);
  {
    Response list = fetch(lb.adminPort(), get("/drills"));
    CHECK(has(list.body, "\"id\":\"" + delay_id + "\",\"action\":\"delay\""));
    CHECK(has(list.body, "\"expires\":\"" + delay_expires + "\""));
    CHECK_FALSE(has(list.body, "\"action\":\"abort\""));
  }
  // One that drops the route drill ends it.
  replaceConfig(lb.configPath(), drillsConfig(a.address(),
                                              "  - { pool: web, abort: { percent: 100, status: 502 }, header: x-ballast-drill,"
                                              " duration: 1500ms }\n"));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 5000ms, 1);
  JsonObject removed = waitEvent(lb, "drill_ended", [](const JsonObject& o) { return jsonText(o, "action") == "delay"; },
                                 5000ms);
  CHECK(jsonText(removed, "why") == "removed from the config");
  CHECK(countEvents(lb, "drill_started") == 2);
  CHECK(c.roundTrip(get("/z", {"x-ballast-drill: 1"})).status == 200);
  auto [api2, api2_took] = timed(c, get("/api/y"));
  CHECK(api2 == 200);
  CHECK(api2_took < 400ms);
}

TEST_CASE("drill: a config drill without an expiry, or with a bad target, is a config error", "[drills][config]") {
  TempDir dir;
  struct Case {
    std::string drill;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {"  - { pool: web, abort: { percent: 10 } }\n", "drills[0]: a drill needs an expiry"},
           {"  - { pool: web, abort: { percent: 10 }, expires: tomorrow }\n", "drills[0].expires: expected a UTC time"},
           {"  - { route: nope, delay: { percent: 5, duration: 2s }, duration: 10m }\n", "drills[0].route: unknown route"},
           {"  - { pool: web, delay: { percent: 5 }, duration: 10m }\n", "drills[0].delay.duration: missing required key"},
           {"  - { pool: web, abort: { percent: 10 }, duration: 10m, force: true }\n", "drills[0].force: unknown key"},
       }) {
    const std::string path = dir.file("bad.yaml");
    writeFile(path, drillsConfig("127.0.0.1:9", c.drill));
    CliResult r = runBallastCli(dir, {"--check", "--config", path});
    INFO(c.drill << r.out << r.err);
    CHECK(r.exit_code != 0);
    CHECK(has(r.err + r.out, path + ":11:"));  // file and line of the drill
    CHECK(has(r.err + r.out, c.says));
  }
}
