// Operator overrides that expire and say why (issue 13): drain/disable take
// `for`, `reason` and `by` (query or JSON body), /status shows them, the
// backend comes back by itself when `for` runs out, an override without an
// expiry is flagged once older than overrides.warn_after, and anything the
// admin API does not know is refused, never ignored.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

#include <set>

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("overrides: disable for a while with a reason, shown in /status, then back by itself", "[overrides]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));
  REQUIRE(servedBy(lb, 10) == std::set<std::string>{"a", "b"});

  Response r = adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/disable?for=1500ms&reason=INC-4411&by=alice");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"reason\":\"INC-4411\""));
  CHECK(has(r.body, "\"by\":\"alice\""));
  CHECK_FALSE(has(r.body, "\"expires\":null"));
  CHECK(servedBy(lb, 10) == std::set<std::string>{"a"});

  const std::string status = adminRequest(lb.adminPort(), "GET", "/status").body;
  CHECK(has(status, "\"admin\":\"disabled\""));
  CHECK(has(status, "\"override\":{\"reason\":\"INC-4411\",\"by\":\"alice\""));
  CHECK(has(status, "\"expires_in_seconds\":"));

  JsonObject ev = waitEvent(lb, "backend_override_expired", {}, 5000ms);
  CHECK(jsonText(ev, "backend") == b.address());
  CHECK(jsonText(ev, "reason") == "INC-4411");
  CHECK(jsonText(ev, "by") == "alice");
  CHECK(jsonText(ev, "was") == "disabled");
  REQUIRE(pollUntil([&] { return servedBy(lb, 10).count("b") == 1; }, 5000ms));
  CHECK_FALSE(has(adminRequest(lb.adminPort(), "GET", "/status").body, "INC-4411"));
}

TEST_CASE("overrides: a JSON body works like the query, and enable ends the override at once", "[overrides]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  Response r = adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/drain",
                         R"({"for": "2h", "reason": "kernel upgrade \u00e9", "by": "ops"})",
                         {"Content-Type: application/json"});
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"reason\":\"kernel upgrade \xc3\xa9\""));
  CHECK(servedBy(lb, 6) == std::set<std::string>{"a"});
  JsonObject ev = waitEvent(lb, "admin_action");
  CHECK(jsonText(ev, "for") == "2h");
  CHECK(jsonText(ev, "by") == "ops");

  REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/enable?reason=done").status == 200);
  CHECK(servedBy(lb, 10) == std::set<std::string>{"a", "b"});
  CHECK_FALSE(has(adminRequest(lb.adminPort(), "GET", "/status").body, "\"override\""));
}

TEST_CASE("overrides: an override without expiry is flagged once older than overrides.warn_after", "[overrides]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}, "overrides: { warn_after: 600ms }"));

  REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/disable?reason=maintenance").status == 200);
  const std::string family = "ballast_backend_override_stale";
  CHECK(metricSum(metricsText(lb.adminPort()), family, {"backend=\"" + b.address() + "\""}).value_or(-1) == 0);
  JsonObject ev = waitEvent(lb, "backend_override_stale", {}, 5000ms);
  CHECK(jsonText(ev, "backend") == b.address());
  CHECK(jsonText(ev, "reason") == "maintenance");
  CHECK(metricSum(metricsText(lb.adminPort()), family, {"backend=\"" + b.address() + "\""}).value_or(-1) == 1);
  CHECK(has(adminRequest(lb.adminPort(), "GET", "/status").body, "\"stale\":true"));
  // Still disabled: a warning, not an action.
  CHECK(servedBy(lb, 6) == std::set<std::string>{"a"});
  REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/" + b.address() + "/enable").status == 200);
  CHECK(metricSum(metricsText(lb.adminPort()), family, {"backend=\"" + b.address() + "\""}).value_or(-1) == 0);
  CHECK(countEvents(lb, "backend_override_stale") == 1);
}

TEST_CASE("overrides: unknown or invalid parameters are refused and change nothing", "[overrides][admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  const std::string base = "/pools/web/backends/" + a.address();

  struct Case {
    std::string path;
    std::string body;
    std::string says;
  };
  const std::vector<Case> cases = {
      {base + "/disable?for=2h&ttl=1", "", "unknown parameter \\\"ttl\\\""},
      {base + "/disable?for=soon", "", "\\\"for\\\" must be a duration"},
      {base + "/disable?for=0s", "", "\\\"for\\\" must be a duration"},
      {base + "/disable?for=365d", "", "\\\"for\\\" must be a duration"},
      {base + "/enable?for=1h", "", "applies to drain and disable"},
      {base + "/drain?reason=a&reason=b", "", "given twice"},
      {base + "/drain?reason=%0a", "", "no control characters"},
      {base + "/drain", "{\"for\": [1]}", "nested objects"},
      {base + "/drain", "for=2h", "flat JSON object"},
      {base + "/drain", "{\"for\": \"2h\", \"dry_run\": true}", "unknown parameter \\\"dry_run\\\""},
  };
  for (const auto& c : cases) {
    Response r = adminRequest(lb.adminPort(), "POST", c.path, c.body);
    INFO(c.path << " " << c.body << "\n" << r.describe());
    CHECK(r.status == 400);
    CHECK(has(r.body, c.says));
  }
  CHECK(countEvents(lb, "admin_action") == 0);
  CHECK(has(adminRequest(lb.adminPort(), "GET", "/status").body, "\"admin\":\"enabled\""));
}

TEST_CASE("admin: a query parameter an endpoint does not take is a 400 naming it, never ignored", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  for (const std::string q : {"force=1", "dry_run=1&force=1", "dry_run=2"}) {
    Response r = adminRequest(lb.adminPort(), "POST", "/reload?" + q);
    INFO(q << "\n" << r.describe());
    CHECK(r.status == 400);
  }
  CHECK(has(adminRequest(lb.adminPort(), "POST", "/reload?force=1").body, "unknown query parameter \\\"force\\\""));
  CHECK(countEvents(lb, "config_reloaded") == 0);
  Response s = adminRequest(lb.adminPort(), "GET", "/status?pool=web");
  CHECK(s.status == 400);
  CHECK(has(s.body, "unknown query parameter \"pool\""));
}

TEST_CASE("reload dry run: validates, lists the changes, probes new backends, changes nothing", "[admin][dry_run]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend c(dir, "c");
  DemoBackend d(dir, "d");
  DemoBackend e(dir, "e");
  for (auto* b : {&c, &d, &e}) demoControl(b->port(), "health_status=404");
  const std::string hc = "health_check: { interval: 200ms, timeout: 150ms }";
  Ballast lb(dir, failoverConfig({{a.address()}}, {hc}));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"));
  replaceConfig(lb.configPath(), failoverConfig({{c.address()}, {d.address()}, {e.address()}}, {hc}));

  Response r = adminRequest(lb.adminPort(), "POST", "/reload?dry_run=1");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(has(r.body, "\"dry_run\":true,\"valid\":true"));
  CHECK(has(r.body, "\"pool web: backend " + c.address() + " added\""));
  CHECK(has(r.body, "\"pool web: backend " + a.address() + " removed\""));
  // Failures in config order (preflight.cc), each with its reason.
  CHECK(has(r.body, "\"pool web: 0 of 3 would pass: " + c.address()));
  for (auto* b : {&c, &d, &e}) CHECK(has(r.body, b->address() + ": first probe failed: status 404"));
  CHECK(has(r.body, "status 404"));
  CHECK(has(r.body, "\"result\":\"nothing was changed\""));
  // Nothing changed: no reload, the old backend still serves.
  CHECK(countEvents(lb, "config_reloaded") == 0);
  CHECK(backendsOf(lb.port(), 2, "dry") == std::vector<std::string>{"a", "a"});

  // An invalid file: 422 with the errors, still nothing changed.
  replaceConfig(lb.configPath(), "pools: [");
  Response bad = adminRequest(lb.adminPort(), "POST", "/reload?dry_run=true");
  CHECK(bad.status == 422);
  CHECK(has(bad.body, "\"valid\":false"));
  CHECK(countEvents(lb, "config_reloaded") == 0);
  CHECK(countEvents(lb, "config_reload_failed") == 0);
}
