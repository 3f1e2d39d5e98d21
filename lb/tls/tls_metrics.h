// Records a finished (or failed) server handshake into a listener's stats.
#pragma once

#include "lb/stats/tls_stats.h"
#include "lb/tls/tls_session.h"

namespace ballast::tls {

// `seconds`: from the first byte of the client hello to now. Success or
// Resumed with the negotiated protocol and cipher when the handshake is
// done; `failed_as` otherwise (Failure, Timeout or Closed).
void recordHandshake(TlsListenerStats& stats, const TlsSession& session, double seconds,
                     HandshakeResult failed_as = HandshakeResult::Failure);

}  // namespace ballast::tls
