#include "lb/proxy/hash_key.h"

#include "lb/http/http_message.h"
#include "lb/upstream/balancer_consistent_hash.h"

namespace ballast {


bool cookieValue(const std::vector<Header>& headers, std::string_view name, std::string_view* value) {
  for (const Header& h : headers) {
    if (!iequals(h.name, "cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view pair = trimOws(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trimOws(pair.substr(0, eq)) != name) continue;
      std::string_view v = trimOws(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      *value = v;
      return true;
    }
  }
  return false;
}

std::string_view targetPath(std::string_view target) { return target.substr(0, target.find('?')); }

bool queryValue(std::string_view target, std::string_view name, std::string_view* value) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view rest = target.substr(q + 1);
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = param.find('=');
    if (param.substr(0, eq) != name) continue;
    *value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    return true;
  }
  return false;
}

bool requestHash(const config::HashKey& key, const std::vector<Header>& headers, std::string_view target,
                 std::string_view client_ip, uint64_t* hash) {
  std::string_view v;
  bool found = false;
  switch (key.kind) {
    case config::HashKey::Kind::ClientIp:
      v = client_ip;
      found = true;
      break;
    case config::HashKey::Kind::Path:
      v = targetPath(target);
      found = true;
      break;
    case config::HashKey::Kind::Header:
      for (const Header& h : headers) {
        if (iequals(h.name, key.name)) {
          v = h.value;
          found = true;
          break;
        }
      }
      break;
    case config::HashKey::Kind::Cookie:
      found = cookieValue(headers, key.name, &v);
      break;
    case config::HashKey::Kind::Query:
      found = queryValue(target, key.name, &v);
      break;
  }
  if (!found) return false;
  *hash = hashBytes64(v);
  return true;
}

void addStickyCookie(std::string& head, const config::StickyConfig& sticky, std::string_view id) {
  // Before the blank line that ends the head.
  const size_t at = head.size() >= 2 ? head.size() - 2 : head.size();
  std::string line = "Set-Cookie: ";
  line.append(sticky.cookie).append("=").append(id);
  line.append("; Max-Age=").append(std::to_string(sticky.ttl.count() / 1000));
  line.append("; Path=/; HttpOnly\r\n");
  head.insert(at, line);
}

}  // namespace ballast
