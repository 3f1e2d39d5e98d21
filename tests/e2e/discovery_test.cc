// DNS discovery end to end: the real ballast resolving a pool's members
// from tests/support/dns_server (UDP on loopback) while a client load runs.
// Scale up, scale down, a flapping record set and a run of SERVFAIL,
// NXDOMAIN and unanswered queries must cost no request.
//
// The figures (requests, failures, time to pick up a change) are printed on
// stdout: build/tests/e2e-tests "[discovery]" prints them.

#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/dns_server.h"
#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

Ms since(Clock::time_point t) { return std::chrono::duration_cast<Ms>(Clock::now() - t); }

std::string discoveryConfig(const std::string& dns, const std::string& dns_block, const std::string& more = "") {
  std::string y;
  y += "listen: 127.0.0.1:0\n";
  y += "admin: { listen: 127.0.0.1:0 }\n";
  y += "log: { level: info, access: stdout, events: stderr }\n";
  y += "pools:\n";
  y += "  - name: web\n";
  y += "    discovery:\n";
  y += "      dns: " + dns_block + "\n";
  y += "      refresh: 200ms\n";
  y += "      servers: [" + dns + "]\n";
  y += more;
  y += "    health_check: { interval: 100ms, timeout: 100ms, rise: 1, fall: 2 }\n";
  return y;
}

EventPredicate poolIs(const std::string& pool) {
  return [pool](const JsonObject& o) { return jsonText(o, "pool") == pool; };
}

// Waits for the next discovery_applied event (after those already logged).
JsonObject nextApplied(Ballast& lb, Ms timeout = 5000ms) {
  return waitEvent(lb, "discovery_applied", poolIs("web"), timeout, countEvents(lb, "discovery_applied"));
}

std::string adminText(const Ballast& lb, const std::string& path) {
  Response r = fetch(lb.adminPort(), get(path));
  REQUIRE(r.status == 200);
  return r.body;
}

}  // namespace

TEST_CASE("DNS discovery under load: scale up, scale down, flap, failures: no failed request",
          "[discovery][dns]") {
  TempDir dir;
  TestDnsServer dns;
  // Every member listens on the same port on its own loopback address, as
  // pods behind one A name do.
  const uint16_t port = freePort();
  const std::string p = std::to_string(port);
  auto a = startDemoBackendAt(dir, "a", "127.0.0.2:" + p);
  auto b = startDemoBackendAt(dir, "b", "127.0.0.3:" + p);
  auto c = startDemoBackendAt(dir, "c", "127.0.0.4:" + p);
  dns.setA("web.test", {"127.0.0.2"});

  Ballast lb(dir, discoveryConfig(dns.address(), "{ name: web.test, port: " + p + ", type: A }"));
  JsonObject first = waitEvent(lb, "discovery_applied", poolIs("web"));
  CHECK(jsonText(first, "backends_added") == "1");
  waitEvent(lb, "backend_state", backendState("127.0.0.2:" + p, "healthy"), 3000ms);

  Load load(lb.port(), 3);
  REQUIRE(pollUntil([&] { return load.total() >= 100; }, 5000ms));

  // Scale up: both new members are probed, then take traffic.
  auto t0 = Clock::now();
  dns.setA("web.test", {"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  JsonObject up = nextApplied(lb);
  CHECK(jsonText(up, "backends_added") == "2");
  CHECK(jsonText(up, "backends_kept") == "1");
  const Ms up_applied = since(t0);
  REQUIRE(pollUntil([&] { auto by = load.byBackend(); return by["b"] > 0 && by["c"] > 0; }, 5000ms));
  const Ms up_traffic = since(t0);
  // Both new members were probed healthy (while the pool had a healthy
  // member, unknown ones took no traffic).
  CHECK(countEvents(lb, "backend_state", backendState("127.0.0.3:" + p, "healthy")) == 1);
  CHECK(countEvents(lb, "backend_state", backendState("127.0.0.4:" + p, "healthy")) == 1);

  // Scale down: the removed member drains and gets nothing new.
  t0 = Clock::now();
  dns.setA("web.test", {"127.0.0.3", "127.0.0.4"});
  JsonObject down = nextApplied(lb);
  const Ms down_applied = since(t0);
  CHECK(jsonText(down, "backends_removed") == "1");
  load.mark();
  uint64_t at_mark = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at_mark + 200; }, 5000ms));
  CHECK(load.byBackendAfterMark()["a"] == 0);

  // Flap: the member comes and goes five times.
  for (int i = 0; i < 5; ++i) {
    dns.setA("web.test", {"127.0.0.2", "127.0.0.3", "127.0.0.4"});
    CHECK(jsonText(nextApplied(lb), "backends_added") == "1");
    dns.setA("web.test", {"127.0.0.3", "127.0.0.4"});
    CHECK(jsonText(nextApplied(lb), "backends_removed") == "1");
  }

  // Failures keep the last good set: SERVFAIL, NXDOMAIN, then no answer.
  const size_t applied_before = countEvents(lb, "discovery_applied");
  for (auto [failure, result] : {std::pair{TestDnsServer::Failure::ServFail, "servfail"},
                                 std::pair{TestDnsServer::Failure::NxDomain, "nxdomain"},
                                 std::pair{TestDnsServer::Failure::Drop, "timeout"}}) {
    dns.setFailure(failure);
    const std::string r = result;
    waitEvent(lb, "discovery_state", [&](const JsonObject& o) { return jsonText(o, "result") == r; }, 10000ms);
    // A few more failed rounds (the same failure is logged once).
    const uint64_t q = dns.queries();
    REQUIRE(pollUntil([&] { return dns.queries() >= q + 3; }, 15000ms));
    CHECK(countEvents(lb, "discovery_state", [&](const JsonObject& o) { return jsonText(o, "result") == r; }) == 1);
  }
  // An answer with no records is a failure too (allow_empty is off).
  dns.setFailure(TestDnsServer::Failure::None);
  dns.setA("web.test", {});
  waitEvent(lb, "discovery_state", [](const JsonObject& o) { return jsonText(o, "result") == "empty"; }, 5000ms);
  CHECK(countEvents(lb, "discovery_applied") == applied_before);
  const std::string metrics = adminText(lb, "/metrics");
  for (const char* r : {"servfail", "nxdomain", "timeout", "empty", "ok"}) {
    INFO(r);
    CHECK(metrics.find(std::string("ballast_discovery_resolutions_total{pool=\"web\",result=\"") + r + "\"}") !=
          std::string::npos);
  }
  CHECK(metrics.find("ballast_discovery_members{pool=\"web\"} 2") != std::string::npos);
  CHECK(metrics.find("ballast_discovery_last_success_timestamp_seconds{pool=\"web\"}") != std::string::npos);
  const std::string status = adminText(lb, "/status");
  CHECK(status.find("\"discovery\":{\"name\":\"web.test\",\"type\":\"A\"") != std::string::npos);
  CHECK(status.find("\"stale\":true") != std::string::npos);

  // Back to good answers: the set follows again.
  t0 = Clock::now();
  dns.setA("web.test", {"127.0.0.2", "127.0.0.3"});
  JsonObject back = nextApplied(lb, 10000ms);
  const Ms back_applied = since(t0);
  CHECK(jsonText(back, "backends_added") == "1");
  CHECK(jsonText(back, "backends_removed") == "1");
  at_mark = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at_mark + 200; }, 5000ms));
  load.stop();

  const auto failures = load.failures();
  std::printf("discovery e2e: %llu requests, %zu failed; scale-up applied %lld ms, traffic on new members %lld ms; "
              "scale-down applied %lld ms; recovery after failures applied %lld ms\n",
              static_cast<unsigned long long>(load.total()), failures.size(), static_cast<long long>(up_applied.count()),
              static_cast<long long>(up_traffic.count()), static_cast<long long>(down_applied.count()),
              static_cast<long long>(back_applied.count()));
  INFO(load.total() << " requests, " << failures.size() << " failed: " << firstFailures(failures));
  CHECK(failures.empty());
  CHECK(load.total() > 1000);
}

TEST_CASE("SRV discovery: ports and weights from the records, a higher priority as backup", "[discovery][dns]") {
  TempDir dir;
  TestDnsServer dns;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DemoBackend c(dir, "c");
  dns.setA("host.test", {"127.0.0.1"});
  dns.setSrv("_http._tcp.web.test", {{10, 3, a.port(), "host.test"}, {10, 1, b.port(), "host.test"},
                                     {20, 1, c.port(), "host.test"}});
  Ballast lb(dir, discoveryConfig(dns.address(), "{ name: _http._tcp.web.test, type: SRV }"));
  JsonObject applied = waitEvent(lb, "discovery_applied", poolIs("web"));
  CHECK(jsonText(applied, "backends_added") == "3");
  // Every member probed first, so no state change reshuffles the picks below.
  for (const auto* d : {&a, &b, &c}) waitEvent(lb, "backend_state", backendState(d->address(), "healthy"), 3000ms);
  // Smooth weighted round robin over 3:1; the backup c gets nothing.
  std::map<std::string, int> seen;
  for (const auto& x : backendsOf(lb.port(), 40, "srv")) ++seen[x];
  CHECK(seen["a"] == 30);
  CHECK(seen["b"] == 10);
  CHECK(seen["c"] == 0);
}
