// Socket address formatting for logs, metrics labels and X-Forwarded-For.
#pragma once

#include <sys/socket.h>

#include <string>

namespace ballast {

// "127.0.0.1:8080" / "[::1]:8080". Empty string for unknown families.
std::string formatSockaddr(const sockaddr* sa);
// Address only ("127.0.0.1", "::1"), written into `out` (cleared first).
void formatIp(const sockaddr* sa, std::string& out);
// Same address and port (IPv4 or IPv6); false for other families.
bool sameSockaddr(const sockaddr* a, const sockaddr* b);

}  // namespace ballast
