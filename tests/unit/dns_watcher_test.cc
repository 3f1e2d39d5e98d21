// DnsWatcher on a real loop against tests/support/dns_server: how names are
// asked (the search list without `servers`, as written with them) and which
// address records SRV targets are resolved for (`dns.family`). Each test
// ends with the watcher closed and uv_loop_close() == 0.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lb/upstream/dns_watcher.h"
#include "tests/support/dns_server.h"
#include "tests/support/loop_harness.h"

using ballast::DnsResult;
using ballast::DnsWatcher;
using ballast::config::DnsDiscoveryConfig;
using ballast::test::TestDnsServer;
using ballast::test::TestLoop;

namespace {

DnsDiscoveryConfig cfgFor(const std::string& name, DnsDiscoveryConfig::Type type = DnsDiscoveryConfig::Type::A) {
  DnsDiscoveryConfig c;
  c.name = name;
  c.type = type;
  c.port = type == DnsDiscoveryConfig::Type::Srv ? 0 : 80;
  c.refresh = std::chrono::milliseconds(60000);  // one round per test
  return c;
}

std::vector<std::string> addresses(const DnsWatcher& w) {
  std::vector<std::string> out;
  for (const auto& m : w.state().members()) out.push_back(m.address);
  return out;
}

// Runs the watcher's first round; returns once a result is counted.
void firstRound(TestLoop& loop, DnsWatcher& w) {
  REQUIRE(w.start().empty());
  REQUIRE(loop.runUntil([&] {
    uint64_t n = 0;
    for (size_t r = 0; r < DnsWatcher::kResults; ++r) n += w.resolutions(static_cast<DnsResult>(r));
    return n > 0;
  }));
}

void closeAll(TestLoop& loop, std::unique_ptr<DnsWatcher> w) {
  DnsWatcher::close(std::move(w));
  CHECK(loop.finish() == 0);
}

}  // namespace

TEST_CASE("DnsWatcher: without servers a short name goes through the search list", "[dns][loop]") {
  TestDnsServer dns;
  dns.setA("web.b.test", {"127.0.0.9"});
  TestLoop loop;
  int changes = 0;
  auto w = std::make_unique<DnsWatcher>(loop.get(), "web", cfgFor("web"), [&](DnsWatcher&) { ++changes; });
  // As resolv.conf would say: search a.test b.test, ndots:1.
  w->setResolverForTest(dns.address(), {"a.test", "b.test"}, 1);
  firstRound(loop, *w);
  CHECK(w->resolutions(DnsResult::Ok) == 1);
  CHECK(changes == 1);
  CHECK(addresses(*w) == std::vector<std::string>{"127.0.0.9:80"});
  CHECK(dns.queries() == 2);  // web.a.test (NXDOMAIN), then web.b.test
  closeAll(loop, std::move(w));
}

TEST_CASE("DnsWatcher: a name with ndots dots is asked as is first, a trailing dot only as is", "[dns][loop]") {
  TestDnsServer dns;
  dns.setA("web.b.test", {"127.0.0.9"});
  dns.setA("web.b.test.a.test", {"127.0.0.10"});
  {
    TestLoop loop;
    auto w = std::make_unique<DnsWatcher>(loop.get(), "web", cfgFor("web.b.test"), [](DnsWatcher&) {});
    w->setResolverForTest(dns.address(), {"a.test"}, 2);
    firstRound(loop, *w);
    CHECK(addresses(*w) == std::vector<std::string>{"127.0.0.9:80"});  // 2 dots >= ndots: as is, found
    CHECK(dns.queries() == 1);
    closeAll(loop, std::move(w));
  }
  {
    // ndots 3: the search list first (web.b.test.a.test exists).
    TestLoop loop;
    auto w = std::make_unique<DnsWatcher>(loop.get(), "web", cfgFor("web.b.test"), [](DnsWatcher&) {});
    w->setResolverForTest(dns.address(), {"a.test"}, 3);
    firstRound(loop, *w);
    CHECK(addresses(*w) == std::vector<std::string>{"127.0.0.10:80"});
    closeAll(loop, std::move(w));
  }
  {
    TestLoop loop;
    const uint64_t before = dns.queries();
    auto w = std::make_unique<DnsWatcher>(loop.get(), "web", cfgFor("web."), [](DnsWatcher&) {});
    w->setResolverForTest(dns.address(), {"b.test"}, 1);
    firstRound(loop, *w);
    CHECK(w->resolutions(DnsResult::NxDomain) == 1);  // web.b.test would exist: not tried
    CHECK(dns.queries() == before + 1);
    closeAll(loop, std::move(w));
  }
}

TEST_CASE("DnsWatcher: with servers in the config the name is asked as written", "[dns][loop]") {
  TestDnsServer dns;
  dns.setA("web.b.test", {"127.0.0.9"});
  TestLoop loop;
  DnsDiscoveryConfig c = cfgFor("web");
  c.servers.emplace_back();
  c.servers.back().text = dns.address();
  auto w = std::make_unique<DnsWatcher>(loop.get(), "web", c, [](DnsWatcher&) {});
  firstRound(loop, *w);
  CHECK(w->resolutions(DnsResult::NxDomain) == 1);
  CHECK(dns.queries() == 1);
  closeAll(loop, std::move(w));
}

TEST_CASE("DnsWatcher: SRV targets are resolved for the families of dns.family", "[dns][loop]") {
  TestDnsServer dns;
  dns.setSrv("_http._tcp.web.test", {{10, 1, 8080, "dual.test"}, {10, 1, 8081, "v6only.test"}});
  dns.setA("dual.test", {"127.0.0.7"});
  dns.setAAAA("dual.test", {"fd00::7"});
  dns.setAAAA("v6only.test", {"::1"});
  using F = DnsDiscoveryConfig::Family;
  for (auto [family, want] : {std::pair{F::Both, std::vector<std::string>{"127.0.0.7:8080", "[::1]:8081",
                                                                           "[fd00::7]:8080"}},
                              std::pair{F::IPv6, std::vector<std::string>{"[::1]:8081", "[fd00::7]:8080"}},
                              std::pair{F::IPv4, std::vector<std::string>{"127.0.0.7:8080"}}}) {
    INFO(ballast::config::toString(family));
    TestLoop loop;
    DnsDiscoveryConfig c = cfgFor("_http._tcp.web.test", DnsDiscoveryConfig::Type::Srv);
    c.family = family;
    c.servers.emplace_back();
    c.servers.back().text = dns.address();
    auto w = std::make_unique<DnsWatcher>(loop.get(), "web", c, [](DnsWatcher&) {});
    firstRound(loop, *w);
    CHECK(w->resolutions(DnsResult::Ok) == 1);
    CHECK(addresses(*w) == want);
    closeAll(loop, std::move(w));
  }
}
