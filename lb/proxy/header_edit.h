// A route's header edits for one direction (request to the backend, or
// response to the client), applied to a head ballast has already
// serialised. The head builders (lb/http) stay unaware of routes; a route
// without edits costs nothing.
//
// Order: every header named in `remove` or `set` is dropped, then `set`
// and `add` headers are appended. The loader refused names ballast writes
// itself (framing, hop-by-hop, Host) and values with control characters.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace ballast {

class HeaderEdits {
 public:
  HeaderEdits() = default;
  explicit HeaderEdits(const config::HeaderEditConfig& c);

  bool empty() const { return drop_.empty() && append_.empty(); }
  // `msg` starts with a head (start line, header lines, empty line) and may
  // go on with body bytes, which are kept. `scratch` is working space (its
  // capacity is reused); the edited message ends up in `msg`.
  void apply(std::string& msg, std::string& scratch) const;

 private:
  std::vector<std::string> drop_;  // lower-case names: remove + set
  std::string append_;             // "Name: value\r\n" lines: set then add
};

}  // namespace ballast
