// The paging chain end to end: webhook receivers and a fake Alertmanager in
// the test (FakeServer), the real ballast in front of demo-backends that are
// killed and brought back. Every wait is on something observable (a
// receiver's request, an event line, a metric); the one bounded wait for an
// absence (no escalation after an ack) is said so where it is.
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// A webhook receiver: records every POST; answers 200, or never (hang).
class Receiver {
 public:
  explicit Receiver(bool hang = false)
      : hang_(hang), server_([this](const FakeRequest& r) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            got_.push_back(r);
          }
          if (hang_) {
            FakeReply h;
            h.action = FakeReply::Action::Hang;
            return h;
          }
          return FakeReply::respond(200, "ok");
        }) {}

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server_.port()) + path; }
  std::vector<FakeRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  // Bodies containing every one of `parts`.
  size_t count(const std::vector<std::string>& parts) const {
    size_t n = 0;
    for (const auto& r : requests()) {
      if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return r.body.find(p) != std::string::npos; })) ++n;
    }
    return n;
  }
  // Waits for the first body containing every one of `parts`; returns it.
  std::string waitFor(const std::vector<std::string>& parts, Ms timeout = 8000ms) const {
    std::string found;
    const bool ok = pollUntil([&] {
      for (const auto& r : requests()) {
        if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return r.body.find(p) != std::string::npos; })) {
          found = r.body;
          return true;
        }
      }
      return false;
    }, timeout);
    if (!ok) {
      std::string all;
      for (const auto& r : requests()) all += r.target + " " + r.body + "\n";
      FAIL("no request with " << Catch::Detail::stringify(parts) << "; got:\n" << all);
    }
    return found;
  }
  size_t size() const { return requests().size(); }
  FakeServer& server() { return server_; }

 private:
  bool hang_;
  mutable std::mutex mu_;
  std::vector<FakeRequest> got_;
  FakeServer server_;
};

std::string poolConfig(const std::vector<std::string>& backends, const std::string& notify,
                       const std::string& threshold = "50%") {
  std::string y =
      "listen: 127.0.0.1:0\n"
      "admin: { listen: 127.0.0.1:0 }\n"
      "log: { level: info, access: 'off', events: stderr }\n"
      "incidents: { threshold: " + threshold + ", settle: 500ms }\n"
      "pools:\n"
      "  - name: web\n"
      "    health_check: { interval: 100ms, timeout: 100ms, rise: 2, fall: 2 }\n"
      "    backends:\n";
  for (const auto& b : backends) y += "      - { address: " + b + " }\n";
  return y + notify;
}

std::string chain(const Receiver& chat, const Receiver& am, const Receiver& primary, const Receiver& secondary,
                  const std::string& after) {
  return "notify:\n"
         "  targets:\n"
         "    - { name: team-chat, url: \"" + chat.url("/hook") + "\", format: slack }\n"
         "    - { name: alertmanager, url: \"" + am.url("/api/v2/alerts") + "\", format: alertmanager }\n"
         "    - { name: primary, url: \"" + primary.url("/page") + "\", format: json }\n"
         "    - { name: secondary, url: \"" + secondary.url("/page") + "\", format: json }\n"
         "  rules:\n"
         "    - { events: [backend_down, backend_up, pool_degraded, reload_failed], notify: [team-chat] }\n"
         "    - { events: [pool_down], notify: [primary, alertmanager], escalate: [{ after: " + after +
         ", notify: [secondary] }] }\n"
         "  group_wait: 300ms\n";
}

double metric(uint16_t admin, const std::string& target, const std::string& result) {
  return metricSum(metricsText(admin), "ballast_notifications_total",
                   {"target=\"" + target + "\"", "result=\"" + result + "\""})
      .value_or(-1);
}

}  // namespace

TEST_CASE("paging chain: backend_down to chat then pool_down to the pagers with escalation and resolved to each told",
          "[notify][e2e]") {
  TempDir dir;
  Receiver chat, am, primary, secondary;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, poolConfig({a.address(), b.address()}, chain(chat, am, primary, secondary, "1s")));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);

  // One backend: exactly one backend_down, to the chat only.
  a.process().signal(SIGKILL);
  const std::string down = chat.waitFor({"Backend " + a.address() + " of pool web is down"});
  CHECK(down.rfind("{\"text\":", 0) == 0);
  waitEvent(lb, "notification_sent", [](const JsonObject& o) { return jsonText(o, "target") == "team-chat"; });
  CHECK(primary.size() == 0);
  CHECK(am.size() == 0);

  // All of them: pool_down to primary and Alertmanager at once.
  b.process().signal(SIGKILL);
  JsonObject opened = waitEvent(lb, "incident_opened", {}, 5000ms);
  const std::string id = jsonText(opened, "id");
  const std::string page = primary.waitFor({"\"event\":\"pool_down\"", id});
  CHECK(page.find("\"severity\":\"critical\"") != std::string::npos);
  CHECK(page.find("\"pool\":\"web\"") != std::string::npos);
  const std::string alert = am.waitFor({"\"alertname\":\"PoolDown\"", id});
  CHECK(alert.front() == '[');
  CHECK(alert.find("\"startsAt\":") != std::string::npos);
  CHECK(alert.find("\"endsAt\"") == std::string::npos);
  for (const auto& r : am.requests()) CHECK(r.target == "/api/v2/alerts");
  // Not acknowledged: the secondary after `after` (1 s).
  const auto paged = Clock::now();
  const std::string escalated = secondary.waitFor({"\"event\":\"pool_down\"", id}, 5000ms);
  CHECK(Clock::now() - paged >= 700ms);
  CHECK(escalated.find("Escalated, not acknowledged after 1 s") != std::string::npos);

  // Recovery: resolved to every target told (primary, Alertmanager, secondary).
  auto a2 = startDemoBackendAt(dir, "a2", a.address());
  auto b2 = startDemoBackendAt(dir, "b2", b.address());
  waitEvent(lb, "incident_closed", {}, 10000ms);
  primary.waitFor({"\"event\":\"resolved\"", id});
  secondary.waitFor({"\"event\":\"resolved\"", id});
  const std::string resolved = am.waitFor({"\"endsAt\":", id});
  CHECK(resolved.find("\"alertname\":\"PoolDown\"") != std::string::npos);
  // The chat never heard of the incident: no resolved there (it gets backend_up).
  chat.waitFor({"back up"});
  CHECK(chat.count({"Resolved"}) == 0);
  CHECK(chat.count({"Backend " + a.address() + " of pool web is down"}) == 1);
  CHECK(primary.count({"\"event\":\"pool_down\""}) == 1);

  REQUIRE(pollUntil([&] { return metric(lb.adminPort(), "primary", "sent") == 2; }, 5000ms));
  CHECK(metric(lb.adminPort(), "primary", "failed") == 0);
  CHECK(pollUntil([&] { return metric(lb.adminPort(), "secondary", "sent") == 2; }, 5000ms));
  // The attempts are event lines (and so in the journal): one per message.
  CHECK(pollUntil([&] {
    return countEvents(lb, "notification_sent", [](const JsonObject& o) { return jsonText(o, "target") == "primary"; }) == 2;
  }, 5000ms));
}

TEST_CASE("paging chain: an acknowledged incident does not escalate and bad acks are refused", "[notify][e2e]") {
  TempDir dir;
  Receiver chat, am, primary, secondary;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string journal = dir.file("journal.jsonl");
  Ballast lb(dir, poolConfig({a.address(), b.address()},
                             chain(chat, am, primary, secondary, "3s") + "\njournal: { path: " + journal + " }\n"));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  waitEvent(lb, "backend_state", backendState(b.address(), "healthy"), 5000ms);
  a.process().signal(SIGKILL);
  b.process().signal(SIGKILL);
  JsonObject opened = waitEvent(lb, "incident_opened", {}, 5000ms);
  const std::string id = jsonText(opened, "id");
  primary.waitFor({"\"event\":\"pool_down\"", id});
  const auto paged = Clock::now();

  CHECK(adminRequest(lb.adminPort(), "POST", "/incidents/" + id + "/ack", R"({"by": "alice", "colour": "red"})").status == 400);
  CHECK(adminRequest(lb.adminPort(), "POST", "/incidents/inc-nope/ack").status == 404);
  CHECK(adminRequest(lb.adminPort(), "GET", "/incidents/" + id + "/ack").status == 405);
  Response ack = adminRequest(lb.adminPort(), "POST", "/incidents/" + id + "/ack", R"({"by": "alice", "note": "on it"})");
  INFO(ack.describe());
  REQUIRE(ack.status == 200);
  CHECK(ack.body.find("\"acked_by\":\"alice\"") != std::string::npos);
  JsonObject acked = waitEvent(lb, "incident_acked");
  CHECK(jsonText(acked, "id") == id);
  CHECK(jsonText(acked, "by") == "alice");
  Response one = adminRequest(lb.adminPort(), "GET", "/incidents/" + id);
  CHECK(one.body.find("\"acked_by\":\"alice\"") != std::string::npos);
  CHECK(one.body.find("\"note\":\"on it\"") != std::string::npos);
  CHECK(one.body.find("\"acked_at\":\"") != std::string::npos);

  // A wait for an absence: past the escalation time (3 s, long enough for
  // the ack to land first on a loaded machine) with margin.
  pollUntil([&] { return secondary.size() > 0; }, std::chrono::duration_cast<Ms>(paged + 4000ms - Clock::now()));
  CHECK(secondary.size() == 0);

  // Resolved goes to those told: primary and Alertmanager, not the secondary.
  auto a2 = startDemoBackendAt(dir, "a2", a.address());
  auto b2 = startDemoBackendAt(dir, "b2", b.address());
  waitEvent(lb, "incident_closed", {}, 10000ms);
  primary.waitFor({"\"event\":\"resolved\"", id});
  am.waitFor({"\"endsAt\":", id});
  CHECK(secondary.size() == 0);
  // Closed: nothing left to acknowledge (but a second ack of an acked one is fine).
  CHECK(adminRequest(lb.adminPort(), "POST", "/incidents/" + id + "/ack").status == 200);

  // The postmortem draft has the time to notify and to acknowledge.
  CliResult pm = runBallastCli(dir, {"postmortem", "--journal", journal, "--incident", id, "--format", "json"});
  INFO(pm.err << pm.out);
  REQUIRE(pm.exit_code == 0);
  CHECK(pm.out.find("\"time_to_notify_s\":null") == std::string::npos);
  CHECK(pm.out.find("\"time_to_notify_s\":") != std::string::npos);
  CHECK(pm.out.find("\"notified_event\":\"pool_down\"") != std::string::npos);
  CHECK(pm.out.find("\"acknowledged_by\":\"alice\"") != std::string::npos);
  CHECK(pm.out.find("\"time_to_acknowledge_s\":null") == std::string::npos);
  CHECK(pm.out.find("\"time_to_acknowledge_s\":") != std::string::npos);
  CliResult md = runBallastCli(dir, {"postmortem", "--journal", journal, "--incident", id});
  INFO(md.err << md.out);
  REQUIRE(md.exit_code == 0);
  CHECK(md.out.find("- First page sent: ") != std::string::npos);
  CHECK(md.out.find("(pool_down to ") != std::string::npos);
  CHECK(md.out.find("by alice") != std::string::npos);
  CHECK(md.out.find("- Time to acknowledge (first page, or the opening if none, to the ack): n/a") == std::string::npos);
}

TEST_CASE("paging chain: backends of one pool failing together are one message with the shared reason",
          "[notify][e2e]") {
  TempDir dir;
  Receiver chat;
  std::vector<std::unique_ptr<DemoBackend>> bs;
  std::vector<std::string> addrs;
  for (const char* n : {"a", "b", "c", "d"}) {
    bs.push_back(std::make_unique<DemoBackend>(dir, n));
    addrs.push_back(bs.back()->address());
  }
  Ballast lb(dir, poolConfig(addrs,
                             "notify:\n"
                             "  targets: [{ name: chat, url: \"" + chat.url("/hook") + "\", format: slack }]\n"
                             "  rules: [{ events: [backend_down], notify: [chat] }]\n"
                             "  group_wait: 2s\n"));
  for (const auto& a : addrs) waitEvent(lb, "backend_state", backendState(a, "healthy"), 5000ms);
  for (int i = 0; i < 3; ++i) bs[static_cast<size_t>(i)]->process().signal(SIGKILL);
  const std::string msg = chat.waitFor({"3 of 4 backends of pool web failed within 2 s: connection refused"});
  CHECK(msg.find("a shared dependency is likely") != std::string::npos);
  for (int i = 0; i < 3; ++i) CHECK(msg.find(addrs[static_cast<size_t>(i)]) != std::string::npos);
  CHECK(chat.size() == 1);
}

namespace {

// Sequential GETs over one keep-alive connection while a backend's health
// flaps `flips` times (each flip waits, sending requests, for its
// backend_state line, so notifications keep going out meanwhile); returns
// the p99 in ms.
double flappingP99(Ballast& lb, DemoBackend& flappy, int flips) {
  Client c(lb.port());
  std::vector<double> ms;
  int i = 0;
  for (int flip = 0; flip < flips; ++flip) {
    const bool down = flip % 2 == 0;
    const std::string want = down ? "unhealthy" : "healthy";
    const size_t before = countEvents(lb, "backend_state", backendState(flappy.address(), want));
    demoControl(flappy.port(), down ? "health_status=500" : "health_status=200");
    const auto deadline = Clock::now() + 5000ms;
    while (countEvents(lb, "backend_state", backendState(flappy.address(), want)) == before) {
      REQUIRE(Clock::now() < deadline);
      for (int k = 0; k < 20; ++k, ++i) {
        const auto t0 = Clock::now();
        Response r = c.roundTrip(get("/lat-" + std::to_string(i)));
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        REQUIRE(r.status == 200);
      }
    }
  }
  std::sort(ms.begin(), ms.end());
  INFO(ms.size() << " requests");
  REQUIRE(ms.size() >= 100);
  return ms[static_cast<size_t>(static_cast<double>(ms.size()) * 0.99) - 1];
}

std::string flapConfig(const DemoBackend& a, const DemoBackend& flappy, const Receiver& r) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: 'off', events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    health_check: { interval: 50ms, timeout: 50ms, rise: 1, fall: 1 }\n"
         "    backends: [{ address: " + a.address() + " }, { address: " + flappy.address() + " }]\n"
         "notify:\n"
         "  targets: [{ name: pager, url: \"" + r.url("/page") + "\", format: json }]\n"
         "  rules: [{ events: [backend_down, backend_up], notify: [pager] }]\n"
         "  group_wait: 0\n"
         "  timeout: 200ms\n"
         "  retries: 2\n"
         "  backoff: 100ms\n"
         "  queue: 4\n";
}

}  // namespace

TEST_CASE("paging chain: a receiver that hangs costs proxying nothing and its bounded retries are counted",
          "[notify][e2e]") {
  constexpr int kFlips = 8;
  double base_p99 = 0, hang_p99 = 0;
  {
    TempDir dir;
    Receiver ok;
    DemoBackend a(dir, "a"), flappy(dir, "flappy");
    Ballast lb(dir, flapConfig(a, flappy, ok));
    waitEvent(lb, "backend_state", backendState(flappy.address(), "healthy"), 5000ms);
    base_p99 = flappingP99(lb, flappy, kFlips);
    REQUIRE(pollUntil([&] { return ok.size() >= kFlips; }, 5000ms));
  }
  TempDir dir;
  Receiver hang(true);
  DemoBackend a(dir, "a"), flappy(dir, "flappy");
  Ballast lb(dir, flapConfig(a, flappy, hang));
  waitEvent(lb, "backend_state", backendState(flappy.address(), "healthy"), 5000ms);
  hang_p99 = flappingP99(lb, flappy, kFlips);
  WARN("p99 with a working receiver " << base_p99 << " ms, with a hanging one " << hang_p99 << " ms");
  CHECK(hang_p99 < 3 * base_p99 + 20);

  // Every attempt failed on the timeout; at most 1 + retries per message;
  // messages given up (or pushed out of the full queue) are counted.
  waitEvent(lb, "notification_dropped",
            [](const JsonObject& o) { return jsonText(o, "why") == "gave up after 3 attempts"; }, 10000ms);
  const uint16_t admin = lb.adminPort();
  REQUIRE(pollUntil([&] { return metric(admin, "pager", "failed") >= 3; }, 5000ms));
  CHECK(metric(admin, "pager", "sent") == 0);
  CHECK(metric(admin, "pager", "dropped") >= 1);
  for (const auto& o : eventObjects(lb, "notification_failed")) {
    CHECK(std::stoi(jsonText(o, "attempt")) <= 3);
    CHECK(jsonText(o, "error") == "timeout after 200ms waiting for the response");
  }
  for (const auto& o : eventObjects(lb, "notification_dropped")) {
    const std::string why = jsonText(o, "why");
    CHECK((why == "gave up after 3 attempts" || why == "queue full (notify.queue: 4)"));
  }
  // Each attempt reached the receiver (and nothing else did).
  CHECK(static_cast<double>(hang.server().requests()) <= metric(admin, "pager", "failed") + 1);
}

TEST_CASE("paging chain: a reload that removes a target drops its messages and counts them", "[notify][e2e]") {
  TempDir dir;
  Receiver hang(true), chat;
  DemoBackend a(dir, "a"), b(dir, "b");
  const std::string both =
      "notify:\n"
      "  targets:\n"
      "    - { name: slow, url: \"" + hang.url("/x") + "\", format: json }\n"
      "    - { name: chat, url: \"" + chat.url("/x") + "\", format: slack }\n"
      "  rules: [{ events: [backend_down, backend_up], notify: [slow, chat] }]\n"
      "  group_wait: 0\n"
      "  timeout: 30s\n";
  Ballast lb(dir, poolConfig({a.address(), b.address()}, both));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  a.process().signal(SIGKILL);
  chat.waitFor({"is down"});
  REQUIRE(pollUntil([&] { return hang.size() == 1; }, 5000ms));  // in flight, never answered
  replaceConfig(lb.configPath(), poolConfig({a.address(), b.address()},
                                            "notify:\n"
                                            "  targets: [{ name: chat, url: \"" + chat.url("/x") + "\", format: slack }]\n"
                                            "  rules: [{ events: [reload_failed], notify: [chat] }]\n"));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 10000ms);
  JsonObject dropped = waitEvent(lb, "notification_dropped");
  CHECK(jsonText(dropped, "target") == "slow");
  CHECK(jsonText(dropped, "why") == "target removed by a reload");
  CHECK(metric(lb.adminPort(), "slow", "dropped") == 1);

  // A failed reload is a notify event of its own.
  replaceConfig(lb.configPath(), "pools: []\n");
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reload_failed", {}, 10000ms);
  const std::string failed = chat.waitFor({"Config reload failed"});
  CHECK(failed.find("the running configuration is unchanged") != std::string::npos);
}

TEST_CASE("paging chain: config errors name the file and line and key", "[notify][e2e]") {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  writeFile(path,
            "listen: 127.0.0.1:0\n"
            "pools:\n"
            "  - name: web\n"
            "    backends: [{ address: 127.0.0.1:9 }]\n"
            "notify:\n"
            "  targets:\n"
            "    - { name: chat, url: \"http//127.0.0.1:1/\", format: slack }\n"
            "    - { name: am, url: \"http://127.0.0.1:1/\", format: prometheus }\n"
            "  rules:\n"
            "    - { events: [pool_down], notify: [pager] }\n");
  CliResult r = runBallastCli(dir, {"--check", "--config", path});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find(path + ":7:26: notify.targets[0].url: expected a URL") != std::string::npos);
  CHECK(r.err.find(path + ":8:55: notify.targets[1].format: unknown format \"prometheus\"") != std::string::npos);
  CHECK(r.err.find(path + ":10:39: notify.rules[0].notify[0]: unknown target \"pager\"") != std::string::npos);

  // An https target's CA file is read with the other TLS files.
  writeFile(path,
            "listen: 127.0.0.1:0\n"
            "pools:\n"
            "  - name: web\n"
            "    backends: [{ address: 127.0.0.1:9 }]\n"
            "notify:\n"
            "  targets:\n"
            "    - { name: pager, url: \"https://127.0.0.1/page\", format: json, ca: missing-ca.pem }\n");
  CliResult ca = runBallastCli(dir, {"--check", "--config", path});
  INFO(ca.out << ca.err);
  CHECK(ca.exit_code != 0);
  CHECK(ca.err.find(path + ":7:") != std::string::npos);
  CHECK(ca.err.find("notify.targets[0].ca") != std::string::npos);
  CHECK(ca.err.find("missing-ca.pem") != std::string::npos);
}

TEST_CASE("paging chain: an https target goes through the TLS client and verifies the receiver's certificate",
          "[notify][e2e][tls]") {
  TempDir dir;
  const std::string cmd = "sh " BALLAST_SOURCE_DIR "/tests/support/make_test_certs.sh " + dir.file("certs");
  REQUIRE(std::system(cmd.c_str()) == 0);
  Receiver hook;
  // A second ballast terminates TLS (the test certificate has 127.0.0.1) in
  // front of the receiver.
  Ballast front(dir,
                "listen:\n"
                "  - address: 127.0.0.1:0\n"
                "    tls: { certificates: [{ cert: certs/site.pem, key: certs/site.key }] }\n"
                "admin: { listen: 127.0.0.1:0 }\n"
                "log: { level: info, access: 'off', events: stderr }\n"
                "pools:\n"
                "  - name: hooks\n"
                "    backends: [{ address: " + hook.server().address() + " }]\n");
  const std::string url = "https://127.0.0.1:" + std::to_string(front.port()) + "/hook";
  DemoBackend a(dir, "a"), b(dir, "b");
  Ballast lb(dir, poolConfig({a.address(), b.address()},
                             "notify:\n"
                             "  targets:\n"
                             "    - { name: verified, url: \"" + url + "\", format: json, ca: certs/ca.pem }\n"
                             "    - { name: unverified, url: \"" + url + "\", format: json }\n"
                             "  rules: [{ events: [backend_down], notify: [verified, unverified] }]\n"
                             "  group_wait: 0\n"
                             "  retries: 0\n"));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  a.process().signal(SIGKILL);
  const std::string body = hook.waitFor({"\"event\":\"backend_down\"", a.address()});
  CHECK(body.find("\"pool\":\"web\"") != std::string::npos);
  JsonObject sent = waitEvent(lb, "notification_sent", [](const JsonObject& o) { return jsonText(o, "target") == "verified"; });
  CHECK(jsonText(sent, "status") == "200");
  // The system trust store does not know the test CA: the handshake fails.
  JsonObject failed = waitEvent(lb, "notification_failed", [](const JsonObject& o) { return jsonText(o, "target") == "unverified"; });
  CHECK(jsonText(failed, "error").find("certificate verify failed") != std::string::npos);
  CHECK(hook.size() == 1);
}

TEST_CASE("paging chain: repeat re-sends an open incident until it is acknowledged", "[notify][e2e]") {
  TempDir dir;
  Receiver primary;
  DemoBackend a(dir, "a");
  Ballast lb(dir, poolConfig({a.address()},
                             "notify:\n"
                             "  targets: [{ name: primary, url: \"" + primary.url("/page") + "\", format: json }]\n"
                             "  rules: [{ events: [pool_down], notify: [primary] }]\n"
                             "  repeat: 300ms\n"));
  waitEvent(lb, "backend_state", backendState(a.address(), "healthy"), 5000ms);
  a.process().signal(SIGKILL);
  const std::string id = jsonText(waitEvent(lb, "incident_opened", {}, 5000ms), "id");
  primary.waitFor({"\"event\":\"pool_down\"", id});
  const std::string again = primary.waitFor({"Reminder, still open and not acknowledged", id}, 5000ms);
  CHECK(again.find("\"note\":\"Reminder, still open and not acknowledged\"") != std::string::npos);
  REQUIRE(adminRequest(lb.adminPort(), "POST", "/incidents/" + id + "/ack").status == 200);
  waitEvent(lb, "incident_acked");
  const size_t at_ack = primary.count({"\"event\":\"pool_down\""});
  auto a2 = startDemoBackendAt(dir, "a2", a.address());
  waitEvent(lb, "incident_closed", {}, 10000ms);
  primary.waitFor({"\"event\":\"resolved\"", id});
  // The ack is handled on the notifier's next turn: a reminder already due
  // in that same millisecond may still go; none after.
  CHECK(primary.count({"\"event\":\"pool_down\""}) <= at_ack + 1);
}

TEST_CASE("paging chain: a drill's incident and its backend are paged marked DRILL", "[notify][e2e][drills]") {
  TempDir dir;
  Receiver chat, primary;
  DemoBackend a(dir, "a"), b(dir, "b"), c(dir, "c");
  Ballast lb(dir, poolConfig({a.address(), b.address(), c.address()},
                             "notify:\n"
                             "  targets:\n"
                             "    - { name: chat, url: \"" + chat.url("/hook") + "\", format: slack }\n"
                             "    - { name: primary, url: \"" + primary.url("/page") + "\", format: json }\n"
                             "  rules:\n"
                             "    - { events: [backend_down], notify: [chat] }\n"
                             "    - { events: [pool_degraded, pool_down], notify: [primary] }\n"
                             "  group_wait: 0\n"));
  for (const auto& x : {a.address(), b.address(), c.address()}) waitEvent(lb, "backend_state", backendState(x, "healthy"), 5000ms);
  Response r = adminRequest(lb.adminPort(), "POST", "/drills",
                            R"({"action": "simulate_down", "pool": "web", "backend": ")" + b.address() +
                                R"(", "duration": "1s"})");
  INFO(r.describe());
  REQUIRE(r.status == 200);
  const std::string page = primary.waitFor({"\"event\":\"pool_degraded\"", "\"drill\":true"});
  CHECK(page.find("DRILL: Pool web is degraded") != std::string::npos);
  const std::string down = chat.waitFor({"DRILL: Backend " + b.address() + " of pool web is down"});
  CHECK(down.find("drill: simulated down") != std::string::npos);
}
