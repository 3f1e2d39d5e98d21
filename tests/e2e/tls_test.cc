// TLS end to end: certificates are checked by --check and on every reload
// (a bad one is refused and the running one keeps serving), --watch follows
// certificate files, and /metrics shows each certificate's expiry.
// Certificates are generated per test by tests/support/make_test_certs.sh.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/websocket.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// The subject the listener on `port` presents for `sni` (defined below).
std::string servedCn(const TempDir& dir, uint16_t port, const std::string& sni);

// Generates the test certificates into DIR/certs.
void makeCerts(const TempDir& dir) {
  const std::string cmd = "sh " BALLAST_SOURCE_DIR "/tests/support/make_test_certs.sh " + dir.file("certs");
  REQUIRE(std::system(cmd.c_str()) == 0);
}

// A config with a plain listener and a TLS one serving `certs` (YAML list
// of {cert, key}, paths relative to the config) in front of `backend`.
std::string tlsConfig(const std::string& backend, const std::string& certs) {
  return "listen:\n"
         "  - 127.0.0.1:0\n"
         "  - address: 127.0.0.1:0\n"
         "    tls:\n"
         "      certificates: " + certs + "\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: off, events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

const std::string kSite = "[{ cert: certs/site.pem, key: certs/site.key }]";
const std::string kSiteAndApi = "[{ cert: certs/site.pem, key: certs/site.key }, { cert: certs/api.pem, key: certs/api.key }]";

std::string metrics(uint16_t admin_port) {
  Response r = fetch(admin_port, request("GET", "/metrics", {}, "", "127.0.0.1:" + std::to_string(admin_port)));
  REQUIRE(r.status == 200);
  return r.body;
}

// Lines of ballast_tls_certificate_expiry_timestamp_seconds.
std::vector<std::string> expirySeries(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& line : splitLines(text, true)) {
    if (line.rfind("ballast_tls_certificate_expiry_timestamp_seconds{", 0) == 0) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("tls: --check names the certificate file and its problem", "[tls][check]") {
  TempDir dir;
  makeCerts(dir);
  const std::string path = dir.file("ballast.yaml");
  struct Case {
    const char* name;
    std::string certs;
    std::string error;  // "" = valid
  };
  for (const Case& c : {
           Case{"valid, two names", kSiteAndApi, ""},
           Case{"a chain in order", "[{ cert: certs/chain.pem, key: certs/site.key }]", ""},
           Case{"expired", "[{ cert: certs/site.pem, key: certs/site.key }, { cert: certs/expired.pem, key: certs/expired.key }]",
                path + ":5:69: listen[1].tls.certificates[1]: certs/expired.pem: expired on 2021-01-01"},
           Case{"key does not match", "[{ cert: certs/api.pem, key: certs/other.key }]",
                path + ":5:22: listen[1].tls.certificates[0]: certs/api.pem: key does not match certificate (key certs/other.key)"},
           Case{"missing file", "[{ cert: certs/nope.pem, key: certs/site.key }]",
                path + ":5:22: listen[1].tls.certificates[0]: certs/nope.pem: cannot read: No such file or directory"},
       }) {
    INFO(c.name);
    writeFile(path, tlsConfig("127.0.0.1:9", c.certs));
    CliResult r = runBallastCli(dir, {"--check", "--config", path});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    if (c.error.empty()) {
      CHECK(r.exit_code == 0);
      CHECK(r.err.empty());
    } else {
      CHECK(r.exit_code == 1);
      CHECK(r.err == c.error + "\nballast: 1 error in " + path + "\n");
    }
  }
}

TEST_CASE("tls: a reload with a bad certificate is refused, a good one is applied, expiry shows in /metrics", "[tls][reload]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kSite));
  const uint16_t tls_port = lb.proxyPorts().at(1);
  const std::string listener = "127.0.0.1:0";
  std::vector<std::string> before = expirySeries(metrics(lb.adminPort()));
  REQUIRE(before.size() == 1);
  CHECK(before[0].find("{listener=\"" + listener + "\",cert=\"certs/site.pem\"}") != std::string::npos);
  // About 825 days from now.
  const double expiry = std::stod(before[0].substr(before[0].rfind(' ') + 1));
  CHECK(expiry > static_cast<double>(std::time(nullptr)) + 800 * 86400.0);

  // An expired certificate: refused, with the file and the problem named.
  const size_t failed = countEvents(lb, "config_reload_failed");
  replaceConfig(lb.configPath(),
                tlsConfig(backend.address(), "[{ cert: certs/expired.pem, key: certs/expired.key }]"));
  lb.process().signal(SIGHUP);
  JsonObject e = waitEvent(lb, "config_reload_failed", {}, 5000ms, failed);
  CHECK(jsonText(e, "errors").find("certs/expired.pem: expired on 2021-01-01") != std::string::npos);
  CHECK(expirySeries(metrics(lb.adminPort())) == before);
  // The running certificate keeps serving new handshakes.
  CHECK(servedCn(dir, tls_port, "site.test") == "subject=CN = site");

  // Two good certificates: applied, both published.
  const size_t reloaded = countEvents(lb, "config_reloaded");
  replaceConfig(lb.configPath(), tlsConfig(backend.address(), kSiteAndApi));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 5000ms, reloaded);
  std::vector<std::string> after = expirySeries(metrics(lb.adminPort()));
  REQUIRE(after.size() == 2);
  CHECK(after[1].find("cert=\"certs/api.pem\"") != std::string::npos);

  // The TLS listener removed: its series go.
  const size_t reloaded2 = countEvents(lb, "config_reloaded");
  replaceConfig(lb.configPath(), webConfig({backend.address()}));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 5000ms, reloaded2);
  CHECK(expirySeries(metrics(lb.adminPort())).empty());
}

TEST_CASE("tls: --watch reloads when a certificate file changes", "[tls][reload]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  const std::string path = dir.file("ballast.yaml");
  // Served from copies, so the test can replace them.
  const auto copy = [&](const std::string& from, const std::string& to) {
    writeFile(dir.file("certs/tmp"), readFile(dir.file(from)));
    REQUIRE(::rename(dir.file("certs/tmp").c_str(), dir.file(to).c_str()) == 0);
  };
  copy("certs/site.pem", "certs/live.pem");
  copy("certs/site.key", "certs/live.key");
  writeFile(path, tlsConfig(backend.address(), "[{ cert: certs/live.pem, key: certs/live.key }]"));
  Process p({BALLAST_BIN, "--config", path, "--watch"}, dir.path(), "ballast-watch");
  p.requireLine(Stream::Stderr, R"("event":"started")");
  p.requireLine(Stream::Stderr, R"("event":"watching".*live\.pem)");
  // The new key first: until the certificate follows, the pair does not
  // match and a reload that saw only the key is refused (the old pair serves).
  copy("certs/api.key", "certs/live.key");
  copy("certs/api.pem", "certs/live.pem");
  p.requireLine(Stream::Stderr, R"("event":"config_reloaded","trigger":"watch")", 10000ms);
  p.signal(SIGTERM);
  CHECK(p.waitExit() == 0);
}

namespace {

// `openssl s_server -www` on a free port with the site certificate: a TLS
// backend answering every GET with 200 (one connection at a time).
std::unique_ptr<Process> tlsBackend(const TempDir& dir, uint16_t& port) {
  port = freePort();
  auto p = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/openssl", "s_server", "-www", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                               dir.file("certs/site.pem"), "-key", dir.file("certs/site.key"), "-naccept", "1000"},
      dir.path(), "tls-backend");
  p->requireLine(Stream::Stdout, "ACCEPT");
  return p;
}

std::string tlsPoolConfig(const std::string& backend, const std::string& tls) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: off, events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    tls: " + tls + "\n"
         "    health_check: { path: /, interval: 300ms, timeout: 300ms, rise: 1, fall: 1 }\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

}  // namespace

TEST_CASE("tls: health checks of a TLS pool use TLS and verify the backend's certificate", "[tls][health]") {
  TempDir dir;
  makeCerts(dir);
  uint16_t port = 0;
  auto backend = tlsBackend(dir, port);
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  SECTION("verified against the CA, by the name in sni") {
    Ballast lb(dir, tlsPoolConfig(addr, "{ ca: certs/ca.pem, sni: site.test }"));
    waitEvent(lb, "backend_state", backendState(addr, "healthy"));
  }
  SECTION("verified as an IP address (the certificate has 127.0.0.1)") {
    Ballast lb(dir, tlsPoolConfig(addr, "{ ca: certs/ca.pem }"));
    waitEvent(lb, "backend_state", backendState(addr, "healthy"));
  }
  SECTION("a name the certificate does not have: the probe fails and says why") {
    Ballast lb(dir, tlsPoolConfig(addr, "{ ca: certs/ca.pem, sni: api.test }"));
    JsonObject e = waitEvent(lb, "backend_state", backendState(addr, "unhealthy"));
    CHECK(jsonText(e, "reason").find("TLS handshake failed") != std::string::npos);
    CHECK(jsonText(e, "reason").find("certificate verify failed") != std::string::npos);
  }
  SECTION("verify: false accepts it") {
    Ballast lb(dir, tlsPoolConfig(addr, "{ verify: false, sni: api.test }"));
    waitEvent(lb, "backend_state", backendState(addr, "healthy"));
  }
  SECTION("a plain HTTP backend behind a TLS pool fails its probes") {
    DemoBackend plain(dir, "plain");
    Ballast lb(dir, tlsPoolConfig(plain.address(), "{ verify: false }"));
    JsonObject e = waitEvent(lb, "backend_state", backendState(plain.address(), "unhealthy"));
    CHECK(jsonText(e, "reason").find("TLS handshake failed") != std::string::npos);
  }
}

namespace {

// Runs a shell command line to completion; returns its stdout (stderr
// kept in the process's files for failure messages).
std::string shell(const TempDir& dir, const std::string& cmd, int* exit_code = nullptr, Ms timeout = Ms(20000)) {
  Process p({"/bin/sh", "-c", cmd}, dir.path(), "sh");
  auto code = p.waitExit(timeout);
  REQUIRE(code.has_value());
  if (exit_code != nullptr) *exit_code = *code;
  return p.text(Stream::Stdout);
}

std::string curlTls(const TempDir& dir, uint16_t port, const std::string& name, const std::string& path,
                    int* exit_code = nullptr) {
  const std::string p = std::to_string(port);
  return shell(dir, "curl -sS --max-time 10 --cacert " + dir.file("certs/ca.pem") + " --resolve " + name + ":" + p + ":127.0.0.1 https://" +
                        name + ":" + p + path,
               exit_code);
}

// The subject CN the listener presents for `sni` ("" = no SNI), unverified.
std::string servedCn(const TempDir& dir, uint16_t port, const std::string& sni) {
  const std::string servername = sni.empty() ? "-noservername" : "-servername " + sni;
  std::string out = shell(dir, "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " " + servername +
                                   " 2>/dev/null | openssl x509 -noout -subject");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

double metric(uint16_t admin_port, const std::string& series) {
  for (const auto& line : splitLines(metrics(admin_port), true)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

const std::string kThreeCerts = "[{ cert: certs/site.pem, key: certs/site.key }, { cert: certs/api.pem, key: certs/api.key }, "
                                "{ cert: certs/wild.pem, key: certs/wild.key }]";

std::string handshakes(const std::string& result) {
  return "ballast_tls_handshakes_total{listener=\"127.0.0.1:0\",result=\"" + result + "\"}";
}

}  // namespace

TEST_CASE("tls: curl and openssl s_client get the certificate of each SNI name, the first without SNI", "[tls]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kThreeCerts));
  const uint16_t port = lb.proxyPorts().at(1);
  // curl verifies the certificate against the name it asked for.
  for (const char* name : {"site.test", "api.test", "x.wild.test", "localhost"}) {
    INFO(name);
    int code = -1;
    const std::string body = curlTls(dir, port, name, "/?echo=head", &code);
    CHECK(code == 0);
    CHECK(body.find("X-Forwarded-Proto: https") != std::string::npos);
  }
  CHECK(servedCn(dir, port, "api.test") == "subject=CN = api");
  CHECK(servedCn(dir, port, "x.wild.test") == "subject=CN = wild");
  CHECK(servedCn(dir, port, "unknown.test") == "subject=CN = site");
  CHECK(servedCn(dir, port, "") == "subject=CN = site");
  // The plain listener still says http.
  const std::string plain = fetch(lb.port(), get("/?echo=head")).body;
  CHECK(plain.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
  // s_client may leave before the listener has read its Finished: wait
  // for the count rather than sample it once.
  const auto all = [&] { return metric(lb.adminPort(), handshakes("success")) == 8; };
  for (int i = 0; i < 250 && !all(); ++i) std::this_thread::sleep_for(20ms);
  CHECK(all());
  CHECK(metric(lb.adminPort(), handshakes("failure")) == 0);
}

TEST_CASE("tls: plain HTTP to a TLS listener fails the handshake, a silent client is cut at client_header", "[tls]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kSite) + "timeouts: { client_header: 300ms }\n");
  const uint16_t port = lb.proxyPorts().at(1);
  {
    Client c(port);
    c.sendAll(get("/"));
    const std::string answer = c.readUntilClose();
    CHECK(answer.find("HTTP/1.1") == std::string::npos);  // a TLS alert, never HTTP
  }
  {
    Client c(port);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.readUntilClose().empty());
    CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
  }
  {
    // Half a client hello, then nothing: also cut at client_header.
    Client c(port);
    c.sendAll(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
    CHECK(c.readUntilClose().empty());
  }
  CHECK(metric(lb.adminPort(), handshakes("failure")) == 1);
  // The silent client sent no byte: no handshake was attempted.
  CHECK(metric(lb.adminPort(), handshakes("timeout")) == 1);
}

TEST_CASE("tls: pipelined requests and Connection: close over TLS", "[tls]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kSite));
  const uint16_t port = lb.proxyPorts().at(1);
  const std::string out = shell(
      dir, "printf 'GET /one HTTP/1.1\\r\\nHost: a\\r\\n\\r\\nGET /two HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n' | "
           "openssl s_client -quiet -ign_eof -connect 127.0.0.1:" + std::to_string(port) + " 2>/dev/null");
  size_t responses = 0;
  for (size_t at = out.find("HTTP/1.1 200"); at != std::string::npos; at = out.find("HTTP/1.1 200", at + 1)) ++responses;
  CHECK(responses == 2);
  CHECK(out.find("Connection: close") != std::string::npos);
}

TEST_CASE("tls: certificate rotation by reload under load: no request fails, new handshakes get the new one", "[tls][reload]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  const std::string one = "[{ cert: certs/site.pem, key: certs/site.key }]";
  const std::string two = "[{ cert: certs/site2.pem, key: certs/site2.key }]";
  Ballast lb(dir, tlsConfig(backend.address(), one));
  const uint16_t port = lb.proxyPorts().at(1);
  const std::string p = std::to_string(port);
  // New TLS connections one after another, each verified, while the
  // certificate changes underneath: every one must get a 200.
  Process load({"/bin/sh", "-c",
                "i=0; while [ $i -lt 150 ]; do curl -s --max-time 5 --cacert " + dir.file("certs/ca.pem") +
                    " --resolve site.test:" + p +
                    ":127.0.0.1 -o /dev/null -w '%{http_code}\\n' https://site.test:" + p + "/; i=$((i+1)); done"},
               dir.path(), "load");
  for (int i = 0; i < 6; ++i) {
    const size_t done = countEvents(lb, "config_reloaded");
    replaceConfig(lb.configPath(), tlsConfig(backend.address(), i % 2 == 0 ? two : one));
    lb.process().signal(SIGHUP);
    waitEvent(lb, "config_reloaded", {}, 5000ms, done);
  }
  REQUIRE(load.waitExit(60000ms) == 0);
  const std::vector<std::string> codes = splitLines(load.text(Stream::Stdout));
  CHECK(codes.size() == 150);
  CHECK(std::count(codes.begin(), codes.end(), "200") == 150);
  // The last reload put site.pem back; one more puts site2.pem in place.
  const size_t done = countEvents(lb, "config_reloaded");
  replaceConfig(lb.configPath(), tlsConfig(backend.address(), two));
  lb.process().signal(SIGHUP);
  waitEvent(lb, "config_reloaded", {}, 5000ms, done);
  const std::string served = shell(dir, "echo | openssl s_client -connect 127.0.0.1:" + p +
                                            " -servername site.test 2>/dev/null | openssl x509 -noout -fingerprint");
  const std::string want = shell(dir, "openssl x509 -noout -fingerprint -in " + dir.file("certs/site2.pem"));
  CHECK(served == want);
}

TEST_CASE("tls: TLS to backends: verified, pooled connections reused, new ones resume the session", "[tls]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend demo(dir, "a");
  // The TLS backend: a second ballast terminating TLS in front of the demo
  // backend (keep-alive, and it counts its handshakes).
  Ballast backend_lb(dir, tlsConfig(demo.address(), kSite) + "timeouts: { client_idle: 200ms }\n");
  const std::string backend_addr = "127.0.0.1:" + std::to_string(backend_lb.proxyPorts().at(1));
  Ballast lb(dir, "listen: 127.0.0.1:0\n"
                  "admin: { listen: 127.0.0.1:0 }\n"
                  "log: { level: info, access: off, events: stderr }\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    tls: { ca: certs/ca.pem, sni: site.test }\n"
                  "    backends: [{ address: " + backend_addr + " }]\n");
  Client c(lb.port());
  for (int i = 0; i < 5; ++i) {
    Response r = c.roundTrip(get("/?echo=head"));
    REQUIRE(r.status == 200);
    // The backend saw TLS: its X-Forwarded-Proto is https.
    CHECK(r.body.find("X-Forwarded-Proto: https") != std::string::npos);
  }
  // Five requests, one pooled connection: one full handshake.
  CHECK(metric(backend_lb.adminPort(), handshakes("success")) == 1);
  // The backend closes the idle connection after 200ms; the next request
  // opens a new one and resumes the session.
  const auto closed = [&] { return metric(backend_lb.adminPort(), "ballast_client_connections{state=\"idle\"}") == 0; };
  for (int i = 0; i < 100 && !closed(); ++i) std::this_thread::sleep_for(20ms);
  REQUIRE(closed());
  REQUIRE(c.roundTrip(get("/")).status == 200);
  CHECK(metric(backend_lb.adminPort(), handshakes("success")) == 1);
  CHECK(metric(backend_lb.adminPort(), handshakes("resumed")) == 1);
}

TEST_CASE("tls: a backend whose certificate does not verify gets 502 and no request", "[tls]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend demo(dir, "a");
  Ballast backend_lb(dir, tlsConfig(demo.address(), kSite));
  const std::string backend_addr = "127.0.0.1:" + std::to_string(backend_lb.proxyPorts().at(1));
  Ballast lb(dir, "listen: 127.0.0.1:0\n"
                  "admin: { listen: 127.0.0.1:0 }\n"
                  "log: { level: info, access: off, events: stderr }\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    tls: { ca: certs/ca.pem, sni: api.test }\n"
                  "    backends: [{ address: " + backend_addr + " }]\n");
  Response r = fetch(lb.port(), get("/"));
  CHECK(r.status == 502);
  // The backend side sees the refused handshake (the client's alert) a
  // moment after ballast has answered.
  const auto refused = [&] { return metric(backend_lb.adminPort(), handshakes("failure")) >= 1; };
  for (int i = 0; i < 250 && !refused(); ++i) std::this_thread::sleep_for(20ms);
  CHECK(refused());
  CHECK(metric(backend_lb.adminPort(), handshakes("success")) == 0);
}

TEST_CASE("tls: a WebSocket echo through a TLS listener", "[tls][tunnel]") {
  TempDir dir;
  makeCerts(dir);
  auto stats = std::make_shared<ws::EchoStats>();
  RawBackend backend(ws::echoHandler(stats));
  Ballast lb(dir, tlsConfig(backend.address(), kSite));
  const uint16_t port = lb.proxyPorts().at(1);
  // The upgrade request, a text frame and a close frame in one write; the
  // frames follow the request into the tunnel, in order.
  writeFile(dir.file("ws.bin"), ws::Client::upgradeRequest("/ws") + ws::frame(ws::kText, "hello over tls", true) +
                                    ws::frame(ws::kClose, std::string("\x03\xe8", 2), true));
  const std::string out = shell(dir, "openssl s_client -quiet -ign_eof -connect 127.0.0.1:" + std::to_string(port) +
                                         " < " + dir.file("ws.bin") + " 2>/dev/null");
  INFO(out);
  REQUIRE(out.rfind("HTTP/1.1 101 ", 0) == 0);
  CHECK(out.find("Sec-WebSocket-Accept: " + ws::acceptFor(ws::Client::kKey)) != std::string::npos);
  CHECK(out.find(ws::frame(ws::kText, "hello over tls", false)) != std::string::npos);
  CHECK(metric(lb.adminPort(), "ballast_tunnels_total{pool=\"web\",result=\"closed\"}") == 1);
}

TEST_CASE("tls: a 413 while the client still sends its body reaches it over TLS (lingering close)", "[tls][lingering]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kSite) + "limits: { max_body_bytes: 1KiB }\n");
  const uint16_t port = lb.proxyPorts().at(1);
  // 256 KiB of body where 1 KiB is allowed: the 413 comes while most of it
  // is still on its way, then ballast reads and discards the rest.
  writeFile(dir.file("post.bin"), request("POST", "/upload", {}, std::string(256 * 1024, 'p')));
  for (int i = 0; i < 5; ++i) {
    const std::string out = shell(dir, "openssl s_client -quiet -ign_eof -connect 127.0.0.1:" + std::to_string(port) +
                                           " < " + dir.file("post.bin") + " 2>/dev/null");
    INFO(out);
    CHECK(out.rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(out.find("Connection: close") != std::string::npos);
  }
}

TEST_CASE("tls: SIGTERM drains a TLS request in flight: it completes, then ballast exits 0", "[tls][drain]") {
  TempDir dir;
  makeCerts(dir);
  DemoBackend backend(dir, "a");
  Ballast lb(dir, tlsConfig(backend.address(), kSite) + "drain: { timeout: 10s }\n");
  const std::string p = std::to_string(lb.proxyPorts().at(1));
  Process slow({"/bin/sh", "-c",
                "curl -sS --max-time 10 --cacert " + dir.file("certs/ca.pem") + " --resolve site.test:" + p +
                    ":127.0.0.1 -D - https://site.test:" + p + "/slow?delay=1000"},
               dir.path(), "slow");
  // The request has reached the backend.
  const std::string series = "ballast_backend_active_requests{pool=\"web\",backend=\"" + backend.address() + "\"}";
  for (int i = 0; i < 500 && metric(lb.adminPort(), series) != 1; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(metric(lb.adminPort(), series) == 1);
  lb.process().signal(SIGTERM);
  REQUIRE(slow.waitExit(10000ms) == 0);
  const std::string out = slow.text(Stream::Stdout);
  CHECK(out.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(out.find("onnection: close") != std::string::npos);
  CHECK(lb.process().waitExit(10000ms) == 0);
}
