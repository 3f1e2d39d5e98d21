#include "lb/proxy/access_log.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "lb/base/clock.h"
#include "lb/base/raw_writer.h"
#include "lb/base/json.h"
#include "lb/base/log.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

constexpr char kCauses[] = {'C', 'c', 'S', 's', 'P', 'K', 'R'};
constexpr char kPhases[] = {'R', 'Q', 'C', 'H', 'D'};

// The access line is written with raw stores into a buffer sized up front
// for the worst case, instead of through JsonWriter: its keys are fixed, so
// each "," "key":" run is one constant copy, and strings that need no
// escaping (nearly all) are copied whole. Same output as JsonWriter.
class LineWriter : public RawWriter {
 public:
  using RawWriter::RawWriter;

  void escaped(std::string_view s) {
    if (plain(s)) {
      raw(s);
      return;
    }
    // Rare (quotes, control bytes, UTF-8): the general escaper, through a
    // scratch string that keeps its capacity.
    static std::string scratch;
    scratch.clear();
    JsonWriter::appendEscaped(scratch, s);
    raw(scratch);
  }
  // Fixed, 3 decimals (JsonWriter::dbl's default).
  void millis(double v) {
    if (v >= 0 && v < 1e12) {
      const auto thousandths = static_cast<uint64_t>(v * 1000.0 + 0.5);
      integer(thousandths / 1000);
      const auto frac = static_cast<unsigned>(thousandths % 1000);
      *p_++ = '.';
      *p_++ = static_cast<char>('0' + frac / 100);
      *p_++ = static_cast<char>('0' + (frac / 10) % 10);
      *p_++ = static_cast<char>('0' + frac % 10);
      return;
    }
    if (!std::isfinite(v)) {
      lit("null");
      return;
    }
    p_ = std::to_chars(p_, p_ + 48, v, std::chars_format::fixed, 3).ptr;
  }
  void time() { p_ = writeIsoTimeNow(p_); }

  // Worst-case bytes for a string of n bytes (a control byte becomes \u00XX).
  static size_t bound(std::string_view s) { return 6 * s.size(); }

 private:
  // No byte needs escaping: all in 0x20..0x7e, none '"' or '\\'. Eight
  // bytes at a time (the classic "has a byte less than n" and "has a zero
  // byte" word tricks, exact for existence), then the tail.
  static bool plain(std::string_view s) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    auto hasZero = [](uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
    const char* p = s.data();
    size_t n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t x;
      std::memcpy(&x, p, 8);
      if ((x & kHigh) != 0 || ((x - kOnes * 0x20) & ~x & kHigh) != 0 || hasZero(x ^ (kOnes * 0x7f)) ||
          hasZero(x ^ (kOnes * '"')) || hasZero(x ^ (kOnes * '\\')))
        return false;
    }
    for (; n > 0; ++p, --n) {
      const auto c = static_cast<unsigned char>(*p);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
  }
};

}  // namespace

size_t terminationSlot(Termination t) {
  for (size_t c = 0; c < sizeof kCauses; ++c) {
    for (size_t p = 0; p < sizeof kPhases; ++p) {
      if (kCauses[c] == t.cause && kPhases[p] == t.phase) return 1 + c * sizeof kPhases + p;
    }
  }
  return 0;
}

Termination terminationOfSlot(size_t slot) {
  if (slot == 0 || slot > sizeof kCauses * sizeof kPhases) return {};
  return Termination{kCauses[(slot - 1) / sizeof kPhases], kPhases[(slot - 1) % sizeof kPhases]};
}

void recordRequest(const AccessRecord& r) {
#ifndef BALLAST_NO_METRICS
  const size_t code = r.status >= 0 && r.status < 600 ? static_cast<size_t>(r.status) : 0;
  if (r.backend != nullptr) {
    BackendStats& bs = r.backend->stats();
    ++bs.responses[code];
    bs.requests_1m.add(r.now_ms);
    if (r.status >= 500) bs.errors_1m.add(r.now_ms);
  } else if (r.pool != nullptr) {
    ++r.pool->stats().local_responses[code];
  } else {
    ++processStats().unrouted_responses[code];
  }
  if (r.pool != nullptr) {
    r.pool->stats().request_duration.observe(r.duration_ms / 1000.0);
    r.pool->stats().series.record(r.now_ms, r.status >= 500, r.duration_ms / 1000.0);
  }
  if (r.backend != nullptr) r.backend->stats().requests_15m.add(r.now_ms);
  if (!r.response_complete) {
    TerminationCounts& t = r.pool != nullptr ? r.pool->stats().terminated : processStats().unrouted_terminated;
    ++t[terminationSlot(r.termination)];
  }
#endif
  Log& l = log();
  if (!l.accessEnabled()) return;
  const char term[2] = {r.termination.cause, r.termination.phase};
  const std::string_view pool = r.pool ? std::string_view(r.pool->name()) : std::string_view();
  const std::string_view backend = r.backend ? std::string_view(r.backend->name()) : std::string_view();
  const std::string_view termination(term, 2);
  // Constant text (keys, quotes, separators) is under 256 bytes; numbers
  // under 100 with the time.
  const size_t need = 512 + LineWriter::bound(r.request_id) + LineWriter::bound(r.client) +
                      LineWriter::bound(r.method) + LineWriter::bound(r.path) + LineWriter::bound(r.route) +
                      LineWriter::bound(pool) + LineWriter::bound(backend) + LineWriter::bound(termination);
  static std::string buffer;
  if (buffer.size() < need) buffer.resize(std::max(need, buffer.size() * 2));
  LineWriter w(buffer.data());
  w.lit("{\"time\":\"");
  w.time();
  w.lit("\",\"request_id\":\"");
  w.escaped(r.request_id);
  w.lit("\",\"client\":\"");
  w.escaped(r.client);
  w.lit("\",\"method\":\"");
  w.escaped(r.method);
  w.lit("\",\"path\":\"");
  w.escaped(r.path);
  w.lit("\",\"status\":");
  w.integer(static_cast<int64_t>(r.status));
  w.lit(",\"route\":\"");
  w.escaped(r.route);
  w.lit("\",\"pool\":\"");
  w.escaped(pool);
  w.lit("\",\"backend\":\"");
  w.escaped(backend);
  w.lit("\",\"duration_ms\":");
  w.millis(r.duration_ms);
  w.lit(",\"bytes_in\":");
  w.integer(r.bytes_in);
  w.lit(",\"bytes_out\":");
  w.integer(r.bytes_out);
  w.lit(",\"termination\":\"");
  w.escaped(termination);
  w.lit("\"}");
  l.access(std::string_view(buffer.data(), static_cast<size_t>(w.end() - buffer.data())));
}

}  // namespace ballast
