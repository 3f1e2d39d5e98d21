#include "lb/stats/local_resources.h"

#include <uv.h>

#include "lb/base/log.h"

namespace ballast {

static_assert(kLocalResourceErrors[0] == UV_EMFILE && kLocalResourceErrors[1] == UV_ENFILE &&
              kLocalResourceErrors[2] == UV_ENOBUFS && kLocalResourceErrors[3] == UV_ENOMEM &&
              kLocalResourceErrors[4] == UV_EADDRNOTAVAIL);

namespace {

struct SiteLog {
  uint64_t last_log_ms = 0;
  uint64_t suppressed = 0;
  bool logged = false;
};

LocalResourceCounts g_counts{};
std::array<SiteLog, static_cast<size_t>(ResourceSite::kCount)> g_logs{};

}  // namespace

bool isLocalResourceError(int uv_err) {
  for (int e : kLocalResourceErrors) {
    if (e == uv_err) return true;
  }
  return false;
}

const char* toString(ResourceSite s) {
  switch (s) {
    case ResourceSite::Accept: return "accept";
    case ResourceSite::UpstreamConnect: return "upstream_connect";
    case ResourceSite::Probe: return "probe";
    case ResourceSite::kCount: break;
  }
  return "?";
}

void noteLocalResourceError(ResourceSite site, int uv_err, uint64_t now_ms, const char* detail) {
  const auto s = static_cast<size_t>(site);
  for (size_t i = 0; i < kLocalResourceErrors.size(); ++i) {
    if (kLocalResourceErrors[i] == uv_err) ++g_counts[s][i];
  }
  SiteLog& l = g_logs[s];
  if (l.logged && now_ms < l.last_log_ms + 1000) {
    ++l.suppressed;
    return;
  }
  auto& j = log().eventLine(LogLevel::Error, "local_resources_exhausted");
  j.str("site", toString(site)).str("error", uv_err_name(uv_err)).str("message", uv_strerror(uv_err));
  if (detail != nullptr) j.str("detail", detail);
  j.num("suppressed_since_last", l.suppressed);
  j.str("effect", "not counted against any backend; see ballast_local_resource_errors_total");
  log().emit(LogLevel::Error);
  l.logged = true;
  l.last_log_ms = now_ms;
  l.suppressed = 0;
}

const LocalResourceCounts& localResourceCounts() { return g_counts; }

}  // namespace ballast
