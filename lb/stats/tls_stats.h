// TLS statistics per proxy listener (ballast_tls_* metrics), kept by
// listener address as written in the config. An entry lives while its
// listener is configured; a reload that removes the listener removes it
// (and its series).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lb/stats/stats.h"

namespace ballast {

// Handshake outcome (ballast_tls_handshakes_total{result}).
enum class HandshakeResult : uint8_t {
  Success,  // a full handshake
  Resumed,  // a session resumed from a ticket
  Failure,  // protocol error, no shared cipher, bad client hello, ...
  Timeout,  // not finished within timeouts.client_header
  Closed,   // the client left before the handshake ended
  kCount
};
const char* handshakeResultName(HandshakeResult r);

struct TlsListenerStats {
  std::array<uint64_t, static_cast<size_t>(HandshakeResult::kCount)> handshakes{};
  Histogram handshake_duration{handshakeBuckets()};
  // Completed handshakes by "protocol cipher" (bounded by what the listener
  // allows: a handful of values).
  std::map<std::pair<std::string, std::string>, uint64_t> negotiated;
  struct CertificateExpiry {
    std::string cert;  // as written in the config
    double not_after = 0;  // unix seconds
  };
  std::vector<CertificateExpiry> certificates;  // replaced on every (re)load

  void recordNegotiated(std::string_view protocol, std::string_view cipher);
};

// Listener address (as written) -> its statistics.
std::map<std::string, TlsListenerStats, std::less<>>& tlsListenerStats();

}  // namespace ballast
