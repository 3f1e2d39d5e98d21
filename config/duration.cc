#include "config/duration.h"

#include <cstdint>
#include <limits>
#include <iterator>
#include <span>
#include <string>

namespace ballast::config {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t multiplier;
};

constexpr Unit kDurationUnits[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
};

constexpr Unit kSizeUnits[] = {
    {"", 1},
    {"B", 1},
    {"KB", 1000ULL},
    {"kB", 1000ULL},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"TB", 1000ULL * 1000 * 1000 * 1000},
    {"KiB", 1ULL << 10},
    {"MiB", 1ULL << 20},
    {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40},
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Parses "<digits>[.<digits>]<suffix>" with the suffix looked up in `units`
// and returns number * multiplier computed exactly in integers. Returns
// nullopt when the syntax is wrong, the suffix unknown, the result is not a
// whole number (a fraction finer than the unit allows) or it overflows.
std::optional<uint64_t> parseScaled(std::string_view text, std::span<const Unit> units) {
  size_t i = 0;
  uint64_t whole = 0;
  const size_t whole_start = i;
  while (i < text.size() && isDigit(text[i])) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, static_cast<uint64_t>(text[i] - '0'), &whole)) {
      return std::nullopt;
    }
    ++i;
  }
  if (i == whole_start) return std::nullopt;  // ".5s", "s", ""

  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const size_t frac_start = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    fraction = text.substr(frac_start, i - frac_start);
    if (fraction.empty()) return std::nullopt;  // "1.s"
    // Trailing zeros carry no value; dropping them keeps 10^digits in range
    // for spellings like "1.50000000000000000000s".
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  }

  const std::string_view suffix = text.substr(i);
  const Unit* unit = nullptr;
  for (const Unit& u : units) {
    if (u.suffix == suffix) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) return std::nullopt;

  uint64_t value = 0;
  if (__builtin_mul_overflow(whole, unit->multiplier, &value)) return std::nullopt;
  if (fraction.empty()) return value;

  // 10^19 does not fit in uint64; no unit here has 19 significant fraction digits.
  if (fraction.size() > 18) return std::nullopt;
  uint64_t numerator = 0;
  uint64_t denominator = 1;
  for (char c : fraction) {
    numerator = numerator * 10 + static_cast<uint64_t>(c - '0');
    denominator *= 10;
  }
  uint64_t scaled = 0;
  if (__builtin_mul_overflow(numerator, unit->multiplier, &scaled)) return std::nullopt;
  if (scaled % denominator != 0) return std::nullopt;
  if (__builtin_add_overflow(value, scaled / denominator, &value)) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text == "0") return std::chrono::milliseconds{0};
  const std::optional<uint64_t> ms = parseScaled(text, kDurationUnits);
  if (!ms) return std::nullopt;
  using Rep = std::chrono::milliseconds::rep;
  if (*ms > static_cast<uint64_t>(std::numeric_limits<Rep>::max())) return std::nullopt;
  return std::chrono::milliseconds{static_cast<Rep>(*ms)};
}

std::string formatDuration(std::chrono::milliseconds d) {
  const auto count = d.count();
  // Magnitude in unsigned so that the most negative value does not overflow.
  const uint64_t magnitude =
      count < 0 ? 0 - static_cast<uint64_t>(count) : static_cast<uint64_t>(count);
  std::string out = count < 0 ? "-" : "";
  if (magnitude != 0) {
    // Largest unit first, so 3600000ms prints as "1h" rather than "60m".
    for (auto it = std::rbegin(kDurationUnits); it != std::rend(kDurationUnits); ++it) {
      if (magnitude % it->multiplier == 0) {
        return out + std::to_string(magnitude / it->multiplier) + std::string(it->suffix);
      }
    }
  }
  return out + std::to_string(magnitude) + "ms";
}

std::optional<uint64_t> parseSize(std::string_view text) {
  return parseScaled(text, kSizeUnits);
}

}  // namespace ballast::config
