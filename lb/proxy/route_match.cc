#include "lb/proxy/route_match.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cstring>

namespace ballast {

ClientAddress parseClientAddress(std::string_view ip) {
  ClientAddress a;
  char buf[INET6_ADDRSTRLEN + 1];
  if (ip.size() >= sizeof buf) return a;
  std::memcpy(buf, ip.data(), ip.size());
  buf[ip.size()] = '\0';
  if (inet_pton(AF_INET, buf, a.bytes) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, buf, a.bytes) == 1) {
    a.family = AF_INET6;
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes, kMapped, sizeof kMapped) == 0) {
      // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
      std::memmove(a.bytes, a.bytes + 12, 4);
      std::memset(a.bytes + 4, 0, 12);
      a.family = AF_INET;
    }
  }
  return a;
}

bool cidrContains(const config::Cidr& cidr, const ClientAddress& a) {
  if (a.family != cidr.family) return false;
  const unsigned full = cidr.prefix_len / 8;
  if (std::memcmp(cidr.bytes, a.bytes, full) != 0) return false;
  const unsigned rest = cidr.prefix_len % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == cidr.bytes[full];
}

bool anyCidrContains(const std::vector<config::Cidr>& list, const ClientAddress& a) {
  for (const config::Cidr& c : list) {
    if (cidrContains(c, a)) return true;
  }
  return false;
}

std::string_view RouteRequest::path() const {
  const size_t q = target_.find('?');
  return q == std::string_view::npos ? target_ : target_.substr(0, q);
}

std::string_view RouteRequest::query() const {
  const size_t q = target_.find('?');
  return q == std::string_view::npos ? std::string_view() : target_.substr(q + 1);
}

const ClientAddress& RouteRequest::clientAddress() const {
  if (!addr_parsed_) {
    addr_ = parseClientAddress(client_ip_);
    addr_parsed_ = true;
  }
  return addr_;
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hexValue(in[i + 1]);
      const int lo = hexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
}

bool RouteRequest::queryParam(std::string_view name, std::string& out) const {
  std::string_view q = query();
  std::string decoded_name;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const bool plain = raw_name.find('%') == std::string_view::npos;
    if (plain ? raw_name != name : (percentDecode(raw_name, decoded_name), decoded_name != name)) continue;
    percentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), out);
    return true;
  }
  return false;
}

bool RouteRequest::cookie(std::string_view name, std::string_view& out) const {
  return anyHeader("cookie", [&](std::string_view value) {
    while (!value.empty()) {
      const size_t semi = value.find(';');
      std::string_view pair = trimOws(value.substr(0, semi));
      value = semi == std::string_view::npos ? std::string_view() : value.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trimOws(pair.substr(0, eq)) != name) continue;
      out = trimOws(pair.substr(eq + 1));
      return true;
    }
    return false;
  });
}

bool RouteRequest::key(const config::RequestKey& key, std::string& out) const {
  using Source = config::RequestKey::Source;
  switch (key.source) {
    case Source::ClientIp:
      out.assign(client_ip_);
      return true;
    case Source::Header:
      return anyHeader(key.name, [&](std::string_view v) {
        out.assign(v);
        return true;
      });
    case Source::Cookie: {
      std::string_view v;
      if (!cookie(key.name, v)) return false;
      out.assign(v);
      return true;
    }
    case Source::Query:
      return queryParam(key.name, out);
  }
  return false;
}

RouteMatch::RouteMatch(const config::RouteConfig& rc)
    : path_regex_(rc.path_regex_compiled),
      methods_(rc.methods),
      headers_(rc.headers),
      query_(rc.query),
      client_(rc.client),
      empty_(!path_regex_ && methods_.empty() && headers_.empty() && query_.empty() && client_.empty()) {}

namespace {

bool valueMatches(const config::ValueMatch& m, std::string_view value) {
  switch (m.kind) {
    case config::ValueMatch::Kind::Present:
      return true;
    case config::ValueMatch::Kind::Absent:
      return false;
    case config::ValueMatch::Kind::Equals:
      return value == m.value;
    case config::ValueMatch::Kind::Regex:
      return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *m.regex);
  }
  return false;
}

}  // namespace

bool RouteMatch::matches(const RouteRequest& req) const {
  if (empty_) return true;
  if (!methods_.empty()) {
    bool found = false;
    for (const std::string& m : methods_) found = found || m == req.method();
    if (!found) return false;
  }
  if (path_regex_) {
    const std::string_view p = req.path();
    if (!RE2::FullMatch(re2::StringPiece(p.data(), p.size()), *path_regex_)) return false;
  }
  for (const config::ValueMatch& m : headers_) {
    if (m.kind == config::ValueMatch::Kind::Absent) {
      if (req.anyHeader(m.name, [](std::string_view) { return true; })) return false;
    } else if (!req.anyHeader(m.name, [&](std::string_view v) { return valueMatches(m, v); })) {
      return false;
    }
  }
  if (!query_.empty()) {
    std::string value;
    for (const config::ValueMatch& m : query_) {
      const bool present = req.queryParam(m.name, value);
      if (m.kind == config::ValueMatch::Kind::Absent ? present : (!present || !valueMatches(m, value))) return false;
    }
  }
  if (!client_.empty() && !anyCidrContains(client_, req.clientAddress())) return false;
  return true;
}

}  // namespace ballast
