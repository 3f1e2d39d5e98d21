#include "lb/upstream/dns_discovery.h"

#include <algorithm>
#include <cstdint>

namespace ballast {

const char* toString(DnsResult r) {
  switch (r) {
    case DnsResult::Ok: return "ok";
    case DnsResult::Empty: return "empty";
    case DnsResult::Timeout: return "timeout";
    case DnsResult::ServFail: return "servfail";
    case DnsResult::NxDomain: return "nxdomain";
    case DnsResult::Error: return "error";
  }
  return "error";
}

std::vector<DiscoveredMember> membersFromRecords(const std::vector<DnsRecord>& records) {
  std::vector<DiscoveredMember> out;
  out.reserve(records.size());
  uint16_t best = UINT16_MAX;
  for (const DnsRecord& r : records) best = std::min(best, r.priority);
  for (const DnsRecord& r : records) {
    DiscoveredMember m;
    const bool v6 = r.ip.find(':') != std::string::npos;
    m.address = (v6 ? "[" + r.ip + "]" : r.ip) + ":" + std::to_string(r.port);
    m.weight = std::clamp<uint32_t>(r.weight, 1, 1000);
    m.backup = r.priority != best;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const DiscoveredMember& a, const DiscoveredMember& b) {
    if (a.address != b.address) return a.address < b.address;
    if (a.backup != b.backup) return !a.backup;
    return a.weight > b.weight;
  });
  // After the sort the first of each address is the preferred one.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const DiscoveredMember& a, const DiscoveredMember& b) { return a.address == b.address; }),
            out.end());
  return out;
}

MemberDiff diffMembers(const std::vector<DiscoveredMember>& current, const std::vector<DiscoveredMember>& next) {
  MemberDiff d;
  size_t i = 0;
  size_t j = 0;
  while (i < current.size() || j < next.size()) {
    if (j == next.size() || (i < current.size() && current[i].address < next[j].address)) {
      d.removed.push_back(current[i++].address);
    } else if (i == current.size() || next[j].address < current[i].address) {
      d.added.push_back(next[j++]);
    } else {
      if (current[i].weight != next[j].weight || current[i].backup != next[j].backup) ++d.reweighted;
      d.kept.push_back(next[j]);
      ++i;
      ++j;
    }
  }
  return d;
}

DiscoveryState::Outcome DiscoveryState::onResolved(DnsResult result, const std::vector<DnsRecord>& records,
                                                   uint64_t now_ms) {
  Outcome o;
  if (result == DnsResult::Ok && records.empty() && !allow_empty_) result = DnsResult::Empty;
  o.result = result;
  o.state_changed = !have_result_ || result != last_result_;
  have_result_ = true;
  last_result_ = result;
  if (result == DnsResult::Ok) {
    std::vector<DiscoveredMember> next = membersFromRecords(records);
    o.members_changed = !has_good_ || next != members_;
    members_ = std::move(next);
    has_good_ = true;
    inherited_ = false;
    stale_ = false;
    last_success_ms_ = now_ms;
    min_ttl_s_ = 0;
    for (const DnsRecord& r : records) {
      if (r.ttl_s != 0 && (min_ttl_s_ == 0 || r.ttl_s < min_ttl_s_)) min_ttl_s_ = r.ttl_s;
    }
    return o;
  }
  // A failure: keep the last good set until it is older than keep_last_good.
  stale_ = has_good_;
  if (has_good_ && keep_last_good_ms_ != 0 && now_ms - last_success_ms_ >= keep_last_good_ms_ && !members_.empty()) {
    members_.clear();
    inherited_ = false;
    o.members_changed = true;
    o.state_changed = true;
  }
  return o;
}

void DiscoveryState::inherit(const DiscoveryState& previous) {
  if (!previous.has_good_) return;
  members_ = previous.members_;
  has_good_ = true;
  last_success_ms_ = previous.last_success_ms_;
  inherited_ = true;
  // min_ttl_s_ stays 0: the first round runs at once, and its answer sets it.
}

uint64_t DiscoveryState::nextDelayMs(uint64_t refresh_ms, uint64_t min_ms) const {
  if (last_result_ != DnsResult::Ok || min_ttl_s_ == 0) return refresh_ms;
  return std::min(refresh_ms, std::max<uint64_t>(uint64_t{min_ttl_s_} * 1000, min_ms));
}

}  // namespace ballast
