// Local resource exhaustion (descriptors, buffers, ephemeral ports): the
// errors that say ballast, not a backend, is out of something. They are
// never counted against a backend (no probe failure, no outlier ejection);
// each is counted (ballast_local_resource_errors_total{site,error}) and
// logged as one `local_resources_exhausted` event per site per second.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ballast {

// EMFILE, ENFILE, ENOBUFS, ENOMEM, EADDRNOTAVAIL (libuv error codes).
bool isLocalResourceError(int uv_err);

enum class ResourceSite : uint8_t { Accept, UpstreamConnect, Probe, kCount };
const char* toString(ResourceSite s);  // "accept", "upstream_connect", "probe"

// The errors isLocalResourceError() accepts, in a fixed order (metric labels).
inline constexpr std::array<int, 5> kLocalResourceErrors = {-24 /*EMFILE*/, -23 /*ENFILE*/, -105 /*ENOBUFS*/,
                                                             -12 /*ENOMEM*/, -99 /*EADDRNOTAVAIL*/};

// Counts one error at `site` and logs it (at most once per site per second,
// with how many were suppressed meanwhile). `detail` says what was being
// done ("probe of 127.0.0.1:9001").
void noteLocalResourceError(ResourceSite site, int uv_err, uint64_t now_ms, const char* detail = nullptr);

// Counts per site and error (index into kLocalResourceErrors).
using LocalResourceCounts =
    std::array<std::array<uint64_t, kLocalResourceErrors.size()>, static_cast<size_t>(ResourceSite::kCount)>;
const LocalResourceCounts& localResourceCounts();

}  // namespace ballast
