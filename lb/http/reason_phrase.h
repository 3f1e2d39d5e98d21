// Standard reason phrases (RFC 9110 section 15 and the IANA status code
// registry), for the status lines ballast writes itself.
#pragma once

#include <string_view>

namespace ballast {

// The registered phrase, or the class name ("Client Error", ...) for an
// unregistered code of a known class.
std::string_view reasonPhrase(int status);

}  // namespace ballast
