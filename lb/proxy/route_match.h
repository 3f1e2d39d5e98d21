// A route's conditions, compiled from config::RouteConfig, and the view of a
// request they are evaluated on. Host, path prefix and exact path are
// decided by the router's index (router.h); RouteMatch holds the rest: path
// regex, methods, headers, query parameters and the client address.
//
// Nothing here allocates per request: the request view borrows the parsed
// head, and derived facts (the path without its query, the client address
// in binary) are computed once, on first use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/http/http_message.h"

namespace re2 {
class RE2;
}

namespace ballast {

// A client address in binary form: IPv4 (also from an IPv4-mapped IPv6
// address) or IPv6.
struct ClientAddress {
  int family = 0;  // 0 = unparsable (matches no CIDR block)
  uint8_t bytes[16] = {};
};
// Parses "10.1.2.3", "2001:db8::1" or "::ffff:10.1.2.3" (-> IPv4).
ClientAddress parseClientAddress(std::string_view ip);
bool cidrContains(const config::Cidr& cidr, const ClientAddress& a);
bool anyCidrContains(const std::vector<config::Cidr>& list, const ClientAddress& a);

// What the router and the route conditions see of a request. Borrows
// everything; valid while the request head is.
class RouteRequest {
 public:
  RouteRequest(std::string_view host, std::string_view target, std::string_view method,
               const std::vector<Header>& headers, std::string_view client_ip)
      : host_(host), target_(target), method_(method), headers_(&headers), client_ip_(client_ip) {}

  std::string_view host() const { return host_; }      // Host (or absolute-form authority) as sent
  std::string_view target() const { return target_; }  // origin-form target: path and query
  std::string_view method() const { return method_; }
  const std::vector<Header>& headers() const { return *headers_; }
  std::string_view clientIp() const { return client_ip_; }
  // The target before any '?'.
  std::string_view path() const;
  // The target after the first '?' (empty when there is none).
  std::string_view query() const;
  const ClientAddress& clientAddress() const;

  // Every value of header `name` (lower-case), in order, until `f` returns true.
  template <typename F>
  bool anyHeader(std::string_view name, F&& f) const {
    for (const Header& h : *headers_) {
      if (iequals(h.name, name) && f(h.value)) return true;
    }
    return false;
  }
  // The first value of query parameter `name`, percent-decoded into `out`.
  bool queryParam(std::string_view name, std::string& out) const;
  // The value of cookie `name` from the Cookie headers.
  bool cookie(std::string_view name, std::string_view& out) const;
  // The request's value for `key` (a header, cookie or query parameter, or
  // the client address) into `out`; false when the request has none.
  bool key(const config::RequestKey& key, std::string& out) const;

 private:
  std::string_view host_;
  std::string_view target_;
  std::string_view method_;
  const std::vector<Header>* headers_;
  std::string_view client_ip_;
  mutable bool addr_parsed_ = false;
  mutable ClientAddress addr_;
};

// Decodes %XX escapes (a malformed escape is kept as written).
void percentDecode(std::string_view in, std::string& out);

// The conditions of one route that the index does not decide.
class RouteMatch {
 public:
  explicit RouteMatch(const config::RouteConfig& rc);
  // True when every condition holds (host and path prefix / exact path are
  // the caller's: see Router).
  bool matches(const RouteRequest& req) const;
  // No condition at all beyond the index's.
  bool empty() const { return empty_; }

 private:
  std::shared_ptr<const re2::RE2> path_regex_;
  std::vector<std::string> methods_;
  std::vector<config::ValueMatch> headers_;
  std::vector<config::ValueMatch> query_;
  std::vector<config::Cidr> client_;
  bool empty_ = true;  // none of the above: every request the index chose matches
};

}  // namespace ballast
