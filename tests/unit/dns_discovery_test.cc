// DNS discovery without a loop: records -> members, the member diff, and the
// keep-last-good / allow_empty / TTL rules of DiscoveryState.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lb/upstream/dns_discovery.h"

using ballast::DiscoveredMember;
using ballast::DiscoveryState;
using ballast::DnsRecord;
using ballast::DnsResult;
using ballast::diffMembers;
using ballast::membersFromRecords;

namespace {

DnsRecord a(std::string ip, uint16_t port = 8080, uint32_t ttl = 0) {
  DnsRecord r;
  r.ip = std::move(ip);
  r.port = port;
  r.ttl_s = ttl;
  return r;
}

DnsRecord srv(std::string ip, uint16_t port, uint32_t weight, uint16_t priority = 10) {
  DnsRecord r = a(std::move(ip), port);
  r.weight = weight;
  r.priority = priority;
  return r;
}

std::vector<std::string> addresses(const std::vector<DiscoveredMember>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.address);
  return out;
}

}  // namespace

TEST_CASE("records become members sorted by address, one per address", "[dns]") {
  const auto ms = membersFromRecords({a("10.0.0.2"), a("10.0.0.1"), a("10.0.0.2"), a("fd00::1", 9000)});
  CHECK(addresses(ms) == std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:9000"});
  for (const auto& m : ms) {
    CHECK(m.weight == 1);
    CHECK_FALSE(m.backup);
  }
}

TEST_CASE("SRV weights become weights, priorities above the lowest become backups", "[dns]") {
  const auto ms = membersFromRecords(
      {srv("10.0.0.1", 80, 5), srv("10.0.0.2", 81, 0), srv("10.0.0.3", 82, 5000), srv("10.0.0.4", 83, 3, 20)});
  REQUIRE(ms.size() == 4);
  CHECK(ms[0].address == "10.0.0.1:80");
  CHECK(ms[0].weight == 5);
  CHECK(ms[1].weight == 1);     // RFC 2782: weight 0 keeps a chance
  CHECK(ms[2].weight == 1000);  // clamped to the backend maximum
  CHECK_FALSE(ms[2].backup);
  CHECK(ms[3].backup);
  CHECK(ms[3].weight == 3);
  // The same target twice: the preferred priority wins, then the weight.
  const auto dup = membersFromRecords({srv("10.0.0.1", 80, 9, 20), srv("10.0.0.1", 80, 2, 10)});
  REQUIRE(dup.size() == 1);
  CHECK(dup[0].weight == 2);
  CHECK_FALSE(dup[0].backup);
}

TEST_CASE("diff: added, kept, removed, reweighted", "[dns]") {
  const auto cur = membersFromRecords({srv("10.0.0.1", 80, 1), srv("10.0.0.2", 80, 1), srv("10.0.0.3", 80, 1)});
  const auto next = membersFromRecords({srv("10.0.0.2", 80, 4), srv("10.0.0.3", 80, 1), srv("10.0.0.4", 80, 1)});
  const auto d = diffMembers(cur, next);
  CHECK(addresses(d.added) == std::vector<std::string>{"10.0.0.4:80"});
  CHECK(addresses(d.kept) == std::vector<std::string>{"10.0.0.2:80", "10.0.0.3:80"});
  CHECK(d.kept[0].weight == 4);
  CHECK(d.removed == std::vector<std::string>{"10.0.0.1:80"});
  CHECK(d.reweighted == 1);
  CHECK(d.changed());
  CHECK_FALSE(diffMembers(next, next).changed());
  const auto from_empty = diffMembers({}, next);
  CHECK(from_empty.added.size() == 3);
  CHECK(from_empty.removed.empty());
  const auto to_empty = diffMembers(next, {});
  CHECK(to_empty.removed.size() == 3);
  CHECK(to_empty.added.empty());
  // A port is part of the address: the same IP on a new port is a new member.
  const auto port = diffMembers(membersFromRecords({a("10.0.0.1", 80)}), membersFromRecords({a("10.0.0.1", 81)}));
  CHECK(port.added.size() == 1);
  CHECK(port.removed.size() == 1);
}

TEST_CASE("failures keep the last good set forever by default", "[dns]") {
  DiscoveryState s(0, false);
  auto o = s.onResolved(DnsResult::Ok, {a("10.0.0.1"), a("10.0.0.2")}, 1000);
  CHECK(o.members_changed);
  CHECK(o.state_changed);
  CHECK(s.members().size() == 2);
  CHECK(s.lastSuccessMs() == 1000);
  // The same answer again changes nothing and logs nothing.
  o = s.onResolved(DnsResult::Ok, {a("10.0.0.2"), a("10.0.0.1")}, 2000);
  CHECK_FALSE(o.members_changed);
  CHECK_FALSE(o.state_changed);
  for (DnsResult r : {DnsResult::Timeout, DnsResult::ServFail, DnsResult::NxDomain, DnsResult::Error}) {
    o = s.onResolved(r, {}, 1000000000);
    CHECK_FALSE(o.members_changed);
    CHECK(o.state_changed);  // a new kind of failure: one log line
    o = s.onResolved(r, {}, 1000000001);
    CHECK_FALSE(o.state_changed);  // the same failure again: none
    CHECK(s.members().size() == 2);
    CHECK(s.stale());
    CHECK(s.lastResult() == r);
  }
  o = s.onResolved(DnsResult::Ok, {a("10.0.0.3")}, 1000000002);
  CHECK(o.members_changed);
  CHECK(o.state_changed);
  CHECK_FALSE(s.stale());
  CHECK(addresses(s.members()) == std::vector<std::string>{"10.0.0.3:8080"});
}

TEST_CASE("zero records are a failure unless allow_empty", "[dns]") {
  DiscoveryState strict(0, false);
  strict.onResolved(DnsResult::Ok, {a("10.0.0.1")}, 10);
  auto o = strict.onResolved(DnsResult::Ok, {}, 20);
  CHECK(o.result == DnsResult::Empty);
  CHECK_FALSE(o.members_changed);
  CHECK(strict.members().size() == 1);
  CHECK(strict.lastSuccessMs() == 10);

  DiscoveryState lax(0, true);
  lax.onResolved(DnsResult::Ok, {a("10.0.0.1")}, 10);
  o = lax.onResolved(DnsResult::Ok, {}, 20);
  CHECK(o.result == DnsResult::Ok);
  CHECK(o.members_changed);
  CHECK(lax.members().empty());
  CHECK(lax.lastSuccessMs() == 20);
}

TEST_CASE("keep_last_good bounds how long a failure keeps the set", "[dns]") {
  DiscoveryState s(30000, false);
  s.onResolved(DnsResult::Ok, {a("10.0.0.1")}, 1000);
  auto o = s.onResolved(DnsResult::ServFail, {}, 30999);
  CHECK_FALSE(o.members_changed);
  CHECK(s.members().size() == 1);
  o = s.onResolved(DnsResult::ServFail, {}, 31000);
  CHECK(o.members_changed);
  CHECK(o.state_changed);  // the expiry is logged even though the failure is the same
  CHECK(s.members().empty());
  o = s.onResolved(DnsResult::ServFail, {}, 41000);
  CHECK_FALSE(o.members_changed);
  CHECK_FALSE(o.state_changed);
  // Never resolved: a failure has nothing to keep and changes nothing.
  DiscoveryState fresh(30000, false);
  o = fresh.onResolved(DnsResult::Timeout, {}, 100000);
  CHECK_FALSE(o.members_changed);
  CHECK_FALSE(fresh.resolvedOnce());
  CHECK_FALSE(fresh.stale());
}

TEST_CASE("the smallest TTL shortens the refresh, never below the floor", "[dns]") {
  DiscoveryState s(0, false);
  CHECK(s.nextDelayMs(10000, 1000) == 10000);
  s.onResolved(DnsResult::Ok, {a("10.0.0.1", 80, 30), a("10.0.0.2", 80, 4)}, 0);
  CHECK(s.nextDelayMs(10000, 1000) == 4000);
  CHECK(s.nextDelayMs(3000, 1000) == 3000);
  s.onResolved(DnsResult::Ok, {a("10.0.0.1", 80, 0)}, 0);  // TTL 0: no shortening beyond the floor rule
  CHECK(s.nextDelayMs(10000, 1000) == 10000);
  s.onResolved(DnsResult::Ok, {a("10.0.0.1", 80, 1)}, 0);
  CHECK(s.nextDelayMs(10000, 2000) == 2000);
  // After a failure the configured refresh applies again.
  s.onResolved(DnsResult::Timeout, {}, 0);
  CHECK(s.nextDelayMs(10000, 1000) == 10000);
}

TEST_CASE("a replaced discovery inherits the previous members until its first answer", "[dns]") {
  DiscoveryState old(0, false);
  old.onResolved(DnsResult::Ok, {a("10.0.0.1"), a("10.0.0.2")}, 1000);

  // Same set in the first answer: nothing to rebuild.
  DiscoveryState same(0, false);
  same.inherit(old);
  CHECK(same.inherited());
  CHECK(same.resolvedOnce());
  CHECK(addresses(same.members()) == std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080"});
  auto o = same.onResolved(DnsResult::Ok, {a("10.0.0.2"), a("10.0.0.1")}, 2000);
  CHECK_FALSE(o.members_changed);
  CHECK(o.state_changed);  // the new discovery's first result is logged
  CHECK_FALSE(same.inherited());

  // Failures keep the inherited set (stale) ...
  DiscoveryState failing(0, false);
  failing.inherit(old);
  o = failing.onResolved(DnsResult::Timeout, {}, 2000);
  CHECK_FALSE(o.members_changed);
  CHECK(failing.stale());
  CHECK(failing.members().size() == 2);
  // ... and a different answer replaces it.
  o = failing.onResolved(DnsResult::Ok, {a("10.0.0.3")}, 3000);
  CHECK(o.members_changed);
  CHECK(addresses(failing.members()) == std::vector<std::string>{"10.0.0.3:8080"});
  CHECK_FALSE(failing.inherited());

  // keep_last_good counts from the previous discovery's last success.
  DiscoveryState bounded(5000, false);
  bounded.inherit(old);
  CHECK_FALSE(bounded.onResolved(DnsResult::ServFail, {}, 5999).members_changed);
  o = bounded.onResolved(DnsResult::ServFail, {}, 6000);
  CHECK(o.members_changed);
  CHECK(bounded.members().empty());
  CHECK_FALSE(bounded.inherited());

  // Nothing to inherit from a discovery that never answered.
  DiscoveryState never(0, false);
  DiscoveryState fresh(0, false);
  fresh.inherit(never);
  CHECK_FALSE(fresh.inherited());
  CHECK_FALSE(fresh.resolvedOnce());
}
