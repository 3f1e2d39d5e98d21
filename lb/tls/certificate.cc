#include "lb/tls/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace ballast::tls {

std::string takeOpenSslError() {
  const unsigned long e = ERR_get_error();
  std::string text;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

std::string utcDate(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &parts);
  return buf;
}

namespace {

std::optional<int64_t> unixTime(const ASN1_TIME* t) {
  tm parts{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&parts));
}

// Opens a file for PEM reading; on failure sets `problem`.
BioPtr openPem(const std::string& path, const std::string& label, std::string& problem) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    const int err = errno;
    ERR_clear_error();
    problem = label + ": cannot read: " + std::strerror(err != 0 ? err : ENOENT);
  }
  return bio;
}

// Validity window of one certificate; `what` is "" for the leaf, or
// "chain certificate 2 " for an intermediate.
bool checkValidity(X509* x, int64_t now, const std::string& label, const std::string& what, std::string& problem) {
  const std::optional<int64_t> not_before = unixTime(X509_get0_notBefore(x));
  const std::optional<int64_t> not_after = unixTime(X509_get0_notAfter(x));
  if (!not_before || !not_after) {
    problem = label + ": " + what + "has an unreadable validity period";
    return false;
  }
  if (*not_after < now) {
    problem = label + ": " + what + "expired on " + utcDate(*not_after);
    return false;
  }
  if (*not_before > now) {
    problem = label + ": " + what + "not valid before " + utcDate(*not_before);
    return false;
  }
  return true;
}

}  // namespace

std::optional<Certificate> loadCertificate(const config::CertificateConfig& cfg, int64_t now, std::string& problem) {
  ERR_clear_error();
  Certificate c;
  c.label = cfg.cert;
  {
    BioPtr bio = openPem(cfg.cert_path, cfg.cert, problem);
    if (!bio) return std::nullopt;
    c.leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c.leaf) {
      ERR_clear_error();
      problem = cfg.cert + ": no PEM certificate in the file";
      return std::nullopt;
    }
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) c.chain.emplace_back(x);
    // The loop ends on "no start line" at the end of the file; anything
    // else is a damaged certificate after the first.
    const unsigned long e = ERR_peek_last_error();
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
      problem = cfg.cert + ": unreadable certificate after the first: " + takeOpenSslError();
      return std::nullopt;
    }
    ERR_clear_error();
  }
  {
    BioPtr bio = openPem(cfg.key_path, cfg.key, problem);
    if (!bio) return std::nullopt;
    c.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!c.key) {
      ERR_clear_error();
      problem = cfg.key + ": no PEM private key in the file (or it is encrypted)";
      return std::nullopt;
    }
  }
  if (X509_check_private_key(c.leaf.get(), c.key.get()) != 1) {
    ERR_clear_error();
    problem = cfg.cert + ": key does not match certificate (key " + cfg.key + ")";
    return std::nullopt;
  }
  if (!checkValidity(c.leaf.get(), now, cfg.cert, "", problem)) return std::nullopt;
  c.not_after = *unixTime(X509_get0_notAfter(c.leaf.get()));
  X509* child = c.leaf.get();
  for (size_t i = 0; i < c.chain.size(); ++i) {
    X509* issuer = c.chain[i].get();
    const std::string what = "chain certificate " + std::to_string(i + 2) + " ";
    if (X509_check_issued(issuer, child) != X509_V_OK || X509_verify(child, X509_get0_pubkey(issuer)) != 1) {
      ERR_clear_error();
      problem = cfg.cert + ": " + what + "did not issue certificate " + std::to_string(i + 1) +
                " (the chain must go leaf first, then each issuer)";
      return std::nullopt;
    }
    if (!checkValidity(issuer, now, cfg.cert, what, problem)) return std::nullopt;
    c.not_after = std::min(c.not_after, *unixTime(X509_get0_notAfter(issuer)));
    child = issuer;
  }

  bool has_ip = false;
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(c.leaf.get(), NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      if (n->type == GEN_DNS) {
        const ASN1_IA5STRING* s = n->d.dNSName;
        std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        c.dns_names.push_back(std::move(name));
      } else if (n->type == GEN_IPADD) {
        has_ip = true;
      }
    }
    GENERAL_NAMES_free(names);
  }
  ERR_clear_error();
  if (c.dns_names.empty() && !has_ip) {
    // Browsers and curl ignore the subject's common name.
    problem = cfg.cert + ": no DNS name or IP address in subjectAltName (clients ignore the common name)";
    return std::nullopt;
  }
  return c;
}

}  // namespace ballast::tls
