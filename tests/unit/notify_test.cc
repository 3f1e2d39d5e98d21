// The paging chain without a loop: notify config errors, event lines ->
// notify events, grouping, and the three body formats.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/base/json_read.h"
#include "lb/notify/notify_event.h"
#include "lb/notify/notify_format.h"

using ballast::config::ConfigError;
using ballast::config::loadConfigString;
using ballast::config::NotifyFormat;
using namespace ballast::notify;

namespace {

const std::string kBase =
    "listen: 127.0.0.1:0\n"
    "pools:\n"
    "  - name: web\n"
    "    backends: [{ address: 127.0.0.1:9001 }]\n";

std::vector<std::string> errorsOf(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : loadConfigString(kBase + yaml).errors) out.push_back(e.format());
  return out;
}

Members line(const std::string& json) {
  Members m;
  std::string err;
  REQUIRE(ballast::parseFlatJsonObject(json, m, err));
  return m;
}

std::string stateLine(const std::string& backend, const std::string& from, const std::string& to,
                      const std::string& reason, int available) {
  return R"({"time":"2026-12-01T12:00:00.000Z","level":"warn","event":"backend_state","pool":"web","backend":")" +
         backend + R"(","old":")" + from + R"(","new":")" + to + R"(","reason":")" + reason +
         R"(","since_last_change_ms":10,"available_in_pool":)" + std::to_string(available) + "}";
}

}  // namespace

TEST_CASE("notify config: a full chain loads", "[notify]") {
  auto r = loadConfigString(kBase +
                            "notify:\n"
                            "  targets:\n"
                            "    - { name: team-chat, url: \"http://127.0.0.1:8088/hook\", format: slack }\n"
                            "    - { name: am, url: \"http://127.0.0.1:9093/api/v2/alerts\", format: alertmanager }\n"
                            "    - { name: primary, url: \"http://127.0.0.1:8089\", format: json }\n"
                            "    - { name: secondary, url: \"https://127.0.0.1/page?x=1\", format: json }\n"
                            "  rules:\n"
                            "    - { events: [backend_down, backend_up], notify: [team-chat] }\n"
                            "    - { events: [pool_down], notify: [primary, am], escalate: [{ after: 5m, notify: [secondary] }] }\n"
                            "  group_wait: 2s\n"
                            "  repeat: 1h\n");
  INFO((r.errors.empty() ? std::string() : r.errors.front().format()));
  REQUIRE(r.ok());
  const auto& n = r.config->notify;
  REQUIRE(n.targets.size() == 4);
  CHECK(n.targets[0].format == NotifyFormat::Slack);
  CHECK(n.targets[0].path == "/hook");
  CHECK(n.targets[0].host_header == "127.0.0.1:8088");
  CHECK(n.targets[2].path == "/");
  CHECK(n.targets[3].https);
  CHECK(n.targets[3].address.port == 443);
  CHECK(n.targets[3].path == "/page?x=1");
  REQUIRE(n.rules.size() == 2);
  REQUIRE(n.rules[1].escalate.size() == 1);
  CHECK(n.rules[1].escalate[0].after.count() == 300000);
  CHECK(n.rules[1].escalate[0].notify == std::vector<std::string>{"secondary"});
  CHECK(n.group_wait.count() == 2000);
  CHECK(n.repeat.count() == 3600000);
}

TEST_CASE("notify config: errors name file and line and column and key", "[notify]") {
  const std::string targets =
      "notify:\n"
      "  targets:\n"
      "    - { name: chat, url: \"http://127.0.0.1:8088/hook\", format: slack }\n";
  CHECK(errorsOf(targets + "  rules:\n    - { events: [backend_down], notify: [pager] }\n") ==
        std::vector<std::string>{
            "<string>:9:42: notify.rules[0].notify[0]: unknown target \"pager\" (targets: chat)"});
  CHECK(errorsOf("notify:\n  targets:\n    - { name: chat, url: \"http://127.0.0.1:8088/\", format: teams }\n") ==
        std::vector<std::string>{"<string>:7:60: notify.targets[0].format: unknown format \"teams\" (allowed: slack, "
                                 "json, alertmanager)"});
  CHECK(errorsOf("notify:\n  targets:\n    - { name: chat, url: \"ftp://x/\", format: json }\n") ==
        std::vector<std::string>{"<string>:7:26: notify.targets[0].url: expected a URL like http://host:port/path or "
                                 "https://host/path, got \"ftp://x/\" (the scheme must be http or https)"});
  CHECK(errorsOf("notify:\n  targets:\n    - { name: chat, url: \"http:///x\", format: json }\n") ==
        std::vector<std::string>{"<string>:7:26: notify.targets[0].url: expected a URL like http://host:port/path or "
                                 "https://host/path, got \"http:///x\" (no host)"});
  CHECK(errorsOf(targets + "  rules:\n    - { events: [backend_gone], notify: [chat] }\n") ==
        std::vector<std::string>{"<string>:9:18: notify.rules[0].events[0]: unknown event \"backend_gone\" (allowed: "
                                 "backend_down, backend_up, pool_degraded, pool_down, resolved, reload_failed)"});
  CHECK(errorsOf(targets + "  rules:\n    - { events: [backend_down], notify: [chat], escalate: [{ after: 1m, notify: [chat] }] }\n") ==
        std::vector<std::string>{"<string>:9:59: notify.rules[0].escalate: escalation follows an incident: the rule "
                                 "needs pool_down or pool_degraded among its events"});
  CHECK(errorsOf(targets + "  grup_wait: 2s\n") ==
        std::vector<std::string>{"<string>:8:3: notify.grup_wait: unknown key (did you mean \"group_wait\"?)"});
  CHECK(errorsOf(targets + "    - { name: chat, url: \"http://127.0.0.1:1/\", format: json }\n") ==
        std::vector<std::string>{"<string>:8:15: notify.targets[1].name: duplicate target name \"chat\" (also at "
                                 "notify.targets[0])"});
}

TEST_CASE("notify events: backend_state and incidents and reloads become notify events", "[notify]") {
  EventMapper m;
  m.setPoolTotal("web", 2);
  std::vector<Event> out;
  m.onLine(line(stateLine("127.0.0.1:9001", "healthy", "unhealthy", "2 consecutive failures: connection refused", 1)), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == Kind::BackendDown);
  CHECK(out[0].reason == "connection refused");
  CHECK(out[0].summary == "Backend 127.0.0.1:9001 of pool web is down: connection refused (1 of 2 available)");
  // Unknown -> healthy (the first probe) and disabled -> healthy are no news.
  out.clear();
  m.onLine(line(stateLine("127.0.0.1:9001", "unknown", "healthy", "2 consecutive passes: status 200", 2)), out);
  m.onLine(line(stateLine("127.0.0.1:9001", "disabled", "healthy", "enabled", 2)), out);
  CHECK(out.empty());

  // A degraded incident, then its last backend lost: pool_down, same incident.
  m.onLine(line(R"({"time":"2026-12-01T12:00:01.000Z","level":"warn","event":"incident_opened","id":"inc-1-web","pool":"web","reason":"1 of 2 backends available, below 60%","available":1,"total":2})"), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == Kind::PoolDegraded);
  CHECK(out[0].incident == "inc-1-web");
  out.clear();
  m.onLine(line(stateLine("127.0.0.1:9002", "healthy", "unhealthy", "timeout", 0)), out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].kind == Kind::BackendDown);
  CHECK(out[0].incident == "inc-1-web");
  CHECK(out[1].kind == Kind::PoolDown);
  CHECK(out[1].incident == "inc-1-web");
  CHECK(out[1].summary == "Pool web is down: no available backend (0 of 2) (incident inc-1-web)");
  out.clear();
  m.onLine(line(R"({"time":"2026-12-01T12:00:09.000Z","level":"info","event":"incident_closed","id":"inc-1-web","pool":"web","why":"recovered","opened":"2026-12-01T12:00:01.000Z","duration_s":8.000,"total":2})"), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == Kind::Resolved);
  CHECK(out[0].resolves == std::vector<Kind>{Kind::PoolDegraded, Kind::PoolDown});
  CHECK(out[0].summary == "Resolved: pool web recovered after 8.000 s (incident inc-1-web)");
  out.clear();
  m.onLine(line(R"({"time":"2026-12-01T12:00:10.000Z","level":"error","event":"config_reload_failed","trigger":"SIGHUP","errors":"a.yaml:3:7: pools: bad"})"), out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind == Kind::ReloadFailed);
  CHECK(out[0].summary == "Config reload failed (SIGHUP): a.yaml:3:7: pools: bad; the running configuration is unchanged");
}

TEST_CASE("notify events: a drill's incident is marked drill everywhere", "[notify]") {
  EventMapper m;
  m.setPoolTotal("web", 3);
  std::vector<Event> out;
  m.onLine(line(R"({"time":"t1","level":"warn","event":"incident_opened","id":"inc-2-web","pool":"web","reason":"drill 1: simulated outage","available":3,"total":3,"drill":true,"drills":"1"})"), out);
  m.onLine(line(stateLine("127.0.0.1:9002", "healthy", "unhealthy", "2 consecutive failures: drill: simulated down (the probe got: status 200)", 2)), out);
  m.onLine(line(R"({"time":"t2","level":"info","event":"incident_closed","id":"inc-2-web","pool":"web","why":"recovered","opened":"t1","duration_s":30.000,"total":3,"drill":true,"drills":"1"})"), out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].kind == Kind::PoolDegraded);
  CHECK(out[0].summary == "DRILL: Pool web is degraded: drill 1: simulated outage (incident inc-2-web)");
  CHECK(out[1].summary.rfind("DRILL: Backend 127.0.0.1:9002 of pool web is down: drill: simulated down", 0) == 0);
  CHECK(out[2].kind == Kind::Resolved);
  for (const Event& e : out) {
    CHECK(e.drill);
    CHECK(formatBody(e, NotifyFormat::Json).find(R"("drill":true)") != std::string::npos);
  }
  CHECK(formatBody(out[2], NotifyFormat::Alertmanager).find(R"("incident":"inc-2-web","drill":"true"})") != std::string::npos);
  // After the drill's incident: no longer marked.
  out.clear();
  m.onLine(line(stateLine("127.0.0.1:9002", "healthy", "unhealthy", "timeout", 2)), out);
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].drill);
}

TEST_CASE("notify grouping: a shared reason or a cascade or one alone", "[notify]") {
  EventMapper m;
  m.setPoolTotal("web", 4);
  Grouper g;
  g.setWait(2000);
  std::vector<Event> evs;
  m.onLine(line(stateLine("a:1", "healthy", "unhealthy", "2 consecutive failures: connection refused", 3)), evs);
  m.onLine(line(stateLine("b:1", "healthy", "unhealthy", "2 consecutive failures: connection refused", 2)), evs);
  m.onLine(line(stateLine("c:1", "healthy", "ejected", "connection refused", 1)), evs);
  REQUIRE(evs.size() == 3);
  CHECK(g.add(evs[0], 1000));
  CHECK(g.add(evs[1], 1300));
  CHECK(g.add(evs[2], 2500));
  CHECK(g.nextDue() == 3000);
  std::vector<Event> out;
  g.flush(2999, out);
  CHECK(out.empty());
  g.flush(3000, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].backends == std::vector<std::string>{"a:1", "b:1", "c:1"});
  CHECK(out[0].summary ==
        "3 of 4 backends of pool web failed within 2 s: connection refused \u2014 a shared dependency is likely "
        "(a:1, b:1, c:1) (1 of 4 available)");
  CHECK(g.nextDue() == 0);

  // Different reasons: the order they fell in.
  evs.clear();
  m.onLine(line(stateLine("a:1", "healthy", "unhealthy", "2 consecutive failures: status 503", 3)), evs);
  m.onLine(line(stateLine("b:1", "healthy", "unhealthy", "2 consecutive failures: timeout after 1s", 2)), evs);
  g.add(evs[0], 10000);
  g.add(evs[1], 10400);
  out.clear();
  g.flush(12000, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].summary ==
        "2 of 4 backends of pool web failed one after another within 2 s (a cascade): a:1 (status 503), then b:1 "
        "(timeout after 1s) 400 ms later (2 of 4 available)");

  // Alone: the event itself; not held without grouping.
  out.clear();
  g.add(evs[0], 20000);
  g.flush(22000, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].summary == evs[0].summary);
  Grouper none;
  CHECK_FALSE(none.add(evs[0], 0));
}

TEST_CASE("notify formats: slack and json and alertmanager", "[notify]") {
  Event e;
  e.kind = Kind::PoolDown;
  e.pool = "web";
  e.reason = "no available backend";
  e.time = "2026-12-01T12:00:01.000Z";
  e.incident = "inc-1-web";
  e.available = 0;
  e.total = 2;
  e.summary = "Pool web is down";
  CHECK(formatBody(e, NotifyFormat::Slack) == R"({"text":"Pool web is down"})");
  CHECK(formatBody(e, NotifyFormat::Json) ==
        R"({"event":"pool_down","pool":"web","reason":"no available backend","time":"2026-12-01T12:00:01.000Z",)"
        R"("incident":"inc-1-web","severity":"critical","summary":"Pool web is down","available":0,"total":2})");
  CHECK(formatBody(e, NotifyFormat::Alertmanager) ==
        R"([{"labels":{"alertname":"PoolDown","pool":"web","severity":"critical","incident":"inc-1-web"},)"
        R"("annotations":{"summary":"Pool web is down","description":"no available backend; 0 of 2 backends of pool web available"},)"
        R"("startsAt":"2026-12-01T12:00:01.000Z"}])");
  e.note = "Escalated, not acknowledged after 5m";
  CHECK(formatBody(e, NotifyFormat::Slack) == R"({"text":"Escalated, not acknowledged after 5m: Pool web is down"})");

  Event r;
  r.kind = Kind::Resolved;
  r.pool = "web";
  r.incident = "inc-1-web";
  r.time = "2026-12-01T12:00:09.000Z";
  r.opened = "2026-12-01T12:00:01.000Z";
  r.resolves = {Kind::PoolDown};
  r.summary = "Resolved";
  CHECK(formatBody(r, NotifyFormat::Alertmanager) ==
        R"([{"labels":{"alertname":"PoolDown","pool":"web","severity":"critical","incident":"inc-1-web"},)"
        R"("annotations":{"summary":"Resolved","description":""},)"
        R"("startsAt":"2026-12-01T12:00:01.000Z","endsAt":"2026-12-01T12:00:09.000Z"}])");

  // A group of backends: one alert each, and the list in json.
  Event g;
  g.kind = Kind::BackendDown;
  g.pool = "web";
  g.backends = {"a:1", "b:1"};
  g.reason = "connection refused";
  g.time = "t";
  g.summary = "2 down";
  const std::string am = formatBody(g, NotifyFormat::Alertmanager);
  CHECK(am.find(R"("alertname":"BackendDown","pool":"web","backend":"a:1","severity":"warning")") != std::string::npos);
  CHECK(am.find(R"("backend":"b:1")") != std::string::npos);
  CHECK(formatBody(g, NotifyFormat::Json).find(R"("backends":["a:1","b:1"])") != std::string::npos);
}
