// DNS discovery end to end: the real ballast resolving a pool's members
// from tests/support/dns_server (UDP on loopback) while a client load runs.
// Scale up, scale down, a flapping record set and a run of SERVFAIL,
// NXDOMAIN and unanswered queries must cost no request.
//
// The figures (requests, failures, time to pick up a change) are printed on
// stdout: build/tests/e2e-tests "[discovery]" prints them.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/support/dns_server.h"
#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

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

namespace {

// One pool "web" with a discovery block and a static backup `backup`
// (127.0.0.1:PORT) that takes traffic only when no discovered member can:
// requests reaching it mean the pool was left with its static backends.
std::string reloadableConfig(const std::string& name, const std::string& refresh, const std::string& dns,
                             uint16_t port, const std::string& backup) {
  std::string y;
  y += "listen: 127.0.0.1:0\n";
  y += "admin: { listen: 127.0.0.1:0 }\n";
  y += "log: { level: info, access: stdout, events: stderr }\n";
  y += "pools:\n";
  y += "  - name: web\n";
  y += "    discovery:\n";
  y += "      dns: { name: " + name + ", port: " + std::to_string(port) + ", type: A }\n";
  y += "      refresh: " + refresh + "\n";
  y += "      servers: [" + dns + "]\n";
  y += "    backends: [{ address: " + backup + ", backup: true }]\n";
  // Timeout and fall generous enough that the load on a shared machine
  // never fails a probe (the test counts state changes).
  y += "    health_check: { interval: 500ms, timeout: 500ms, rise: 1, fall: 3 }\n";
  return y;
}

JsonObject reloadWith(Ballast& lb, const std::string& yaml) {
  const size_t done = countEvents(lb, "config_reloaded");
  replaceConfig(lb.configPath(), yaml);
  lb.process().signal(SIGHUP);
  return waitEvent(lb, "config_reloaded", {}, 5000ms, done);
}

// Active probes run against `backend` of `pool` so far (passed + failed), from /metrics.
uint64_t probesOf(const Ballast& lb, const std::string& pool, const std::string& backend) {
  const std::string metrics = adminText(lb, "/metrics");
  uint64_t n = 0;
  for (const char* result : {"pass", "fail"}) {
    const std::string key = "ballast_health_checks_total{pool=\"" + pool + "\",backend=\"" + backend +
                            "\",result=\"" + result + "\"} ";
    const size_t at = metrics.find(key);
    if (at != std::string::npos) n += std::stoull(metrics.substr(at + key.size()));
  }
  return n;
}

bool haveIpv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("A reload that changes the discovery block keeps the discovered members until the new first answer",
          "[discovery][dns][reload]") {
  TempDir dir;
  TestDnsServer dns;
  TestDnsServer dns2;
  const uint16_t port = freePort();
  const std::string p = std::to_string(port);
  auto a = startDemoBackendAt(dir, "a", "127.0.0.2:" + p);
  auto b = startDemoBackendAt(dir, "b", "127.0.0.3:" + p);
  auto c = startDemoBackendAt(dir, "c", "127.0.0.4:" + p);
  auto d = startDemoBackendAt(dir, "d", "127.0.0.5:" + p);
  DemoBackend s(dir, "s");
  dns.setA("web.test", {"127.0.0.2", "127.0.0.3"});
  dns2.setA("web.test", {"127.0.0.2", "127.0.0.3"});
  dns2.setA("web2.test", {"127.0.0.4", "127.0.0.5"});

  Ballast lb(dir, reloadableConfig("web.test", "200ms", dns.address(), port, s.address()));
  waitEvent(lb, "discovery_applied", poolIs("web"));
  waitEvent(lb, "backend_state", backendState("127.0.0.2:" + p, "healthy"), 3000ms);
  waitEvent(lb, "backend_state", backendState("127.0.0.3:" + p, "healthy"), 3000ms);

  Load load(lb.port(), 3);
  REQUIRE(pollUntil([&] { return load.total() >= 100; }, 5000ms));
  // An operator override on b, to see it survive the reload.
  REQUIRE(adminRequest(lb.adminPort(), "POST", "/pools/web/backends/127.0.0.3:" + p + "/disable?reason=INC-7")
              .status == 200);
  const uint64_t settle = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= settle + 100; }, 5000ms));
  const uint64_t b_before = load.byBackend()["b"];
  const size_t state_events = countEvents(lb, "backend_state");

  // 1. Same name, other servers and refresh, and the new server does not
  // answer at first: the old members carry on (the same backends: no new
  // probe, no state change) while the new discovery times out.
  dns2.setFailure(TestDnsServer::Failure::Drop);
  const size_t applied = countEvents(lb, "discovery_applied");
  const size_t states = countEvents(lb, "discovery_state", poolIs("web"));
  const uint64_t before_reload = load.total();
  reloadWith(lb, reloadableConfig("web.test", "300ms", dns2.address(), port, s.address()));
  JsonObject replaced = waitEvent(lb, "discovery_replaced", poolIs("web"));
  CHECK(jsonText(replaced, "members_kept") == "2");
  JsonObject timed_out = waitEvent(lb, "discovery_state", poolIs("web"), 10000ms, states);
  CHECK(jsonText(timed_out, "result") == "timeout");
  CHECK(jsonText(timed_out, "members") == "2");
  const uint64_t during_silence = load.total() - before_reload;
  dns2.setFailure(TestDnsServer::Failure::None);
  JsonObject answered = waitEvent(lb, "discovery_state", poolIs("web"), 10000ms, states + 1);
  CHECK(jsonText(answered, "result") == "ok");
  // The first answer is the set already in force: nothing to apply.
  const uint64_t at = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= at + 200; }, 5000ms));
  CHECK(countEvents(lb, "discovery_applied") == applied);
  CHECK(countEvents(lb, "backend_state") == state_events);
  CHECK(load.byBackend()["s"] == 0);
  CHECK(load.byBackend()["b"] == b_before);  // still disabled
  CHECK(adminText(lb, "/status").find("\"override\":{\"reason\":\"INC-7\"") != std::string::npos);

  // 2. Another name: the pool switches to its set after the first answer.
  auto t0 = Clock::now();
  const size_t applied_before_switch = countEvents(lb, "discovery_applied");
  reloadWith(lb, reloadableConfig("web2.test", "300ms", dns2.address(), port, s.address()));
  JsonObject switched = waitEvent(lb, "discovery_applied", poolIs("web"), 5000ms, applied_before_switch);
  const Ms switch_applied = since(t0);
  CHECK(jsonText(switched, "backends_added") == "2");
  CHECK(jsonText(switched, "backends_removed") == "2");
  CHECK(jsonText(switched, "backends_kept") == "1");  // the static backup
  REQUIRE(pollUntil([&] { auto by = load.byBackend(); return by["c"] > 0 && by["d"] > 0; }, 5000ms));
  const Ms switch_traffic = since(t0);
  load.mark();
  const uint64_t marked = load.total();
  REQUIRE(pollUntil([&] { return load.total() >= marked + 200; }, 5000ms));
  auto after = load.byBackendAfterMark();
  CHECK(after["a"] == 0);
  CHECK(after["b"] == 0);
  load.stop();

  const auto failures = load.failures();
  const auto by = load.byBackend();
  std::printf("discovery reload e2e: %llu requests, %zu failed; %llu requests while the new servers were silent, "
              "static backup served %llu; name switch applied %lld ms, new members serving %lld ms\n",
              static_cast<unsigned long long>(load.total()), failures.size(),
              static_cast<unsigned long long>(during_silence),
              static_cast<unsigned long long>(by.count("s") != 0 ? by.at("s") : 0),
              static_cast<long long>(switch_applied.count()), static_cast<long long>(switch_traffic.count()));
  INFO(load.total() << " requests, " << failures.size() << " failed: " << firstFailures(failures));
  CHECK(failures.empty());
  CHECK(during_silence > 100);
}

TEST_CASE("A discovery change probes only the added members: kept ones and other pools keep their schedule",
          "[discovery][dns]") {
  TempDir dir;
  TestDnsServer dns;
  const uint16_t port = freePort();
  const std::string p = std::to_string(port);
  auto a = startDemoBackendAt(dir, "a", "127.0.0.2:" + p);
  auto b = startDemoBackendAt(dir, "b", "127.0.0.3:" + p);
  auto c = startDemoBackendAt(dir, "c", "127.0.0.4:" + p);
  DemoBackend o(dir, "o");
  dns.setA("web.test", {"127.0.0.2"});
  // Probes every 30 s (at most +/- 10%): over the few seconds of this test
  // each backend is probed once, when its session starts.
  const std::string hc = "    health_check: { interval: 30s, timeout: 1s, rise: 1, fall: 2 }\n";
  std::string y = discoveryConfig(dns.address(), "{ name: web.test, port: " + p + ", type: A }");
  y = y.substr(0, y.rfind("    health_check:"));
  y += hc;
  y += "  - name: other\n    backends: [{ address: " + o.address() + " }]\n" + hc;
  y += "routes:\n  - { match: { path_prefix: /other }, pool: other }\n  - { pool: web }\n";
  Ballast lb(dir, y);
  waitEvent(lb, "backend_state", backendState("127.0.0.2:" + p, "healthy"), 3000ms);
  waitEvent(lb, "backend_state", backendState(o.address(), "healthy"), 3000ms);
  const std::string ka = "127.0.0.2:" + p;
  CHECK(probesOf(lb, "web", ka) == 1);
  CHECK(probesOf(lb, "other", o.address()) == 1);

  // Four changes: add b, remove b, add c, add b again.
  const auto t0 = Clock::now();
  for (const auto& set : std::vector<std::vector<std::string>>{{"127.0.0.2", "127.0.0.3"},
                                                               {"127.0.0.2"},
                                                               {"127.0.0.2", "127.0.0.4"},
                                                               {"127.0.0.2", "127.0.0.3", "127.0.0.4"}}) {
    const size_t n = countEvents(lb, "discovery_applied");
    dns.setA("web.test", set);
    waitEvent(lb, "discovery_applied", poolIs("web"), 5000ms, n);
  }
  waitEvent(lb, "backend_state", backendState("127.0.0.4:" + p, "healthy"), 3000ms);
  REQUIRE(pollUntil([&] { return probesOf(lb, "web", "127.0.0.3:" + p) == 1; }, 3000ms));
  const uint64_t kept = probesOf(lb, "web", ka);
  const uint64_t other = probesOf(lb, "other", o.address());
  std::printf("discovery probes e2e: after 4 changes in %lld ms: kept member %llu probe(s), other pool %llu, "
              "added members b %llu, c %llu\n",
              static_cast<long long>(since(t0).count()), static_cast<unsigned long long>(kept),
              static_cast<unsigned long long>(other),
              static_cast<unsigned long long>(probesOf(lb, "web", "127.0.0.3:" + p)),
              static_cast<unsigned long long>(probesOf(lb, "web", "127.0.0.4:" + p)));
  REQUIRE(since(t0) < 20000ms);  // well inside one interval: no scheduled probe yet
  CHECK(kept == 1);
  CHECK(other == 1);
  CHECK(probesOf(lb, "web", "127.0.0.4:" + p) == 1);
  // The other pool's backend never changed state.
  CHECK(countEvents(lb, "backend_state", backendState(o.address())) == 1);

  // A member whose first probe takes the whole timeout (a listener that
  // never accepts): the instance stays ready meanwhile (its first round was
  // done; a scale-up must not take it out of its own Service).
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(silent >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.6", &sa.sin_addr);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(::listen(silent, 16) == 0);
  const size_t n = countEvents(lb, "discovery_applied");
  dns.setA("web.test", {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.6"});
  waitEvent(lb, "discovery_applied", poolIs("web"), 5000ms, n);
  const int ready = fetch(lb.adminPort(), get("/readyz")).status;
  CHECK(probesOf(lb, "web", "127.0.0.6:" + p) == 0);  // its probe is still waiting
  CHECK(ready == 200);
  waitEvent(lb, "backend_state", backendState("127.0.0.6:" + p, "unhealthy"), 5000ms);
  ::close(silent);
}

TEST_CASE("SRV discovery: a target with only an AAAA record is reached over IPv6", "[discovery][dns][ipv6]") {
  if (!haveIpv6Loopback()) {
    WARN("no IPv6 loopback (::1) on this machine: skipped");
    return;
  }
  TempDir dir;
  TestDnsServer dns;
  const uint16_t port = freePort();
  auto v6 = startDemoBackendAt(dir, "v6", "[::1]:" + std::to_string(port));
  dns.setAAAA("v6host.test", {"::1"});
  dns.setSrv("_http._tcp.web.test", {{10, 1, port, "v6host.test"}});
  const std::string member = "[::1]:" + std::to_string(port);

  Ballast lb(dir, discoveryConfig(dns.address(), "{ name: _http._tcp.web.test, type: SRV }"));
  JsonObject applied = waitEvent(lb, "discovery_applied", poolIs("web"));
  CHECK(jsonText(applied, "backends_added") == "1");
  waitEvent(lb, "backend_state", backendState(member, "healthy"), 3000ms);
  for (const auto& x : backendsOf(lb.port(), 10, "v6")) CHECK(x == "v6");

  // family: ipv4 asks the target for A records only: none, so the answer is
  // empty (a failure: allow_empty is off) and nothing is discovered.
  Ballast v4(dir, discoveryConfig(dns.address(), "{ name: _http._tcp.web.test, type: SRV, family: ipv4 }"));
  JsonObject st = waitEvent(v4, "discovery_state", poolIs("web"));
  CHECK(jsonText(st, "result") == "empty");
  CHECK(countEvents(v4, "discovery_applied") == 0);
}
