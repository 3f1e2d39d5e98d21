// Config loader and the duration/size parsers. No I/O beyond temporary
// files and name resolution of "localhost".

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/server/preflight.h"
#include "config/duration.h"

using namespace std::chrono_literals;
using ballast::config::Address;
using ballast::config::Config;
using ballast::config::ConfigError;
using ballast::config::LoadResult;
using ballast::config::loadConfigFile;
using ballast::config::loadConfigString;
using ballast::config::LogLevel;
using ballast::config::parseDuration;
using ballast::config::parseSize;

namespace {

std::vector<std::string> formatted(const LoadResult& r) {
  std::vector<std::string> out;
  for (const ConfigError& e : r.errors) out.push_back(e.format());
  return out;
}

std::vector<std::string> errorsOf(const std::string& yaml) {
  return formatted(loadConfigString(yaml));
}

// Loads a config that must be valid; the errors are printed if it is not.
Config loadValid(const std::string& yaml) {
  LoadResult r = loadConfigString(yaml);
  INFO(Catch::Detail::stringify(formatted(r)));
  REQUIRE(r.ok());
  REQUIRE(r.config.has_value());
  return *r.config;
}

uint16_t sockPort(const Address& a) {
  if (a.addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a.addr).sin_port);
  if (a.addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a.addr).sin6_port);
  return 0;
}

std::string sockHost(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a.addr).sin_addr, buf, sizeof(buf));
  } else if (a.addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a.addr).sin6_addr, buf, sizeof(buf));
  }
  return buf;
}

void checkIpv4(const Address& a, const std::string& text, const std::string& host, uint16_t port) {
  CHECK(a.text == text);
  CHECK(a.host == host);
  CHECK(a.port == port);
  CHECK(a.addr.ss_family == AF_INET);
  CHECK(a.addr_len == sizeof(sockaddr_in));
  CHECK(sockHost(a) == host);
  CHECK(sockPort(a) == port);
}

// A pool block used by tests that only care about other sections.
const char* const kOnePool =
    "pools:\n"
    "  - name: web\n"
    "    backends: [{ address: 127.0.0.1:9001 }]\n";

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string expected;  // the only error, formatted
};

void checkSingleErrors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) {
    DYNAMIC_SECTION(c.name) {
      LoadResult r;
      REQUIRE_NOTHROW(r = loadConfigString(c.yaml));
      CHECK_FALSE(r.config.has_value());
      CHECK(formatted(r) == std::vector<std::string>{c.expected});
    }
  }
}

}  // namespace

TEST_CASE("config: a full config loads into the right values", "[config]") {
  const Config cfg = loadValid(R"(
listen:
  - 127.0.0.1:8080
  - "[::1]:8443"
admin:
  listen: 127.0.0.1:0
log:
  level: debug
  access: /var/log/ballast/access.log
  events: "off"
timeouts:
  connect: 250ms
  client_header: 1.5s
  backend_response: 1m
  client_idle: 1h
  backend_idle: 45s
limits:
  max_connections: 500
  max_header_bytes: 32KiB
  max_body_bytes: 10MiB
pools:
  - name: web
    balance: round_robin
    backends:
      - { address: 127.0.0.1:9001, weight: 5 }
      - { address: "[::1]:9002" }
      - address: 10.0.0.7:80
        weight: 1000
  - name: api.v2-internal_x
    backends: []
routes:
  - { match: { host: API.Example.COM, path_prefix: /v1 }, pool: api.v2-internal_x }
  - match: { host: "*.example.com" }
    pool: web
  - { match: { path_prefix: /static/ }, pool: web }
  - { match: {}, pool: web }
  - { pool: api.v2-internal_x }
)");

  CHECK(cfg.source_path == "<string>");

  REQUIRE(cfg.listen.size() == 2);
  checkIpv4(cfg.listen[0], "127.0.0.1:8080", "127.0.0.1", 8080);
  const Address& v6 = cfg.listen[1];
  CHECK(v6.text == "[::1]:8443");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 8443);
  CHECK(v6.addr.ss_family == AF_INET6);
  CHECK(v6.addr_len == sizeof(sockaddr_in6));
  CHECK(sockHost(v6) == "::1");
  CHECK(sockPort(v6) == 8443);

  checkIpv4(cfg.admin.listen, "127.0.0.1:0", "127.0.0.1", 0);

  CHECK(cfg.log.level == LogLevel::Debug);
  CHECK(cfg.log.access == "/var/log/ballast/access.log");
  CHECK(cfg.log.events == "off");

  CHECK(cfg.timeouts.connect == 250ms);
  CHECK(cfg.timeouts.client_header == 1500ms);
  CHECK(cfg.timeouts.backend_response == 60s);
  CHECK(cfg.timeouts.client_idle == 3600s);
  CHECK(cfg.timeouts.backend_idle == 45s);

  CHECK(cfg.limits.max_connections == 500);
  CHECK(cfg.limits.max_header_bytes == 32 * 1024);
  CHECK(cfg.limits.max_body_bytes == 10 * 1024 * 1024);

  REQUIRE(cfg.pools.size() == 2);
  const auto& web = cfg.pools[0];
  CHECK(web.name == "web");
  CHECK(web.balance == ballast::config::Balance::RoundRobin);
  REQUIRE(web.backends.size() == 3);
  checkIpv4(web.backends[0].address, "127.0.0.1:9001", "127.0.0.1", 9001);
  CHECK(web.backends[0].weight == 5);
  CHECK(web.backends[1].address.text == "[::1]:9002");
  CHECK(web.backends[1].address.host == "::1");
  CHECK(web.backends[1].address.addr.ss_family == AF_INET6);
  CHECK(sockPort(web.backends[1].address) == 9002);
  CHECK(web.backends[1].weight == 1);
  checkIpv4(web.backends[2].address, "10.0.0.7:80", "10.0.0.7", 80);
  CHECK(web.backends[2].weight == 1000);
  CHECK(cfg.pools[1].name == "api.v2-internal_x");
  CHECK(cfg.pools[1].backends.empty());

  REQUIRE(cfg.routes.size() == 5);
  CHECK(cfg.routes[0].host == "api.example.com");
  CHECK(cfg.routes[0].path_prefix == "/v1");
  CHECK(cfg.routes[0].pool == "api.v2-internal_x");
  CHECK(cfg.routes[0].pool_index == 1);
  CHECK(cfg.routes[1].host == "*.example.com");
  CHECK(cfg.routes[1].path_prefix.empty());
  CHECK(cfg.routes[1].pool_index == 0);
  CHECK(cfg.routes[2].host.empty());
  CHECK(cfg.routes[2].path_prefix == "/static/");
  CHECK(cfg.routes[3].host.empty());
  CHECK(cfg.routes[3].path_prefix.empty());
  CHECK(cfg.routes[3].pool == "web");
  CHECK(cfg.routes[4].host.empty());
  CHECK(cfg.routes[4].path_prefix.empty());
  CHECK(cfg.routes[4].pool_index == 1);
}

TEST_CASE("config: absent keys get their defaults", "[config]") {
  const Config cfg = loadValid(kOnePool);

  REQUIRE(cfg.listen.size() == 1);
  checkIpv4(cfg.listen[0], "127.0.0.1:8080", "127.0.0.1", 8080);
  checkIpv4(cfg.admin.listen, "127.0.0.1:9100", "127.0.0.1", 9100);
  CHECK(cfg.log.level == LogLevel::Info);
  CHECK(cfg.log.access == "stdout");
  CHECK(cfg.log.events == "stderr");
  CHECK(cfg.timeouts.connect == 2s);
  CHECK(cfg.timeouts.client_header == 10s);
  CHECK(cfg.timeouts.backend_response == 30s);
  CHECK(cfg.timeouts.client_idle == 60s);
  CHECK(cfg.timeouts.backend_idle == 60s);
  CHECK(cfg.limits.max_connections == 10000);
  CHECK(cfg.limits.max_header_bytes == 16384);
  CHECK(cfg.limits.max_body_bytes == 0);
  REQUIRE(cfg.pools.size() == 1);
  CHECK(cfg.pools[0].balance == ballast::config::Balance::RoundRobin);
  REQUIRE(cfg.pools[0].backends.size() == 1);
  CHECK(cfg.pools[0].backends[0].weight == 1);
}

TEST_CASE("config: a single address for listen, sections partly filled", "[config]") {
  const Config cfg = loadValid(std::string("listen: 0.0.0.0:0\n"
                                           "timeouts: { connect: 3s }\n"
                                           "limits: { max_body_bytes: 1048576 }\n"
                                           "log: { level: warn }\n") +
                               kOnePool);
  REQUIRE(cfg.listen.size() == 1);
  checkIpv4(cfg.listen[0], "0.0.0.0:0", "0.0.0.0", 0);
  CHECK(cfg.timeouts.connect == 3s);
  CHECK(cfg.timeouts.client_header == 10s);  // untouched siblings keep defaults
  CHECK(cfg.limits.max_body_bytes == 1048576);
  CHECK(cfg.limits.max_connections == 10000);
  CHECK(cfg.log.level == LogLevel::Warn);
  CHECK(cfg.log.access == "stdout");
}

TEST_CASE("config: every log level", "[config]") {
  const std::pair<const char*, LogLevel> levels[] = {
      {"trace", LogLevel::Trace}, {"debug", LogLevel::Debug}, {"info", LogLevel::Info},
      {"warn", LogLevel::Warn},   {"error", LogLevel::Error},
  };
  for (const auto& [text, level] : levels) {
    CAPTURE(text);
    CHECK(loadValid(std::string("log: { level: ") + text + " }\n" + kOnePool).log.level == level);
  }
}

TEST_CASE("config: routes", "[config]") {
  SECTION("one pool and no routes: a single catch-all route to it") {
    const Config cfg = loadValid(kOnePool);
    REQUIRE(cfg.routes.size() == 1);
    CHECK(cfg.routes[0].host.empty());
    CHECK(cfg.routes[0].path_prefix.empty());
    CHECK(cfg.routes[0].pool == "web");
    CHECK(cfg.routes[0].pool_index == 0);
  }
  SECTION("an explicitly empty list stays empty") {
    const Config cfg = loadValid(std::string(kOnePool) + "routes: []\n");
    CHECK(cfg.routes.empty());
  }
  SECTION("several pools need routes") {
    CHECK(errorsOf("pools:\n"
                   "  - { name: a, backends: [] }\n"
                   "  - { name: b, backends: [] }\n") ==
          std::vector<std::string>{"<string>:1:1: routes: required when there is more than one pool"});
  }
  SECTION("several pools with routes: pool_index follows the pool order") {
    const Config cfg = loadValid(
        "pools:\n"
        "  - { name: a, backends: [] }\n"
        "  - { name: b, backends: [] }\n"
        "  - { name: c, backends: [] }\n"
        "routes:\n"
        "  - { match: { host: c.test }, pool: c }\n"
        "  - { pool: a }\n");
    REQUIRE(cfg.routes.size() == 2);
    CHECK(cfg.routes[0].pool_index == 2);
    CHECK(cfg.routes[1].pool_index == 0);
  }
}

TEST_CASE("config: the example error from the docs", "[config]") {
  CHECK(errorsOf("listen: 127.0.0.1:8080\n"
                 "pools:\n"
                 "  - name: web\n"
                 "    backends:\n"
                 "      - address: no-port-here\n") ==
        std::vector<std::string>{"<string>:5:18: pools[0].backends[0].address: expected host:port"});
}

TEST_CASE("config: address errors", "[config]") {
  // The backend address value starts at line 4, column 20 in every case.
  auto backend = [](const std::string& address) {
    return "pools:\n"
           "  - name: web\n"
           "    backends:\n"
           "      - { address: " + address + " }\n";
  };
  const std::string at = "<string>:4:20: pools[0].backends[0].address: ";
  checkSingleErrors({
      {"no port", backend("127.0.0.1"), at + "expected host:port"},
      {"empty port", backend("\"127.0.0.1:\""), at + "expected host:port"},
      {"empty host", backend("\":80\""), at + "expected host:port"},
      {"port not a number", backend("127.0.0.1:http"), at + "expected host:port"},
      {"signed port", backend("127.0.0.1:+80"), at + "expected host:port"},
      {"unclosed bracket", backend("\"[::1:80\""), at + "expected host:port"},
      {"bracket without port", backend("\"[::1]\""), at + "expected host:port"},
      {"bare IPv6", backend("\"::1:80\""),
       at + "expected host:port (write IPv6 addresses in brackets, e.g. [::1]:8080)"},
      {"port 0 for a backend", backend("127.0.0.1:0"), at + "port out of range"},
      {"port too large", backend("127.0.0.1:65536"), at + "port out of range"},
      {"port far too large", backend("127.0.0.1:99999999999999999999"), at + "port out of range"},
      {"IPv4 in brackets", backend("\"[127.0.0.1]:80\""), at + "invalid IPv6 address \"127.0.0.1\""},
      {"garbage in brackets", backend("\"[nope]:80\""), at + "invalid IPv6 address \"nope\""},
      {"a mapping", backend("{ host: a }"), at + "expected host:port, got a mapping"},
      {"a list", backend("[a, b]"), at + "expected host:port, got a list"},
      {"listen: a mapping with an unknown key", std::string("listen: { address: 127.0.0.1:0, a: 1 }\n") + kOnePool,
       "<string>:1:33: listen.a: unknown key"},
      {"listen: an empty list", std::string("listen: []\n") + kOnePool,
       "<string>:1:9: listen: at least one address is required"},
      {"listen: too large", std::string("listen: [127.0.0.1:80, 127.0.0.1:70000]\n") + kOnePool,
       "<string>:1:24: listen[1]: port out of range"},
      {"admin.listen: no port", std::string("admin: { listen: localhost }\n") + kOnePool,
       "<string>:1:18: admin.listen: expected host:port"},
  });
}

TEST_CASE("config: unresolvable host names an error from getaddrinfo", "[config]") {
  const LoadResult r = loadConfigString(
      "pools:\n"
      "  - name: web\n"
      "    backends:\n"
      "      - { address: no-such-host.invalid:80 }\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 4);
  CHECK(r.errors[0].column == 20);
  CHECK(r.errors[0].path == "pools[0].backends[0].address");
  CHECK_THAT(r.errors[0].message, Catch::StartsWith("cannot resolve host \"no-such-host.invalid\": "));
  CHECK(r.errors[0].message.size() > std::strlen("cannot resolve host \"no-such-host.invalid\": "));
}

TEST_CASE("config: localhost resolves to a loopback address", "[config]") {
  const Config cfg = loadValid(
      "pools:\n"
      "  - name: web\n"
      "    backends: [{ address: localhost:80 }]\n");
  const Address& a = cfg.pools[0].backends[0].address;
  CHECK(a.text == "localhost:80");
  CHECK(a.host == "localhost");
  CHECK(a.port == 80);
  CHECK(sockPort(a) == 80);
  REQUIRE((a.addr.ss_family == AF_INET || a.addr.ss_family == AF_INET6));
  if (a.addr.ss_family == AF_INET) {
    CHECK(a.addr_len == sizeof(sockaddr_in));
    CHECK(sockHost(a).rfind("127.", 0) == 0);
  } else {
    CHECK(a.addr_len == sizeof(sockaddr_in6));
    CHECK(sockHost(a) == "::1");
  }
}

TEST_CASE("config: duplicate and conflicting addresses", "[config]") {
  checkSingleErrors({
      {"duplicate listen",
       std::string("listen: [127.0.0.1:8080, 127.0.0.1:8081, 127.0.0.1:8080]\n") + kOnePool,
       "<string>:1:42: listen[2]: duplicate listen address (same as listen[0])"},
      {"duplicate backend",
       "pools:\n"
       "  - name: web\n"
       "    backends:\n"
       "      - { address: 127.0.0.1:9001 }\n"
       "      - { address: 127.0.0.1:9002 }\n"
       "      - { address: 127.0.0.1:9001, weight: 3 }\n",
       "<string>:6:20: pools[0].backends[2].address: duplicate backend address (same as pools[0].backends[0])"},
      {"admin equals listen",
       std::string("listen: [127.0.0.1:8080, 127.0.0.1:8081]\n"
                   "admin:\n"
                   "  listen: 127.0.0.1:8081\n") +
           kOnePool,
       "<string>:3:11: admin.listen: same address as listen[1]"},
      {"admin equals the default listen",
       std::string("admin: { listen: 127.0.0.1:8080 }\n") + kOnePool,
       "<string>:1:18: admin.listen: same address as the default listen address"},
      {"listen equals the default admin",
       std::string("listen: 127.0.0.1:9100\n") + kOnePool,
       "<string>:1:9: listen: same address as the default admin.listen (127.0.0.1:9100)"},
  });

  SECTION("port 0 is never a conflict: each bind gets its own port") {
    const Config cfg = loadValid(std::string("listen: [127.0.0.1:0, 127.0.0.1:0]\n"
                                             "admin: { listen: 127.0.0.1:0 }\n") +
                                 kOnePool);
    CHECK(cfg.listen.size() == 2);
  }
  SECTION("the same backend in two pools is fine") {
    const Config cfg = loadValid(
        "pools:\n"
        "  - { name: a, backends: [{ address: 127.0.0.1:9001 }] }\n"
        "  - { name: b, backends: [{ address: 127.0.0.1:9001 }] }\n"
        "routes: [{ pool: a }]\n");
    CHECK(cfg.pools.size() == 2);
  }
}

TEST_CASE("config: value errors", "[config]") {
  const std::string pool = kOnePool;
  checkSingleErrors({
      {"log level", "log: { level: verbose }\n" + pool,
       "<string>:1:15: log.level: unknown log level \"verbose\" (allowed: trace, debug, info, warn, error)"},
      {"log level case", "log: { level: INFO }\n" + pool,
       "<string>:1:15: log.level: unknown log level \"INFO\" (allowed: trace, debug, info, warn, error)"},
      {"empty access log", "log:\n  access: \"\"\n" + pool,
       "<string>:2:11: log.access: must not be empty (use stdout, stderr, off or a file path)"},
      {"events log a list", "log:\n  events: [a]\n" + pool,
       "<string>:2:11: log.events: expected stdout, stderr, off or a file path, got a list"},
      {"timeout zero", "timeouts:\n  connect: 0\n" + pool,
       "<string>:2:12: timeouts.connect: must be greater than 0"},
      {"timeout zero with unit", "timeouts:\n  backend_idle: 0ms\n" + pool,
       "<string>:2:17: timeouts.backend_idle: must be greater than 0"},
      {"timeout without unit", "timeouts:\n  client_header: 10\n" + pool,
       "<string>:2:18: timeouts.client_header: expected a duration like 250ms, 2s, 1m or 1h, got \"10\""},
      {"timeout negative", "timeouts:\n  client_idle: -1s\n" + pool,
       "<string>:2:16: timeouts.client_idle: expected a duration like 250ms, 2s, 1m or 1h, got \"-1s\""},
      {"timeout empty: points at the key", "timeouts:\n  backend_response:\n" + pool,
       "<string>:2:3: timeouts.backend_response: expected a duration, got an empty value"},
      {"max_connections zero", "limits:\n  max_connections: 0\n" + pool,
       "<string>:2:20: limits.max_connections: must be between 1 and 4294967295"},
      {"max_connections too large", "limits:\n  max_connections: 4294967296\n" + pool,
       "<string>:2:20: limits.max_connections: must be between 1 and 4294967295"},
      {"max_connections with a unit", "limits:\n  max_connections: 10k\n" + pool,
       "<string>:2:20: limits.max_connections: expected an integer, got \"10k\""},
      {"max_header_bytes too small", "limits:\n  max_header_bytes: 1023\n" + pool,
       "<string>:2:21: limits.max_header_bytes: must be between 1024 and 1048576 bytes"},
      {"max_header_bytes too large", "limits:\n  max_header_bytes: 1048577\n" + pool,
       "<string>:2:21: limits.max_header_bytes: must be between 1024 and 1048576 bytes"},
      {"max_header_bytes 2MiB", "limits:\n  max_header_bytes: 2MiB\n" + pool,
       "<string>:2:21: limits.max_header_bytes: must be between 1024 and 1048576 bytes"},
      {"max_body_bytes negative", "limits:\n  max_body_bytes: -1\n" + pool,
       "<string>:2:19: limits.max_body_bytes: expected a size in bytes like 16384, 512KiB, 10MiB or 1GB, got \"-1\""},
      {"max_body_bytes lower-case unit", "limits:\n  max_body_bytes: 10mib\n" + pool,
       "<string>:2:19: limits.max_body_bytes: expected a size in bytes like 16384, 512KiB, 10MiB or 1GB, got \"10mib\""},
      {"weight negative", "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:1, weight: -1 }]\n",
       "<string>:3:48: pools[0].backends[0].weight: must be between 0 and 1000"},
      {"weight too large", "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:1, weight: 1001 }]\n",
       "<string>:3:48: pools[0].backends[0].weight: must be between 0 and 1000"},
      {"weight not a number", "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:1, weight: heavy }]\n",
       "<string>:3:48: pools[0].backends[0].weight: expected an integer, got \"heavy\""},
      {"balance", "pools:\n  - name: web\n    balance: least_conn\n    backends: []\n",
       "<string>:3:14: pools[0].balance: unknown balance \"least_conn\" (allowed: round_robin, least_request, p2c, random, consistent_hash)"},
      {"pool name characters", "pools:\n  - name: web/1\n    backends: []\n",
       "<string>:2:11: pools[0].name: invalid pool name \"web/1\" (allowed characters: A-Z a-z 0-9 _ . -)"},
      {"pool name empty", "pools:\n  - name: \"\"\n    backends: []\n",
       "<string>:2:11: pools[0].name: invalid pool name \"\" (allowed characters: A-Z a-z 0-9 _ . -)"},
      {"duplicate pool name",
       "pools:\n  - { name: web, backends: [] }\n  - { name: web, backends: [] }\nroutes: []\n",
       "<string>:3:13: pools[1].name: duplicate pool name \"web\" (also at pools[0])"},
      {"pools empty", "pools: []\n", "<string>:1:8: pools: at least one pool is required"},
      {"pools a mapping", "pools: { web: {} }\n", "<string>:1:8: pools: expected a list, got a mapping"},
      {"backends empty value: points at the key", "pools:\n  - name: web\n    backends:\n",
       "<string>:3:5: pools[0].backends: expected a list, got an empty value"},
      {"backend a scalar", "pools:\n  - name: web\n    backends: [127.0.0.1:80]\n",
       "<string>:3:16: pools[0].backends[0]: expected a mapping, got \"127.0.0.1:80\""},
  });
}

TEST_CASE("config: missing required keys point at the parent mapping", "[config]") {
  checkSingleErrors({
      {"pools", "listen: 127.0.0.1:8080\n", "<string>:1:1: pools: missing required key"},
      {"pool name", "pools:\n  - backends: []\n", "<string>:2:5: pools[0].name: missing required key"},
      {"pool backends", "pools:\n  - name: web\n", "<string>:2:5: pools[0].backends: missing required key"},
      {"backend address", "pools:\n  - name: web\n    backends:\n      - weight: 2\n",
       "<string>:4:9: pools[0].backends[0].address: missing required key"},
      {"route pool", std::string(kOnePool) + "routes:\n  - match: { host: a.test }\n",
       "<string>:5:5: routes[0].pool: missing required key (a route needs one of pool, split or return)"},
  });
}

TEST_CASE("config: route errors", "[config]") {
  // The host value starts at line 5, column 22 in every case.
  auto host = [](const std::string& h) {
    return std::string(kOnePool) + "routes:\n  - { match: { host: " + h + " }, pool: web }\n";
  };
  const std::string at = "<string>:5:22: routes[0].match.host: ";
  const std::string wildcard = "a wildcard is only allowed as a leading \"*.\", e.g. *.example.com";
  checkSingleErrors({
      {"host with port", host("example.com:8080"), at + "must not contain a port"},
      {"host with spaces", host("\"exa mple.com\""), at + "must not contain spaces"},
      {"host is a URL", host("\"http://example.com\""), at + "expected a host name, not a URL"},
      {"host with a path", host("example.com/v1"), at + "must not contain a path (use path_prefix)"},
      {"host empty", host("\"\""), at + "must not be empty (leave host out to match any host)"},
      {"wildcard in the middle", host("\"a.*.com\""), at + wildcard},
      {"wildcard without dot", host("\"*example.com\""), at + wildcard},
      {"wildcard alone", host("\"*\""), at + wildcard},
      {"wildcard and dot alone", host("\"*.\""), at + wildcard},
      {"two wildcards", host("\"*.*.com\""), at + wildcard},
      {"path_prefix without slash",
       std::string(kOnePool) + "routes:\n  - { match: { path_prefix: v1 }, pool: web }\n",
       "<string>:5:29: routes[0].match.path_prefix: must start with \"/\""},
      {"unknown pool", std::string(kOnePool) + "routes:\n  - { pool: web }\n  - { pool: x }\n",
       "<string>:6:13: routes[1].pool: unknown pool \"x\""},
      {"pool names are case-sensitive", std::string(kOnePool) + "routes:\n  - { pool: WEB }\n",
       "<string>:5:13: routes[0].pool: unknown pool \"WEB\""},
      {"match empty: points at the key", std::string(kOnePool) + "routes:\n  - match:\n    pool: web\n",
       "<string>:5:5: routes[0].match: expected a mapping, got an empty value"},
      {"routes a mapping", std::string(kOnePool) + "routes: { pool: web }\n",
       "<string>:4:9: routes: expected a list, got a mapping"},
  });
}

TEST_CASE("config: unknown keys, with a suggestion when one is close", "[config]") {
  checkSingleErrors({
      {"transposed letters",
       "pools:\n  - name: web\n    backends:\n      - { address: 127.0.0.1:9001, wieght: 2 }\n",
       "<string>:4:36: pools[0].backends[0].wieght: unknown key (did you mean \"weight\"?)"},
      {"top level", std::string(kOnePool) + "route: []\n",
       "<string>:4:1: route: unknown key (did you mean \"routes\"?)"},
      {"two edits", std::string("timeouts: { conect_ms: 1s }\n") + kOnePool,
       "<string>:1:13: timeouts.conect_ms: unknown key"},
      {"one deletion", std::string("timeouts: { conect: 1s }\n") + kOnePool,
       "<string>:1:13: timeouts.conect: unknown key (did you mean \"connect\"?)"},
      {"nothing close", std::string("admin: { port: 9100 }\n") + kOnePool,
       "<string>:1:10: admin.port: unknown key"},
      {"in a route match", std::string(kOnePool) + "routes:\n  - { match: { hots: a.test }, pool: web }\n",
       "<string>:5:16: routes[0].match.hots: unknown key (did you mean \"host\"?)"},
      {"duplicate key", std::string(kOnePool) + "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n",
       "<string>:5:1: listen: duplicate key (first at line 4)"},
      {"non-string key", std::string(kOnePool) + "[a, b]: 1\n",
       "<string>:4:1: expected a string key, got a list"},
  });
}

TEST_CASE("config: wrong types are errors, not exceptions", "[config]") {
  const std::string pool = kOnePool;
  checkSingleErrors({
      {"admin a scalar", "admin: 127.0.0.1:9100\n" + pool,
       "<string>:1:8: admin: expected a mapping, got \"127.0.0.1:9100\""},
      {"log a list", "log: [info]\n" + pool, "<string>:1:6: log: expected a mapping, got a list"},
      {"timeouts empty", "timeouts:\n" + pool, "<string>:1:1: timeouts: expected a mapping, got an empty value"},
      {"limits a scalar", "limits: 5\n" + pool, "<string>:1:9: limits: expected a mapping, got \"5\""},
      {"pool a list", "pools: [[a]]\n", "<string>:1:9: pools[0]: expected a mapping, got a list"},
      {"pool name a mapping", "pools:\n  - name: { a: 1 }\n    backends: []\n",
       "<string>:2:11: pools[0].name: expected a pool name, got a mapping"},
      {"route a scalar", pool + "routes: [web]\n", "<string>:4:10: routes[0]: expected a mapping, got \"web\""},
      {"route pool a list", pool + "routes: [{ pool: [web] }]\n",
       "<string>:4:18: routes[0].pool: expected a pool name, got a list"},
      {"max_body_bytes a mapping", "limits: { max_body_bytes: {} }\n" + pool,
       "<string>:1:27: limits.max_body_bytes: expected a size, got a mapping"},
      {"weight a list", "pools: [{ name: a, backends: [{ address: 127.0.0.1:1, weight: [] }] }]\n",
       "<string>:1:63: pools[0].backends[0].weight: expected an integer, got a list"},
  });
}

TEST_CASE("config: document-level errors", "[config]") {
  checkSingleErrors({
      {"empty string", "", "<string>:1:1: config is empty"},
      {"only comments", "# nothing here\n", "<string>:1:1: config is empty"},
      {"explicit null", "~\n", "<string>:1:1: config is empty"},
      {"a list at the top", "- a\n- b\n", "<string>:1:1: expected a mapping at the top level, got a list"},
      {"a scalar at the top", "hello\n", "<string>:1:1: expected a mapping at the top level, got \"hello\""},
      {"syntax error", std::string(kOnePool) + "routes: [ { pool: web }\n",
       "<string>:5:1: invalid YAML: end of sequence flow not found"},
      {"tab indentation", "pools:\n\t- name: web\n", "<string>:2:2: invalid YAML: illegal block entry"},
      {"undefined alias", std::string(kOnePool) + "listen: *nope\n",
       "<string>:4:9: invalid YAML: the referenced anchor is not defined"},
      {"two documents", std::string(kOnePool) + "---\nlisten: 127.0.0.1:1\n",
       "<string>:5:1: expected a single YAML document"},
  });
}

TEST_CASE("config: all errors are reported, in document order", "[config]") {
  const LoadResult r = loadConfigString(
      "listen: 127.0.0.1\n"                                   // 1
      "log:\n"                                                // 2
      "  level: loud\n"                                       // 3
      "timeouts:\n"                                           // 4
      "  connect: 2\n"                                        // 5
      "pools:\n"                                              // 6
      "  - name: web\n"                                       // 7
      "    backends:\n"                                       // 8
      "      - { address: 127.0.0.1:9001, weight: 1001 }\n"  // 9
      "      - { address: \"[::1]:80\", wieght: 2 }\n"        // 10
      "  - name: web\n"                                       // 11
      "    backends: []\n"                                    // 12
      "routes:\n"                                             // 13
      "  - { match: { path_prefix: api }, pool: missing }\n"  // 14
      "limits: { max_connections: -5 }\n");                   // 15
  CHECK_FALSE(r.config.has_value());
  CHECK_FALSE(r.ok());
  CHECK(formatted(r) == std::vector<std::string>{
                            "<string>:1:9: listen: expected host:port",
                            "<string>:3:10: log.level: unknown log level \"loud\" (allowed: trace, debug, info, warn, error)",
                            "<string>:5:12: timeouts.connect: expected a duration like 250ms, 2s, 1m or 1h, got \"2\"",
                            "<string>:9:44: pools[0].backends[0].weight: must be between 0 and 1000",
                            "<string>:10:32: pools[0].backends[1].wieght: unknown key (did you mean \"weight\"?)",
                            "<string>:11:11: pools[1].name: duplicate pool name \"web\" (also at pools[0])",
                            "<string>:14:29: routes[0].match.path_prefix: must start with \"/\"",
                            "<string>:14:42: routes[0].pool: unknown pool \"missing\"",
                            "<string>:15:28: limits.max_connections: must be between 1 and 4294967295",
                        });
  // The structured fields agree with the formatted text.
  REQUIRE(r.errors.size() == 9);
  CHECK(r.errors[3].file == "<string>");
  CHECK(r.errors[3].line == 9);
  CHECK(r.errors[3].column == 44);
  CHECK(r.errors[3].path == "pools[0].backends[0].weight");
  CHECK(r.errors[3].message == "must be between 0 and 1000");
}

TEST_CASE("config: an unusable pools section does not cascade into routes", "[config]") {
  CHECK(errorsOf("pools: {}\n"
                 "routes:\n"
                 "  - { pool: web }\n") ==
        std::vector<std::string>{"<string>:1:8: pools: expected a list, got a mapping"});
  // A pool whose name is invalid still counts as defined for routes.
  CHECK(errorsOf("pools:\n"
                 "  - { name: \"w b\", backends: [] }\n"
                 "routes: [{ pool: \"w b\" }]\n") ==
        std::vector<std::string>{
            "<string>:2:13: pools[0].name: invalid pool name \"w b\" (allowed characters: A-Z a-z 0-9 _ . -)"});
}

TEST_CASE("config: garbage never throws", "[config]") {
  const char* inputs[] = {
      "",
      "\n\n\n",
      "{",
      "}",
      "[[[[[[[[[[[[",
      "pools: &a [*a]\n",
      "pools: !!binary aGVsbG8=\n",
      "? [a]\n: b\n",
      "pools:\n  - !!map { name: a, backends: !!seq [] }\n",
      "pools: [{ name: a, backends: [{ address: { address: {} } }] }]\n",
      "listen: [[[]]]\npools: [{}]\nroutes: [[], {}, ~, 1]\n",
      "\xff\xfe garbage",
      "a: b: c",
      "pools:\n- name: a\n  backends: []\n- name: a\n  backends:\n  - address: 1.2.3.4:5\n    address: 1.2.3.4:6\n",
  };
  for (const char* input : inputs) {
    CAPTURE(input);
    LoadResult r;
    CHECK_NOTHROW(r = loadConfigString(input));
    CHECK(r.ok() == r.config.has_value());
    for (const ConfigError& e : r.errors) {
      CHECK(e.file == "<string>");
      CHECK_FALSE(e.message.empty());
    }
  }
}

TEST_CASE("config: loadConfigFile", "[config]") {
  SECTION("a readable file") {
    char path[] = "/tmp/ballast-config-test-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    {
      std::ofstream out(path);
      out << "listen: 127.0.0.1:0\n" << kOnePool << "routes: [{ pool: nope }]\n";
    }
    const LoadResult bad = loadConfigFile(path);
    CHECK(formatted(bad) == std::vector<std::string>{std::string(path) + ":5:18: routes[0].pool: unknown pool \"nope\""});

    {
      std::ofstream out(path);
      out << kOnePool;
    }
    const LoadResult good = loadConfigFile(path);
    std::remove(path);
    REQUIRE(good.ok());
    CHECK(good.config->source_path == path);
    CHECK(good.config->pools.size() == 1);
  }
  SECTION("a missing file: line 0 and the errno text") {
    const LoadResult r = loadConfigFile("/nonexistent/ballast.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 0);
    CHECK(r.errors[0].column == 0);
    CHECK(r.errors[0].path.empty());
    CHECK(r.errors[0].format() == "/nonexistent/ballast.yaml: cannot read file: No such file or directory");
    CHECK_FALSE(r.config.has_value());
  }
  SECTION("a directory") {
    const LoadResult r = loadConfigFile("/tmp");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].format() == "/tmp: cannot read file: Is a directory");
  }
}

TEST_CASE("config: ConfigError::format leaves out unknown parts", "[config]") {
  CHECK(ConfigError{"a.yaml", 3, 7, "pools[0].name", "bad"}.format() == "a.yaml:3:7: pools[0].name: bad");
  CHECK(ConfigError{"a.yaml", 3, 0, "pools", "bad"}.format() == "a.yaml:3: pools: bad");
  CHECK(ConfigError{"a.yaml", 0, 0, "", "cannot read"}.format() == "a.yaml: cannot read");
  CHECK(ConfigError{"a.yaml", 1, 1, "", "config is empty"}.format() == "a.yaml:1:1: config is empty");
  CHECK(ConfigError{"", 0, 0, "", "oops"}.format() == "oops");
}

TEST_CASE("parseDuration", "[config][duration]") {
  const std::pair<const char*, std::chrono::milliseconds> valid[] = {
      {"0", 0ms},          {"0ms", 0ms},        {"0s", 0ms},          {"1ms", 1ms},
      {"250ms", 250ms},    {"2s", 2000ms},      {"1m", 60000ms},      {"1h", 3600000ms},
      {"1.5s", 1500ms},    {"0.25s", 250ms},    {"1.5m", 90000ms},    {"0.5h", 1800000ms},
      {"1.000s", 1000ms},  {"007s", 7000ms},    {"90m", 5400000ms},   {"100000h", 360000000000ms},
      {"1.50000000000000000000000s", 1500ms},
  };
  for (const auto& [text, expected] : valid) {
    CAPTURE(text);
    const auto d = parseDuration(text);
    REQUIRE(d.has_value());
    CHECK(*d == expected);
  }

  const char* invalid[] = {
      "",      "5",     "-1s",   "+1s",   "1",      "1.5",    "s",     "ms",     ".5s",   "1.s",
      "1..5s", "1 s",   " 1s",   "1s ",   "1S",     "1MS",    "1sec",  "1d",     "1us",   "1ns",
      "0.5ms", "1.0001s", "1e3ms", "1s2",  "abc",    "0x10s",  "1,5s",  "1h30m",  "00",    "-0",
      "99999999999999999999ms", "9223372036854775808ms", "5124095576030432h",
  };
  for (const char* text : invalid) {
    CAPTURE(text);
    CHECK_FALSE(parseDuration(text).has_value());
  }
  // The largest representable value still parses.
  CHECK(parseDuration("9223372036854775807ms") == std::chrono::milliseconds::max());
}

TEST_CASE("formatDuration", "[config][duration]") {
  using ballast::config::formatDuration;
  const std::pair<std::chrono::milliseconds, const char*> cases[] = {
      {0ms, "0ms"},         {1ms, "1ms"},    {250ms, "250ms"}, {1500ms, "1500ms"}, {2000ms, "2s"},
      {60000ms, "1m"},      {90000ms, "90s"}, {3600000ms, "1h"}, {7200000ms, "2h"}, {-2000ms, "-2s"},
      {std::chrono::milliseconds::min(), "-9223372036854775808ms"},
  };
  for (const auto& [d, text] : cases) {
    CAPTURE(d.count());
    CHECK(formatDuration(d) == text);
  }
  for (auto d : {0ms, 1ms, 999ms, 1000ms, 61000ms, 3600000ms, 86400000ms}) {
    CHECK(parseDuration(formatDuration(d)) == d);
  }
}

TEST_CASE("parseSize", "[config][size]") {
  const std::pair<const char*, uint64_t> valid[] = {
      {"0", 0},
      {"1", 1},
      {"16384", 16384},
      {"0B", 0},
      {"10B", 10},
      {"1KB", 1000},
      {"1kB", 1000},
      {"1MB", 1000000},
      {"1GB", 1000000000},
      {"2TB", 2000000000000},
      {"1KiB", 1024},
      {"512KiB", 512 * 1024},
      {"10MiB", 10 * 1024 * 1024},
      {"1GiB", 1024ULL * 1024 * 1024},
      {"1TiB", 1ULL << 40},
      {"1.5KiB", 1536},
      {"0.5MB", 500000},
      {"2.25GiB", 9ULL << 28},
      {"18446744073709551615", 18446744073709551615ULL},
      {"16777215TiB", 16777215ULL << 40},
  };
  for (const auto& [text, expected] : valid) {
    CAPTURE(text);
    const auto n = parseSize(text);
    REQUIRE(n.has_value());
    CHECK(*n == expected);
  }

  const char* invalid[] = {
      "",       "-1",      "+1",   "1.5",      "0.5B",   "1.0001KiB", "10mib",   "10MIB", "10 MiB",
      "10Mi",   "10M",     "10k",  "10K",      "1b",     "KiB",       ".5KiB",   "1.KiB", "1e6",
      "0x100",  "1_000",   "abc",  "18446744073709551616", "16777216TiB", "1,000", " 1", "1 ",
  };
  for (const char* text : invalid) {
    CAPTURE(text);
    CHECK_FALSE(parseSize(text).has_value());
  }
}

// ---- health_check, outlier_detection, retries, panic_threshold, backup ----

namespace {

using ballast::config::HealthCheckConfig;
using ballast::config::OutlierDetectionConfig;
using ballast::config::RetryConfig;
using ballast::config::RetryOn;
using ballast::config::StatusRange;

// kOnePool plus `section:` with `body` indented under it: the body's first
// line is line 5 and its keys start at column 7.
std::string poolWith(const std::string& section, const std::string& body) {
  return std::string(kOnePool) + "    " + section + ":\n" + body;
}

}  // namespace

// Found by argument-dependent lookup, so it has to live with the type.
namespace ballast::config {
bool operator==(const StatusRange& a, const StatusRange& b) { return a.lo == b.lo && a.hi == b.hi; }
}  // namespace ballast::config

namespace Catch {
template <>
struct StringMaker<StatusRange> {
  static std::string convert(const StatusRange& r) {
    return std::to_string(r.lo) + "-" + std::to_string(r.hi);
  }
};
}  // namespace Catch

TEST_CASE("config: health, outlier and retry defaults", "[config][health]") {
  SECTION("absent: no health check, no outlier detection, default retries") {
    const Config cfg = loadValid(kOnePool);
    const auto& pool = cfg.pools[0];
    CHECK_FALSE(pool.health_check.has_value());
    CHECK_FALSE(pool.outlier_detection.has_value());
    CHECK(pool.retries.attempts == 1);
    CHECK(pool.retries.budget_percent == 20);
    CHECK(pool.retries.budget_min == 3);
    CHECK(pool.retries.on == std::vector<RetryOn>{RetryOn::ConnectFailure, RetryOn::Reset});
    CHECK(pool.retries.replay_buffer == 64 * 1024);
    CHECK(pool.panic_threshold == 0);
    CHECK_FALSE(pool.backends[0].backup);
  }
  SECTION("empty mappings switch the features on with all defaults") {
    const Config cfg = loadValid(std::string(kOnePool) +
                                 "    health_check: {}\n"
                                 "    outlier_detection: {}\n"
                                 "    retries: {}\n");
    const auto& pool = cfg.pools[0];
    REQUIRE(pool.health_check.has_value());
    const HealthCheckConfig& hc = *pool.health_check;
    CHECK(hc.type == HealthCheckConfig::Type::Http);
    CHECK(hc.path == "/healthz");
    CHECK(hc.host.empty());
    CHECK(hc.method == HealthCheckConfig::Method::Get);
    CHECK(hc.expect_status == std::vector<StatusRange>{{200, 399}});
    CHECK(hc.interval == 2s);
    CHECK(hc.timeout == 1s);
    CHECK(hc.rise == 2);
    CHECK(hc.fall == 3);
    CHECK(hc.jitter_percent == 10);
    CHECK(hc.unhealthy_interval == 0ms);
    CHECK(hc.initial == HealthCheckConfig::Initial::Unknown);

    REQUIRE(pool.outlier_detection.has_value());
    const OutlierDetectionConfig& od = *pool.outlier_detection;
    CHECK(od.consecutive_failures == 5);
    CHECK(od.base_ejection == 30s);
    CHECK(od.max_ejection == 300s);
    CHECK(od.max_ejected_percent == 50);
    CHECK(od.uneject_on_probe_pass);

    CHECK(pool.retries.attempts == 1);
    CHECK(pool.retries.on == std::vector<RetryOn>{RetryOn::ConnectFailure, RetryOn::Reset});
  }
}

TEST_CASE("config: health, outlier and retry keys load into the right values", "[config][health]") {
  const Config cfg = loadValid(R"(
pools:
  - name: web
    health_check:
      type: http
      path: /status?full=1
      host: example.internal
      method: HEAD
      expect_status: [200, 204, 300-302]
      interval: 5s
      timeout: 1500ms
      rise: 4
      fall: 1
      jitter: 0%
      unhealthy_interval: 2s
      initial: healthy
    outlier_detection:
      consecutive_failures: 7
      base_ejection: 10s
      max_ejection: 10s
      max_ejected_percent: 100
      uneject_on_probe_pass: false
    retries:
      attempts: 0
      budget_percent: 100
      budget_min: 0
      on: [timeout, 502, "503", 504, connect_failure, reset]
      replay_buffer: 1MiB
    panic_threshold: 100
    backends:
      - { address: 127.0.0.1:9001, weight: 1, backup: true }
      - { address: 127.0.0.1:9002, backup: false }
      - { address: 127.0.0.1:9003 }
  - name: tcp
    health_check: { type: tcp, interval: 1s, timeout: 1s, jitter: 50%, rise: 100, fall: 100, initial: unhealthy }
    panic_threshold: 0
    backends: []
routes: [{ pool: web }]
)");
  const auto& web = cfg.pools[0];
  REQUIRE(web.health_check.has_value());
  const HealthCheckConfig& hc = *web.health_check;
  CHECK(hc.type == HealthCheckConfig::Type::Http);
  CHECK(hc.path == "/status?full=1");
  CHECK(hc.host == "example.internal");
  CHECK(hc.method == HealthCheckConfig::Method::Head);
  CHECK(hc.expect_status == std::vector<StatusRange>{{200, 200}, {204, 204}, {300, 302}});
  CHECK(hc.interval == 5s);
  CHECK(hc.timeout == 1500ms);
  CHECK(hc.rise == 4);
  CHECK(hc.fall == 1);
  CHECK(hc.jitter_percent == 0);
  CHECK(hc.unhealthy_interval == 2s);
  CHECK(hc.initial == HealthCheckConfig::Initial::Healthy);

  REQUIRE(web.outlier_detection.has_value());
  const OutlierDetectionConfig& od = *web.outlier_detection;
  CHECK(od.consecutive_failures == 7);
  CHECK(od.base_ejection == 10s);
  CHECK(od.max_ejection == 10s);
  CHECK(od.max_ejected_percent == 100);
  CHECK_FALSE(od.uneject_on_probe_pass);

  const RetryConfig& r = web.retries;
  CHECK(r.attempts == 0);
  CHECK(r.budget_percent == 100);
  CHECK(r.budget_min == 0);
  CHECK(r.on == std::vector<RetryOn>{RetryOn::Timeout, RetryOn::Status502, RetryOn::Status503,
                                     RetryOn::Status504, RetryOn::ConnectFailure, RetryOn::Reset});
  CHECK(r.replay_buffer == 1024 * 1024);
  CHECK(web.panic_threshold == 100);

  REQUIRE(web.backends.size() == 3);
  CHECK(web.backends[0].backup);
  CHECK_FALSE(web.backends[1].backup);
  CHECK_FALSE(web.backends[2].backup);

  const auto& tcp = cfg.pools[1];
  REQUIRE(tcp.health_check.has_value());
  CHECK(tcp.health_check->type == HealthCheckConfig::Type::Tcp);
  CHECK(tcp.health_check->path == "/healthz");  // unused by tcp checks, left at the default
  CHECK(tcp.health_check->interval == 1s);
  CHECK(tcp.health_check->timeout == 1s);  // equal to interval is allowed
  CHECK(tcp.health_check->jitter_percent == 50);
  CHECK(tcp.health_check->rise == 100);
  CHECK(tcp.health_check->fall == 100);
  CHECK(tcp.health_check->initial == HealthCheckConfig::Initial::Unhealthy);
  CHECK_FALSE(tcp.outlier_detection.has_value());
  CHECK(tcp.retries.attempts == 1);
  CHECK(tcp.panic_threshold == 0);
}

TEST_CASE("config: expect_status spellings and accepts()", "[config][health]") {
  auto load = [](const std::string& value) {
    return *loadValid(poolWith("health_check", "      expect_status: " + value + "\n")).pools[0].health_check;
  };
  CHECK(load("200").expect_status == std::vector<StatusRange>{{200, 200}});
  CHECK(load("\"204\"").expect_status == std::vector<StatusRange>{{204, 204}});
  CHECK(load("200-299").expect_status == std::vector<StatusRange>{{200, 299}});
  CHECK(load("100-599").expect_status == std::vector<StatusRange>{{100, 599}});
  CHECK(load("404-404").expect_status == std::vector<StatusRange>{{404, 404}});
  CHECK(load("[503]").expect_status == std::vector<StatusRange>{{503, 503}});
  CHECK(load("[200-204, 301, 400-401]").expect_status ==
        std::vector<StatusRange>{{200, 204}, {301, 301}, {400, 401}});

  const HealthCheckConfig hc = load("[200-204, 301, 400-401]");
  for (int status : {200, 202, 204, 301, 400, 401}) {
    CAPTURE(status);
    CHECK(hc.accepts(status));
  }
  for (int status : {0, 100, 199, 205, 300, 302, 399, 402, 500, 599, 600}) {
    CAPTURE(status);
    CHECK_FALSE(hc.accepts(status));
  }
  const HealthCheckConfig defaults;
  CHECK(defaults.accepts(200));
  CHECK(defaults.accepts(399));
  CHECK_FALSE(defaults.accepts(199));
  CHECK_FALSE(defaults.accepts(400));
}

TEST_CASE("config: RetryConfig::retries", "[config][retries]") {
  const RetryConfig defaults;
  CHECK(defaults.retries(RetryOn::ConnectFailure));
  CHECK(defaults.retries(RetryOn::Reset));
  CHECK_FALSE(defaults.retries(RetryOn::Timeout));
  CHECK_FALSE(defaults.retries(RetryOn::Status502));
  CHECK_FALSE(defaults.retries(RetryOn::Status503));
  CHECK_FALSE(defaults.retries(RetryOn::Status504));

  const Config cfg = loadValid(poolWith("retries", "      on: [503, timeout]\n"));
  const RetryConfig& r = cfg.pools[0].retries;
  CHECK(r.retries(RetryOn::Status503));
  CHECK(r.retries(RetryOn::Timeout));
  CHECK_FALSE(r.retries(RetryOn::ConnectFailure));
  CHECK_FALSE(r.retries(RetryOn::Reset));
  CHECK(r.attempts == 1);  // siblings keep their defaults

  const Config none = loadValid(poolWith("retries", "      on: []\n"));
  CHECK(none.pools[0].retries.on.empty());
  CHECK_FALSE(none.pools[0].retries.retries(RetryOn::ConnectFailure));
}

TEST_CASE("config: health_check errors", "[config][health]") {
  auto hc = [](const std::string& body) { return poolWith("health_check", body); };
  checkSingleErrors({
      {"not a mapping", std::string(kOnePool) + "    health_check: true\n",
       "<string>:4:19: pools[0].health_check: expected a mapping, got \"true\""},
      {"empty value: points at the key", std::string(kOnePool) + "    health_check:\n",
       "<string>:4:5: pools[0].health_check: expected a mapping, got an empty value"},
      {"unknown key with a suggestion", hc("      intervall: 2s\n"),
       "<string>:5:7: pools[0].health_check.intervall: unknown key (did you mean \"interval\"?)"},
      {"type", hc("      type: udp\n"),
       "<string>:5:13: pools[0].health_check.type: unknown health check type \"udp\" (allowed: http, tcp)"},
      {"type upper-case", hc("      type: HTTP\n"),
       "<string>:5:13: pools[0].health_check.type: unknown health check type \"HTTP\" (allowed: http, tcp)"},
      {"path with tcp", hc("      type: tcp\n      path: /healthz\n"),
       "<string>:6:13: pools[0].health_check.path: only allowed when type is http"},
      {"expect_status with tcp", hc("      expect_status: 200\n      type: tcp\n"),
       "<string>:5:22: pools[0].health_check.expect_status: only allowed when type is http"},
      {"path without slash", hc("      path: healthz\n"),
       "<string>:5:13: pools[0].health_check.path: must start with \"/\""},
      {"path empty", hc("      path: \"\"\n"),
       "<string>:5:13: pools[0].health_check.path: must start with \"/\""},
      {"path with a space", hc("      path: \"/a b\"\n"),
       "<string>:5:13: pools[0].health_check.path: must not contain spaces or control characters"},
      {"path a list", hc("      path: [/a]\n"),
       "<string>:5:13: pools[0].health_check.path: expected a path, got a list"},
      {"host empty", hc("      host: \"\"\n"),
       "<string>:5:13: pools[0].health_check.host: must not be empty (leave host out to send the backend address)"},
      {"host with a newline", hc("      host: \"a\\nb\"\n"),
       "<string>:5:13: pools[0].health_check.host: must not contain spaces or control characters"},
      {"method", hc("      method: POST\n"),
       "<string>:5:15: pools[0].health_check.method: unknown method \"POST\" (allowed: GET, HEAD)"},
      {"method lower-case", hc("      method: get\n"),
       "<string>:5:15: pools[0].health_check.method: unknown method \"get\" (allowed: GET, HEAD)"},
      {"interval zero", hc("      interval: 0s\n"),
       "<string>:5:17: pools[0].health_check.interval: must be greater than 0"},
      {"interval without unit", hc("      interval: 2\n"),
       "<string>:5:17: pools[0].health_check.interval: expected a duration like 250ms, 2s, 1m or 1h, got \"2\""},
      {"timeout zero", hc("      timeout: 0\n"),
       "<string>:5:16: pools[0].health_check.timeout: must be greater than 0"},
      {"timeout above interval", hc("      interval: 2s\n      timeout: 2001ms\n"),
       "<string>:6:16: pools[0].health_check.timeout: must not exceed interval (2s)"},
      {"timeout above the default interval", hc("      timeout: 3s\n"),
       "<string>:5:16: pools[0].health_check.timeout: must not exceed interval (2s)"},
      {"interval below the default timeout", hc("      interval: 500ms\n"),
       "<string>:5:17: pools[0].health_check.interval: must not be less than timeout (1s, the default)"},
      {"unhealthy_interval below timeout", hc("      timeout: 1s\n      unhealthy_interval: 999ms\n"),
       "<string>:6:27: pools[0].health_check.unhealthy_interval: must not be less than timeout (1s)"},
      {"unhealthy_interval zero", hc("      unhealthy_interval: 0ms\n"),
       "<string>:5:27: pools[0].health_check.unhealthy_interval: must be greater than 0"},
      {"rise zero", hc("      rise: 0\n"),
       "<string>:5:13: pools[0].health_check.rise: must be between 1 and 100"},
      {"fall too large", hc("      fall: 101\n"),
       "<string>:5:13: pools[0].health_check.fall: must be between 1 and 100"},
      {"fall not a number", hc("      fall: three\n"),
       "<string>:5:13: pools[0].health_check.fall: expected an integer, got \"three\""},
      {"jitter without percent sign", hc("      jitter: 10\n"),
       "<string>:5:15: pools[0].health_check.jitter: expected a percentage like 10%, got \"10\""},
      {"jitter with a fraction", hc("      jitter: 2.5%\n"),
       "<string>:5:15: pools[0].health_check.jitter: expected a percentage like 10%, got \"2.5%\""},
      {"jitter negative", hc("      jitter: -5%\n"),
       "<string>:5:15: pools[0].health_check.jitter: expected a percentage like 10%, got \"-5%\""},
      {"jitter only a sign", hc("      jitter: \"%\"\n"),
       "<string>:5:15: pools[0].health_check.jitter: expected a percentage like 10%, got \"%\""},
      {"jitter too large", hc("      jitter: 51%\n"),
       "<string>:5:15: pools[0].health_check.jitter: must be between 0% and 50%"},
      {"jitter huge", hc("      jitter: 99999999999999999999%\n"),
       "<string>:5:15: pools[0].health_check.jitter: must be between 0% and 50%"},
      {"jitter a mapping", hc("      jitter: {}\n"),
       "<string>:5:15: pools[0].health_check.jitter: expected a percentage, got a mapping"},
      {"initial", hc("      initial: up\n"),
       "<string>:5:16: pools[0].health_check.initial: unknown initial status \"up\" (allowed: unknown, healthy, unhealthy)"},
  });
}

TEST_CASE("config: expect_status errors", "[config][health]") {
  auto expect = [](const std::string& value) {
    return poolWith("health_check", "      expect_status: " + value + "\n");
  };
  // A scalar value starts at line 5, column 22.
  const std::string at = "<string>:5:22: pools[0].health_check.expect_status";
  const std::string shape = "expected a status code like 200 or a range like 200-399, got ";
  checkSingleErrors({
      {"a word", expect("ok"), at + ": " + shape + "\"ok\""},
      {"range with spaces", expect("\"200 - 299\""), at + ": " + shape + "\"200 - 299\""},
      {"open range", expect("200-"), at + ": " + shape + "\"200-\""},
      {"two dashes", expect("200-300-400"), at + ": " + shape + "\"200-300-400\""},
      {"class shorthand", expect("2xx"), at + ": " + shape + "\"2xx\""},
      {"negative", expect("-200"), at + ": " + shape + "\"-200\""},
      {"code too small", expect("99"), at + ": status codes must be between 100 and 599"},
      {"code too large", expect("600"), at + ": status codes must be between 100 and 599"},
      {"range end too large", expect("500-600"), at + ": status codes must be between 100 and 599"},
      {"code overflows", expect("99999999999999999999"), at + ": status codes must be between 100 and 599"},
      {"range backwards", expect("399-200"), at + ": range start 399 is greater than its end 200"},
      {"empty list", expect("[]"), at + ": at least one status code or range is required"},
      {"a mapping", expect("{ 200: ok }"),
       at + ": expected a status code, a range like 200-399 or a list of them, got a mapping"},
      {"empty value: points at the key", expect(""),
       "<string>:5:7: pools[0].health_check.expect_status: expected a status code, a range like 200-399 or a "
       "list of them, got an empty value"},
      {"bad list item", expect("[200, 2000, 300-302]"),
       "<string>:5:28: pools[0].health_check.expect_status[1]: status codes must be between 100 and 599"},
      {"nested list item", expect("[200, [204]]"),
       "<string>:5:28: pools[0].health_check.expect_status[1]: expected a status code or range, got a list"},
  });
  SECTION("every bad list item is reported") {
    CHECK(errorsOf(expect("[1, 200, x]")) ==
          std::vector<std::string>{
              "<string>:5:23: pools[0].health_check.expect_status[0]: status codes must be between 100 and 599",
              "<string>:5:31: pools[0].health_check.expect_status[2]: " + shape + "\"x\"",
          });
  }
}

TEST_CASE("config: outlier_detection errors", "[config][health]") {
  auto od = [](const std::string& body) { return poolWith("outlier_detection", body); };
  const std::string at = "<string>:5:";
  checkSingleErrors({
      {"not a mapping", std::string(kOnePool) + "    outlier_detection: [a]\n",
       "<string>:4:24: pools[0].outlier_detection: expected a mapping, got a list"},
      {"unknown key with a suggestion", od("      consecutive_failure: 3\n"),
       at + "7: pools[0].outlier_detection.consecutive_failure: unknown key (did you mean \"consecutive_failures\"?)"},
      {"consecutive_failures zero", od("      consecutive_failures: 0\n"),
       at + "29: pools[0].outlier_detection.consecutive_failures: must be between 1 and 4294967295"},
      {"base_ejection zero", od("      base_ejection: 0s\n"),
       at + "22: pools[0].outlier_detection.base_ejection: must be greater than 0"},
      {"max_ejection below base_ejection", od("      base_ejection: 1m\n      max_ejection: 59s\n"),
       "<string>:6:21: pools[0].outlier_detection.max_ejection: must not be less than base_ejection (1m)"},
      {"max_ejection below the default base_ejection", od("      max_ejection: 10s\n"),
       at + "21: pools[0].outlier_detection.max_ejection: must not be less than base_ejection (30s)"},
      {"base_ejection above the default max_ejection", od("      base_ejection: 301s\n"),
       at + "22: pools[0].outlier_detection.base_ejection: must not exceed max_ejection (5m, the default)"},
      {"max_ejection not a duration", od("      max_ejection: forever\n"),
       at + "21: pools[0].outlier_detection.max_ejection: expected a duration like 250ms, 2s, 1m or 1h, got \"forever\""},
      {"max_ejected_percent too large", od("      max_ejected_percent: 101\n"),
       at + "28: pools[0].outlier_detection.max_ejected_percent: must be between 0 and 100"},
      {"max_ejected_percent with a sign", od("      max_ejected_percent: 50%\n"),
       at + "28: pools[0].outlier_detection.max_ejected_percent: expected an integer, got \"50%\""},
      {"uneject_on_probe_pass yes", od("      uneject_on_probe_pass: yes\n"),
       at + "30: pools[0].outlier_detection.uneject_on_probe_pass: expected true or false, got \"yes\""},
      {"uneject_on_probe_pass a list", od("      uneject_on_probe_pass: [true]\n"),
       at + "30: pools[0].outlier_detection.uneject_on_probe_pass: expected true or false, got a list"},
  });
}

TEST_CASE("config: retries errors", "[config][retries]") {
  auto retries = [](const std::string& body) { return poolWith("retries", body); };
  const std::string at = "<string>:5:";
  const std::string allowed = " (allowed: connect_failure, reset, timeout, 502, 503, 504)";
  checkSingleErrors({
      {"not a mapping", std::string(kOnePool) + "    retries: 2\n",
       "<string>:4:14: pools[0].retries: expected a mapping, got \"2\""},
      {"unknown key with a suggestion", retries("      attempt: 2\n"),
       at + "7: pools[0].retries.attempt: unknown key (did you mean \"attempts\"?)"},
      {"attempts too large", retries("      attempts: 11\n"),
       at + "17: pools[0].retries.attempts: must be between 0 and 10"},
      {"attempts negative", retries("      attempts: -1\n"),
       at + "17: pools[0].retries.attempts: must be between 0 and 10"},
      {"budget_percent too large", retries("      budget_percent: 101\n"),
       at + "23: pools[0].retries.budget_percent: must be between 0 and 100"},
      {"budget_min negative", retries("      budget_min: -3\n"),
       at + "19: pools[0].retries.budget_min: must be between 0 and 4294967295"},
      {"on: unknown condition", retries("      on: [connect_failure, reset, foo]\n"),
       at + "36: pools[0].retries.on[2]: unknown retry condition \"foo\"" + allowed},
      {"on: a status that is not allowed", retries("      on: [500]\n"),
       at + "12: pools[0].retries.on[0]: unknown retry condition \"500\"" + allowed},
      {"on: upper-case", retries("      on: [RESET]\n"),
       at + "12: pools[0].retries.on[0]: unknown retry condition \"RESET\"" + allowed},
      {"on: duplicate, also via a quoted status", retries("      on: [502, reset, \"502\"]\n"),
       at + "24: pools[0].retries.on[2]: duplicate retry condition \"502\" (also at pools[0].retries.on[0])"},
      {"on: a scalar", retries("      on: reset\n"),
       at + "11: pools[0].retries.on: expected a list, got \"reset\""},
      {"on: a nested list", retries("      on: [[reset]]\n"),
       at + "12: pools[0].retries.on[0]: expected a retry condition, got a list"},
      {"replay_buffer not a size", retries("      replay_buffer: 64k\n"),
       at + "22: pools[0].retries.replay_buffer: expected a size in bytes like 16384, 512KiB, 10MiB or 1GB, got \"64k\""},
  });
  SECTION("replay_buffer 0 is allowed: bodies are then never kept") {
    CHECK(loadValid(retries("      replay_buffer: 0\n")).pools[0].retries.replay_buffer == 0);
  }
}

TEST_CASE("config: panic_threshold and backup errors", "[config]") {
  checkSingleErrors({
      {"panic_threshold too large", std::string(kOnePool) + "    panic_threshold: 101\n",
       "<string>:4:22: pools[0].panic_threshold: must be between 0 and 100"},
      {"panic_threshold with a sign", std::string(kOnePool) + "    panic_threshold: 50%\n",
       "<string>:4:22: pools[0].panic_threshold: expected an integer, got \"50%\""},
      {"panic_threshold misspelt", std::string(kOnePool) + "    panic_treshold: 10\n",
       "<string>:4:5: pools[0].panic_treshold: unknown key (did you mean \"panic_threshold\"?)"},
      {"backup not a bool", "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:1, backup: 1 }]\n",
       "<string>:3:48: pools[0].backends[0].backup: expected true or false, got \"1\""},
      {"backup misspelt", "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:1, backpu: true }]\n",
       "<string>:3:40: pools[0].backends[0].backpu: unknown key (did you mean \"backup\"?)"},
  });
}

TEST_CASE("config: errors in the new sections are all collected, in document order", "[config][health]") {
  CHECK(errorsOf("pools:\n"                                          // 1
                 "  - name: web\n"                                   // 2
                 "    backends:\n"                                   // 3
                 "      - { address: 127.0.0.1:9001, backup: no }\n"  // 4
                 "    health_check:\n"                               // 5
                 "      timeout: 5s\n"                               // 6
                 "      rise: 0\n"                                   // 7
                 "      expect_status: [200, 700]\n"                 // 8
                 "    outlier_detection: { max_ejected_percent: 200 }\n"  // 9
                 "    retries: { on: [reset, bogus], attempts: 99 }\n"    // 10
                 "    panic_threshold: -1\n") ==                          // 11
        std::vector<std::string>{
            "<string>:4:44: pools[0].backends[0].backup: expected true or false, got \"no\"",
            "<string>:6:16: pools[0].health_check.timeout: must not exceed interval (2s)",
            "<string>:7:13: pools[0].health_check.rise: must be between 1 and 100",
            "<string>:8:28: pools[0].health_check.expect_status[1]: status codes must be between 100 and 599",
            "<string>:9:47: pools[0].outlier_detection.max_ejected_percent: must be between 0 and 100",
            "<string>:10:28: pools[0].retries.on[1]: unknown retry condition \"bogus\" (allowed: connect_failure, "
            "reset, timeout, 502, 503, 504)",
            "<string>:10:46: pools[0].retries.attempts: must be between 0 and 10",
            "<string>:11:22: pools[0].panic_threshold: must be between 0 and 100",
        });
}

// ---------------------------------------------------------------------------
// admin.token, admin.token_file, admin.protect_reads (issue "Observability")

namespace {

// A temporary file holding `text`, removed by the destructor.
struct TempTokenFile {
  explicit TempTokenFile(const std::string& text, const char* tmpl = "/tmp/ballast-token-test-XXXXXX") {
    std::vector<char> p(tmpl, tmpl + std::strlen(tmpl) + 1);
    const int fd = mkstemp(p.data());
    REQUIRE(fd >= 0);
    close(fd);
    path = p.data();
    std::ofstream(path) << text;
  }
  ~TempTokenFile() { std::remove(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_CASE("config: admin token keys load into the right values", "[config][admin]") {
  SECTION("defaults: no token, reads open") {
    const Config cfg = loadValid(kOnePool);
    CHECK(cfg.admin.token.empty());
    CHECK(cfg.admin.token_file.empty());
    CHECK_FALSE(cfg.admin.protect_reads);
  }
  SECTION("an inline token and protect_reads") {
    const Config cfg = loadValid(std::string("admin: { token: s3cr3t-T0ken, protect_reads: true }\n") + kOnePool);
    CHECK(cfg.admin.token == "s3cr3t-T0ken");
    CHECK(cfg.admin.protect_reads);
  }
  SECTION("a token file is read at load and trimmed") {
    TempTokenFile f("  \n abc.DEF_123~+/= \r\n\n");
    const Config cfg = loadValid("admin: { token_file: " + f.path + " }\n" + kOnePool);
    CHECK(cfg.admin.token == "abc.DEF_123~+/=");
    CHECK(cfg.admin.token_file == f.path);
  }
  SECTION("a relative token file is relative to the config file's directory") {
    TempTokenFile tok("from-file\n");
    const std::string name = tok.path.substr(tok.path.rfind('/') + 1);
    TempTokenFile conf("admin: { token_file: " + name + " }\n" + kOnePool, "/tmp/ballast-config-test-XXXXXX");
    const LoadResult r = loadConfigFile(conf.path);
    INFO(Catch::Detail::stringify(formatted(r)));
    REQUIRE(r.ok());
    CHECK(r.config->admin.token == "from-file");
  }
  SECTION("a non-loopback listener with a token") {
    const Config cfg = loadValid(std::string("admin: { listen: 0.0.0.0:9100, token: t }\n") + kOnePool);
    CHECK(cfg.admin.token == "t");
  }
  SECTION("loopback listeners need no token: 127.0.0.0/8, ::1, localhost") {
    for (const char* listen : {"127.0.0.1:9100", "127.1.2.3:9100", "\"[::1]:9100\"", "localhost:9100"}) {
      INFO(listen);
      const Config cfg = loadValid(std::string("admin: { listen: ") + listen + " }\n" + kOnePool);
      CHECK(cfg.admin.token.empty());
    }
  }
}

TEST_CASE("config: admin token errors", "[config][admin]") {
  checkSingleErrors({
      {"non-loopback IPv4 without a token", std::string("admin: { listen: 0.0.0.0:9100 }\n") + kOnePool,
       "<string>:1:18: admin.listen: a non-loopback admin listener needs admin.token or admin.token_file"},
      {"non-loopback IPv6 without a token", std::string("admin:\n  listen: \"[::]:9100\"\n") + kOnePool,
       "<string>:2:11: admin.listen: a non-loopback admin listener needs admin.token or admin.token_file"},
      {"empty token", std::string("admin: { token: \"\" }\n") + kOnePool,
       "<string>:1:17: admin.token: must not be empty"},
      {"token with a space", std::string("admin: { token: \"a b\" }\n") + kOnePool,
       "<string>:1:17: admin.token: must be visible ASCII characters without spaces"},
      {"token not a string", std::string("admin: { token: [a] }\n") + kOnePool,
       "<string>:1:17: admin.token: expected a string, got a list"},
      {"both token and token_file", std::string("admin:\n  token: abc\n  token_file: /etc/ballast/token\n") + kOnePool,
       "<string>:3:15: admin.token_file: set admin.token or admin.token_file, not both"},
      {"unreadable token file",
       std::string("admin:\n  listen: 0.0.0.0:9100\n  token_file: /nonexistent/ballast-token\n") + kOnePool,
       "<string>:3:15: admin.token_file: cannot read token file \"/nonexistent/ballast-token\": No such file or "
       "directory"},
      {"token file is a directory", std::string("admin: { token_file: /tmp }\n") + kOnePool,
       "<string>:1:22: admin.token_file: cannot read token file \"/tmp\": Is a directory"},
      {"protect_reads without a token", std::string("admin: { protect_reads: true }\n") + kOnePool,
       "<string>:1:25: admin.protect_reads: needs admin.token or admin.token_file"},
      {"protect_reads not a boolean", std::string("admin: { token: t, protect_reads: yes }\n") + kOnePool,
       "<string>:1:35: admin.protect_reads: expected true or false, got \"yes\""},
      {"a typo in token_file", std::string("admin: { token_flie: x }\n") + kOnePool,
       "<string>:1:10: admin.token_flie: unknown key (did you mean \"token_file\"?)"},
  });
}

TEST_CASE("config: an empty token file names the file", "[config][admin]") {
  TempTokenFile f(" \n\t\n");
  CHECK(errorsOf("admin:\n  token_file: " + f.path + "\n" + kOnePool) ==
        std::vector<std::string>{"<string>:2:15: admin.token_file: token file \"" + f.path + "\" is empty"});
  TempTokenFile g("two words\n");
  CHECK(errorsOf("admin:\n  token_file: " + g.path + "\n" + kOnePool) ==
        std::vector<std::string>{"<string>:2:15: admin.token_file: token in \"" + g.path +
                                 "\" must be visible ASCII characters without spaces"});
}

TEST_CASE("configChanges: members found by DNS discovery are never listed as removed by a new file", "[config][dry_run]") {
  const std::string yaml =
      "listen: 127.0.0.1:0\npools:\n  - name: web\n    backends: [ { address: \"127.0.0.1:9001\" } ]\n";
  auto cur = ballast::config::loadConfigString(yaml, "<string>");
  auto next = ballast::config::loadConfigString(yaml, "<string>");
  REQUIRE(cur.ok());
  REQUIRE(next.ok());
  ballast::config::BackendConfig found = cur.config->pools[0].backends[0];
  found.address.text = "127.0.0.1:9002";
  found.discovered = true;
  cur.config->pools[0].backends.push_back(found);
  const auto changes = ballast::configChanges(*cur.config, *next.config);
  for (const auto& c : changes) CHECK(c.find("removed") == std::string::npos);
  // A static backend that goes is listed.
  cur.config->pools[0].backends.back().discovered = false;
  const auto again = ballast::configChanges(*cur.config, *next.config);
  REQUIRE(again.size() >= 1);
  CHECK(again[0] == "pool web: backend 127.0.0.1:9002 removed");
}
