// Parsers for the unit-suffixed scalars in the config: durations ("250ms",
// "2s") and byte sizes ("512KiB", "10MB"). Both live here because they share
// one exact decimal parser; the loader owns the error messages, these only
// say yes (with a value) or no.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ballast::config {

// Accepts "<number><unit>" with unit ms, s, m or h, where number is digits
// with an optional fraction ("1.5s"), and the plain "0". The text must be
// exactly that: no sign, no spaces, lower-case units. Returns nullopt for
// anything else, for values that are not a whole number of milliseconds
// ("0.5ms") and for values that overflow. Zero is accepted here; callers
// that need a positive duration check that themselves.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

// The shortest exact spelling in the largest unit that divides it:
// 1500ms -> "1500ms", 2000ms -> "2s", 60000ms -> "1m", 0 -> "0ms".
// Negative values are formatted as "-" + the spelling of their magnitude.
// parseDuration(formatDuration(d)) == d for every d >= 0.
std::string formatDuration(std::chrono::milliseconds d);

// Accepts a plain byte count ("16384") or "<number><unit>" with unit
// B, KB/kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
// 1024); number may have a fraction when the result is a whole number of
// bytes ("1.5KiB" = 1536). Case-sensitive, no spaces, no sign. Returns
// nullopt for anything else and on uint64 overflow.
std::optional<uint64_t> parseSize(std::string_view text);

}  // namespace ballast::config
