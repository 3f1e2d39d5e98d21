// Upgrade tunnels (issue 10): a WebSocket handshake is forwarded with its
// Connection/Upgrade headers, a 101 turns the two connections into one byte
// tunnel (backpressure both ways, half-close passed through, its own idle
// timeout), reloads leave tunnels alone, drain ends them at drain.timeout,
// and each tunnel is one access-log line (status 101) and a few metrics.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"
#include "tests/support/websocket.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

std::string metricsOf(const Ballast& lb) { return metricsText(lb.adminPort()); }

double metric(const Ballast& lb, const std::string& family, const std::vector<std::string>& labels = {}) {
  return metricSum(metricsOf(lb), family, labels).value_or(-1);
}

// Waits until the access log has a line for a tunnel (status 101) and
// returns it parsed.
JsonObject waitTunnelLog(Ballast& lb, Ms timeout = 5000ms) {
  std::optional<JsonObject> found;
  const bool ok = pollUntil(
      [&] {
        for (const auto& line : lb.accessLog()) {
          JsonObject o = parseFlatJson(line);
          if (jsonText(o, "status") == "101") {
            found = o;
            return true;
          }
        }
        return false;
      },
      timeout);
  if (!ok) FAIL("no access-log line with status 101; stdout:\n" << lb.process().tail());
  return *found;
}

// Waits until `counter` stops moving: unchanged for `quiet` in a row
// (a sender blocked by backpressure), within `timeout`. Returns the value.
uint64_t waitStalled(const std::atomic<uint64_t>& counter, Ms quiet = 400ms, Ms timeout = 15000ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const uint64_t v = counter.load();
    if (v > 0 && !pollUntil([&] { return counter.load() != v; }, quiet)) return v;
  }
  FAIL("the sender never stalled: " << counter.load() << " bytes so far");
  return 0;
}

std::string tunnelConfig(const std::string& backend, const std::string& extra = "") {
  return webConfig({backend}, extra);
}

void requireUpgraded(const std::string& head) {
  INFO(head);
  REQUIRE(head.rfind("HTTP/1.1 101 ", 0) == 0);
  REQUIRE(has(toLower(head), "\r\nupgrade: websocket\r\n"));
  REQUIRE(has(toLower(head), "\r\nconnection: upgrade\r\n"));
  REQUIRE(has(head, "Sec-WebSocket-Accept: " + ws::acceptFor(ws::Client::kKey)));
}

}  // namespace

TEST_CASE("tunnel: a WebSocket handshake and frames cross ballast, one access-log line and metrics",
          "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address()));

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws", {"Keep-Alive: timeout=5", "Connection: X-Private", "X-Private: 1"}));
  {
    std::lock_guard<std::mutex> lock(stats->mu);
    REQUIRE(stats->heads.size() == 1);
    const std::string head = toLower(stats->heads[0]);
    INFO(stats->heads[0]);
    // The two headers an upgrade needs reach the backend; the other
    // hop-by-hop ones (and those Connection names) still do not.
    CHECK(has(head, "\r\nconnection: upgrade\r\n"));
    CHECK(has(head, "\r\nupgrade: websocket\r\n"));
    CHECK(has(head, "\r\nsec-websocket-key: " + toLower(ws::Client::kKey) + "\r\n"));
    CHECK_FALSE(has(head, "keep-alive"));
    CHECK_FALSE(has(head, "x-private"));
  }
  CHECK(metric(lb, "ballast_tunnels_active", {"pool=\"web\""}) == 1);

  std::string big(200 * 1024, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  for (const std::string& msg : {std::string("one"), std::string(70000, 'm'), big}) {
    c.sendText(msg);
    auto f = c.readFrame();
    REQUIRE(f.has_value());
    CHECK(f->opcode == ws::kText);
    CHECK(f->payload == msg);
  }
  c.send(ws::kClose, std::string("\x03\xe8", 2));
  auto closing = c.readFrame();
  REQUIRE(closing.has_value());
  CHECK(closing->opcode == ws::kClose);
  // The backend closes after its close frame; ballast passes that on and,
  // once the client closes too, ends the tunnel.
  c.shutdownWrite();
  REQUIRE(c.waitEof(5000ms));

  JsonObject line = waitTunnelLog(lb);
  CHECK(jsonText(line, "path") == "/ws");
  CHECK(jsonText(line, "termination") == "--");
  CHECK(std::stoull(jsonText(line, "bytes_out")) > big.size());
  CHECK(std::stoull(jsonText(line, "bytes_in")) > big.size());
  REQUIRE(pollUntil([&] { return metric(lb, "ballast_tunnels_active", {"pool=\"web\""}) == 0; }, 5000ms));
  const std::string m = metricsOf(lb);
  CHECK(metricSum(m, "ballast_tunnels_total", {"pool=\"web\"", "result=\"closed\""}).value_or(0) == 1);
  CHECK(metricSum(m, "ballast_tunnel_bytes_total", {"pool=\"web\"", "direction=\"up\""}).value_or(0) >
        static_cast<double>(big.size()));
  CHECK(metricSum(m, "ballast_tunnel_bytes_total", {"pool=\"web\"", "direction=\"down\""}).value_or(0) >
        static_cast<double>(big.size()));
  CHECK(metricSum(m, "ballast_requests_total", {"code=\"101\""}).value_or(0) == 1);
  CHECK(lb.accessLog().size() == 1);
}

TEST_CASE("tunnel: bytes sent right after the upgrade request and right after the 101 arrive in order",
          "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address()));

  ws::Client c(lb.port());
  // Two frames in the same write as the handshake (pipelined into the
  // tunnel), and the backend's greeting in the same write as its 101.
  const std::string early = ws::frame(ws::kText, "early-1", true) + ws::frame(ws::kText, "early-2", true);
  requireUpgraded(c.handshake("/ws?greet", {}, early));
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto f = c.readFrame();
    REQUIRE(f.has_value());
    got.push_back(f->payload);
  }
  CHECK(got == std::vector<std::string>{"hello", "early-1", "early-2"});
}

TEST_CASE("tunnel: any answer but 101 is an ordinary response and the connection stays HTTP", "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address()));

  Client c(lb.port());
  Response r = c.roundTrip(ws::Client::upgradeRequest("/ws?refuse"));
  CHECK(r.status == 403);
  CHECK(r.body == "refused");
  // Same connection, plain HTTP again.
  Response next = c.roundTrip(get("/after"));
  CHECK(next.status == 200);
  CHECK(next.body == "plain");
  CHECK(stats->upgrades.load() == 0);
  CHECK(metric(lb, "ballast_tunnels_total") <= 0);
}

TEST_CASE("tunnel: an upgrade request with a body is refused with 400, HTTP/1.0 upgrades are ignored",
          "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address()));

  {
    Client c(lb.port());
    std::string req = ws::Client::upgradeRequest("/ws", {"Content-Length: 5"});
    Response r = c.roundTrip(req + "hello");
    CHECK(r.status == 400);
    CHECK(has(r.body, "Upgrade request must not have a body"));
  }
  {
    // RFC 9110 7.8: a server must ignore Upgrade in an HTTP/1.0 request.
    Client c(lb.port());
    std::string req = ws::Client::upgradeRequest("/ws");
    req.replace(req.find("HTTP/1.1"), 8, "HTTP/1.0");
    Response r = c.roundTrip(req);
    CHECK(r.status == 200);
    CHECK(r.body == "plain");
  }
  CHECK(stats->upgrades.load() == 0);
}

TEST_CASE("tunnel: a 101 the client did not ask for, or one without Upgrade, is a 502", "[tunnel]") {
  TempDir dir;
  RawBackend backend([](RawConn& c) {
    auto req = c.readRequest();
    if (!req) return;
    if (req->target == "/noproto") {
      c.send("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n");
    } else {
      c.send("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nraw");
    }
  });
  Ballast lb(dir, tunnelConfig(backend.address()));
  {
    Client c(lb.port());
    Response r = c.roundTrip(get("/plain"));
    CHECK(r.status == 502);
  }
  {
    Client c(lb.port());
    Response r = c.roundTrip(ws::Client::upgradeRequest("/noproto"));
    CHECK(r.status == 502);
  }
}

TEST_CASE("tunnel: half-close passes through, the tunnel ends when both sides closed", "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address()));

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws"));
  c.sendText("last words");
  auto echo = c.readFrame();
  REQUIRE(echo.has_value());
  CHECK(echo->payload == "last words");
  // Client FIN: the backend must see EOF while its own direction stays open
  // (it then answers "bye" and closes).
  c.shutdownWrite();
  auto bye = c.readFrame();
  REQUIRE(bye.has_value());
  CHECK(bye->payload == "bye");
  REQUIRE(c.waitEof(5000ms));
  CHECK_FALSE(c.reset());
  CHECK(stats->client_fins.load() == 1);
  JsonObject line = waitTunnelLog(lb);
  CHECK(jsonText(line, "termination") == "--");
}

TEST_CASE("tunnel: timeouts.tunnel closes an idle tunnel, client_idle and backend_response do not apply",
          "[tunnel]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address(),
                               "timeouts: { client_idle: 150ms, backend_response: 150ms, tunnel: 1200ms }"));

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws"));
  // Quiet for four client_idle periods: the tunnel is still there.
  CHECK_FALSE(c.waitEof(600ms));
  c.sendText("still here");
  auto f = c.readFrame();
  REQUIRE(f.has_value());
  CHECK(f->payload == "still here");
  const auto quiet_from = Clock::now();
  REQUIRE(c.waitEof(5000ms));
  const auto waited = std::chrono::duration_cast<Ms>(Clock::now() - quiet_from);
  CHECK(waited >= 1000ms);
  JsonObject line = waitTunnelLog(lb);
  CHECK(jsonText(line, "status") == "101");
  CHECK(jsonText(line, "termination") == "cD");
  CHECK(metric(lb, "ballast_tunnels_total", {"result=\"idle_timeout\""}) == 1);
  REQUIRE(pollUntil([&] { return stats->open.load() == 0; }, 5000ms));
}

TEST_CASE("tunnel: a reload that removes the tunnel's pool and backend leaves the tunnel open", "[tunnel][reload]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  RawBackend other(ws::echoHandler(std::make_shared<ws::EchoStats>()));
  Ballast lb(dir, tunnelConfig(backend.address()));

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws"));
  c.sendText("before");
  REQUIRE(c.readFrame().has_value());

  // The new config has another pool with another backend only.
  const size_t reloads = countEvents(lb, "config_reloaded");
  replaceConfig(lb.configPath(), configYaml({PoolSpec{"next", {{other.address(), 1}}}}));
  ::kill(lb.process().pid(), SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 20000ms, reloads);

  for (int i = 0; i < 3; ++i) {
    c.sendText("after-" + std::to_string(i));
    auto f = c.readFrame();
    REQUIRE(f.has_value());
    CHECK(f->payload == "after-" + std::to_string(i));
  }
  // New requests go to the new pool.
  ws::Client fresh(lb.port());
  requireUpgraded(fresh.handshake("/ws"));
  CHECK(stats->upgrades.load() == 1);
  c.shutdownWrite();
  REQUIRE(c.waitEof(5000ms));
  JsonObject line = waitTunnelLog(lb);
  CHECK(jsonText(line, "pool") == "web");
  CHECK(jsonText(line, "termination") == "--");
}

TEST_CASE("tunnel: SIGTERM keeps tunnels open until drain.timeout, then closes them", "[tunnel][drain]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tunnelConfig(backend.address(), "drain: { timeout: 1500ms }"));

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws"));
  const auto term_at = Clock::now();
  ::kill(lb.process().pid(), SIGTERM);
  waitEvent(lb, "draining");
  // Still a tunnel while draining.
  c.sendText("during drain");
  auto f = c.readFrame();
  REQUIRE(f.has_value());
  CHECK(f->payload == "during drain");
  REQUIRE(c.waitEof(10000ms));
  CHECK(std::chrono::duration_cast<Ms>(Clock::now() - term_at) >= 1400ms);
  auto code = lb.process().waitExit(10000ms);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  JsonObject line = waitTunnelLog(lb);
  CHECK(jsonText(line, "termination") == "KD");
}

TEST_CASE("tunnel: an unhealthy backend's tunnels stay open unless close_tunnels_on_unhealthy", "[tunnel][health]") {
  for (const bool close_them : {false, true}) {
    DYNAMIC_SECTION("close_tunnels_on_unhealthy: " << close_them) {
      TempDir dir;
      auto stats = std::make_shared<ws::EchoStats>();
      auto healthy = std::make_shared<std::atomic<bool>>(true);
      RawBackend backend(ws::echoHandler(stats, healthy));
      const std::string hc = std::string("health_check: { interval: 100ms, timeout: 80ms, rise: 1, fall: 1") +
                             (close_them ? ", close_tunnels_on_unhealthy: true }" : " }");
      Ballast lb(dir, failoverConfig({{backend.address()}}, {hc}));
      waitEvent(lb, "backend_state", backendState(backend.address(), "healthy"), 5000ms);

      ws::Client c(lb.port());
      requireUpgraded(c.handshake("/ws"));
      healthy->store(false);
      waitEvent(lb, "backend_state", backendState(backend.address(), "unhealthy"), 5000ms);
      if (close_them) {
        REQUIRE(c.waitEof(5000ms));
        JsonObject line = waitTunnelLog(lb);
        CHECK(jsonText(line, "termination") == "KD");
        CHECK(metric(lb, "ballast_tunnels_total", {"result=\"backend_unhealthy\""}) == 1);
      } else {
        c.sendText("still open");
        auto f = c.readFrame();
        REQUIRE(f.has_value());
        CHECK(f->payload == "still open");
        CHECK(metric(lb, "ballast_tunnels_active") == 1);
      }
    }
  }
}

TEST_CASE("tunnel: a client that stops reading holds the backend back, and memory stays bounded", "[tunnel][memory]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats), 64 * 1024);
  Ballast lb(dir, tunnelConfig(backend.address()));
  const long rss_before = lb.process().rssKb();

  constexpr uint64_t kTotal = 128ull << 20;  // 128 MiB from the backend
  ws::Client c(lb.port(), 64 * 1024);
  requireUpgraded(c.handshake("/ws?flood=" + std::to_string(kTotal)));
  // The client reads nothing: the backend stalls once the socket buffers
  // on both sides are full (ballast holds one read).
  waitStalled(stats->flood_sent);
  CHECK(stats->flood_sent.load() < kTotal / 8);
  const long rss_stalled = lb.process().rssKb();
  INFO("rss before " << rss_before << " KiB, stalled " << rss_stalled << " KiB, backend sent "
                     << stats->flood_sent.load());
  CHECK(rss_stalled - rss_before < 16 * 1024);

  // Now read everything: all of it arrives, in whole frames.
  uint64_t got = 0;
  while (got < kTotal) {
    auto f = c.readFrame(10000ms);
    REQUIRE(f.has_value());
    got += f->payload.size() + 10;  // payload + its frame header (64-bit length form: 10 bytes)
  }
  CHECK(got == stats->flood_sent.load());
  CHECK(lb.process().peakRssKb() - rss_before < 32 * 1024);
}

TEST_CASE("tunnel: a backend that stops reading holds the client back, and memory stays bounded",
          "[tunnel][memory]") {
  TempDir dir;
  auto stats = std::make_shared<ws::EchoStats>();
  stats->sink_hold = true;
  RawBackend backend(ws::echoHandler(stats), 64 * 1024);
  Ballast lb(dir, tunnelConfig(backend.address()));
  const long rss_before = lb.process().rssKb();

  ws::Client c(lb.port());
  requireUpgraded(c.handshake("/ws?sink"));
  constexpr size_t kTotal = 128u << 20;
  std::atomic<uint64_t> sent{0};
  std::thread sender([&] {
    const std::string chunk = ws::frame(ws::kBinary, std::string(256 * 1024, 'u'), true);
    try {
      while (sent.load() < kTotal) {
        c.sendRaw(chunk);
        sent += chunk.size();
      }
    } catch (const std::exception&) {
      // the test failed and closed things: the CHECKs below say why
    }
  });
  struct Join {
    std::thread& t;
    std::shared_ptr<ws::EchoStats> s;
    ~Join() {
      s->sink_hold = false;
      if (t.joinable()) t.join();
    }
  } join{sender, stats};
  // The backend reads nothing: the client's sends block once the socket
  // buffers on both sides are full (ballast holds one read).
  waitStalled(sent);
  CHECK(sent.load() < kTotal / 8);
  const long rss_stalled = lb.process().rssKb();
  INFO("rss before " << rss_before << " KiB, stalled " << rss_stalled << " KiB, client sent " << sent.load());
  CHECK(rss_stalled - rss_before < 16 * 1024);

  stats->sink_hold = false;
  sender.join();
  c.shutdownWrite();
  REQUIRE(pollUntil([&] { return stats->sink_read.load() == sent.load(); }, 30000ms));
  REQUIRE(pollUntil([&] { return stats->client_fins.load() == 1; }, 5000ms));
  CHECK(lb.process().peakRssKb() - rss_before < 32 * 1024);
  REQUIRE(c.waitEof(5000ms));
}
