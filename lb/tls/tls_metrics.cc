#include "lb/tls/tls_metrics.h"

namespace ballast::tls {

void recordHandshake(TlsListenerStats& stats, const TlsSession& session, double seconds, HandshakeResult failed_as) {
  if (!session.handshakeDone()) {
    ++stats.handshakes[static_cast<size_t>(failed_as)];
    return;
  }
  const HandshakeResult r = session.resumed() ? HandshakeResult::Resumed : HandshakeResult::Success;
  ++stats.handshakes[static_cast<size_t>(r)];
  stats.handshake_duration.observe(seconds);
  stats.recordNegotiated(session.protocol(), session.cipher());
}

}  // namespace ballast::tls
