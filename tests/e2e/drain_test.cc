// Graceful shutdown end to end: on SIGTERM /readyz turns 503 at once, the
// listeners keep accepting for drain.delay and then refuse, idle keep-alive
// clients are closed, in-flight requests finish (with Connection: close),
// drain.timeout cuts what is left, and a second signal exits at once.
//
// "In flight" is established from ballast's own view
// (ballast_backend_active_requests in /metrics), not from a sleep.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Ms since(Clock::time_point t) { return std::chrono::duration_cast<Ms>(Clock::now() - t); }

Response admin(uint16_t admin_port, const std::string& path) {
  return fetch(admin_port, request("GET", path, {}, "", "127.0.0.1:" + std::to_string(admin_port)));
}

// Polls /metrics until ballast counts `n` requests in flight on `backend`.
void waitInFlight(const Ballast& lb, const std::string& backend, int n) {
  const std::string family = "ballast_backend_active_requests{";
  const std::string label = "backend=\"" + backend + "\"";
  auto deadline = Clock::now() + 5000ms;
  for (;;) {
    Response r = admin(lb.adminPort(), "/metrics");
    for (const auto& line : splitLines(r.body, true)) {
      if (line.compare(0, family.size(), family) == 0 && contains(line, label) &&
          line.substr(line.rfind(' ') + 1) == std::to_string(n))
        return;
    }
    if (Clock::now() >= deadline) throw std::runtime_error("no " + std::to_string(n) + " request(s) in flight on " + backend);
    std::this_thread::sleep_for(5ms);
  }
}


// Index of the first event line named `event` in the event log, or -1.
long eventIndex(const Ballast& lb, const std::string& event) {
  auto evs = eventObjects(lb);
  for (size_t i = 0; i < evs.size(); ++i) {
    if (jsonText(evs[i], "event") == event) return static_cast<long>(i);
  }
  return -1;
}

}  // namespace

TEST_CASE("SIGTERM: readyz 503 and still accepting during drain.delay, then refused, and the slow request completes",
          "[drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "drain: { delay: 1s, timeout: 10s }\n"));
  REQUIRE(admin(lb.adminPort(), "/readyz").status == 200);

  Client slow(lb.port());
  slow.sendAll(get("/slow?delay=2000"));
  waitInFlight(lb, a.address(), 1);

  const auto t_term = Clock::now();
  lb.process().signal(SIGTERM);
  JsonObject draining = waitEvent(lb, "draining");
  CHECK(jsonText(draining, "delay_ms") == "1000");
  CHECK(jsonText(draining, "timeout_ms") == "10000");
  CHECK(jsonText(draining, "client_connections") == "1");

  // During the delay: not ready, but a new connection is still served.
  Response ready = admin(lb.adminPort(), "/readyz");
  INFO(ready.describe());
  CHECK(ready.status == 503);
  Response during = fetch(lb.port(), get("/during-delay"));
  INFO(during.describe());
  CHECK(during.status == 200);
  CHECK(iequals(during.headerOr("Connection"), "close"));
  CHECK(since(t_term) < 900ms);  // really observed inside the delay

  // After the delay the listener closes: connections are refused.
  auto deadline = Clock::now() + 5000ms;
  int err = 0;
  while ((err = tryConnect(lb.port())) != ECONNREFUSED && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  const Ms refused_after = since(t_term);
  CHECK(err == ECONNREFUSED);
  CHECK(refused_after >= 950ms);

  // The slow request started before SIGTERM completes normally.
  slow.setTimeout(5000ms);
  Response r = slow.readResponse();
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(r.headerOr("X-Backend") == "a");
  CHECK(iequals(r.headerOr("Connection"), "close"));
  CHECK(slow.readUntilClose(2000ms).empty());

  auto code = lb.process().waitExit(5000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const long drained = eventIndex(lb, "drained");
  const long stopped = eventIndex(lb, "stopped");
  CHECK(drained >= 0);
  CHECK(stopped > drained);
  CHECK(countEvents(lb, "drain_timeout") == 0);
}

TEST_CASE("SIGTERM closes idle keep-alive clients at once, and an active one gets Connection: close", "[drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Client idle1(lb.port());
  Client idle2(lb.port());
  REQUIRE(idle1.roundTrip(get("/1")).status == 200);
  REQUIRE(idle2.roundTrip(get("/2")).status == 200);
  Client active(lb.port());
  active.sendAll(get("/active?delay=1500"));
  waitInFlight(lb, a.address(), 1);

  const auto t_term = Clock::now();
  lb.process().signal(SIGTERM);
  // The idle ones see EOF (no byte) well before the active response is due.
  CHECK(idle1.readUntilClose(1000ms).empty());
  CHECK(idle2.readUntilClose(1000ms).empty());
  const Ms idle_closed = since(t_term);
  CHECK(idle_closed < 1000ms);

  active.setTimeout(5000ms);
  Response r = active.readResponse();
  const Ms active_done = since(t_term);
  INFO(r.describe());
  CHECK(r.status == 200);
  CHECK(r.complete);
  CHECK(iequals(r.headerOr("Connection"), "close"));
  CHECK(active.readUntilClose(2000ms).empty());
  CHECK(idle_closed < active_done);

  auto code = lb.process().waitExit(5000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(eventIndex(lb, "drained") >= 0);
  CHECK(eventIndex(lb, "stopped") > eventIndex(lb, "drained"));
}

TEST_CASE("drain.timeout cuts a request that hangs longer, with a drain_timeout event, and exits 0", "[drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "drain: { timeout: 500ms }\n"));
  Client hung(lb.port());
  hung.sendAll(get("/hang?hang=1"));
  waitInFlight(lb, a.address(), 1);

  const auto t_term = Clock::now();
  lb.process().signal(SIGTERM);
  auto code = lb.process().waitExit(5000ms);
  const Ms exited = since(t_term);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(exited >= 450ms);
  CHECK(exited < 3000ms);

  // The client saw its connection cut, without a response.
  hung.setTimeout(2000ms);
  Response r = hung.readResponse();
  CHECK_FALSE(r.head_complete);

  JsonObject cut = waitEvent(lb, "drain_timeout", {}, 0ms);
  CHECK(std::stoi(jsonText(cut, "connections_cut")) >= 1);
  CHECK(eventIndex(lb, "drained") == -1);
  CHECK(eventIndex(lb, "stopped") > eventIndex(lb, "drain_timeout"));
}

TEST_CASE("a second SIGTERM during the drain exits at once", "[drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}, "drain: { timeout: 30s }\n"));
  Client slow(lb.port());
  slow.sendAll(get("/slow?delay=20000"));
  waitInFlight(lb, a.address(), 1);

  lb.process().signal(SIGTERM);
  waitEvent(lb, "draining");
  // The drain is under way: the listener has closed, the request still runs.
  auto deadline = Clock::now() + 5000ms;
  while (tryConnect(lb.port()) != ECONNREFUSED && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(lb.process().running());

  const auto t_second = Clock::now();
  lb.process().signal(SIGTERM);
  auto code = lb.process().waitExit(5000ms);
  const Ms exited = since(t_second);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(exited < 1000ms);
  CHECK(eventIndex(lb, "shutdown_now") >= 0);
  CHECK(eventIndex(lb, "drained") == -1);
  slow.setTimeout(2000ms);
  CHECK_FALSE(slow.readResponse().head_complete);
}
