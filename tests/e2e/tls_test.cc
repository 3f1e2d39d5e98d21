// TLS end to end: certificates are checked by --check and on every reload
// (a bad one is refused and the running one keeps serving), --watch follows
// certificate files, and /metrics shows each certificate's expiry.
// Certificates are generated per test by tests/support/make_test_certs.sh.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

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
  // The listener is still there.
  CHECK(Client(tls_port).fd() >= 0);

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
