// What a request brings to the balancer: the consistent-hash key
// (hash_key: client_ip | header:NAME | cookie:NAME | path | query:NAME) and
// the sticky cookie naming a backend, both read from the request head; and
// the Set-Cookie that pins a client to the backend that answered it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/http/http_message.h"

namespace ballast {

// The value of cookie `name` in the request's Cookie headers (all of them,
// "a=1; b=2" pairs), or nullopt-like false when absent.
bool cookieValue(const std::vector<Header>& headers, std::string_view name, std::string_view* value);
// The value of query parameter `name` in a request target ("/p?a=1&b=2"),
// raw (not percent-decoded); false when absent.
bool queryValue(std::string_view target, std::string_view name, std::string_view* value);
// The path of a request target, without the query.
std::string_view targetPath(std::string_view target);

// The 64-bit hash of the request's key; false when the key is absent (no
// such header, cookie or parameter): the balancer then picks at random.
bool requestHash(const config::HashKey& key, const std::vector<Header>& headers, std::string_view target,
                 std::string_view client_ip, uint64_t* hash);

// Adds `Set-Cookie: NAME=ID; Max-Age=TTL; Path=/; HttpOnly` to a serialised
// response head (which ends with the blank line).
void addStickyCookie(std::string& head, const config::StickyConfig& sticky, std::string_view id);

}  // namespace ballast
