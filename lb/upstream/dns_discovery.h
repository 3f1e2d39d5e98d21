// The pure part of DNS discovery: what a pool's discovered members are after
// each resolution, and how they differ from the previous set. No loop, no
// c-ares: the resolver hands in records and a result, this decides.
//
// Contract (issue 14): a failed resolution (timeout, SERVFAIL, NXDOMAIN, any
// other error, or zero records unless allow_empty) never changes the members
// while the last good set is younger than keep_last_good (0 = forever); once
// it is older, the members are dropped (the pool keeps its static backends).
// A record's TTL shortens the next refresh (a TTL counts as at least min_ms).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ballast {

enum class DnsResult : uint8_t {
  Ok,        // at least one record (or zero with allow_empty)
  Empty,     // zero records, treated as a failure (allow_empty off)
  Timeout,   // no answer from any server
  ServFail,  // SERVFAIL (or REFUSED)
  NxDomain,  // the name does not exist
  Error,     // anything else (bad reply, no servers, ...)
};
// "ok", "empty", "timeout", "servfail", "nxdomain", "error" (metric labels).
const char* toString(DnsResult r);

// One answer record as the resolver parsed it.
struct DnsRecord {
  std::string ip;       // numeric IPv4 or IPv6 address, no brackets
  uint16_t port = 0;    // SRV: the record's port; A/AAAA: the configured port
  uint32_t weight = 1;    // SRV: the record's weight; A/AAAA: 1
  uint16_t priority = 0;  // SRV: the record's priority (lower is preferred); A/AAAA: 0
  uint32_t ttl_s = 0;
};

// One discovered backend: its address as a backend address text and weight.
struct DiscoveredMember {
  std::string address;  // "10.0.0.1:8080" or "[fd00::1]:8080"
  uint32_t weight = 1;  // 1..1000 (SRV weight 0 becomes 1, above 1000 is clamped)
  bool backup = false;  // SRV: a priority above the lowest one of the answer
  bool operator==(const DiscoveredMember& o) const {
    return address == o.address && weight == o.weight && backup == o.backup;
  }
};

// Records -> members: sorted by address, one member per address (when
// records repeat an address, the most preferred priority and then the
// highest weight wins). RFC 2782 gives a weight-0 target a small chance, not
// none, so it becomes weight 1; targets of the lowest priority in the answer
// are primaries, the others backups (used only when no primary is).
std::vector<DiscoveredMember> membersFromRecords(const std::vector<DnsRecord>& records);

// What changed between two member sets (both sorted as membersFromRecords
// returns them). `kept` holds members of `next` also in `current` (with the
// weight and role of `next`); `reweighted` counts those whose weight or
// role changed.
struct MemberDiff {
  std::vector<DiscoveredMember> added;
  std::vector<DiscoveredMember> kept;
  std::vector<std::string> removed;
  size_t reweighted = 0;
  bool changed() const { return !added.empty() || !removed.empty() || reweighted != 0; }
};
MemberDiff diffMembers(const std::vector<DiscoveredMember>& current, const std::vector<DiscoveredMember>& next);

// The discovery state of one pool between resolutions.
class DiscoveryState {
 public:
  // `keep_last_good_ms`: 0 = keep the last good set forever.
  DiscoveryState(uint64_t keep_last_good_ms, bool allow_empty)
      : keep_last_good_ms_(keep_last_good_ms), allow_empty_(allow_empty) {}

  struct Outcome {
    bool members_changed = false;  // the pool must be rebuilt with members()
    bool state_changed = false;    // result kind changed (or the set expired): log once
    DnsResult result = DnsResult::Ok;  // Empty when zero records were refused
  };
  // One finished resolution at loop time `now_ms`. `result` is Ok for an
  // answer (records may be empty); the records are ignored otherwise.
  Outcome onResolved(DnsResult result, const std::vector<DnsRecord>& records, uint64_t now_ms);

  // A reload changed the pool's discovery block: start from the previous
  // discovery's members (its last good set, and when it was last
  // confirmed), so the pool keeps them until this discovery's first good
  // answer replaces them or its failure policy (keep_last_good, counted
  // from `previous`'s last success) drops them. Call before any result.
  void inherit(const DiscoveryState& previous);
  // True while the members are still the inherited ones.
  bool inherited() const { return inherited_; }

  const std::vector<DiscoveredMember>& members() const { return members_; }
  bool resolvedOnce() const { return has_good_; }
  DnsResult lastResult() const { return last_result_; }
  uint64_t lastSuccessMs() const { return last_success_ms_; }  // 0 = never
  // True while a failure keeps a last good set that is not the latest answer.
  bool stale() const { return stale_; }
  // The wait before the next resolution: `refresh_ms`, shortened by the
  // smallest TTL of the last good answer (a TTL never below `min_ms`; a TTL
  // of 0 counts as none).
  uint64_t nextDelayMs(uint64_t refresh_ms, uint64_t min_ms) const;

 private:
  uint64_t keep_last_good_ms_;
  bool allow_empty_;
  std::vector<DiscoveredMember> members_;
  bool has_good_ = false;
  bool stale_ = false;
  bool inherited_ = false;
  bool have_result_ = false;
  DnsResult last_result_ = DnsResult::Ok;
  uint64_t last_success_ms_ = 0;
  uint32_t min_ttl_s_ = 0;  // of the last good answer; 0 = none
};

}  // namespace ballast
