// A scripted outage end to end: both backends of a pool killed under load,
// brought back; the incident opens and closes, the journal records it, and
// `ballast postmortem` drafts from the journal a failed-request count equal
// to what the load's own clients saw.
#include <catch2/catch.hpp>

#include <csignal>
#include <regex>
#include <string>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

std::string outageConfig(const std::string& a, const std::string& b, const std::string& journal) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: 'off', events: stderr }\n"
         "journal: { path: " + journal + ", max_size: 4MiB, keep: 5 }\n"
         "incidents: { threshold: 50%, settle: 500ms }\n"
         "pools:\n"
         "  - name: web\n"
         "    health_check: { interval: 100ms, timeout: 100ms, rise: 2, fall: 2 }\n"
         "    backends: [{ address: " + a + " }, { address: " + b + " }]\n";
}

uint64_t jsonNumber(const std::string& text, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\":([0-9]+)");
  if (!std::regex_search(text, m, re)) return UINT64_MAX;
  return std::stoull(m[1].str());
}

}  // namespace

TEST_CASE("a scripted outage: incident, journal, and a postmortem that counts what clients saw",
          "[incidents][journal][postmortem]") {
  TempDir dir;
  const std::string journal = dir.file("journal.jsonl");
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, outageConfig(a.address(), b.address(), journal));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);

  Load load(lb.port(), 2);
  REQUIRE(pollUntil([&] { return load.total() >= 100; }, 5000ms));
  a.process().signal(SIGKILL);
  b.process().signal(SIGKILL);
  REQUIRE(a.process().waitExit(5000ms).has_value());
  REQUIRE(b.process().waitExit(5000ms).has_value());
  JsonObject opened = waitEvent(lb, "incident_opened", {}, 5000ms);
  const std::string id = jsonText(opened, "id");
  CHECK(jsonText(opened, "pool") == "web");
  CHECK(jsonText(opened, "reason") == "no available backend");
  // Let the outage cost some requests, then bring the backends back.
  REQUIRE(pollUntil([&] { return load.failures().size() >= 20; }, 5000ms));
  auto a2 = startDemoBackendAt(dir, "a2", a.address());
  auto b2 = startDemoBackendAt(dir, "b2", b.address());
  JsonObject closed = waitEvent(lb, "incident_closed", {}, 10000ms);
  CHECK(jsonText(closed, "id") == id);
  // Events inside the incident carry its id (the backends coming back).
  CHECK(countEvents(lb, "backend_state", [&](const JsonObject& o) {
          return jsonText(o, "new") == "healthy" && jsonText(o, "incident") == id;
        }) >= 1);
  const uint64_t after_close = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= after_close + 50; }, 5000ms));
  load.stop();

  uint64_t client_failed = 0, client_errors = 0;
  for (const auto& f : load.failures()) {
    ++client_failed;
    if (f.rfind("client error", 0) == 0) ++client_errors;
  }
  INFO(load.total() << " requests, " << client_failed << " failed");
  CHECK(client_errors == 0);
  REQUIRE(client_failed >= 20);

  // The admin API has the incident, closed, with its impact.
  {
    Response list = Client(lb.adminPort()).roundTrip(get("/incidents"));
    CHECK(list.status == 200);
    CHECK(list.body.find("\"id\":\"" + id + "\"") != std::string::npos);
    CHECK(list.body.find("\"state\":\"closed\"") != std::string::npos);
    Response one = Client(lb.adminPort()).roundTrip(get("/incidents/" + id));
    CHECK(one.status == 200);
    CHECK(one.body.find("\"timeline\":[") != std::string::npos);
    CHECK(one.body.find("\"event\":\"incident_opened\"") != std::string::npos);
    CHECK(Client(lb.adminPort()).roundTrip(get("/incidents/nope")).status == 404);
  }

  // The draft from the journal: its failed count is the clients'.
  CliResult pm = runBallastCli(dir, {"postmortem", "--journal", journal, "--incident", id, "--format", "json"});
  INFO(pm.err << pm.out);
  REQUIRE(pm.exit_code == 0);
  CHECK(jsonNumber(pm.out, "failed") == client_failed);
  CHECK(pm.out.find("\"time_to_detect_s\":null") == std::string::npos);
  CliResult md = runBallastCli(dir, {"postmortem", "--journal", journal});
  INFO(md.err << md.out);
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("- Failed requests: " + std::to_string(client_failed) + " of ") != std::string::npos);
  for (const char* section : {"## Summary", "## Impact", "## Timeline (UTC)", "## Error rate", "## Root cause",
                              "## What went well", "## What went wrong", "## Action items"}) {
    CHECK(md.out.find(section) != std::string::npos);
  }
  CHECK(md.out.find("| backend_state |") != std::string::npos);
  CHECK(runBallastCli(dir, {"postmortem", "--journal", dir.file("missing.jsonl")}).exit_code == 1);
  CHECK(runBallastCli(dir, {"postmortem"}).exit_code == 2);
}
