// JsonWriter (the access/event log line builder) and the Log outputs. Every line
// produced is checked with a strict JSON parser that also rejects text that is
// not well-formed UTF-8 (RFC 8259 8.1), since jq and most log pipelines do.

#include <unistd.h>

#include <sys/time.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "lb/base/log.h"
#include "lb/proxy/access_log.h"

using ballast::JsonWriter;

namespace {
// A fresh flat object, as the access log begins each line.
JsonWriter& begin(JsonWriter& j) {
  j.clear();
  return j.beginObject();
}
}  // namespace

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7), or 0.
size_t utf8SeqLen(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [&](size_t k, unsigned lo, unsigned hi) { return k < s.size() && b(k) >= lo && b(k) <= hi; };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return in(i + 1, 0x80, 0xbf) ? 2 : 0;
  if (c == 0xe0) return in(i + 1, 0xa0, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
    return in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) ? 3 : 0;
  if (c == 0xed) return in(i + 1, 0x80, 0x9f) && in(i + 2, 0x80, 0xbf) ? 3 : 0;  // no surrogates
  if (c == 0xf0) return in(i + 1, 0x90, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3)
    return in(i + 1, 0x80, 0xbf) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
  if (c == 0xf4) return in(i + 1, 0x80, 0x8f) && in(i + 2, 0x80, 0xbf) && in(i + 3, 0x80, 0xbf) ? 4 : 0;
  return 0;
}

// Offset of the first byte that does not start a well-formed sequence, or npos.
size_t firstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8SeqLen(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

// A strict RFC 8259 parser for one JSON object. On success fills `fields`
// with each top-level member: strings decoded, other values as their raw text.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  bool parseObject(std::map<std::string, std::string>* fields, std::string* err) {
    if (size_t bad = firstInvalidUtf8(s_); bad != std::string_view::npos) {
      pos_ = bad;
      return fail(err, "not well-formed UTF-8");
    }
    ws();
    if (!eat('{')) return fail(err, "expected {");
    ws();
    if (!eat('}')) {
      for (;;) {
        ws();
        std::string key;
        if (!string(&key)) return fail(err, "bad key");
        ws();
        if (!eat(':')) return fail(err, "expected :");
        ws();
        std::string value;
        if (!valueAny(&value)) return fail(err, "bad value for key " + key);
        if (fields) (*fields)[key] = value;
        ws();
        if (eat(',')) continue;
        if (eat('}')) break;
        return fail(err, "expected , or }");
      }
    }
    ws();
    if (pos_ != s_.size()) return fail(err, "trailing bytes");
    return true;
  }

 private:
  bool fail(std::string* err, const std::string& what) {
    if (err) *err = what + " at offset " + std::to_string(pos_);
    return false;
  }
  bool eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool literal(std::string_view lit, std::string* out) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    if (out) *out = std::string(lit);
    return true;
  }
  static void appendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  bool hex4(uint32_t* v) {
    if (pos_ + 4 > s_.size()) return false;
    *v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[pos_++];
      *v <<= 4;
      if (c >= '0' && c <= '9') *v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') *v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') *v |= static_cast<uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  bool string(std::string* out) {
    if (!eat('"')) return false;
    out->clear();
    while (pos_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;  // raw control characters are not allowed
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (!eat('\\') || !eat('u') || !hex4(&lo) || lo < 0xdc00 || lo > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return false;
          }
          appendUtf8(out, cp);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool number(std::string* out) {
    size_t start = pos_;
    eat('-');
    if (eat('0')) {
    } else if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    } else {
      return false;
    }
    if (eat('.')) {
      size_t d = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ == d) return false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!eat('+')) eat('-');
      size_t d = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ == d) return false;
    }
    if (out) *out = std::string(s_.substr(start, pos_ - start));
    return true;
  }
  bool valueAny(std::string* out) {
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '"') return string(out);
    if (c == 't') return literal("true", out);
    if (c == 'f') return literal("false", out);
    if (c == 'n') return literal("null", out);
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    if (c == '{' || c == '[') {  // nested values are not produced by JsonWriter; accept minimal forms
      return false;
    }
    return false;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

bool isJson(std::string_view line, std::map<std::string, std::string>* fields = nullptr, std::string* err = nullptr) {
  return JsonParser(line).parseObject(fields, err);
}

// "" when `line` is one strict JSON object, else what is wrong and where.
std::string jsonError(std::string_view line) {
  std::string err;
  if (isJson(line, nullptr, &err)) return std::string();
  return err.empty() ? std::string("invalid") : err;
}

// Bytes as a C-style literal, so failures print non-ASCII input legibly.
std::string printable(std::string_view s) {
  std::string out;
  char tmp[8];
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
      out += tmp;
    }
  }
  return out;
}

// The JSON text JsonWriter::str produces for `value` (just the quoted string).
std::string strValue(std::string_view value) {
  JsonWriter j;
  begin(j).str("k", value).endObject();
  std::string_view v = j.view();
  // {"k":"..."}
  REQUIRE(v.substr(0, 5) == "{\"k\":");
  REQUIRE(v.back() == '}');
  return std::string(v.substr(5, v.size() - 6));
}

const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD

std::string tempPath(const char* tag) {
  char tmpl[] = "/tmp/ballast-log-test-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::string p = std::string(tmpl) + "-" + tag;
  std::remove(tmpl);
  return p;
}

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("the test's JSON validator rejects what it must", "[log]") {
  // Guard against a validator that accepts everything.
  for (std::string_view bad : {"", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":\"x\ny\"}", "{\"a\":\"\\x\"}",
                               "{\"a\":nan}", "{\"a\":inf}", "{\"a\":01}", "{\"a\":1.}", "{a:1}",
                               "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":1}x", "{\"a\":\"\\ud800\"}"}) {
    INFO(printable(bad));
    CHECK_FALSE(isJson(bad));
  }
  for (std::string_view good : {"{}", "{\"a\":1}", "{\"a\":-0.5e3,\"b\":\"\\u00e9\\n\",\"c\":null,\"d\":true}",
                                "{\"a\":\"\xc3\xa9\xf0\x9f\x98\x80\"}"}) {
    INFO(printable(good));
    CHECK(jsonError(good) == "");
  }
}

TEST_CASE("JsonWriter::str escapes per RFC 8259", "[log]") {
  struct Row {
    std::string in;
    std::string expected;  // JSON text including the quotes
  };
  const std::vector<Row> rows = {
      {"plain", "\"plain\""},
      {"", "\"\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"C:\\path\\x", "\"C:\\\\path\\\\x\""},
      {"a\nb", "\"a\\nb\""},
      {"a\rb", "\"a\\rb\""},
      {"a\tb", "\"a\\tb\""},
      {"\x01", "\"\\u0001\""},
      {"\x1f", "\"\\u001f\""},
      {"\x7f", "\"\\u007f\""},
      {std::string("a\0b", 3), "\"a\\u0000b\""},
      {"\b\f", "\"\\u0008\\u000c\""},
      {"/path?q=1&x=<y>", "\"/path?q=1&x=<y>\""},  // no needless escapes
      {"\"\\\n", "\"\\\"\\\\\\n\""},
  };
  for (const auto& row : rows) {
    INFO(printable(row.in));
    std::string got = strValue(row.in);
    CHECK(got == row.expected);
    // And it decodes back to the input.
    std::map<std::string, std::string> f;
    CHECK(jsonError("{\"k\":" + got + "}") == "");
    REQUIRE(isJson("{\"k\":" + got + "}", &f));
    CHECK(f["k"] == row.in);
  }
}

TEST_CASE("JsonWriter::str keeps valid UTF-8 and replaces invalid bytes with U+FFFD", "[log]") {
  struct Row {
    const char* name;
    std::string in;
    std::string expected;  // decoded string value
  };
  const std::string R = kReplacement;
  const std::vector<Row> rows = {
      {"2-byte", "caf\xc3\xa9", "caf\xc3\xa9"},
      {"3-byte", "\xe2\x82\xac 5", "\xe2\x82\xac 5"},
      {"4-byte", "\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},
      {"highest scalar U+10FFFF", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
      {"U+FFFD itself", R, R},
      {"mixed", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"},
      {"lone 0xff", "a\xff" "b", "a" + R + "b"},
      {"lone continuation", "\x80", R},
      {"overlong lead 0xc0", "\xc0\xaf", R + R},
      {"0xc1", "\xc1\x81", R + R},
      {"truncated 2-byte at end", "x\xc3", "x" + R},
      {"truncated 3-byte then ASCII", "\xe2\x82" "A", R + R + "A"},
      {"truncated 4-byte at end", "\xf0\x9f\x98", R + R + R},
      {"0xf5 lead", "\xf5\x80\x80\x80", R + R + R + R},
      {"invalid next to an escape", "\"\xff\n", "\"" + R + "\n"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    std::string got = strValue(row.in);
    std::map<std::string, std::string> f;
    CHECK(jsonError("{\"k\":" + got + "}") == "");
    REQUIRE(isJson("{\"k\":" + got + "}", &f));
    CHECK(printable(f["k"]) == printable(row.expected));
  }
}

// Regression: a check of the lead byte's range and of 10xxxxxx continuation
// bytes alone lets through sequences that are not well-formed UTF-8 (Unicode
// Table 3-7): UTF-16 surrogates, overlong 3- and 4-byte forms, and code
// points above U+10FFFF. Strict JSON consumers (jq, Python's json on bytes)
// reject such a line, so they must become U+FFFD.
TEST_CASE("JsonWriter::str replaces ill-formed sequences that pass a lead-byte check", "[log]") {
  struct Row {
    const char* name;
    std::string in;
  };
  const std::vector<Row> rows = {
      {"surrogate U+D800 (ED A0 80)", "a\xed\xa0\x80z"},
      {"surrogate U+DFFF (ED BF BF)", "a\xed\xbf\xbfz"},
      {"overlong 3-byte '/' (E0 80 AF)", "a\xe0\x80\xafz"},
      {"overlong 4-byte (F0 80 80 AF)", "a\xf0\x80\x80\xafz"},
      {"above U+10FFFF (F4 90 80 80)", "a\xf4\x90\x80\x80z"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    std::string got = strValue(row.in);
    CHECK(jsonError("{\"k\":" + got + "}") == "");
    INFO("produced " << printable(got));
    CHECK(got.find(kReplacement) != std::string::npos);
    CHECK(got.front() == '"');
    CHECK(got.substr(0, 2) == "\"a");
    CHECK(got.substr(got.size() - 2) == "z\"");
  }
}

TEST_CASE("JsonWriter numbers, booleans, null and member order", "[log]") {
  JsonWriter j;
  begin(j)
      .str("s", "x")
      .num("i", 42)
      .num("neg", -7)
      .num("i64min", std::numeric_limits<int64_t>::min())
      .num("i64max", std::numeric_limits<int64_t>::max())
      .num("u64max", std::numeric_limits<uint64_t>::max())
      .num("zero", uint64_t{0})
      .dbl("ms", 1.5)
      .dbl("ms0", 2.0, 0)
      .dbl("small", 0.0004)
      .dbl("negd", -12.3456, 2)
      .boolean("t", true)
      .boolean("f", false)
      .null("n")
      .endObject();
  CHECK(j.view() ==
        "{\"s\":\"x\",\"i\":42,\"neg\":-7,\"i64min\":-9223372036854775808,\"i64max\":9223372036854775807,"
        "\"u64max\":18446744073709551615,\"zero\":0,\"ms\":1.500,\"ms0\":2,\"small\":0.000,\"negd\":-12.35,"
        "\"t\":true,\"f\":false,\"n\":null}");
  CHECK(jsonError(j.view()) == "");

  // begin() starts a fresh object: no leftover members, no leading comma.
  begin(j).num("a", 1).endObject();
  CHECK(j.view() == "{\"a\":1}");
  begin(j).endObject();
  CHECK(j.view() == "{}");
  CHECK(isJson(j.view()));
}

// Regression: std::to_chars writes "nan", "inf" and "-inf" for non-finite
// values, which are not JSON; a duration from a bad clock or a division by
// zero must not corrupt the access log line.
TEST_CASE("JsonWriter::dbl never produces invalid JSON for non-finite values", "[log]") {
  for (double v : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    INFO(v);
    JsonWriter j;
    begin(j).dbl("d", v).endObject();
    INFO("produced " << j.view());
    CHECK(jsonError(j.view()) == "");
  }
}

TEST_CASE("JsonWriter::time is current UTC, ISO 8601 with milliseconds", "[log]") {
  const std::regex re(R"(^\{"time":"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z"\}$)");
  // gettimeofday, like JsonWriter: time() may read a coarser clock that lags.
  auto nowMs = [] {
    timeval tv{};
    gettimeofday(&tv, nullptr);
    return static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
  };
  JsonWriter j;
  for (int i = 0; i < 60; ++i) {
    int64_t before = nowMs();
    begin(j).time("time").endObject();
    int64_t after = nowMs();
    std::string line(j.view());
    INFO(line);
    std::smatch m;
    REQUIRE(std::regex_match(line, m, re));
    CHECK(jsonError(line) == "");
    tm t{};
    t.tm_year = std::stoi(m[1]) - 1900;
    t.tm_mon = std::stoi(m[2]) - 1;
    t.tm_mday = std::stoi(m[3]);
    t.tm_hour = std::stoi(m[4]);
    t.tm_min = std::stoi(m[5]);
    t.tm_sec = std::stoi(m[6]);
    // timegm: the stamp must be UTC, not local time; to the millisecond.
    int64_t stamped = static_cast<int64_t>(timegm(&t)) * 1000 + std::stoi(m[7]);
    CHECK(stamped >= before);
    CHECK(stamped <= after);
    // Sleep a varying number of ms so the millisecond digits vary, and cross
    // at least one second boundary in all (the seconds part is cached).
    usleep(static_cast<useconds_t>((i % 7) * 1000 + (i % 20 == 19 ? 300000 : 0)));
  }
}

TEST_CASE("JsonWriter: every produced line is JSON, whatever bytes the strings hold", "[log]") {
  // Random bytes biased towards UTF-8 lead/continuation bytes and controls;
  // the fixed seed makes a failure repeatable.
  std::mt19937 rng(12345);
  const unsigned char interesting[] = {'"', '\\', '\n', '\r', '\t', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2,
                                       0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a', 0xa0, 0x9f, 0x90, 0x8f};
  JsonWriter j;
  int invalid = 0;
  std::string first_bad;
  for (int iter = 0; iter < 5000; ++iter) {
    std::string s;
    size_t len = rng() % 24;
    for (size_t k = 0; k < len; ++k) {
      s.push_back(rng() % 2 ? static_cast<char>(interesting[rng() % sizeof interesting])
                            : static_cast<char>(rng() % 256));
    }
    begin(j).time("time").str("path", s).num("status", 200).dbl("ms", 0.25).str("tail", s).endObject();
    std::string err = jsonError(j.view());
    if (!err.empty() && invalid++ == 0) first_bad = printable(s) + " -> " + printable(j.view()) + ": " + err;
  }
  INFO("first failing input " << first_bad);
  CHECK(invalid == 0);
}

TEST_CASE("Log writes event and access lines as JSON to files, filtered by level", "[log]") {
  std::string access_path = tempPath("access");
  std::string events_path = tempPath("events");
  ballast::LogOptions cfg;
  cfg.level = ballast::LogLevel::Info;
  cfg.access = access_path;
  cfg.events = events_path;
  std::string err;
  ballast::Log& log = ballast::log();
  REQUIRE(log.configure(cfg, &err));
  CHECK(err.empty());
  CHECK(log.accessEnabled());
  CHECK(log.enabled(ballast::LogLevel::Info));
  CHECK(log.enabled(ballast::LogLevel::Error));
  CHECK_FALSE(log.enabled(ballast::LogLevel::Debug));

  ballast::logEvent(ballast::LogLevel::Info, "started", "hello \"world\"\n");
  ballast::logEvent(ballast::LogLevel::Debug, "too_verbose");  // filtered out
  ballast::log().eventLine(ballast::LogLevel::Warn, "custom").num("n", 3).str("bad", "\xff");
  ballast::log().emit(ballast::LogLevel::Warn);
  JsonWriter a;
  begin(a).str("method", "GET").num("status", 200).endObject();
  log.access(a.view());
  log.flush();

  auto events = readLines(events_path);
  REQUIRE(events.size() == 2);
  const std::regex time_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::map<std::string, std::string> f;
  REQUIRE(isJson(events[0], &f, &err));
  CHECK(std::regex_match(f["time"], time_re));
  CHECK(f["level"] == "info");
  CHECK(f["event"] == "started");
  CHECK(f["message"] == "hello \"world\"\n");
  CHECK(events[0].rfind("{\"time\":", 0) == 0);  // time first

  f.clear();
  REQUIRE(isJson(events[1], &f, &err));
  CHECK(f["level"] == "warn");
  CHECK(f["event"] == "custom");
  CHECK(f["n"] == "3");
  CHECK(f["bad"] == kReplacement);

  auto access = readLines(access_path);
  REQUIRE(access.size() == 1);
  CHECK(access[0] == "{\"method\":\"GET\",\"status\":200}");

  // Unopenable path: configure fails, says why, and keeps the old outputs.
  ballast::LogOptions bad = cfg;
  bad.access = "/nonexistent-dir-for-ballast-test/access.log";
  err.clear();
  CHECK_FALSE(log.configure(bad, &err));
  CHECK(err.find("/nonexistent-dir-for-ballast-test/access.log") != std::string::npos);
  CHECK(log.accessEnabled());

  // Leave the process-wide log quiet for the other tests.
  ballast::LogOptions off;
  off.access = "off";
  off.events = "off";
  REQUIRE(log.configure(off, &err));
  CHECK_FALSE(log.accessEnabled());
  std::remove(access_path.c_str());
  std::remove(events_path.c_str());
}

TEST_CASE("levelName", "[log]") {
  CHECK(ballast::levelName(ballast::LogLevel::Trace) == "trace");
  CHECK(ballast::levelName(ballast::LogLevel::Debug) == "debug");
  CHECK(ballast::levelName(ballast::LogLevel::Info) == "info");
  CHECK(ballast::levelName(ballast::LogLevel::Warn) == "warn");
  CHECK(ballast::levelName(ballast::LogLevel::Error) == "error");
}

TEST_CASE("the access line (written without JsonWriter) equals JsonWriter's, whatever the strings hold", "[log]") {
  std::string access_path = tempPath("access-fast");
  ballast::LogOptions cfg;
  cfg.access = access_path;
  cfg.events = "off";
  std::string err;
  ballast::Log& log = ballast::log();
  REQUIRE(log.configure(cfg, &err));

  std::mt19937 rng(42);
  auto randomBytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  };
  struct Case {
    std::string id, client, method, path, route;
    int status;
    double ms;
    uint64_t in, out;
    char cause, phase;
  };
  std::vector<Case> cases = {
      {"abc123", "127.0.0.1:4242", "GET", "/steady", "", 200, 0.25, 0, 512, '-', '-'},
      {"r-1", "[::1]:80", "POST", "/a\"b\\c\x01\x1f\x7f", "api", 502, 1234.5678, 10240, 0, 'S', 'H'},
      {"r-2", "10.0.0.1:1", "GET", "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80", "r", 499, 0.0004, 1, 2, 'C', 'D'},
      {"r-3", "10.0.0.1:1", "GET", "/bad\xff\xc0\xaf\xed\xa0\x80", "r", 431, 0, 0, 0, 'P', 'R'},
      {"r-4", "10.0.0.1:1", "GET", std::string(9000, 'x') + "\n", "long", 414, 99999.9994, 1, 1, 'c', 'R'},
      {"r-5", "10.0.0.1:1", "GET", "/nan", "", -1, std::numeric_limits<double>::quiet_NaN(), 0, 0, 'K', 'C'},
      {"r-6", "10.0.0.1:1", "GET", "/huge", "", 200, 2e12, UINT64_MAX, 0, 'S', 'D'},
  };
  // One byte that needs escaping (or is not ASCII) at every position of a
  // 20-byte path: the word-at-a-time check must see it in the words and the tail.
  for (char special : {'\x00', '\x1f', '\x7f', '\x80', '"', '\\', '\xff', '\x20', '\x7e'}) {
    for (size_t at = 0; at < 20; ++at) {
      std::string path(20, 'a');
      path[at] = special;
      cases.push_back({"id", "c", "GET", path, "", 200, 1, 0, 0, 'S', 'D'});
    }
  }
  for (int i = 0; i < 50; ++i)
    cases.push_back({randomBytes(8), randomBytes(12), randomBytes(4), randomBytes(rng() % 300), randomBytes(rng() % 20),
                     static_cast<int>(rng() % 600), static_cast<double>(rng() % 10000000) / 1000.0, rng(), rng(), 'S',
                     'D'});
  for (const Case& c : cases) {
    ballast::AccessRecord r;
    r.request_id = c.id;
    r.client = c.client;
    r.method = c.method;
    r.path = c.path;
    r.route = c.route;
    r.status = c.status;
    r.duration_ms = c.ms;
    r.bytes_in = c.in;
    r.bytes_out = c.out;
    r.termination = ballast::Termination{c.cause, c.phase};
    ballast::recordRequest(r);
  }
  log.flush();
  auto lines = readLines(access_path);
  REQUIRE(lines.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const char term[2] = {c.cause, c.phase};
    JsonWriter want;
    want.beginObject()
        .str("request_id", c.id)
        .str("client", c.client)
        .str("method", c.method)
        .str("path", c.path)
        .num("status", c.status)
        .str("route", c.route)
        .str("pool", "")
        .str("backend", "")
        .dbl("duration_ms", c.ms)
        .num("bytes_in", c.in)
        .num("bytes_out", c.out)
        .str("termination", std::string_view(term, 2))
        .endObject();
    // The time differs by when it was written: compare it apart.
    const std::string& got = lines[i];
    const std::string prefix = "{\"time\":\"";
    REQUIRE(got.rfind(prefix, 0) == 0);
    const std::string time = got.substr(prefix.size(), 24);
    CHECK(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    INFO("case " << i);
    CHECK(got.substr(prefix.size() + 24 + 2) == std::string(want.view()).substr(1));
    CHECK(isJson(got, nullptr, &err));
  }
  ballast::LogOptions off;
  off.access = "off";
  off.events = "off";
  REQUIRE(log.configure(off, &err));
  std::remove(access_path.c_str());
}
