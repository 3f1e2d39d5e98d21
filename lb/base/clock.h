// Clocks. Durations use the monotonic clock (libuv's hrtime); what people
// read (log lines, /status) uses wall-clock time, formatted one way
// everywhere: ISO 8601 UTC with milliseconds, "2026-11-28T19:12:35.123Z".
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

namespace ballast {

// Nanoseconds on the monotonic clock.
inline uint64_t nowNs() { return uv_hrtime(); }

// Wall-clock Unix time in seconds (with fraction).
double wallSeconds();

// Appends `unix_seconds` as ISO 8601 UTC with milliseconds. Negative or
// non-finite values print as the epoch.
void appendIsoTime(std::string& out, double unix_seconds);
std::string isoTime(double unix_seconds);
// Appends the current wall-clock time; the date part is cached per second
// (this runs for every access-log line).
void appendIsoTimeNow(std::string& out);
// Writes the current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (kIsoTimeLen
// bytes, no terminator) at `out`; returns the end.
inline constexpr size_t kIsoTimeLen = 24;
char* writeIsoTimeNow(char* out);

}  // namespace ballast
