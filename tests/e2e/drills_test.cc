// Drills (issue 12): POST /drills runs an outage on real traffic, safely,
// and always ends by itself: simulate_down fails a backend's probes (real
// detection, failover and recovery), abort answers a share of a pool's
// requests (optionally only marked ones) with an error.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("drill: simulate_down under load fails over, ends by itself and fails no request", "[drills]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}},
                                 {"health_check: { interval: 100ms, timeout: 80ms, rise: 2, fall: 2 }"}));
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"));
  Load load(lb.port(), 4);
  REQUIRE(pollUntil([&] { return load.total() >= 200; }, 10000ms));

  Response r = adminRequest(lb.adminPort(), "POST", "/drills",
                         "{\"action\": \"simulate_down\", \"pool\": \"web\", \"backend\": \"" + b.address() +
                             "\", \"duration\": \"1500ms\"}");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  JsonObject down = waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), 5000ms);
  CHECK(has(jsonText(down, "reason"), "drill: simulated down"));
  load.mark();
  const uint64_t at = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at + 100; }, 10000ms));
  CHECK(load.byBackendAfterMark().count("b") == 0);  // out of rotation during the drill
  JsonObject ended = waitEvent(lb, "drill_ended", {}, 5000ms);
  CHECK(jsonText(ended, "why") == "its duration ran out");
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms, 1);
  load.stop();
  INFO(firstFailures(load.failures()));
  CHECK(load.failures().empty());
}

TEST_CASE("drill: abort answers the marked requests of a pool with the status, until stopped", "[drills]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Response r = adminRequest(lb.adminPort(), "POST", "/drills",
                         R"({"action": "abort", "pool": "web", "percent": 100, "status": 503, "duration": "10m",)"
                         R"( "header": "x-ballast-drill"})");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  Client c(lb.port());
  Response marked = c.roundTrip(get("/m", {"x-ballast-drill: 1"}));
  CHECK(marked.status == 503);
  CHECK(has(marked.body, "drill: injected failure"));
  CHECK(c.roundTrip(get("/plain")).status == 200);  // real traffic untouched
  {
    Client l(lb.adminPort());
    Response list = l.roundTrip(get("/drills", {"Host: 127.0.0.1:" + std::to_string(lb.adminPort())}));
    CHECK(has(list.body, "\"action\":\"abort\",\"pool\":\"web\",\"percent\":100,\"status\":503"));
  }
  const std::string id = jsonText(waitEvent(lb, "drill_started"), "id");
  Response stop = adminRequest(lb.adminPort(), "POST", "/drills/" + id + "/stop", "");
  CHECK(stop.status == 200);
  CHECK(c.roundTrip(get("/m2", {"x-ballast-drill: 1"})).status == 200);
  CHECK(adminRequest(lb.adminPort(), "POST", "/drills/" + id + "/stop", "").status == 404);
}

TEST_CASE("drill: a drill without a duration, or with unknown fields, is refused", "[drills]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  const std::string b = a.address();
  struct Case {
    std::string body;
    int status;
    std::string says;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"action": "simulate_down", "pool": "web", "backend": ")" + b + R"("})", 400, "duration"},
           {R"({"action": "simulate_down", "pool": "web", "backend": ")" + b + R"(", "duration": "1m", "force": true})",
            400, "unknown field"},
           {R"({"action": "simulate_down", "pool": "web", "backend": ")" + b + R"(", "duration": "1m"})", 409,
            "no health check"},
           {R"({"action": "abort", "pool": "web", "duration": "1m"})", 400, "percent"},
           {R"({"action": "explode", "pool": "web", "duration": "1m"})", 400, "simulate_down, abort or delay"},
           {R"({"action": "abort", "pool": "nope", "percent": 5, "duration": "1m"})", 404, "unknown pool"},
       }) {
    Response r = adminRequest(lb.adminPort(), "POST", "/drills", c.body);
    INFO(c.body << "\n" << r.describe());
    CHECK(r.status == c.status);
    CHECK(has(r.body, c.says));
  }
  CHECK(countEvents(lb, "drill_started") == 0);
}

TEST_CASE("cli: ballast drill starts a simulate_down drill through the admin API", "[drills][cli]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, failoverConfig({{a.address()}, {b.address()}}, {"health_check: { interval: 100ms, timeout: 80ms }"}));
  CliResult r = runBallastCli(dir, {"drill", "--admin", "127.0.0.1:" + std::to_string(lb.adminPort()), "--pool", "web",
                                    "--backend", b.address(), "--duration", "2s"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(has(r.out, "\"action\":\"simulate_down\""));
  JsonObject started = waitEvent(lb, "drill_started");
  CHECK(jsonText(started, "by") == "ballast drill");
  CliResult bad = runBallastCli(dir, {"drill", "--admin", "127.0.0.1:" + std::to_string(lb.adminPort())});
  CHECK(bad.exit_code == 2);
}

TEST_CASE("drill: a simulate_down drill under load is an incident marked drill, with its postmortem",
          "[drills][incidents][postmortem]") {
  TempDir dir;
  const std::string journal = dir.file("journal.jsonl");
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  // One backend of three: the pool stays above the 50% threshold, yet the
  // drill gets its incident.
  Ballast lb(dir, "listen: 127.0.0.1:0\n"
                  "admin: { listen: 127.0.0.1:0 }\n"
                  "log: { level: info, access: 'off', events: stderr }\n"
                  "journal: { path: " + journal + " }\n"
                  "incidents: { threshold: 50%, settle: 500ms }\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    health_check: { interval: 100ms, timeout: 80ms, rise: 2, fall: 2 }\n"
                  "    backends: [{ address: " + a.address() + " }, { address: " + b.address() +
                  " }, { address: " + c.address() + " }]\n");
  for (const auto* x : {&a, &b, &c}) waitEvent(lb, "backend_state", backendState(x->address(), "healthy"));
  Load load(lb.port(), 4);
  REQUIRE(pollUntil([&] { return load.total() >= 200; }, 10000ms));

  Response r = adminRequest(lb.adminPort(), "POST", "/drills",
                            "{\"action\": \"simulate_down\", \"pool\": \"web\", \"backend\": \"" + b.address() +
                                "\", \"duration\": \"1500ms\"}");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  JsonObject opened = waitEvent(lb, "incident_opened", {}, 5000ms);
  const std::string id = jsonText(opened, "id");
  CHECK(jsonText(opened, "drills") == "1");
  CHECK(jsonText(opened, "drill") == "true");
  waitEvent(lb, "drill_failover", {}, 5000ms);
  waitEvent(lb, "drill_ended", {}, 5000ms);
  JsonObject recovered = waitEvent(lb, "drill_recovered", {}, 10000ms);
  CHECK(jsonText(recovered, "backend") == b.address());
  JsonObject closed = waitEvent(lb, "incident_closed", {}, 10000ms);
  CHECK(jsonText(closed, "id") == id);
  load.stop();
  INFO(firstFailures(load.failures()));
  CHECK(load.failures().empty());

  Response one = fetch(lb.adminPort(), get("/incidents/" + id));
  CHECK(has(one.body, "\"drill\":true,\"drills\":[\"1\"]"));

  CliResult pm = runBallastCli(dir, {"postmortem", "--journal", journal, "--incident", id, "--format", "json"});
  INFO(pm.err << pm.out);
  REQUIRE(pm.exit_code == 0);
  CHECK(has(pm.out, "\"drill\":true"));
  CHECK(has(pm.out, "\"backend\":\"" + b.address() + "\""));
  for (const char* k : {"detection_s", "failover_s", "recovery_s"}) {
    INFO(k);
    CHECK(has(pm.out, std::string("\"") + k + "\":"));
    CHECK_FALSE(has(pm.out, std::string("\"") + k + "\":null"));
  }
  CHECK(has(pm.out, "\"failed_requests\":0"));
  CliResult md = runBallastCli(dir, {"postmortem", "--journal", journal, "--incident", id});
  INFO(md.err << md.out);
  REQUIRE(md.exit_code == 0);
  CHECK(has(md.out, "# Postmortem draft: drill on pool web"));
  CHECK(has(md.out, "## Drill"));
  CHECK(has(md.out, "| drill_started |"));
}
