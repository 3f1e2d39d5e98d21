// A server certificate read from its PEM files and checked the way an
// operator needs before it serves: the key matches, each certificate of
// the chain is issued (and signed) by the next, none has expired or is not
// yet valid, and the leaf names something (subjectAltName DNS or IP).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "lb/tls/openssl_ptr.h"

namespace ballast::tls {

struct Certificate {
  std::string label;  // the cert path as written in the config (metric label, messages)
  X509Ptr leaf;
  std::vector<X509Ptr> chain;  // intermediates, in file order
  PKeyPtr key;
  // subjectAltName DNS names, lower-case ("*.example.com" kept as written).
  std::vector<std::string> dns_names;
  int64_t not_after = 0;   // unix seconds (the leaf's, or an earlier intermediate's)
};

// Reads and checks `cfg`'s files at unix time `now`. On failure returns
// nullopt and sets `problem` to one line naming the file as written:
// "certs/api.pem: key does not match certificate",
// "certs/old.pem: expired on 2026-01-01".
std::optional<Certificate> loadCertificate(const config::CertificateConfig& cfg, int64_t now, std::string& problem);

// "2026-01-01" for a unix time (UTC).
std::string utcDate(int64_t unix_seconds);

}  // namespace ballast::tls
