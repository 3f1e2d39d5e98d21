// State across restarts (issue 13): with `state_file` set, overrides (with
// reason, author and expiry) and each backend's health are written when they
// change and read back at start; health only when the file is younger than
// state_max_age; an override whose time ran out while ballast was down is
// dropped; a corrupt file is reported and ignored, never fatal.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>
#include <set>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

std::string stateConfig(const TempDir& dir, const std::vector<std::string>& backends, const std::string& extra = "") {
  return webConfig(backends, "state_file: " + dir.file("state.jsonl") + "\n" + extra);
}

}  // namespace

TEST_CASE("state file: an override with its reason and expiry survives a restart", "[state_file]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string yaml = stateConfig(dir, {a.address(), b.address()});
  {
    Ballast lb(dir, yaml);
    REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/disable?for=1h&reason=INC-7&by=alice").status ==
            200);
    // Written when it changes (the sweep runs 4 times a second).
    REQUIRE(pollUntil([&] { return has(readFile(dir.file("state.jsonl")), "INC-7"); }, 5000ms));
    CHECK(lb.stopAndCheck() == 0);
  }
  const std::string saved = readFile(dir.file("state.jsonl"));
  INFO(saved);
  CHECK(saved.rfind("{\"ballast_state\":1,\"written\":", 0) == 0);

  Ballast lb(dir, yaml);
  JsonObject loaded = waitEvent(lb, "state_loaded");
  CHECK(jsonText(loaded, "overrides") == "1");
  const std::string status = adminRequest(lb.adminPort(), "GET", "/status").body;
  CHECK(has(status, "\"admin\":\"disabled\""));
  CHECK(has(status, "\"reason\":\"INC-7\",\"by\":\"alice\""));
  CHECK_FALSE(has(status, "\"expires\":null"));
  CHECK(servedBy(lb, 8) == std::set<std::string>{"a"});
}

TEST_CASE("state file: an override whose time ran out while ballast was down is dropped", "[state_file]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string yaml = stateConfig(dir, {a.address(), b.address()});
  Clock::time_point expires_at;
  {
    Ballast lb(dir, yaml);
    REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/drain?for=400ms&reason=short").status == 200);
    expires_at = Clock::now() + 400ms;
    CHECK(lb.stopAndCheck() == 0);
  }
  REQUIRE(has(readFile(dir.file("state.jsonl")), "\"reason\":\"short\""));
  // Start again only once the override's time is over.
  pollUntil([&] { return Clock::now() > expires_at + 100ms; }, 2000ms);
  Ballast lb(dir, yaml);
  JsonObject loaded = waitEvent(lb, "state_loaded");
  CHECK(jsonText(loaded, "overrides") == "0");
  CHECK(jsonText(loaded, "overrides_expired") == "1");
  CHECK(servedBy(lb, 8) == std::set<std::string>{"a", "b"});
}

TEST_CASE("state file: health is read back only while the file is fresh", "[state_file][health]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string hc = "health_check: { interval: 300ms, timeout: 200ms, rise: 3, fall: 1 }";
  auto yaml = [&](const std::string& max_age) {
    return failoverConfig({{a.address()}, {b.address()}}, {hc},
                          "state_file: " + dir.file("state.jsonl") + "\nstate_max_age: " + max_age + "\n");
  };
  {
    Ballast lb(dir, yaml("60s"));
    waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);
    demoControl(b.port(), "health_status=503");
    waitEvent(lb, "backend_state", backendState(b.address(), "unhealthy"), 5000ms);
    CHECK(lb.stopAndCheck() == 0);
  }
  REQUIRE(has(readFile(dir.file("state.jsonl")), "\"backend\":\"" + b.address() + "\",\"health\":\"unhealthy\""));
  demoControl(b.port(), "health_status=200");  // b recovered while ballast was down

  SECTION("fresh: b starts unhealthy and needs `rise` passing probes") {
    Ballast lb(dir, yaml("60s"));
    JsonObject loaded = waitEvent(lb, "state_loaded");
    CHECK(jsonText(loaded, "health_used") == "true");
    CHECK(jsonText(loaded, "health") == "2");
    // Before its third passing probe (>= 600 ms), b gets nothing.
    CHECK(servedBy(lb, 6) == std::set<std::string>{"a"});
    JsonObject up = waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);
    CHECK(jsonText(up, "old") == "unhealthy");
  }
  SECTION("stale: the probes decide as on a first start") {
    Ballast lb(dir, yaml("1ms"));
    JsonObject loaded = waitEvent(lb, "state_loaded");
    CHECK(jsonText(loaded, "health_used") == "false");
    JsonObject first = waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);
    CHECK(jsonText(first, "old") == "unknown");
  }
}

TEST_CASE("state file: a corrupt or foreign file is reported and ignored, never fatal", "[state_file]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  for (const std::string& junk : {std::string("{\"ballast_state\":1,\"written\":1}\n{\"pool\":\"web\""),
                                  std::string("not json at all"), std::string("{\"some\":\"other file\"}\n")}) {
    writeFile(dir.file("state.jsonl"), junk);
    Ballast lb(dir, stateConfig(dir, {a.address()}));
    JsonObject ignored = waitEvent(lb, "state_file_ignored");
    INFO(junk);
    CHECK_FALSE(jsonText(ignored, "error").empty());
    CHECK(servedBy(lb, 2) == std::set<std::string>{"a"});
  }
}

namespace {

// Kills the detached new process of a hot upgrade at the end of the test.
struct NewProcess {
  int pid = 0;
  ~NewProcess() {
    if (pid > 0) ::kill(pid, SIGKILL);
  }
};

}  // namespace

TEST_CASE("state file: overrides survive a hot upgrade (SIGUSR2)", "[state_file][upgrade]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, stateConfig(dir, {a.address(), b.address()}));
  REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/drain?for=2h&reason=CHG-9&by=bob").status ==
          200);
  REQUIRE(pollUntil([&] { return has(readFile(dir.file("state.jsonl")), "CHG-9"); }, 5000ms));

  lb.process().signal(SIGUSR2);
  JsonObject started = waitEvent(lb, "upgrade_started");
  NewProcess next{std::atoi(jsonText(started, "new_pid").c_str())};
  REQUIRE(next.pid > 0);
  waitEvent(lb, "upgrade_handover", {}, 10000ms);
  auto code = lb.process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // The new process read the state file at its start.
  JsonObject loaded = waitEvent(lb, "state_loaded");
  CHECK(jsonText(loaded, "overrides") == "1");
  const std::string status = adminRequest(lb.adminPort(), "GET", "/status").body;
  CHECK(has(status, "\"pid\":" + std::to_string(next.pid)));
  CHECK(has(status, "\"reason\":\"CHG-9\",\"by\":\"bob\""));
  CHECK(servedBy(lb, 6) == std::set<std::string>{"a"});
}
