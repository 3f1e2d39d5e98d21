// The `discovery` block of a pool: defaults, every key, and the errors (with
// file, line, column and key path).

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/config_loader.h"

using namespace std::chrono_literals;
using ballast::config::Config;
using ballast::config::ConfigError;
using ballast::config::DnsDiscoveryConfig;
using ballast::config::loadConfigString;

namespace {

std::vector<std::string> errorsOf(const std::string& yaml) {
  std::vector<std::string> out;
  for (const ConfigError& e : loadConfigString(yaml).errors) out.push_back(e.format());
  return out;
}

Config loadValid(const std::string& yaml) {
  auto r = loadConfigString(yaml);
  std::vector<std::string> errors;
  for (const ConfigError& e : r.errors) errors.push_back(e.format());
  INFO(Catch::Detail::stringify(errors));
  REQUIRE(r.ok());
  return *r.config;
}

std::string pool(const std::string& discovery) {
  return "pools:\n  - name: web\n    discovery: " + discovery + "\n";
}

}  // namespace

TEST_CASE("discovery: defaults and every key", "[config][dns]") {
  Config c = loadValid(pool("{ dns: { name: web.test, port: 8080 } }"));
  REQUIRE(c.pools[0].discovery);
  const DnsDiscoveryConfig& d = *c.pools[0].discovery;
  CHECK(d.name == "web.test");
  CHECK(d.port == 8080);
  CHECK(d.type == DnsDiscoveryConfig::Type::A);
  CHECK(d.refresh == 10s);
  CHECK(d.keep_last_good == 0ms);
  CHECK_FALSE(d.allow_empty);
  CHECK(d.servers.empty());
  CHECK(c.pools[0].backends.empty());  // static backends are optional beside discovery

  c = loadValid(
      "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:9001 }]\n"
      "    discovery:\n      dns: { name: _http._tcp.web.test, type: SRV }\n      refresh: 2s\n"
      "      servers: [127.0.0.1:5353, '[::1]:53']\n      keep_last_good: 5m\n      allow_empty: true\n");
  const DnsDiscoveryConfig& s = *c.pools[0].discovery;
  CHECK(s.type == DnsDiscoveryConfig::Type::Srv);
  CHECK(s.port == 0);
  CHECK(s.refresh == 2s);
  CHECK(s.keep_last_good == 5min);
  CHECK(s.allow_empty);
  REQUIRE(s.servers.size() == 2);
  CHECK(s.servers[0].text == "127.0.0.1:5353");
  CHECK(s.servers[1].port == 53);
  CHECK(c.pools[0].backends.size() == 1);
  CHECK(s.family == DnsDiscoveryConfig::Family::Both);  // SRV targets: A and AAAA unless `family` says otherwise
  for (const char* t : {"AAAA", "A+AAAA"}) {
    c = loadValid(pool(std::string("{ dns: { name: web.test, port: 1, type: ") + t + " } }"));
    CHECK(std::string(toString(c.pools[0].discovery->type)) == t);
  }
  for (const char* f : {"ipv4", "ipv6", "both"}) {
    c = loadValid(pool(std::string("{ dns: { name: _http._tcp.web.test, type: SRV, family: ") + f + " } }"));
    CHECK(std::string(toString(c.pools[0].discovery->family)) == f);
  }
  // A trailing dot (fully qualified: no search list) is a valid name.
  CHECK(loadValid(pool("{ dns: { name: web.test., port: 80 } }")).pools[0].discovery->name == "web.test.");
}

TEST_CASE("discovery: errors name file, line and key", "[config][dns]") {
  using V = std::vector<std::string>;
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80 }, refesh: 1s }")) ==
        V{"<string>:3:53: pools[0].discovery.refesh: unknown key (did you mean \"refresh\"?)"});
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80, ttl: 1 } }")) ==
        V{"<string>:3:51: pools[0].discovery.dns.ttl: unknown key"});
  CHECK(errorsOf(pool("{ dns: { name: web.test } }")) ==
        V{"<string>:3:23: pools[0].discovery.dns.port: missing required key"});
  CHECK(errorsOf(pool("{ dns: { name: _x._tcp.web.test, port: 80, type: SRV } }")) ==
        V{"<string>:3:55: pools[0].discovery.dns.port: port is taken from the SRV records; remove it"});
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80, type: MX } }")) ==
        V{"<string>:3:57: pools[0].discovery.dns.type: unknown record type \"MX\" (expected A, AAAA, A+AAAA or SRV)"});
  CHECK(errorsOf(pool("{ dns: { name: 'web test', port: 80 } }")) ==
        V{"<string>:3:31: pools[0].discovery.dns.name: invalid DNS name \"web test\" (allowed characters: A-Z a-z 0-9 _ . -)"});
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80 }, servers: [localhost:53] }")) ==
        V{"<string>:3:63: pools[0].discovery.servers[0]: a DNS server must be a numeric address, got \"localhost:53\""});
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80 }, refresh: 0 }")).size() == 1);
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80 }, keep_last_good: soon }")) ==
        V{"<string>:3:69: pools[0].discovery.keep_last_good: invalid duration \"soon\" (e.g. 5m; 0 = keep forever)"});
  CHECK(errorsOf(pool("{ dns: { name: _x._tcp.web.test, type: SRV, family: inet6 } }")) ==
        V{"<string>:3:68: pools[0].discovery.dns.family: unknown family \"inet6\" (expected ipv4, ipv6 or both)"});
  CHECK(errorsOf(pool("{ dns: { name: web.test, port: 80, family: ipv6 } }")) ==
        V{"<string>:3:59: pools[0].discovery.dns.family: family applies to SRV targets only (for a host name, type "
          "A, AAAA or A+AAAA picks the records)"});
  CHECK(errorsOf(pool("{ refresh: 1s }")) == V{"<string>:3:16: pools[0].discovery.dns: missing required key"});
  // Without discovery the static backends stay required.
  CHECK(errorsOf("pools:\n  - name: web\n") == V{"<string>:2:5: pools[0].backends: missing required key"});
}
