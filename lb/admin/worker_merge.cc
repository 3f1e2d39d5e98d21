#include "lb/admin/worker_merge.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <locale>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "lb/base/json.h"
#include "lb/base/json_read.h"

namespace ballast {

namespace {

// ---------------------------------------------------------------------------
// /metrics
// ---------------------------------------------------------------------------

enum class GaugeRule : uint8_t { Sum, First, Min, Max };

struct GaugeEntry {
  std::string_view name;
  GaugeRule rule;
};

// Every gauge family lb/admin renders (metrics_render.cc, route_metrics.cc,
// journal_metrics.cc) and how its samples combine over workers. A gauge
// family not listed here is never combined: each worker's samples are kept
// with a worker="<index>" label. A new gauge belongs here (the unit test
// "every rendered gauge is in the table" fails until it is).
constexpr GaugeEntry kWorkerGauges[] = {
    // Sum: what each process holds on its own.
    {"ballast_client_connections", GaugeRule::Sum},       // by state: active, idle
    {"ballast_backend_active_requests", GaugeRule::Sum},  // requests in flight
    {"ballast_backend_connections", GaugeRule::Sum},      // upstream connections: active, idle
    {"ballast_tunnels_active", GaugeRule::Sum},
    {"ballast_queue_length", GaugeRule::Sum},
    {"ballast_route_rate_limit_keys", GaugeRule::Sum},  // entries over the workers' own tables
    {"ballast_notification_queue", GaugeRule::Sum},     // only worker 0 notifies
    {"process_resident_memory_bytes", GaugeRule::Sum},
    {"process_open_fds", GaugeRule::Sum},
    // First: state every worker holds alike (health comes from worker 0) or
    // only worker 0 knows.
    {"ballast_backend_up", GaugeRule::First},
    {"ballast_backend_state", GaugeRule::First},
    {"ballast_backend_weight_factor", GaugeRule::First},
    {"ballast_backend_override_stale", GaugeRule::First},
    {"ballast_pool_healthy_backends", GaugeRule::First},
    {"ballast_pool_backends", GaugeRule::First},
    {"ballast_pool_zone_backends", GaugeRule::First},
    {"ballast_pool_zone_available_backends", GaugeRule::First},
    {"ballast_pool_zone_spill_ratio", GaugeRule::First},  // follows from zone health, not from traffic
    {"ballast_config_hash", GaugeRule::First},
    {"ballast_build_info", GaugeRule::First},
    {"ballast_tls_certificate_expiry_timestamp_seconds", GaugeRule::First},
    {"ballast_discovery_members", GaugeRule::First},
    // Min: the oldest is the honest one (0 = "never" stays visible).
    {"process_start_time_seconds", GaugeRule::Min},
    {"ballast_config_last_reload_success_timestamp_seconds", GaugeRule::Min},
    {"ballast_discovery_last_success_timestamp_seconds", GaugeRule::Min},
    {"process_max_fds", GaugeRule::Min},  // a per-process limit: the tightest
    // Max: the newest failure, and a flag any worker raises.
    {"ballast_config_last_reload_failure_timestamp_seconds", GaugeRule::Max},
    {"ballast_backend_probe_traffic_disagreement", GaugeRule::Max},
    {"ballast_discovery_stale", GaugeRule::Max},
};

const GaugeEntry* gaugeRule(std::string_view family) {
  for (const GaugeEntry& e : kWorkerGauges) {
    if (e.name == family) return &e;
  }
  return nullptr;
}

// One worker's value of one series.
struct Value {
  int worker = 0;
  std::string text;   // as the worker wrote it
  double v = 0;       // parsed
  bool integral = false;  // text is a plain integer that fits int64 (summed exactly)
  int64_t i = 0;
};

struct Series {
  std::string name;    // sample name (with _bucket/_sum/_count)
  std::string labels;  // rendered, without braces; empty: none
  std::string group;   // labels without le/quantile: one histogram or summary
  bool quantile = false;
  std::vector<Value> values;  // worker order, at most one per worker
};

struct Family {
  std::string name;
  std::string help;  // raw text after "# HELP name "
  std::string type;  // empty: no # TYPE line seen
  bool has_help = false;
  bool per_worker = false;  // keep each worker's samples, with a worker label
  std::vector<Series> series;
  std::unordered_map<std::string, size_t> index;  // name{labels} -> series
};

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  std::string value;
  double v = 0;
  bool timestamp = false;
};

bool isBlank(char c) { return c == ' ' || c == '\t'; }

bool isNameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// A metric (colon: true) or label name at `i`; empty when there is none.
std::string_view readName(std::string_view s, size_t& i, bool colon) {
  const size_t start = i;
  while (i < s.size() && isNameChar(s[i], i == start, colon)) ++i;
  return s.substr(start, i - start);
}

void skipBlanks(std::string_view s, size_t& i) {
  while (i < s.size() && isBlank(s[i])) ++i;
}

// A sample value the way Go's ParseFloat (Prometheus) reads it: decimal or
// exponent, optional sign, NaN and Inf in any case.
bool parseValue(std::string_view t, double& v) {
  if (t.empty()) return false;
  std::string_view body = t;
  bool negative = false;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') return false;
  // from_chars takes "inf", "infinity" and "nan" in any case, and no hex
  // without chars_format::hex.
  auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || p != body.data() + body.size()) return false;
  if (negative) v = -v;
  return true;
}

bool parseInt64(std::string_view t, int64_t& out) {
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size();
}

// One sample line: name{label="value",...} value [timestamp]. Label values
// take the escapes \\, \" and \n only. False with `why` on anything else.
bool parseSample(std::string_view s, Sample& out, std::string& why) {
  size_t i = 0;
  const std::string_view name = readName(s, i, true);
  if (name.empty()) {
    why = "no metric name";
    return false;
  }
  out.name.assign(name);
  if (i < s.size() && s[i] == '{') {
    ++i;
    for (;;) {
      skipBlanks(s, i);
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
      const std::string_view lname = readName(s, i, false);
      if (lname.empty()) {
        why = "malformed label name";
        return false;
      }
      for (const auto& l : out.labels) {
        if (l.first == lname) {
          why = "label " + std::string(lname) + " twice";
          return false;
        }
      }
      skipBlanks(s, i);
      if (i >= s.size() || s[i] != '=') {
        why = "expected '=' after a label name";
        return false;
      }
      ++i;
      skipBlanks(s, i);
      if (i >= s.size() || s[i] != '"') {
        why = "expected '\"' before a label value";
        return false;
      }
      ++i;
      std::string value;
      bool closed = false;
      while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c != '\\') {
          value.push_back(c);
          continue;
        }
        if (i >= s.size()) break;
        const char e = s[i++];
        if (e == '\\' || e == '"') {
          value.push_back(e);
        } else if (e == 'n') {
          value.push_back('\n');
        } else {
          why = "unknown escape in a label value";
          return false;
        }
      }
      if (!closed) {
        why = "unterminated label value";
        return false;
      }
      out.labels.emplace_back(std::string(lname), std::move(value));
      skipBlanks(s, i);
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
      why = "expected ',' or '}' in the label set";
      return false;
    }
  }
  if (i >= s.size() || !isBlank(s[i])) {
    why = "expected a space before the value";
    return false;
  }
  skipBlanks(s, i);
  size_t start = i;
  while (i < s.size() && !isBlank(s[i])) ++i;
  out.value.assign(s.substr(start, i - start));
  if (!parseValue(out.value, out.v)) {
    why = "malformed value";
    return false;
  }
  skipBlanks(s, i);
  if (i < s.size()) {
    start = i;
    while (i < s.size() && !isBlank(s[i])) ++i;
    int64_t ts = 0;
    if (!parseInt64(s.substr(start, i - start), ts)) {
      why = "malformed timestamp";
      return false;
    }
    out.timestamp = true;
    skipBlanks(s, i);
    if (i < s.size()) {
      why = "text after the timestamp";
      return false;
    }
  }
  return true;
}

void appendLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void appendLabel(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out.push_back(',');
  out.append(name);
  out += "=\"";
  appendLabelValue(out, value);
  out.push_back('"');
}

// A number the way prometheus-cpp's TextSerializer writes it (classic
// locale, 16 significant digits, "Nan", "+Inf", "-Inf").
std::string formatDouble(double v) {
  if (std::isnan(v)) return "Nan";
  if (std::isinf(v)) return v < 0 ? "-Inf" : "+Inf";
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out.precision(std::numeric_limits<double>::max_digits10 - 1);
  out << v;
  return out.str();
}

bool nameIs(std::string_view sample, std::string_view family, std::string_view suffix) {
  return sample.size() == family.size() + suffix.size() && sample.substr(0, family.size()) == family &&
         sample.substr(family.size()) == suffix;
}

// Whether a sample named `sample` belongs to family `f` (after its type).
bool belongsTo(std::string_view sample, const Family& f) {
  if (f.type == "histogram") {
    return nameIs(sample, f.name, "_bucket") || nameIs(sample, f.name, "_sum") || nameIs(sample, f.name, "_count");
  }
  if (f.type == "summary") {
    return sample == f.name || nameIs(sample, f.name, "_sum") || nameIs(sample, f.name, "_count");
  }
  return sample == f.name;
}

bool knownType(std::string_view t) {
  return t == "counter" || t == "gauge" || t == "histogram" || t == "summary" || t == "untyped";
}

class MetricsMerger {
 public:
  explicit MetricsMerger(std::vector<std::string>* problems) : problems_(problems) {}

  void add(const WorkerDoc& w) {
    worker_ = w.index;
    cur_ = nullptr;
    bool timestamps = false;
    std::string_view body = w.body;
    if (body.empty()) {
      problem("empty /metrics body");
      return;
    }
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find('\n', pos);
      const bool complete = end != std::string_view::npos;
      if (!complete) end = body.size();
      const std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!complete) {
        // A worker that died mid-answer: the last line may be any prefix
        // of a real one ("process_start_time_seconds 17" parses), so it is
        // never used.
        problem("body cut short: line " + std::to_string(line_no) + " has no newline and is dropped");
        taintCurrent("a line of it was cut short");
        break;
      }
      if (line.empty()) continue;
      if (line[0] == '#') {
        comment(line, line_no);
        continue;
      }
      Sample s;
      std::string why;
      if (!parseSample(line, s, why)) {
        problem("line " + std::to_string(line_no) + " does not parse (" + why + "), dropped: " +
                std::string(line.substr(0, 120)));
        taintCurrent("a line of it did not parse");
        continue;
      }
      timestamps = timestamps || s.timestamp;
      sample(std::move(s), line_no);
    }
    if (timestamps) problem("sample timestamps dropped");
  }

  std::string render() {
    std::string out;
    out.reserve(64 * 1024);
    for (Family& f : families_) {
      for (const Series& se : f.series) sample_owner_.emplace(se.name, &f);
    }
    for (Family& f : families_) renderFamily(f, out);
    return out;
  }

 private:
  void problem(std::string what) {
    if (problems_) problems_->push_back("worker " + std::to_string(worker_) + ": " + std::move(what));
  }

  void taint(Family& f, const std::string& why) {
    if (!f.per_worker) {
      if (problems_) problems_->push_back(f.name + ": kept per worker (" + why + ")");
      f.per_worker = true;
    }
  }

  void taintCurrent(const std::string& why) {
    if (cur_ != nullptr) taint(*cur_, "worker " + std::to_string(worker_) + ": " + why);
  }

  Family& family(std::string_view name) {
    auto it = by_name_.find(std::string(name));
    if (it != by_name_.end()) return families_[it->second];
    by_name_.emplace(std::string(name), families_.size());
    families_.emplace_back();
    families_.back().name.assign(name);
    return families_.back();
  }

  void comment(std::string_view line, size_t line_no) {
    size_t i = 1;
    skipBlanks(line, i);
    const size_t kw_start = i;
    while (i < line.size() && !isBlank(line[i])) ++i;
    const std::string_view kw = line.substr(kw_start, i - kw_start);
    if (kw != "HELP" && kw != "TYPE") return;  // any other comment says nothing
    skipBlanks(line, i);
    const std::string_view name = readName(line, i, true);
    if (name.empty() || (i < line.size() && !isBlank(line[i]))) {
      problem("line " + std::to_string(line_no) + ": malformed # " + std::string(kw) + " line, dropped");
      return;
    }
    if (i < line.size()) ++i;  // the one space before the text
    const std::string_view rest = line.substr(i);
    Family& f = family(name);
    cur_ = &f;
    if (kw == "HELP") {
      if (!f.has_help) {
        f.help.assign(rest);
        f.has_help = true;
      }
      return;
    }
    std::string_view type = rest;
    while (!type.empty() && isBlank(type.front())) type.remove_prefix(1);
    while (!type.empty() && isBlank(type.back())) type.remove_suffix(1);
    if (!knownType(type)) {
      problem("line " + std::to_string(line_no) + ": unknown type '" + std::string(type) + "' for " + f.name);
      if (f.type.empty()) f.type = "untyped";
      taint(f, "unknown type");
      return;
    }
    if (f.type.empty()) {
      if (!f.series.empty()) {
        // Samples of this name arrived before any TYPE (another worker).
        taint(f, "samples without a # TYPE line");
      }
      f.type.assign(type);
    } else if (f.type != type) {
      problem(f.name + " is " + std::string(type) + " here but " + f.type + " in an earlier worker");
      taint(f, "its type differs between workers");
    }
  }

  // The family a sample named `name` belongs to when it does not follow
  // its own TYPE line: by its name, or by its name less a histogram or
  // summary suffix. Null when there is none yet.
  Family* owner(const std::string& name) {
    if (auto it = by_name_.find(name); it != by_name_.end()) return &families_[it->second];
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      auto it = by_name_.find(name.substr(0, name.size() - suffix.size()));
      if (it != by_name_.end() && belongsTo(name, families_[it->second])) return &families_[it->second];
    }
    return nullptr;
  }

  void sample(Sample s, size_t line_no) {
    Family* f = cur_ != nullptr && belongsTo(s.name, *cur_) ? cur_ : nullptr;
    if (f == nullptr) {
      f = owner(s.name);
      if (f == nullptr) {
        f = &family(s.name);
        problem("line " + std::to_string(line_no) + ": sample " + s.name + " without a # TYPE line");
      } else if (!belongsTo(s.name, *f)) {
        problem("line " + std::to_string(line_no) + ": sample " + s.name + " does not fit its family's type " +
                f->type + ", dropped");
        taint(*f, "worker " + std::to_string(worker_) + ": a sample of the wrong shape");
        return;
      }
      cur_ = f;
    }
    if (f->type.empty() || f->type == "untyped") f->per_worker = true;

    std::string labels;
    std::string group;
    bool quantile = false;
    bool has_le = false;
    for (const auto& [n, v] : s.labels) {
      appendLabel(labels, n, v);
      if (n == "le" && f->type == "histogram") {
        has_le = true;
        continue;
      }
      if (n == "quantile" && f->type == "summary" && s.name == f->name) {
        quantile = true;
        continue;
      }
      appendLabel(group, n, v);
    }
    if (f->type == "histogram" && nameIs(s.name, f->name, "_bucket") && !has_le) {
      taint(*f, "worker " + std::to_string(worker_) + ": a bucket without le");
    }
    std::string key = s.name;
    key.push_back('{');
    key += labels;
    auto [it, inserted] = f->index.emplace(std::move(key), f->series.size());
    if (inserted) {
      Series& se = f->series.emplace_back();
      se.name = std::move(s.name);
      se.labels = std::move(labels);
      se.group = std::move(group);
      se.quantile = quantile;
    }
    Series& se = f->series[it->second];
    if (!se.values.empty() && se.values.back().worker == worker_) {
      problem("line " + std::to_string(line_no) + ": series " + se.name + "{" + se.labels + "} twice, dropped");
      return;
    }
    Value& v = se.values.emplace_back();
    v.worker = worker_;
    v.v = s.v;
    v.integral = parseInt64(s.value, v.i);
    v.text = std::move(s.value);
  }

  // Histograms and summaries are summed only when every worker that has
  // one of them has all its series (the same buckets): a bucket missing in
  // one worker would make the merged buckets non-cumulative.
  void checkGroups(Family& f) {
    std::unordered_map<std::string, std::vector<int>> workers_of;
    for (const Series& se : f.series) {
      std::vector<int> ws;
      for (const Value& v : se.values) ws.push_back(v.worker);
      auto [it, inserted] = workers_of.emplace(se.group, ws);
      if (!inserted && it->second != ws) {
        taint(f, "its buckets differ between workers");
        return;
      }
      if (se.quantile) {
        taint(f, "quantiles do not add");
        return;
      }
    }
  }

  std::string combine(const Series& se, GaugeRule rule) const {
    const std::vector<Value>& vs = se.values;
    if (vs.size() == 1) return vs[0].text;
    switch (rule) {
      case GaugeRule::First: return vs[0].text;
      case GaugeRule::Min:
      case GaugeRule::Max: {
        const Value* best = nullptr;
        for (const Value& v : vs) {
          if (std::isnan(v.v)) continue;
          if (best == nullptr || (rule == GaugeRule::Min ? v.v < best->v : v.v > best->v)) best = &v;
        }
        return best != nullptr ? best->text : vs[0].text;
      }
      case GaugeRule::Sum: break;
    }
    bool exact = true;
    int64_t isum = 0;
    double dsum = 0;
    for (const Value& v : vs) {
      dsum += v.v;
      if (exact && (!v.integral || __builtin_add_overflow(isum, v.i, &isum))) exact = false;
    }
    return exact ? std::to_string(isum) : formatDouble(dsum);
  }

  void renderFamily(Family& f, std::string& out) {
    GaugeRule rule = GaugeRule::Sum;
    if (f.type == "gauge") {
      const GaugeEntry* e = gaugeRule(f.name);
      if (e != nullptr) {
        rule = e->rule;
      } else {
        f.per_worker = true;  // never a wrong sum
      }
    }
    if (!f.per_worker && (f.type == "histogram" || f.type == "summary")) checkGroups(f);
    if (f.has_help) out += "# HELP " + f.name + " " + f.help + "\n";
    if (!f.type.empty()) out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const Series& se : f.series) {
      if (sample_owner_[se.name] != &f) {
        // Only from malformed input (the same sample name in two families):
        // a name is written in one family block only.
        if (problems_) problems_->push_back(se.name + "{" + se.labels + "}: also in another family, dropped");
        continue;
      }
      if (!f.per_worker) {
        out += se.name;
        if (!se.labels.empty()) out += "{" + se.labels + "}";
        out.push_back(' ');
        out += combine(se, rule);
        out.push_back('\n');
        continue;
      }
      for (const Value& v : se.values) {
        std::string labels = se.labels;
        appendLabel(labels, "worker", std::to_string(v.worker));
        out += se.name + "{" + labels + "} " + v.text + "\n";
      }
    }
  }

  std::vector<std::string>* problems_;  // borrowed, may be null
  std::deque<Family> families_;         // order of first appearance; never moved (cur_ points in)
  std::unordered_map<std::string, size_t> by_name_;
  std::unordered_map<std::string, const Family*> sample_owner_;  // sample name -> the family that writes it
  Family* cur_ = nullptr;  // the family of the last HELP/TYPE line (or sample) of this body
  int worker_ = 0;
};

// ---------------------------------------------------------------------------
// /status
// ---------------------------------------------------------------------------

bool asU64(const JsonValue* v, uint64_t& out) {
  if (v == nullptr || !v->isNumber()) return false;
  const std::string& t = v->text;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size();
}

bool asDouble(const JsonValue* v, double& out) {
  if (v == nullptr || !v->isNumber()) return false;
  const std::string& t = v->text;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size();
}

// Digits after the point of a number literal (0 for integers; -1 with an
// exponent, which our writer never produces).
int fractionDigits(const std::string& t) {
  if (t.find_first_of("eE") != std::string::npos) return -1;
  const size_t dot = t.find('.');
  return dot == std::string::npos ? 0 : static_cast<int>(t.size() - dot - 1);
}

void setDouble(JsonValue& into, double v, int precision) {
  char tmp[64];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, std::clamp(precision, 0, 6));
  if (ec != std::errc() || !std::isfinite(v)) return;
  into.text.assign(tmp, p);
}

// into += from, for two numbers (exact for non-negative integers); a
// missing or non-numeric side leaves `into` as it is.
void addNumber(JsonValue* into, const JsonValue* from) {
  if (into == nullptr || from == nullptr || !into->isNumber() || !from->isNumber()) return;
  uint64_t a = 0;
  uint64_t b = 0;
  uint64_t sum = 0;
  if (asU64(into, a) && asU64(from, b) && !__builtin_add_overflow(a, b, &sum)) {
    into->text = std::to_string(sum);
    return;
  }
  double x = 0;
  double y = 0;
  if (!asDouble(into, x) || !asDouble(from, y)) return;
  setDouble(*into, x + y, std::max({fractionDigits(into->text), fractionDigits(from->text), 0}));
}

// into = max(into, from); null counts as "no value".
void maxNumber(JsonValue& into, const JsonValue& from) {
  double x = 0;
  double y = 0;
  if (!asDouble(&from, y)) return;
  if (!asDouble(&into, x) || y > x) into = from;
}

enum class Slots : uint8_t { Sum, Max };

void mergeSlots(JsonValue* into, const JsonValue* from, Slots how) {
  if (into == nullptr || from == nullptr || !into->isArray() || !from->isArray()) return;
  const size_t n = std::min(into->items.size(), from->items.size());
  for (size_t i = 0; i < n; ++i) {
    if (how == Slots::Sum) {
      addNumber(&into->items[i], &from->items[i]);
    } else {
      maxNumber(into->items[i], from->items[i]);
    }
  }
}

// The element of array `list` whose member `key` is the string `name`.
JsonValue* findByKey(JsonValue* list, const std::string& key, const std::string& name) {
  if (list == nullptr || !list->isArray()) return nullptr;
  for (JsonValue& item : list->items) {
    const JsonValue* k = item.find(key);
    if (k != nullptr && k->kind == JsonValue::Kind::String && k->text == name) return &item;
  }
  return nullptr;
}

constexpr const char* kBackendSums[] = {"active_requests", "active_connections", "idle_connections", "requests_1m",
                                        "errors_1m"};

// Adds one more worker's per-process numbers into the merged document.
void addWorkerStatus(JsonValue& merged, const JsonValue& doc) {
  const JsonValue* pools = doc.find("pools");
  if (pools == nullptr || !pools->isArray()) return;
  for (const JsonValue& p : pools->items) {
    const JsonValue* name = p.find("name");
    if (name == nullptr || name->kind != JsonValue::Kind::String) continue;
    JsonValue* mp = findByKey(merged.find("pools"), "name", name->text);
    if (mp == nullptr) continue;
    addNumber(mp->find("tunnels_active"), p.find("tunnels_active"));
    JsonValue* mq = mp->find("queue");
    const JsonValue* q = p.find("queue");
    if (mq != nullptr && q != nullptr && mq->isObject() && q->isObject()) {
      for (const char* k : {"length", "timeouts", "full"}) addNumber(mq->find(k), q->find(k));
    }
    JsonValue* mc = mp->find("charts");
    const JsonValue* c = p.find("charts");
    if (mc != nullptr && c != nullptr && mc->isObject() && c->isObject()) {
      mergeSlots(mc->find("requests"), c->find("requests"), Slots::Sum);
      mergeSlots(mc->find("errors"), c->find("errors"), Slots::Sum);
      mergeSlots(mc->find("p99_ms"), c->find("p99_ms"), Slots::Max);
    }
    const JsonValue* backends = p.find("backends");
    if (backends == nullptr || !backends->isArray()) continue;
    for (const JsonValue& b : backends->items) {
      const JsonValue* addr = b.find("address");
      if (addr == nullptr || addr->kind != JsonValue::Kind::String) continue;
      JsonValue* mb = findByKey(mp->find("backends"), "address", addr->text);
      if (mb == nullptr) continue;
      for (const char* k : kBackendSums) addNumber(mb->find(k), b.find(k));
      mergeSlots(mb->find("requests_15m"), b.find("requests_15m"), Slots::Sum);
    }
  }
}

// A worker's own totals for the "workers" array.
struct WorkerTotals {
  uint64_t backend[std::size(kBackendSums)] = {};
  uint64_t tunnels_active = 0;
  uint64_t queue_length = 0;
};

WorkerTotals totalsOf(const JsonValue& doc) {
  WorkerTotals t;
  const auto add = [](uint64_t& into, const JsonValue* v) {
    uint64_t n = 0;
    if (asU64(v, n)) into += n;
  };
  const JsonValue* pools = doc.find("pools");
  if (pools == nullptr || !pools->isArray()) return t;
  for (const JsonValue& p : pools->items) {
    add(t.tunnels_active, p.find("tunnels_active"));
    if (const JsonValue* q = p.find("queue")) add(t.queue_length, q->find("length"));
    const JsonValue* backends = p.find("backends");
    if (backends == nullptr || !backends->isArray()) continue;
    for (const JsonValue& b : backends->items) {
      for (size_t k = 0; k < std::size(kBackendSums); ++k) add(t.backend[k], b.find(kBackendSums[k]));
    }
  }
  return t;
}

void writeKey(JsonWriter& w, std::string_view k) {
  // Keys from a parsed document: escape them, unlike our own key names.
  std::string escaped;
  JsonWriter::appendEscaped(escaped, k);
  w.key(escaped);
}

void writeNumber(JsonWriter& w, const std::string& t) {
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  const int digits = fractionDigits(t);
  if (digits == 0 && parseInt64(t, i)) {
    w.num(i);
  } else if (digits == 0 && std::from_chars(t.data(), t.data() + t.size(), u).ec == std::errc()) {
    w.num(u);
  } else if (std::from_chars(t.data(), t.data() + t.size(), d).ec == std::errc()) {
    w.dbl(d, digits < 0 ? 6 : std::min(digits, 17));
  } else {
    w.null();
  }
}

void writeValue(JsonWriter& w, const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::Null: w.null(); return;
    case JsonValue::Kind::Bool: w.boolean(v.text == "true"); return;
    case JsonValue::Kind::Number: writeNumber(w, v.text); return;
    case JsonValue::Kind::String: w.str(v.text); return;
    case JsonValue::Kind::Array:
      w.beginArray();
      for (const JsonValue& item : v.items) writeValue(w, item);
      w.endArray();
      return;
    case JsonValue::Kind::Object:
      w.beginObject();
      for (const auto& [k, m] : v.members) {
        writeKey(w, k);
        writeValue(w, m);
      }
      w.endObject();
      return;
  }
}

bool boolMember(const JsonValue& doc, const char* key, bool fallback) {
  const JsonValue* v = doc.find(key);
  return v != nullptr && v->kind == JsonValue::Kind::Bool ? v->text == "true" : fallback;
}

std::string stringMember(const JsonValue& doc, const char* key) {
  const JsonValue* v = doc.find(key);
  return v != nullptr && v->kind == JsonValue::Kind::String ? v->text : std::string();
}

}  // namespace

std::string mergeMetrics(const std::vector<WorkerDoc>& workers, std::vector<std::string>* problems) {
  MetricsMerger m(problems);
  for (const WorkerDoc& w : workers) m.add(w);
  return m.render();
}

std::string mergeStatus(const std::vector<WorkerDoc>& workers, const std::string& extra) {
  std::vector<JsonValue> docs(workers.size());
  std::vector<std::string> errors(workers.size());
  const JsonValue* base = nullptr;
  for (size_t i = 0; i < workers.size(); ++i) {
    std::string error;
    if (!parseJson(workers[i].body, docs[i], error)) {
      errors[i] = "/status does not parse: " + error;
    } else if (!docs[i].isObject()) {
      errors[i] = "/status is not a JSON object";
    } else if (base == nullptr) {
      base = &docs[i];
    }
  }

  JsonValue merged;
  bool ready = base != nullptr;
  bool stopping = false;
  std::string ready_reason = base != nullptr ? stringMember(*base, "ready_reason")
                                             : "not ready: no worker's /status could be read";
  if (base != nullptr) {
    merged = *base;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (errors[i].empty() && &docs[i] != base) addWorkerStatus(merged, docs[i]);
    }
    for (size_t i = 0; i < workers.size(); ++i) {
      const std::string who = "worker " + std::to_string(workers[i].index) + ": ";
      if (!errors[i].empty()) {
        if (ready) ready_reason = "not ready: " + who + errors[i];
        ready = false;
        continue;
      }
      stopping = stopping || boolMember(docs[i], "stopping", false);
      if (ready && !boolMember(docs[i], "ready", false)) {
        ready = false;
        std::string reason = stringMember(docs[i], "ready_reason");
        constexpr std::string_view kPrefix = "not ready: ";
        if (reason.compare(0, kPrefix.size(), kPrefix) == 0) reason.erase(0, kPrefix.size());
        ready_reason = "not ready: " + who + (reason.empty() ? "not ready" : reason);
      }
    }
  }

  JsonWriter w;
  w.beginObject();
  bool wrote_ready = false;
  for (const auto& [k, v] : merged.members) {
    if (k == "workers" || k == "supervisor") continue;
    writeKey(w, k);
    if (k == "ready") {
      w.boolean(ready);
      wrote_ready = true;
    } else if (k == "ready_reason") {
      w.str(ready_reason);
    } else if (k == "stopping") {
      w.boolean(stopping);
    } else {
      writeValue(w, v);
    }
  }
  if (!wrote_ready) {
    w.boolean("ready", ready);
    w.str("ready_reason", ready_reason);
  }

  w.key("workers").beginArray();
  for (size_t i = 0; i < workers.size(); ++i) {
    w.beginObject();
    w.num("index", static_cast<int64_t>(workers[i].index));
    w.num("pid", static_cast<int64_t>(workers[i].pid));
    if (!errors[i].empty()) {
      w.str("error", errors[i]);
      w.endObject();
      continue;
    }
    const JsonValue& d = docs[i];
    w.boolean("ready", boolMember(d, "ready", false));
    w.boolean("stopping", boolMember(d, "stopping", false));
    w.key("uptime_seconds");
    const JsonValue* up = d.find("uptime_seconds");
    if (up != nullptr && up->isNumber()) {
      writeNumber(w, up->text);
    } else {
      w.null();
    }
    const WorkerTotals t = totalsOf(d);
    for (size_t k = 0; k < std::size(kBackendSums); ++k) w.num(kBackendSums[k], t.backend[k]);
    w.num("tunnels_active", t.tunnels_active);
    w.num("queue_length", t.queue_length);
    w.endObject();
  }
  w.endArray();

  if (!extra.empty()) {
    JsonValue sup;
    std::string error;
    w.key("supervisor");
    if (parseJson(extra, sup, error) && sup.isObject()) {
      writeValue(w, sup);
    } else {
      w.beginObject().str("error", error.empty() ? "not a JSON object" : "does not parse: " + error).endObject();
    }
  }
  w.endObject();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

}  // namespace ballast
