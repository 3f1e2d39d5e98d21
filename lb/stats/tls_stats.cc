#include "lb/stats/tls_stats.h"

namespace ballast {

const char* handshakeResultName(HandshakeResult r) {
  switch (r) {
    case HandshakeResult::Success: return "success";
    case HandshakeResult::Resumed: return "resumed";
    case HandshakeResult::Failure: return "failure";
    case HandshakeResult::Timeout: return "timeout";
    case HandshakeResult::Closed: return "closed";
    case HandshakeResult::kCount: break;
  }
  return "unknown";
}

void TlsListenerStats::recordNegotiated(std::string_view protocol, std::string_view cipher) {
  auto key = std::make_pair(std::string(protocol), std::string(cipher));
  ++negotiated[std::move(key)];
}

std::map<std::string, TlsListenerStats, std::less<>>& tlsListenerStats() {
  static std::map<std::string, TlsListenerStats, std::less<>> stats;
  return stats;
}

}  // namespace ballast
