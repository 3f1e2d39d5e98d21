// YAML -> Config. The shape of this file: one Loader per document, one
// load*() method per section. Each method checks types and keys itself and
// records errors instead of throwing, so a single run reports everything
// that is wrong with a file. Cross-section rules (route -> pool names,
// admin vs listen addresses, default routes) run after all sections.

#include "config/config_loader.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <map>
#include <sstream>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "config/duration.h"

namespace ballast::config {

std::string ConfigError::format() const {
  std::string out = file;
  if (line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

namespace {

constexpr std::string_view kDefaultListen = "127.0.0.1:8080";
constexpr std::string_view kDefaultAdminListen = "127.0.0.1:9100";
constexpr uint32_t kMinHeaderBytes = 1024;
constexpr uint32_t kMaxHeaderBytes = 1024 * 1024;
constexpr uint32_t kMaxWeight = 1000;
constexpr int64_t kMaxBackendConnections = 1000000;
constexpr int64_t kMaxQueueSize = 1000000;
constexpr int64_t kMaxRiseFall = 100;
constexpr int64_t kMaxJitterPercent = 50;
constexpr int64_t kMaxRetryAttempts = 10;
constexpr int kMinStatus = 100;
constexpr long kMaxWorkers = 64;
constexpr int kMaxStatus = 599;

constexpr std::string_view kRetryConditionsAllowed = "connect_failure, reset, timeout, 502, 503, 504";
constexpr std::pair<std::string_view, RetryOn> kRetryConditions[] = {
    {"connect_failure", RetryOn::ConnectFailure},
    {"reset", RetryOn::Reset},
    {"timeout", RetryOn::Timeout},
    {"502", RetryOn::Status502},
    {"503", RetryOn::Status503},
    {"504", RetryOn::Status504},
};

std::string childPath(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

// The longest piece of the user's text echoed in a message: a key or value
// of a megabyte must not make a megabyte of error text.
constexpr size_t kMaxEchoBytes = 100;

// `s` cut to at most `max` bytes plus "...", at a UTF-8 character boundary.
std::string shortened(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string quoted(std::string_view s) {
  return "\"" + shortened(s, kMaxEchoBytes) + "\"";
}

// "4 MiB", "64 KiB" or "1000 bytes": limits as an operator would write them.
std::string formatBytes(uint64_t n) {
  constexpr uint64_t kKiB = 1024;
  if (n >= kKiB * kKiB && n % (kKiB * kKiB) == 0) return std::to_string(n / (kKiB * kKiB)) + " MiB";
  if (n >= kKiB && n % kKiB == 0) return std::to_string(n / kKiB) + " KiB";
  return std::to_string(n) + " bytes";
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpaceOrControl(unsigned char c) { return c <= ' ' || c == 0x7f; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Optimal string alignment distance: Levenshtein plus adjacent
// transpositions, so "wieght" is one edit from "weight".
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Strict integer: optional '-', then digits, nothing else. nullopt on
// syntax errors and on int64 overflow.
std::optional<int64_t> parseInteger(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (!isDigit(c)) return std::nullopt;
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, c - '0', &value)) {
      return std::nullopt;
    }
  }
  return negative ? -value : value;
}

// Splits `text` ("host:port" or "[v6]:port") and resolves the host. Fills
// `out` and returns an empty string on success, the error message
// otherwise. Port 0 is accepted only with `allow_port_zero` (listeners bind
// an ephemeral port; a backend on port 0 cannot be reached).
std::string resolveAddress(std::string_view text, bool allow_port_zero, Address& out) {
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return "expected host:port";
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return "expected host:port";
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "expected host:port (write IPv6 addresses in brackets, e.g. [::1]:8080)";
    }
  }
  if (host.empty() || port.empty() || !std::all_of(port.begin(), port.end(), isDigit)) {
    return "expected host:port";
  }
  // More than five digits cannot be a port; checking the length first keeps
  // the conversion below from overflowing.
  const std::optional<int64_t> port_number = port.size() <= 5 ? parseInteger(port) : std::nullopt;
  if (!port_number || *port_number > 65535 || (*port_number == 0 && !allow_port_zero)) {
    return "port out of range";
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // A bracketed host is an IPv6 literal by definition: never ask DNS.
  hints.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
  const std::string host_text(host);
  const std::string port_text = std::to_string(*port_number);
  addrinfo* results = nullptr;
  const int rc = getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &results);
  if (rc != 0 || results == nullptr) {
    if (results != nullptr) freeaddrinfo(results);
    if (bracketed) return "invalid IPv6 address " + quoted(host);
    return "cannot resolve host " + quoted(host) + ": " + gai_strerror(rc);
  }
  const addrinfo& first = *results;
  if (bracketed && first.ai_family != AF_INET6) {
    freeaddrinfo(results);
    return "invalid IPv6 address " + quoted(host);
  }
  out = Address{};
  out.text = std::string(text);
  out.host = host_text;
  out.port = static_cast<uint16_t>(*port_number);
  std::memcpy(&out.addr, first.ai_addr, first.ai_addrlen);
  out.addr_len = first.ai_addrlen;
  freeaddrinfo(results);
  return {};
}

// Family, port, address and (IPv6) scope as one string, so duplicate checks
// over many addresses are map look-ups rather than comparisons of every
// pair. "localhost:80" and "127.0.0.1:80" get the same key. Empty for other
// families, which never count as the same endpoint.
std::string endpointKey(const Address& a) {
  std::string key(1, static_cast<char>(a.addr.ss_family));
  const auto append = [&key](const void* p, size_t n) { key.append(static_cast<const char*>(p), n); };
  if (a.addr.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a.addr);
    append(&x.sin_port, sizeof(x.sin_port));
    append(&x.sin_addr, sizeof(x.sin_addr));
  } else if (a.addr.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a.addr);
    append(&x.sin6_port, sizeof(x.sin6_port));
    append(&x.sin6_scope_id, sizeof(x.sin6_scope_id));
    append(&x.sin6_addr, sizeof(x.sin6_addr));
  } else {
    return {};
  }
  return key;
}

bool sameEndpoint(const Address& a, const Address& b) {
  const std::string key = endpointKey(a);
  return !key.empty() && key == endpointKey(b);
}

// 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: reachable from this host only.
bool isLoopback(const Address& a) {
  if (a.addr.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a.addr);
    return (ntohl(x.sin_addr.s_addr) >> 24) == 127;
  }
  if (a.addr.ss_family == AF_INET6) {
    const in6_addr& x = reinterpret_cast<const sockaddr_in6&>(a.addr).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&x)) return true;
    return IN6_IS_ADDR_V4MAPPED(&x) && x.s6_addr[12] == 127;
  }
  return false;
}

// What readFile() found.
struct FileRead {
  int error = 0;           // an errno value; 0 when the file was read
  bool too_large = false;  // over the limit: the contents are incomplete
  uint64_t size = 0;       // with too_large: the file's size, 0 when unknown (not a regular file)
};

// Reads `path` into `out`, but never more than `max_bytes` of it. (Defined
// further down, next to loadConfigFile.)
FileRead readFile(const std::string& path, size_t max_bytes, std::string& out);

// "<what> is N bytes; the limit is L", or "is over the limit of L" when N is
// unknown.
std::string tooLargeMessage(std::string_view what, const FileRead& read, size_t limit) {
  if (read.size == 0) return std::string(what) + " is over the limit of " + formatBytes(limit);
  return std::string(what) + " is " + std::to_string(read.size) + " bytes; the limit is " + formatBytes(limit);
}

// Defaults are literals we control; a failure here is a programming error,
// so it surfaces as an empty Address rather than a user-facing message.
Address defaultAddress(std::string_view text) {
  Address out;
  resolveAddress(text, /*allow_port_zero=*/true, out);
  return out;
}

// A node together with where it came from. `mark` is where errors about
// this value point: for an empty mapping value that is the key, because
// yaml-cpp marks an empty value at whatever token follows it.
struct Value {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "an empty value";
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      return s.size() <= 40 ? quoted(s) : quoted(s.substr(0, 37) + "...");
    }
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

class Loader {
 public:
  Loader(std::string file, const LoadLimits& limits) : file_(std::move(file)), limits_(limits) {}

  // Fills `cfg` from the document root; every problem becomes an error.
  void loadDocument(const YAML::Node& root, Config& cfg);

  void addError(const YAML::Mark& mark, std::string path, std::string message) {
    ConfigError e;
    e.file = file_;
    // yaml-cpp marks are 0-based and -1 when unknown; ours are 1-based, 0 when unknown.
    e.line = mark.line >= 0 ? mark.line + 1 : 0;
    e.column = mark.line >= 0 && mark.column >= 0 ? mark.column + 1 : 0;
    e.path = std::move(path);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  // Errors in document order. Sections are checked in schema order, so
  // sort by position; stable so errors at one position keep their order.
  std::vector<ConfigError> takeErrors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(errors_);
  }

 private:
  void error(const Value& v, std::string message) { addError(v.mark, v.path, std::move(message)); }

  // Type checks: each returns false after recording "expected X, got Y".
  bool expectMap(const Value& v) {
    if (v.node.IsMap()) return true;
    error(v, "expected a mapping, got " + describe(v.node));
    return false;
  }
  bool expectSequence(const Value& v) {
    if (v.node.IsSequence()) return true;
    error(v, "expected a list, got " + describe(v.node));
    return false;
  }
  // `what` names the expected value in the message, e.g. "host:port".
  std::optional<std::string> scalar(const Value& v, std::string_view what) {
    if (v.node.IsScalar()) return v.node.Scalar();
    error(v, "expected " + std::string(what) + ", got " + describe(v.node));
    return std::nullopt;
  }

  // The first value for `key` in mapping `map`, or nullopt. Duplicates are
  // reported by checkKeys(), so taking the first one is enough here.
  static std::optional<Value> field(const Value& map, std::string_view key) {
    for (const auto& kv : map.node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) {
        const YAML::Node& value = kv.second;
        return Value{value, childPath(map.path, key), value.IsNull() ? kv.first.Mark() : value.Mark()};
      }
    }
    return std::nullopt;
  }

  std::optional<Value> requiredField(const Value& map, std::string_view key) {
    std::optional<Value> v = field(map, key);
    if (!v) addError(map.mark, childPath(map.path, key), "missing required key");
    return v;
  }

  static Value item(const Value& seq, size_t i, const YAML::Node& node) {
    return Value{node, indexPath(seq.path, i), node.Mark()};
  }

  // Reports unknown keys (with a suggestion when one allowed key is close),
  // duplicate keys and non-string keys of mapping `map`.
  void checkKeys(const Value& map, std::initializer_list<std::string_view> allowed);

  std::optional<Address> address(const Value& v, bool allow_port_zero);
  std::optional<Duration> positiveDuration(const Value& v);
  // A size in bytes (plain or with a unit) in [min, max].
  std::optional<uint64_t> size(const Value& v, uint64_t min, uint64_t max);
  std::optional<int64_t> integer(const Value& v, int64_t min, int64_t max);
  // Exactly `true` or `false`: YAML 1.1 spellings (yes, on, True) are
  // rejected so that every file means the same to every YAML reader.
  std::optional<bool> boolean(const Value& v);
  // "<digits>%" in [0, max], the percent sign required.
  std::optional<uint32_t> percentWithSign(const Value& v, int64_t max);
  // One expect_status entry: "200" or "200-399". Appends to `out`.
  bool statusRange(const Value& v, std::vector<StatusRange>& out);

  void loadListen(const Value& v, Config& cfg);
  void loadListenerTls(const Value& v, ListenerTlsConfig& tls);
  void loadPoolTls(const Value& v, PoolTlsConfig& tls);
  // A path relative to the config file's directory (absolute ones unchanged).
  std::string relativeToConfig(const std::string& path) const;
  Position position(const Value& v) const;
  // A non-empty scalar, or nullopt after an error.
  std::optional<std::string> filePath(const Value& v);
  void loadAdmin(const Value& v, Config& cfg);
  void loadLog(const Value& v, Config& cfg);
  void loadTimeouts(const Value& v, Config& cfg);
  void loadDrain(const Value& v, Config& cfg);
  void loadJournal(const Value& v, Config& cfg);
  // notify: targets, then rules (which name targets), then the timings.
  void loadNotify(const Value& v, Config& cfg);
  void loadNotifyTarget(const Value& v, NotifyTarget& t);
  // A list of target names, each one of `targets`.
  void loadTargetNames(const Value& v, const std::vector<NotifyTarget>& targets, std::vector<std::string>& out);
  void loadOverrides(const Value& v, Config& cfg);
  void loadReload(const Value& v, Config& cfg);
  void loadLimits(const Value& v, Config& cfg);
  void loadPools(const Value& v, Config& cfg);
  void loadPool(const Value& v, PoolConfig& pool);
  void loadHealthCheck(const Value& v, HealthCheckConfig& hc);
  // balance, hash_key, bounded_load, sticky, slow_start, zone_aware,
  // zone_min_healthy and queue of one pool (issue 11), and their cross-checks.
  void loadBalancing(const Value& v, PoolConfig& pool);
  void loadHashKey(const Value& v, HashKey& key);
  void loadSticky(const Value& v, StickyConfig& sticky);
  void loadSlowStart(const Value& v, SlowStartConfig& ss);
  void loadQueue(const Value& v, QueueConfig& q);
  void loadDiscovery(const Value& v, DnsDiscoveryConfig& d);
  // A zone name: [A-Za-z0-9_.-]+, at most 64 bytes.
  std::optional<std::string> zoneName(const Value& v);
  // A decimal number like 1.25 in (min, max] (min excluded) or [min, max].
  std::optional<double> decimal(const Value& v, double min, double max, bool min_excluded);
  void loadExpectStatus(const Value& v, HealthCheckConfig& hc);
  void loadOutlierDetection(const Value& v, OutlierDetectionConfig& od);
  void loadRetries(const Value& v, RetryConfig& retries);
  void loadRoutes(const Value& v, Config& cfg);
  void loadRoute(const Value& v, RouteConfig& route);
  // Route pieces (config/config_loader.cc, after loadRoute).
  void loadRouteMatch(const Value& v, RouteConfig& route);
  void loadRouteHost(const Value& v, RouteConfig& route);
  void loadValueMatches(const Value& v, bool header_names, std::vector<ValueMatch>& out);
  std::shared_ptr<const re2::RE2> compileRegex(const Value& v, const std::string& pattern);
  void loadCidrList(const Value& v, std::vector<Cidr>& out);
  std::optional<RequestKey> requestKey(const Value& v);
  void loadSplit(const Value& v, RouteConfig& route);
  bool poolReference(const Value& v, std::string& name, size_t& index);
  void loadRewrite(const Value& v, RouteConfig& route);
  void loadRouteHeaders(const Value& v, RouteConfig& route);
  void loadHeaderEdits(const Value& v, HeaderEditConfig& edits);
  void loadReturn(const Value& v, RouteConfig& route);
  void loadRateLimit(const Value& v, RateLimitConfig& rl);
  void loadRouteTimeouts(const Value& v, RouteConfig& route);
  void loadRouteRetries(const Value& v, RouteConfig& route);
  void checkAdminAgainstListen(const Config& cfg);
  // `drills:` (after pools and routes: it names them).
  void loadDrills(const Value& v, Config& cfg);
  void loadDrill(const Value& v, const Config& cfg, DrillConfig& d);

  std::string file_;
  const LoadLimits& limits_;  // borrowed: outlives the Loader
  std::vector<ConfigError> errors_;
  // Addresses resolved so far in this load, by (text, allow_port_zero), with
  // the error message when resolution failed. A name written many times (or
  // an alias used many times) costs one resolution.
  std::map<std::pair<std::string, bool>, std::pair<std::string, Address>> resolved_;
  // Where each listen address and admin.listen were written, for the
  // duplicate checks; parallel to Config::listen, nullopt for the default.
  std::vector<std::optional<Value>> listen_values_;
  std::optional<Value> admin_listen_value_;
  // Pool name -> index into Config::pools. Holds every name that was
  // written, even an invalid one, so routes don't get a second error for it.
  std::map<std::string, size_t, std::less<>> pool_index_;
  // False when `pools` is missing or unusable: route pool names are then
  // not checked, because every one of them would be "unknown".
  bool pools_usable_ = false;
};

void Loader::checkKeys(const Value& map, std::initializer_list<std::string_view> allowed) {
  std::map<std::string, YAML::Mark, std::less<>> seen;
  for (const auto& kv : map.node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      addError(key.Mark(), map.path, "expected a string key, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = childPath(map.path, name);
    if (auto [it, inserted] = seen.emplace(name, key.Mark()); !inserted) {
      addError(key.Mark(), path, "duplicate key (first at line " + std::to_string(it->second.line + 1) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;

    std::string_view best;
    size_t best_distance = 3;  // suggest only within two edits
    for (std::string_view candidate : allowed) {
      // The distance is at least the difference in length: skipping those
      // more than two apart changes no suggestion, and bounds the work to
      // keys about as short as the allowed ones, however long `name` is.
      if (name.size() > candidate.size() + 2 || candidate.size() > name.size() + 2) continue;
      const size_t d = editDistance(name, candidate);
      // `d < name.size()` keeps a one- or two-letter key from "matching" anything short.
      if (d < best_distance && d < name.size()) {
        best = candidate;
        best_distance = d;
      }
    }
    std::string message = "unknown key";
    if (!best.empty()) message += " (did you mean " + quoted(best) + "?)";
    addError(key.Mark(), path, std::move(message));
  }
}

std::optional<Address> Loader::address(const Value& v, bool allow_port_zero) {
  const std::optional<std::string> text = scalar(v, "host:port");
  if (!text) return std::nullopt;
  auto [it, inserted] = resolved_.try_emplace(std::pair{*text, allow_port_zero});
  auto& [problem, out] = it->second;
  if (inserted) problem = resolveAddress(*text, allow_port_zero, out);
  if (!problem.empty()) {
    error(v, problem);
    return std::nullopt;
  }
  return out;
}

std::optional<Duration> Loader::positiveDuration(const Value& v) {
  const std::optional<std::string> text = scalar(v, "a duration");
  if (!text) return std::nullopt;
  const std::optional<Duration> d = parseDuration(*text);
  if (!d) {
    error(v, "expected a duration like 250ms, 2s, 1m or 1h, got " + quoted(*text));
    return std::nullopt;
  }
  if (d->count() <= 0) {
    error(v, "must be greater than 0");
    return std::nullopt;
  }
  return d;
}

std::optional<uint64_t> Loader::size(const Value& v, uint64_t min, uint64_t max) {
  const std::optional<std::string> text = scalar(v, "a size");
  if (!text) return std::nullopt;
  const std::optional<uint64_t> n = parseSize(*text);
  if (!n) {
    error(v, "expected a size in bytes like 16384, 512KiB, 10MiB or 1GB, got " + quoted(*text));
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    error(v, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
    return std::nullopt;
  }
  return n;
}

std::optional<int64_t> Loader::integer(const Value& v, int64_t min, int64_t max) {
  const std::optional<std::string> text = scalar(v, "an integer");
  if (!text) return std::nullopt;
  const std::optional<int64_t> n = parseInteger(*text);
  if (!n) {
    error(v, "expected an integer, got " + quoted(*text));
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    error(v, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> Loader::boolean(const Value& v) {
  const std::optional<std::string> text = scalar(v, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  error(v, "expected true or false, got " + quoted(*text));
  return std::nullopt;
}

std::optional<uint32_t> Loader::percentWithSign(const Value& v, int64_t max) {
  const std::optional<std::string> text = scalar(v, "a percentage");
  if (!text) return std::nullopt;
  const std::string_view digits = std::string_view(*text).substr(0, text->empty() ? 0 : text->size() - 1);
  const bool shaped = !text->empty() && text->back() == '%' && !digits.empty() &&
                      std::all_of(digits.begin(), digits.end(), isDigit);
  if (!shaped) {
    error(v, "expected a percentage like 10%, got " + quoted(*text));
    return std::nullopt;
  }
  // All digits: nullopt here can only mean overflow, which is out of range too.
  const std::optional<int64_t> n = parseInteger(digits);
  if (!n || *n > max) {
    error(v, "must be between 0% and " + std::to_string(max) + "%");
    return std::nullopt;
  }
  return static_cast<uint32_t>(*n);
}

bool Loader::statusRange(const Value& v, std::vector<StatusRange>& out) {
  const std::optional<std::string> text = scalar(v, "a status code or range");
  if (!text) return false;
  const auto allDigits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
  };
  const std::string_view t = *text;
  const size_t dash = t.find('-');
  const std::string_view lo_text = t.substr(0, dash);
  const std::string_view hi_text = dash == std::string_view::npos ? lo_text : t.substr(dash + 1);
  if (!allDigits(lo_text) || !allDigits(hi_text)) {
    error(v, "expected a status code like 200 or a range like 200-399, got " + quoted(t));
    return false;
  }
  // All digits: nullopt can only mean overflow, which is out of range too.
  const std::optional<int64_t> lo = parseInteger(lo_text);
  const std::optional<int64_t> hi = parseInteger(hi_text);
  const auto inRange = [](const std::optional<int64_t>& n) { return n && *n >= kMinStatus && *n <= kMaxStatus; };
  if (!inRange(lo) || !inRange(hi)) {
    error(v, "status codes must be between " + std::to_string(kMinStatus) + " and " +
                 std::to_string(kMaxStatus));
    return false;
  }
  if (*lo > *hi) {
    error(v, "range start " + std::string(lo_text) + " is greater than its end " + std::string(hi_text));
    return false;
  }
  out.push_back(StatusRange{static_cast<int>(*lo), static_cast<int>(*hi)});
  return true;
}

void Loader::loadDocument(const YAML::Node& root, Config& cfg) {
  cfg.listen = {ListenConfig{defaultAddress(kDefaultListen), std::nullopt}};
  cfg.admin.listen = defaultAddress(kDefaultAdminListen);
  listen_values_ = {std::nullopt};

  const Value top{root, "", root.Mark()};
  if (root.IsNull()) {
    // A default Mark is 1:1: point at the start of the file.
    addError(YAML::Mark(), "", "config is empty");
    return;
  }
  if (!root.IsMap()) {
    error(top, "expected a mapping at the top level, got " + describe(root));
    return;
  }
  checkKeys(top, {"listen", "admin", "log", "timeouts", "limits", "drain", "overrides", "reload", "config_history",
                  "explain", "state_file", "state_max_age", "pools", "routes", "zone", "journal", "incidents",
                  "drills", "notify", "workers", "worker_watchdog"});

  if (auto v = field(top, "zone")) {
    if (auto name = zoneName(*v)) cfg.zone = *name;
  }

  if (auto v = field(top, "listen")) loadListen(*v, cfg);
  if (auto v = field(top, "admin")) loadAdmin(*v, cfg);
  if (auto v = field(top, "log")) loadLog(*v, cfg);
  if (auto v = field(top, "timeouts")) loadTimeouts(*v, cfg);
  if (auto v = field(top, "limits")) loadLimits(*v, cfg);
  if (auto v = field(top, "drain")) loadDrain(*v, cfg);
  if (auto v = field(top, "overrides")) loadOverrides(*v, cfg);
  if (auto v = field(top, "reload")) loadReload(*v, cfg);
  if (auto v = field(top, "explain")) {
    if (expectMap(*v)) {
      checkKeys(*v, {"buffer"});
      if (auto b = field(*v, "buffer")) {
        if (auto n = integer(*b, 0, 1000000)) cfg.explain_buffer = static_cast<uint32_t>(*n);
      }
    }
  }
  if (auto v = field(top, "workers")) {
    // `auto` = one worker per online CPU (what HAProxy's nbthread and
    // nginx's worker_processes auto do).
    if (v->node.IsScalar() && v->node.Scalar() == "auto") {
      cfg.workers_auto = true;
      const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
      cfg.workers = n > 0 ? static_cast<uint32_t>(std::min<long>(n, kMaxWorkers)) : 1;
    } else if (auto n = integer(*v, 1, kMaxWorkers)) {
      cfg.workers = static_cast<uint32_t>(*n);
    }
  }
  if (auto v = field(top, "worker_watchdog")) {
    // 0 = off; else at least 1s (the supervisor pings every quarter of it).
    if (auto text = scalar(*v, "a duration")) {
      if (auto d = parseDuration(*text)) {
        if (d->count() != 0 && d->count() < 1000) {
          error(*v, "must be 0 (off) or at least 1s");
        } else {
          cfg.worker_watchdog = *d;
        }
      } else {
        error(*v, "expected a duration like 10s or 0 (off), got " + quoted(*text));
      }
    }
  }
  if (auto v = field(top, "journal")) loadJournal(*v, cfg);
  if (auto v = field(top, "incidents")) {
    if (expectMap(*v)) {
      checkKeys(*v, {"threshold", "settle"});
      if (auto t = field(*v, "threshold")) {
        if (auto n = percentWithSign(*t, 100)) cfg.incidents.threshold_percent = *n;
      }
      if (auto d = field(*v, "settle")) {
        if (auto ms = positiveDuration(*d)) cfg.incidents.settle = *ms;
      }
    }
  }
  if (auto v = field(top, "notify")) loadNotify(*v, cfg);
  if (auto v = field(top, "config_history")) {
    if (expectMap(*v)) {
      checkKeys(*v, {"dir", "keep"});
      if (auto d = requiredField(*v, "dir")) {
        if (auto path = scalar(*d, "a directory path")) {
          if (path->empty()) {
            error(*d, "expected a directory path, got an empty string");
          } else {
            std::string full = *path;
            const size_t slash = file_.rfind('/');
            if (full.front() != '/' && slash != std::string::npos) full = file_.substr(0, slash + 1) + full;
            cfg.history_dir = full;
          }
        }
      }
      if (auto k = field(*v, "keep")) {
        if (auto n = integer(*k, 1, 1000)) cfg.history_keep = static_cast<uint32_t>(*n);
      }
    }
  }
  if (auto v = field(top, "state_file")) {
    if (auto path = scalar(*v, "a file path")) {
      if (path->empty()) {
        error(*v, "expected a file path, got an empty string (leave state_file out to keep no state)");
      } else {
        std::string full = *path;
        const size_t slash = file_.rfind('/');
        if (full.front() != '/' && slash != std::string::npos) full = file_.substr(0, slash + 1) + full;
        cfg.state_file = full;
      }
    }
  }
  if (auto v = field(top, "state_max_age")) {
    if (auto d = positiveDuration(*v)) cfg.state_max_age = *d;
  }
  if (auto v = requiredField(top, "pools")) loadPools(*v, cfg);

  if (auto v = field(top, "routes")) {
    loadRoutes(*v, cfg);
  } else if (cfg.pools.size() == 1) {
    RouteConfig route;
    route.pool = cfg.pools[0].name;
    route.pool_index = 0;
    cfg.routes.push_back(std::move(route));
  } else if (cfg.pools.size() > 1) {
    addError(top.mark, "routes", "required when there is more than one pool");
  }

  if (auto v = field(top, "drills")) loadDrills(*v, cfg);

  checkAdminAgainstListen(cfg);
}

void Loader::loadListen(const Value& v, Config& cfg) {
  cfg.listen.clear();
  listen_values_.clear();
  std::vector<Value> items;
  if (v.node.IsScalar() || v.node.IsMap()) {
    items.push_back(v);
  } else if (v.node.IsSequence()) {
    if (v.node.size() == 0) error(v, "at least one address is required");
    for (size_t i = 0; i < v.node.size(); ++i) items.push_back(item(v, i, v.node[i]));
  } else {
    error(v, "expected host:port or a list of them, got " + describe(v.node));
    return;
  }

  std::map<std::string, size_t> seen;  // endpointKey() -> index into cfg.listen
  for (const Value& it : items) {
    // An entry is "host:port", or { address: host:port, tls: {...} }.
    Value address_value = it;
    ListenConfig entry;
    if (it.node.IsMap()) {
      checkKeys(it, {"address", "tls"});
      std::optional<Value> a = requiredField(it, "address");
      if (auto t = field(it, "tls")) loadListenerTls(*t, entry.tls.emplace());
      if (!a) continue;
      address_value = *a;
    } else if (!it.node.IsScalar()) {
      error(it, "expected host:port or a mapping with address and tls, got " + describe(it.node));
      continue;
    }
    std::optional<Address> addr = address(address_value, /*allow_port_zero=*/true);
    if (!addr) continue;
    // Two listeners on one ephemeral port are two different sockets.
    if (std::string key = endpointKey(*addr); addr->port != 0 && !key.empty()) {
      auto [first, inserted] = seen.try_emplace(std::move(key), cfg.listen.size());
      if (!inserted) {
        error(address_value, "duplicate listen address (same as " + listen_values_[first->second]->path + ")");
      }
    }
    static_cast<Address&>(entry) = std::move(*addr);
    cfg.listen.push_back(std::move(entry));
    listen_values_.push_back(address_value);
  }
}

std::string Loader::relativeToConfig(const std::string& path) const {
  const size_t slash = file_.rfind('/');
  if (path.empty() || path.front() == '/' || slash == std::string::npos) return path;
  return file_.substr(0, slash + 1) + path;
}

Position Loader::position(const Value& v) const {
  Position p;
  p.line = v.mark.line >= 0 ? v.mark.line + 1 : 0;
  p.column = v.mark.line >= 0 && v.mark.column >= 0 ? v.mark.column + 1 : 0;
  p.path = v.path;
  return p;
}

std::optional<std::string> Loader::filePath(const Value& v) {
  std::optional<std::string> text = scalar(v, "a file path");
  if (text && text->empty()) {
    error(v, "expected a file path, got an empty string");
    return std::nullopt;
  }
  return text;
}

void Loader::loadListenerTls(const Value& v, ListenerTlsConfig& tls) {
  if (!expectMap(v)) return;
  checkKeys(v, {"certificates", "min_version", "ciphers", "alpn", "session_tickets"});
  if (auto certs = requiredField(v, "certificates"); certs && expectSequence(*certs)) {
    if (certs->node.size() == 0) error(*certs, "at least one certificate is required");
    for (size_t i = 0; i < certs->node.size(); ++i) {
      const Value c = item(*certs, i, certs->node[i]);
      if (!expectMap(c)) continue;
      checkKeys(c, {"cert", "key"});
      CertificateConfig cert;
      cert.where = position(c);
      bool ok = true;
      if (auto f = requiredField(c, "cert"); f) {
        if (auto p = filePath(*f)) cert.cert = *p; else ok = false;
      } else {
        ok = false;
      }
      if (auto f = requiredField(c, "key"); f) {
        if (auto p = filePath(*f)) cert.key = *p; else ok = false;
      } else {
        ok = false;
      }
      if (!ok) continue;
      cert.cert_path = relativeToConfig(cert.cert);
      cert.key_path = relativeToConfig(cert.key);
      tls.certificates.push_back(std::move(cert));
    }
  }
  if (auto f = field(v, "min_version")) {
    if (auto text = scalar(*f, "a TLS version")) {
      if (*text == "TLSv1.2") {
        tls.min_version = TlsVersion::Tls12;
      } else if (*text == "TLSv1.3") {
        tls.min_version = TlsVersion::Tls13;
      } else {
        error(*f, "unknown TLS version " + quoted(*text) + " (allowed: TLSv1.2, TLSv1.3)");
      }
    }
  }
  if (auto f = field(v, "ciphers")) {
    if (auto text = scalar(*f, "an OpenSSL cipher list")) {
      if (text->empty()) {
        error(*f, "expected an OpenSSL cipher list, got an empty string");
      } else {
        tls.ciphers = *text;
        tls.ciphers_where = position(*f);
      }
    }
  }
  if (auto f = field(v, "alpn")) {
    tls.alpn.clear();
    if (expectSequence(*f)) {
      for (size_t i = 0; i < f->node.size(); ++i) {
        const Value p = item(*f, i, f->node[i]);
        if (auto text = scalar(p, "a protocol name")) {
          // ballast speaks HTTP/1.1 only: offering h2 would break clients.
          if (*text != "http/1.1") {
            error(p, "unsupported ALPN protocol " + quoted(*text) + " (allowed: http/1.1)");
          } else if (std::find(tls.alpn.begin(), tls.alpn.end(), *text) != tls.alpn.end()) {
            error(p, "duplicate ALPN protocol " + quoted(*text));
          } else {
            tls.alpn.push_back(*text);
          }
        }
      }
    }
  }
  if (auto f = field(v, "session_tickets")) {
    if (auto b = boolean(*f)) tls.session_tickets = *b;
  }
}

void Loader::loadPoolTls(const Value& v, PoolTlsConfig& tls) {
  tls.where = position(v);
  if (!expectMap(v)) return;
  checkKeys(v, {"enabled", "verify", "ca", "sni"});
  if (auto f = field(v, "enabled")) {
    if (auto b = boolean(*f)) tls.enabled = *b;
  }
  if (auto f = field(v, "verify")) {
    if (auto b = boolean(*f)) tls.verify = *b;
  }
  if (auto f = field(v, "ca")) {
    if (auto p = filePath(*f)) {
      tls.ca = *p;
      tls.ca_path = relativeToConfig(*p);
      tls.ca_where = position(*f);
    }
  }
  if (auto f = field(v, "sni")) {
    if (auto text = scalar(*f, "a host name")) {
      // A DNS name: letters, digits, '-', '.'; no IP literal (RFC 6066 3).
      const bool valid = !text->empty() && text->size() <= 253 &&
                         std::all_of(text->begin(), text->end(), [](char c) {
                           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '-' ||
                                  c == '.';
                         }) &&
                         !std::all_of(text->begin(), text->end(), [](char c) { return isDigit(c) || c == '.'; });
      if (!valid) {
        error(*f, "expected a DNS host name, got " + quoted(*text));
      } else {
        tls.sni = *text;
      }
    }
  }
}

void Loader::loadAdmin(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"listen", "token", "token_file", "protect_reads"});
  if (auto listen = field(v, "listen")) {
    if (std::optional<Address> addr = address(*listen, /*allow_port_zero=*/true)) {
      cfg.admin.listen = std::move(*addr);
      admin_listen_value_ = *listen;
    }
  }

  // A token goes into an Authorization header: visible ASCII, no spaces.
  const auto tokenProblem = [](std::string_view t) -> std::string {
    if (t.empty()) return "must not be empty";
    for (unsigned char c : t) {
      if (c <= ' ' || c >= 0x7f) return "must be visible ASCII characters without spaces";
    }
    return {};
  };
  // Whether a token was written at all, valid or not: a broken token_file
  // gets its own error, not a second one about the missing token.
  bool token_written = false;
  const std::optional<Value> token = field(v, "token");
  const std::optional<Value> token_file = field(v, "token_file");
  if (token) {
    token_written = true;
    if (auto text = scalar(*token, "a string")) {
      if (std::string problem = tokenProblem(*text); !problem.empty()) {
        error(*token, std::move(problem));
      } else {
        cfg.admin.token = *text;
      }
    }
  }
  if (token_file) {
    token_written = true;
    if (token) {
      error(*token_file, "set admin.token or admin.token_file, not both");
    } else if (auto path = scalar(*token_file, "a file path")) {
      // A relative path is relative to the config file's directory.
      const std::string full = relativeToConfig(*path);
      std::string text;
      FileRead read;
      if (path->empty()) {
        error(*token_file, "expected a file path, got an empty string");
      } else if (read = readFile(full, limits_.max_token_file_bytes, text); read.error != 0) {
        error(*token_file, "cannot read token file " + quoted(full) + ": " + std::generic_category().message(read.error));
      } else if (read.too_large) {
        error(*token_file, tooLargeMessage("token file " + quoted(full), read, limits_.max_token_file_bytes));
      } else {
        size_t b = 0, e = text.size();
        while (b < e && isSpace(text[b])) ++b;
        while (e > b && isSpace(text[e - 1])) --e;
        const std::string_view trimmed = std::string_view(text).substr(b, e - b);
        if (trimmed.empty()) {
          error(*token_file, "token file " + quoted(full) + " is empty");
        } else if (std::string problem = tokenProblem(trimmed); !problem.empty()) {
          error(*token_file, "token in " + quoted(full) + " " + problem);
        } else {
          cfg.admin.token = std::string(trimmed);
          cfg.admin.token_file = *path;
        }
      }
    }
  }
  if (auto protect = field(v, "protect_reads")) {
    if (std::optional<bool> b = boolean(*protect)) {
      cfg.admin.protect_reads = *b;
      if (*b && !token_written) error(*protect, "needs admin.token or admin.token_file");
    }
  }
  // Anyone who can reach a non-loopback listener could drain the pools.
  if (admin_listen_value_ && !token_written && !isLoopback(cfg.admin.listen)) {
    error(*admin_listen_value_, "a non-loopback admin listener needs admin.token or admin.token_file");
  }
}

void Loader::checkAdminAgainstListen(const Config& cfg) {
  const Address& admin = cfg.admin.listen;
  if (admin.port == 0) return;
  for (size_t i = 0; i < cfg.listen.size(); ++i) {
    if (!sameEndpoint(cfg.listen[i], admin)) continue;
    if (admin_listen_value_) {
      const std::string where = listen_values_[i] ? listen_values_[i]->path : "the default listen address";
      error(*admin_listen_value_, "same address as " + where);
    } else if (listen_values_[i]) {
      error(*listen_values_[i], "same address as the default admin.listen (" +
                                    std::string(kDefaultAdminListen) + ")");
    }
    return;
  }
}

void Loader::loadLog(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"level", "access", "events"});
  if (auto level = field(v, "level")) {
    static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
        {"trace", LogLevel::Trace}, {"debug", LogLevel::Debug}, {"info", LogLevel::Info},
        {"warn", LogLevel::Warn},   {"error", LogLevel::Error},
    };
    if (auto text = scalar(*level, "a log level")) {
      const auto* found = std::find_if(std::begin(kLevels), std::end(kLevels),
                                       [&](const auto& l) { return l.first == *text; });
      if (found != std::end(kLevels)) {
        cfg.log.level = found->second;
      } else {
        error(*level, "unknown log level " + quoted(*text) +
                          " (allowed: trace, debug, info, warn, error)");
      }
    }
  }
  for (auto [key, target] : {std::pair{"access", &cfg.log.access}, std::pair{"events", &cfg.log.events}}) {
    if (auto sink = field(v, key)) {
      if (auto text = scalar(*sink, "stdout, stderr, off or a file path")) {
        if (text->empty()) {
          error(*sink, "must not be empty (use stdout, stderr, off or a file path)");
        } else {
          *target = *text;
        }
      }
    }
  }
}

void Loader::loadTimeouts(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  static constexpr std::pair<std::string_view, Duration Timeouts::*> kFields[] = {
      {"connect", &Timeouts::connect},
      {"client_header", &Timeouts::client_header},
      {"backend_response", &Timeouts::backend_response},
      {"client_idle", &Timeouts::client_idle},
      {"backend_idle", &Timeouts::backend_idle},
      {"lingering", &Timeouts::lingering},
      {"lingering_total", &Timeouts::lingering_total},
      {"tunnel", &Timeouts::tunnel},
  };
  checkKeys(v, {"connect", "client_header", "backend_response", "client_idle", "backend_idle", "lingering",
                "lingering_total", "tunnel"});
  for (const auto& [key, member] : kFields) {
    if (auto field_value = field(v, key)) {
      if (auto d = positiveDuration(*field_value)) cfg.timeouts.*member = *d;
    }
  }
}

namespace {

// The notify events (README "Paging chain"); lb/notify derives them from
// the event lines.
constexpr std::string_view kNotifyEvents[] = {"backend_down", "backend_up", "pool_degraded",
                                              "pool_down",    "resolved",   "reload_failed"};

}  // namespace

void Loader::loadNotifyTarget(const Value& v, NotifyTarget& t) {
  t.where = position(v);
  if (!expectMap(v)) return;
  checkKeys(v, {"name", "url", "format", "ca"});
  if (auto n = requiredField(v, "name")) {
    if (auto text = scalar(*n, "a target name")) {
      const bool ok = !text->empty() && text->size() <= 64 &&
                      std::all_of(text->begin(), text->end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                      });
      if (ok) {
        t.name = *text;
      } else {
        error(*n, "invalid target name " + quoted(shortened(*text, 70)) + " (1 to 64 of A-Z a-z 0-9 _ . -)");
      }
    }
  }
  if (auto f = requiredField(v, "format")) {
    if (auto text = scalar(*f, "a format")) {
      if (*text == "slack") {
        t.format = NotifyFormat::Slack;
      } else if (*text == "json") {
        t.format = NotifyFormat::Json;
      } else if (*text == "alertmanager") {
        t.format = NotifyFormat::Alertmanager;
      } else {
        error(*f, "unknown format " + quoted(shortened(*text, 70)) + " (allowed: slack, json, alertmanager)");
      }
    }
  }
  if (auto u = requiredField(v, "url")) {
    if (auto text = scalar(*u, "a URL")) {
      t.url = *text;
      const std::string bad = "expected a URL like http://host:port/path or https://host/path, got " +
                              quoted(shortened(*text, 70));
      std::string_view rest = *text;
      const bool has_ctl = std::any_of(rest.begin(), rest.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      });
      bool scheme_ok = true;
      if (rest.substr(0, 7) == "http://") {
        rest.remove_prefix(7);
      } else if (rest.substr(0, 8) == "https://") {
        rest.remove_prefix(8);
        t.https = true;
      } else {
        error(*u, bad + " (the scheme must be http or https)");
        scheme_ok = false;
      }
      if (scheme_ok) {
        const size_t end = rest.find_first_of("/?");
        const std::string_view authority = rest.substr(0, end);
        std::string path = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
        if (path.front() == '?') path.insert(path.begin(), '/');
        if (has_ctl) {
          error(*u, bad + " (spaces and control characters are not allowed)");
        } else if (authority.empty()) {
          error(*u, bad + " (no host)");
        } else if (authority.find('@') != std::string_view::npos) {
          error(*u, bad + " (no user information)");
        } else if (path.find('#') != std::string::npos) {
          error(*u, bad + " (no fragment)");
        } else {
          // host[:port]: a port after the last ':' (after ']' for [IPv6]).
          const size_t close = authority.rfind(']');
          const size_t colon = authority.rfind(':');
          const bool has_port = colon != std::string_view::npos && (close == std::string_view::npos || colon > close);
          std::string hostport(authority);
          if (!has_port) hostport += t.https ? ":443" : ":80";
          t.host_header = std::string(authority);
          t.path = std::move(path);
          const Value hp{YAML::Node(hostport), u->path, u->mark};
          if (auto a = address(hp, false)) t.address = *a;
        }
      }
    }
  }
  if (auto c = field(v, "ca")) {
    if (auto p = filePath(*c)) {
      t.tls.ca = *p;
      t.tls.ca_path = relativeToConfig(*p);
      t.tls.ca_where = position(*c);
      if (!t.https) error(*c, "a CA file is for an https URL");
    }
  }
  t.tls.where = t.where;
}

void Loader::loadTargetNames(const Value& v, const std::vector<NotifyTarget>& targets, std::vector<std::string>& out) {
  if (!expectSequence(v)) return;
  if (v.node.size() == 0) error(v, "at least one target is required");
  for (size_t i = 0; i < v.node.size(); ++i) {
    const Value it = item(v, i, v.node[i]);
    auto name = scalar(it, "a target name");
    if (!name) continue;
    const bool known = std::any_of(targets.begin(), targets.end(), [&](const NotifyTarget& t) { return t.name == *name; });
    if (!known) {
      std::string names;
      for (const auto& t : targets) names += (names.empty() ? "" : ", ") + t.name;
      error(it, "unknown target " + quoted(shortened(*name, 70)) +
                    (names.empty() ? std::string(" (notify.targets is empty)") : " (targets: " + names + ")"));
      continue;
    }
    if (std::find(out.begin(), out.end(), *name) != out.end()) {
      error(it, "duplicate target " + quoted(*name));
      continue;
    }
    out.push_back(*name);
  }
}

void Loader::loadNotify(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"targets", "rules", "group_wait", "repeat", "connect_timeout", "timeout", "retries", "backoff",
                "queue"});
  NotifyConfig& n = cfg.notify;
  if (auto t = field(v, "targets"); t && expectSequence(*t)) {
    std::map<std::string, std::string> seen;  // name -> path
    for (size_t i = 0; i < t->node.size(); ++i) {
      const Value it = item(*t, i, t->node[i]);
      NotifyTarget target;
      loadNotifyTarget(it, target);
      if (target.name.empty()) continue;
      if (auto [pos, inserted] = seen.emplace(target.name, it.path); !inserted) {
        error(*field(it, "name"), "duplicate target name " + quoted(target.name) + " (also at " + pos->second + ")");
        continue;
      }
      n.targets.push_back(std::move(target));
    }
  }
  if (auto r = field(v, "rules"); r && expectSequence(*r)) {
    for (size_t i = 0; i < r->node.size(); ++i) {
      const Value it = item(*r, i, r->node[i]);
      if (!expectMap(it)) continue;
      checkKeys(it, {"events", "notify", "escalate"});
      NotifyRule rule;
      if (auto e = requiredField(it, "events"); e && expectSequence(*e)) {
        if (e->node.size() == 0) error(*e, "at least one event is required");
        for (size_t k = 0; k < e->node.size(); ++k) {
          const Value ev = item(*e, k, e->node[k]);
          auto name = scalar(ev, "an event name");
          if (!name) continue;
          if (std::find(std::begin(kNotifyEvents), std::end(kNotifyEvents), *name) == std::end(kNotifyEvents)) {
            error(ev, "unknown event " + quoted(shortened(*name, 70)) +
                          " (allowed: backend_down, backend_up, pool_degraded, pool_down, resolved, reload_failed)");
          } else {
            rule.events.push_back(*name);
          }
        }
      }
      if (auto t = requiredField(it, "notify")) loadTargetNames(*t, n.targets, rule.notify);
      if (auto esc = field(it, "escalate"); esc && expectSequence(*esc)) {
        const bool incident = std::any_of(rule.events.begin(), rule.events.end(), [](const std::string& e) {
          return e == "pool_down" || e == "pool_degraded";
        });
        if (!incident) error(*esc, "escalation follows an incident: the rule needs pool_down or pool_degraded among its events");
        for (size_t k = 0; k < esc->node.size(); ++k) {
          const Value step = item(*esc, k, esc->node[k]);
          if (!expectMap(step)) continue;
          checkKeys(step, {"after", "notify"});
          NotifyEscalation e;
          if (auto a = requiredField(step, "after")) {
            if (auto d = positiveDuration(*a)) e.after = *d;
          }
          if (auto t = requiredField(step, "notify")) loadTargetNames(*t, n.targets, e.notify);
          rule.escalate.push_back(std::move(e));
        }
      }
      n.rules.push_back(std::move(rule));
    }
  }
  if (auto d = field(v, "group_wait")) {
    // 0 = no grouping: every event on its own.
    if (auto text = scalar(*d, "a duration"); text && *text == "0") {
      n.group_wait = Duration{0};
    } else if (auto ms = positiveDuration(*d)) {
      n.group_wait = *ms;
    }
  }
  if (auto d = field(v, "repeat")) {
    if (auto ms = positiveDuration(*d)) n.repeat = *ms;
  }
  if (auto d = field(v, "connect_timeout")) {
    if (auto ms = positiveDuration(*d)) n.connect_timeout = *ms;
  }
  if (auto d = field(v, "timeout")) {
    if (auto ms = positiveDuration(*d)) n.timeout = *ms;
  }
  if (auto d = field(v, "backoff")) {
    if (auto ms = positiveDuration(*d)) n.backoff = *ms;
  }
  if (auto r = field(v, "retries")) {
    if (auto k = integer(*r, 0, 20)) n.retries = static_cast<uint32_t>(*k);
  }
  if (auto q = field(v, "queue")) {
    if (auto k = integer(*q, 1, 100000)) n.queue = static_cast<uint32_t>(*k);
  }
}

void Loader::loadJournal(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"path", "max_size", "keep"});
  if (auto p = requiredField(v, "path")) {
    if (auto path = scalar(*p, "a file path")) {
      if (path->empty()) {
        error(*p, "expected a file path, got an empty string (leave journal out to keep no journal)");
      } else {
        std::string full = *path;
        const size_t slash = file_.rfind('/');
        if (full.front() != '/' && slash != std::string::npos) full = file_.substr(0, slash + 1) + full;
        cfg.journal.path = full;
      }
    }
  }
  // At least 4 KiB so one event line always fits a file.
  if (auto m = field(v, "max_size")) {
    if (auto n = size(*m, 4096, uint64_t{1} << 40)) cfg.journal.max_size = *n;
  }
  if (auto k = field(v, "keep")) {
    if (auto n = integer(*k, 0, 1000)) cfg.journal.keep = static_cast<uint32_t>(*n);
  }
}

void Loader::loadDrain(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"delay", "timeout"});
  if (auto f = field(v, "delay")) {
    // 0 is allowed (the default): stop accepting at once.
    if (auto text = scalar(*f, "a duration")) {
      if (auto d = parseDuration(*text)) {
        cfg.drain.delay = *d;
      } else {
        error(*f, "expected a duration like 250ms, 2s, 1m or 1h, got " + quoted(*text));
      }
    }
  }
  if (auto f = field(v, "timeout")) {
    if (auto d = positiveDuration(*f)) cfg.drain.timeout = *d;
  }
}

void Loader::loadOverrides(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"warn_after"});
  if (auto f = field(v, "warn_after")) {
    if (auto d = positiveDuration(*f)) cfg.overrides.warn_after = *d;
  }
}

void Loader::loadReload(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"guard"});
  auto g = field(v, "guard");
  if (!g || !expectMap(*g)) return;
  checkKeys(*g, {"window", "min_available"});
  ReloadGuardConfig guard;
  if (auto f = field(*g, "window")) {
    if (auto d = positiveDuration(*f)) guard.window = *d;
  }
  if (auto f = field(*g, "min_available")) {
    if (auto n = percentWithSign(*f, 100)) guard.min_available_percent = *n;
  }
  cfg.reload_guard = guard;
}

void Loader::loadLimits(const Value& v, Config& cfg) {
  if (!expectMap(v)) return;
  checkKeys(v, {"max_connections", "max_header_bytes", "max_body_bytes", "max_headers", "max_request_line",
                "max_connections_per_client", "min_body_rate", "min_body_rate_window"});
  if (auto f = field(v, "max_connections")) {
    if (auto n = integer(*f, 1, std::numeric_limits<uint32_t>::max())) {
      cfg.limits.max_connections = static_cast<uint32_t>(*n);
    }
  }
  if (auto f = field(v, "max_header_bytes")) {
    if (auto n = size(*f, kMinHeaderBytes, kMaxHeaderBytes)) {
      cfg.limits.max_header_bytes = static_cast<uint32_t>(*n);
    }
  }
  if (auto f = field(v, "max_body_bytes")) {
    if (auto n = size(*f, 0, std::numeric_limits<uint64_t>::max())) cfg.limits.max_body_bytes = *n;
  }
  if (auto f = field(v, "max_headers")) {
    if (auto n = integer(*f, 1, 10000)) cfg.limits.max_headers = static_cast<uint32_t>(*n);
  }
  if (auto f = field(v, "max_request_line")) {
    if (auto n = size(*f, 256, kMaxHeaderBytes)) cfg.limits.max_request_line = static_cast<uint32_t>(*n);
  }
  if (auto f = field(v, "max_connections_per_client")) {
    if (auto n = integer(*f, 0, std::numeric_limits<uint32_t>::max())) {
      cfg.limits.max_connections_per_client = static_cast<uint32_t>(*n);
    }
  }
  if (auto f = field(v, "min_body_rate")) {
    if (auto n = size(*f, 0, std::numeric_limits<uint32_t>::max())) cfg.limits.min_body_rate = *n;
  }
  if (auto f = field(v, "min_body_rate_window")) {
    if (auto d = positiveDuration(*f)) cfg.limits.min_body_rate_window = *d;
  }
}

void Loader::loadPools(const Value& v, Config& cfg) {
  if (!expectSequence(v)) return;
  if (v.node.size() == 0) {
    error(v, "at least one pool is required");
    return;
  }
  pools_usable_ = true;
  for (size_t i = 0; i < v.node.size(); ++i) {
    const Value pool_value = item(v, i, v.node[i]);
    // Every entry gets a slot, even a broken one, so indices stay aligned
    // with the document; the Config is discarded when there are errors anyway.
    PoolConfig& pool = cfg.pools.emplace_back();
    loadPool(pool_value, pool);
    if (pool.name.empty()) continue;
    if (auto [it, inserted] = pool_index_.emplace(pool.name, i); !inserted) {
      // The name field exists: loadPool() only sets names it read from one.
      const Value name_value = *field(pool_value, "name");
      error(name_value, "duplicate pool name " + quoted(pool.name) + " (also at " +
                            indexPath(v.path, it->second) + ")");
    }
  }
}

void Loader::loadPool(const Value& v, PoolConfig& pool) {
  if (!expectMap(v)) return;
  checkKeys(v, {"name", "balance", "backends", "health_check", "outlier_detection", "retries",
                "panic_threshold", "hash_key", "bounded_load", "sticky", "slow_start", "zone_aware",
                "zone_min_healthy", "queue", "tls", "discovery"});

  if (auto name = requiredField(v, "name")) {
    if (auto text = scalar(*name, "a pool name")) {
      const bool valid = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '.' ||
               c == '-';
      });
      if (!valid) {
        error(*name, "invalid pool name " + quoted(*text) + " (allowed characters: A-Z a-z 0-9 _ . -)");
      }
      pool.name = *text;
    }
  }

  loadBalancing(v, pool);

  if (auto hc = field(v, "health_check")) loadHealthCheck(*hc, pool.health_check.emplace());
  if (auto od = field(v, "outlier_detection")) loadOutlierDetection(*od, pool.outlier_detection.emplace());
  if (auto retries = field(v, "retries")) loadRetries(*retries, pool.retries);
  if (auto panic = field(v, "panic_threshold")) {
    if (auto n = integer(*panic, 0, 100)) pool.panic_threshold = static_cast<uint32_t>(*n);
  }
  if (auto tls = field(v, "tls")) loadPoolTls(*tls, pool.tls.emplace());
  if (auto d = field(v, "discovery")) loadDiscovery(*d, pool.discovery.emplace());

  // With discovery the static backends are optional (the pool may start empty).
  const std::optional<Value> backends = pool.discovery ? field(v, "backends") : requiredField(v, "backends");
  if (!backends || !expectSequence(*backends)) return;
  std::vector<std::string> backend_paths;  // parallel to pool.backends
  std::map<std::string, size_t> seen;      // endpointKey() -> index into pool.backends
  for (size_t i = 0; i < backends->node.size(); ++i) {
    const Value b = item(*backends, i, backends->node[i]);
    if (!expectMap(b)) continue;
    checkKeys(b, {"address", "weight", "backup", "zone", "max_connections"});
    BackendConfig backend;
    bool ok = true;
    if (auto addr_value = requiredField(b, "address")) {
      if (auto addr = address(*addr_value, /*allow_port_zero=*/false)) {
        // A backend with a valid address is always added, so its index is the current size.
        if (std::string key = endpointKey(*addr); !key.empty()) {
          auto [first, inserted] = seen.try_emplace(std::move(key), pool.backends.size());
          if (!inserted) error(*addr_value, "duplicate backend address (same as " + backend_paths[first->second] + ")");
        }
        backend.address = std::move(*addr);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto weight = field(b, "weight")) {
      if (auto n = integer(*weight, 0, kMaxWeight)) backend.weight = static_cast<uint32_t>(*n);
    }
    if (auto zone = field(b, "zone")) {
      if (auto name = zoneName(*zone)) backend.zone = *name;
    }
    if (auto mc = field(b, "max_connections")) {
      if (auto n = integer(*mc, 0, kMaxBackendConnections)) backend.max_connections = static_cast<uint32_t>(*n);
    }
    if (auto backup = field(b, "backup")) {
      if (auto flag = boolean(*backup)) backend.backup = *flag;
    }
    if (!ok) continue;
    pool.backends.push_back(std::move(backend));
    backend_paths.push_back(b.path);
  }
}

std::optional<std::string> Loader::zoneName(const Value& v) {
  const std::optional<std::string> text = scalar(v, "a zone name");
  if (!text) return std::nullopt;
  const bool valid = !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '.' || c == '-';
  });
  if (!valid) {
    error(v, "invalid zone " + quoted(shortened(*text, 70)) + " (1 to 64 of A-Z a-z 0-9 _ . -)");
    return std::nullopt;
  }
  return text;
}

std::optional<double> Loader::decimal(const Value& v, double min, double max, bool min_excluded) {
  const std::optional<std::string> text = scalar(v, "a number");
  if (!text) return std::nullopt;
  // Digits, at most one dot, digits: no exponent, sign, inf or nan.
  const std::string& t = *text;
  const size_t dot = t.find('.');
  const std::string_view whole = std::string_view(t).substr(0, dot);
  const std::string_view frac = dot == std::string::npos ? std::string_view() : std::string_view(t).substr(dot + 1);
  const bool shaped = !whole.empty() && whole.size() <= 9 && frac.size() <= 9 &&
                      std::all_of(whole.begin(), whole.end(), isDigit) &&
                      std::all_of(frac.begin(), frac.end(), isDigit) && (dot == std::string::npos || !frac.empty());
  if (!shaped) {
    error(v, "expected a number like 1.25, got " + quoted(shortened(t, 40)));
    return std::nullopt;
  }
  const double d = std::strtod(t.c_str(), nullptr);
  if ((min_excluded ? d <= min : d < min) || d > max) {
    std::ostringstream m;
    m << "must be " << (min_excluded ? "greater than " : "at least ") << min << " and at most " << max;
    error(v, m.str());
    return std::nullopt;
  }
  return d;
}

void Loader::loadBalancing(const Value& v, PoolConfig& pool) {
  std::optional<Value> balance_value = field(v, "balance");
  if (balance_value) {
    if (auto text = scalar(*balance_value, "a balance algorithm")) {
      static const std::pair<std::string_view, Balance> kNames[] = {
          {"round_robin", Balance::RoundRobin}, {"least_request", Balance::LeastRequest}, {"p2c", Balance::P2C},
          {"random", Balance::Random},          {"consistent_hash", Balance::ConsistentHash}};
      bool found = false;
      for (const auto& [name, b] : kNames) {
        if (*text == name) {
          pool.balance = b;
          found = true;
        }
      }
      if (!found) {
        error(*balance_value, "unknown balance " + quoted(*text) +
                                  " (allowed: round_robin, least_request, p2c, random, consistent_hash)");
      }
    }
  }
  const bool hashing = pool.balance == Balance::ConsistentHash;
  if (auto key = field(v, "hash_key")) {
    if (!hashing) {
      error(*key, "needs balance: consistent_hash");
    } else {
      loadHashKey(*key, pool.hash_key);
    }
  }
  if (auto bl = field(v, "bounded_load")) {
    if (!hashing) {
      error(*bl, "needs balance: consistent_hash");
    } else if (auto d = decimal(*bl, 1.0, 100.0, /*min_excluded=*/true)) {
      pool.bounded_load = *d;
    }
  }
  if (auto st = field(v, "sticky")) loadSticky(*st, pool.sticky.emplace());
  if (auto ss = field(v, "slow_start")) loadSlowStart(*ss, pool.slow_start);
  if (auto za = field(v, "zone_aware")) {
    if (auto flag = boolean(*za)) pool.zone_aware = *flag;
  }
  if (auto zm = field(v, "zone_min_healthy")) {
    if (!pool.zone_aware) {
      error(*zm, "needs zone_aware: true");
    } else if (auto n = percentWithSign(*zm, 100)) {
      pool.zone_min_healthy = *n;
    }
  }
  if (auto q = field(v, "queue")) loadQueue(*q, pool.queue.emplace());
}

void Loader::loadHashKey(const Value& v, HashKey& key) {
  const std::optional<std::string> text = scalar(v, "a hash key");
  if (!text) return;
  const std::string_view t = *text;
  const auto named = [&](std::string_view prefix, HashKey::Kind kind) {
    if (t.substr(0, prefix.size()) != prefix) return false;
    const std::string_view name = t.substr(prefix.size());
    // Header and cookie names are tokens (RFC 9110 5.6.2); so are the query
    // parameter names we accept.
    const bool token = !name.empty() && name.size() <= 256 && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    if (!token) {
      error(v, "expected a name after " + std::string(prefix) + ", got " + quoted(shortened(t, 70)));
      return true;
    }
    key.kind = kind;
    key.name = std::string(name);
    if (kind == HashKey::Kind::Header) {
      std::transform(key.name.begin(), key.name.end(), key.name.begin(),
                     [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    }
    return true;
  };
  if (t == "client_ip") {
    key.kind = HashKey::Kind::ClientIp;
  } else if (t == "path") {
    key.kind = HashKey::Kind::Path;
  } else if (named("header:", HashKey::Kind::Header) || named("cookie:", HashKey::Kind::Cookie) ||
             named("query:", HashKey::Kind::Query)) {
  } else {
    error(v, "unknown hash key " + quoted(shortened(t, 70)) +
                 " (allowed: client_ip, header:NAME, cookie:NAME, path, query:NAME)");
  }
}

void Loader::loadSticky(const Value& v, StickyConfig& sticky) {
  if (!expectMap(v)) return;
  checkKeys(v, {"cookie", "ttl"});
  if (auto c = field(v, "cookie")) {
    if (auto text = scalar(*c, "a cookie name")) {
      const bool token = !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char ch) {
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || isDigit(ch) || ch == '_' || ch == '-' ||
               ch == '.';
      });
      if (!token) {
        error(*c, "invalid cookie name " + quoted(shortened(*text, 70)) + " (1 to 64 of A-Z a-z 0-9 _ - .)");
      } else {
        sticky.cookie = *text;
      }
    }
  }
  if (auto t = field(v, "ttl")) {
    if (auto d = positiveDuration(*t)) sticky.ttl = *d;
  }
}

void Loader::loadSlowStart(const Value& v, SlowStartConfig& ss) {
  // `slow_start: 30s` (linear) or `slow_start: { window: 30s, aggression: 1.0 }`.
  if (v.node.IsScalar()) {
    if (auto d = positiveDuration(v)) ss.window = *d;
    return;
  }
  if (!v.node.IsMap()) {
    error(v, "expected a duration or a mapping with window and aggression, got " + describe(v.node));
    return;
  }
  checkKeys(v, {"window", "aggression"});
  if (auto w = requiredField(v, "window")) {
    if (auto d = positiveDuration(*w)) ss.window = *d;
  }
  if (auto a = field(v, "aggression")) {
    if (auto d = decimal(*a, 0.0, 10.0, /*min_excluded=*/true)) ss.aggression = *d;
  }
}

void Loader::loadDiscovery(const Value& v, DnsDiscoveryConfig& d) {
  if (!expectMap(v)) return;
  checkKeys(v, {"dns", "refresh", "servers", "keep_last_good", "allow_empty"});
  if (auto dns = requiredField(v, "dns"); dns && expectMap(*dns)) {
    checkKeys(*dns, {"name", "port", "type", "family"});
    if (auto t = field(*dns, "type")) {
      if (auto text = scalar(*t, "a record type")) {
        if (*text == "A") {
          d.type = DnsDiscoveryConfig::Type::A;
        } else if (*text == "AAAA") {
          d.type = DnsDiscoveryConfig::Type::AAAA;
        } else if (*text == "A+AAAA") {
          d.type = DnsDiscoveryConfig::Type::AandAAAA;
        } else if (*text == "SRV") {
          d.type = DnsDiscoveryConfig::Type::Srv;
        } else {
          error(*t, "unknown record type " + quoted(*text) + " (expected A, AAAA, A+AAAA or SRV)");
        }
      }
    }
    if (auto name = requiredField(*dns, "name")) {
      if (auto text = scalar(*name, "a DNS name")) {
        const bool valid = !text->empty() && text->size() <= 253 && std::all_of(text->begin(), text->end(), [](char c) {
          return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '.' || c == '-';
        });
        if (!valid) error(*name, "invalid DNS name " + quoted(*text) + " (allowed characters: A-Z a-z 0-9 _ . -)");
        d.name = *text;
      }
    }
    if (auto f = field(*dns, "family")) {
      if (d.type != DnsDiscoveryConfig::Type::Srv) {
        error(*f, "family applies to SRV targets only (for a host name, type A, AAAA or A+AAAA picks the records)");
      } else if (auto text = scalar(*f, "an address family")) {
        if (*text == "ipv4") {
          d.family = DnsDiscoveryConfig::Family::IPv4;
        } else if (*text == "ipv6") {
          d.family = DnsDiscoveryConfig::Family::IPv6;
        } else if (*text == "both") {
          d.family = DnsDiscoveryConfig::Family::Both;
        } else {
          error(*f, "unknown family " + quoted(*text) + " (expected ipv4, ipv6 or both)");
        }
      }
    }
    if (d.type == DnsDiscoveryConfig::Type::Srv) {
      if (auto port = field(*dns, "port")) error(*port, "port is taken from the SRV records; remove it");
    } else if (auto port = requiredField(*dns, "port")) {
      if (auto n = integer(*port, 1, 65535)) d.port = static_cast<uint16_t>(*n);
    }
  }
  if (auto r = field(v, "refresh")) {
    if (auto t = positiveDuration(*r)) d.refresh = *t;
  }
  if (auto k = field(v, "keep_last_good")) {
    if (auto text = scalar(*k, "a duration")) {
      if (auto t = parseDuration(*text)) {
        d.keep_last_good = *t;
      } else {
        error(*k, "invalid duration " + quoted(*text) + " (e.g. 5m; 0 = keep forever)");
      }
    }
  }
  if (auto e = field(v, "allow_empty")) {
    if (auto flag = boolean(*e)) d.allow_empty = *flag;
  }
  if (auto servers = field(v, "servers"); servers && expectSequence(*servers)) {
    for (size_t i = 0; i < servers->node.size(); ++i) {
      const Value s = item(*servers, i, servers->node[i]);
      const std::optional<std::string> text = scalar(s, "ip:port");
      if (!text) continue;
      // A name server must be numeric: resolving it would need DNS.
      if (auto addr = address(s, /*allow_port_zero=*/false)) {
        char buf[INET6_ADDRSTRLEN] = {};
        const void* raw = addr->addr.ss_family == AF_INET6
                              ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&addr->addr)->sin6_addr)
                              : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&addr->addr)->sin_addr);
        inet_ntop(addr->addr.ss_family, raw, buf, sizeof(buf));
        if (addr->host != buf) {
          error(s, "a DNS server must be a numeric address, got " + quoted(*text));
          continue;
        }
        d.servers.push_back(std::move(*addr));
      }
    }
  }
}

void Loader::loadQueue(const Value& v, QueueConfig& q) {
  if (!expectMap(v)) return;
  checkKeys(v, {"size", "timeout"});
  if (auto s = field(v, "size")) {
    if (auto n = integer(*s, 1, kMaxQueueSize)) q.size = static_cast<uint32_t>(*n);
  }
  if (auto t = field(v, "timeout")) {
    if (auto d = positiveDuration(*t)) q.timeout = *d;
  }
}

void Loader::loadHealthCheck(const Value& v, HealthCheckConfig& hc) {
  if (!expectMap(v)) return;
  checkKeys(v, {"type", "path", "host", "method", "expect_status", "interval", "timeout", "rise", "fall",
                "jitter", "unhealthy_interval", "initial", "close_tunnels_on_unhealthy"});

  if (auto type = field(v, "type")) {
    if (auto text = scalar(*type, "a health check type")) {
      if (*text == "http") {
        hc.type = HealthCheckConfig::Type::Http;
      } else if (*text == "tcp") {
        hc.type = HealthCheckConfig::Type::Tcp;
      } else {
        error(*type, "unknown health check type " + quoted(*text) + " (allowed: http, tcp)");
      }
    }
  }
  // A tcp check sends no request: these keys would be silently ignored.
  if (hc.type == HealthCheckConfig::Type::Tcp) {
    for (std::string_view key : {"path", "host", "method", "expect_status"}) {
      if (auto f = field(v, key)) error(*f, "only allowed when type is http");
    }
  } else {
    if (auto path = field(v, "path")) {
      if (auto text = scalar(*path, "a path")) {
        if (text->empty() || text->front() != '/') {
          error(*path, "must start with \"/\"");
        } else if (std::any_of(text->begin(), text->end(), isSpaceOrControl)) {
          error(*path, "must not contain spaces or control characters");
        } else {
          hc.path = *text;
        }
      }
    }
    if (auto host = field(v, "host")) {
      if (auto text = scalar(*host, "a host name")) {
        if (text->empty()) {
          error(*host, "must not be empty (leave host out to send the backend address)");
        } else if (std::any_of(text->begin(), text->end(), isSpaceOrControl)) {
          error(*host, "must not contain spaces or control characters");
        } else {
          hc.host = *text;
        }
      }
    }
    if (auto method = field(v, "method")) {
      if (auto text = scalar(*method, "an HTTP method")) {
        if (*text == "GET") {
          hc.method = HealthCheckConfig::Method::Get;
        } else if (*text == "HEAD") {
          hc.method = HealthCheckConfig::Method::Head;
        } else {
          error(*method, "unknown method " + quoted(*text) + " (allowed: GET, HEAD)");
        }
      }
    }
    if (auto expect = field(v, "expect_status")) loadExpectStatus(*expect, hc);
  }

  // Reads a positive duration into `target`; false when written but invalid.
  const auto readDuration = [this](const std::optional<Value>& value, Duration& target) {
    if (!value) return true;
    const std::optional<Duration> d = positiveDuration(*value);
    if (d) target = *d;
    return d.has_value();
  };
  const std::optional<Value> interval = field(v, "interval");
  const std::optional<Value> timeout = field(v, "timeout");
  const std::optional<Value> unhealthy_interval = field(v, "unhealthy_interval");
  const bool interval_ok = readDuration(interval, hc.interval);
  const bool timeout_ok = readDuration(timeout, hc.timeout);
  const bool unhealthy_interval_ok = readDuration(unhealthy_interval, hc.unhealthy_interval);
  // One probe at a time per backend: a timeout longer than the wait between
  // probes would silently stretch the interval. Each check compares with the
  // value in effect (written or default) and points at a key that was
  // written; a value that failed to parse has its own error already.
  if (interval_ok && timeout_ok && hc.timeout > hc.interval) {
    if (timeout) {
      error(*timeout, "must not exceed interval (" + formatDuration(hc.interval) + ")");
    } else {
      error(*interval, "must not be less than timeout (" + formatDuration(hc.timeout) + ", the default)");
    }
  }
  if (unhealthy_interval && unhealthy_interval_ok && timeout_ok && hc.unhealthy_interval < hc.timeout) {
    error(*unhealthy_interval, "must not be less than timeout (" + formatDuration(hc.timeout) + ")");
  }

  for (auto [key, target] : {std::pair{"rise", &hc.rise}, std::pair{"fall", &hc.fall}}) {
    if (auto f = field(v, key)) {
      if (auto n = integer(*f, 1, kMaxRiseFall)) *target = static_cast<uint32_t>(*n);
    }
  }
  if (auto jitter = field(v, "jitter")) {
    if (auto n = percentWithSign(*jitter, kMaxJitterPercent)) hc.jitter_percent = *n;
  }
  if (auto initial = field(v, "initial")) {
    if (auto text = scalar(*initial, "an initial status")) {
      if (*text == "unknown") {
        hc.initial = HealthCheckConfig::Initial::Unknown;
      } else if (*text == "healthy") {
        hc.initial = HealthCheckConfig::Initial::Healthy;
      } else if (*text == "unhealthy") {
        hc.initial = HealthCheckConfig::Initial::Unhealthy;
      } else {
        error(*initial, "unknown initial status " + quoted(*text) + " (allowed: unknown, healthy, unhealthy)");
      }
    }
  }
  if (auto f = field(v, "close_tunnels_on_unhealthy")) {
    if (auto flag = boolean(*f)) hc.close_tunnels_on_unhealthy = *flag;
  }
}

void Loader::loadExpectStatus(const Value& v, HealthCheckConfig& hc) {
  std::vector<StatusRange> ranges;
  if (v.node.IsSequence()) {
    if (v.node.size() == 0) {
      error(v, "at least one status code or range is required");
      return;
    }
    bool ok = true;
    for (size_t i = 0; i < v.node.size(); ++i) ok = statusRange(item(v, i, v.node[i]), ranges) && ok;
    if (!ok) return;
  } else if (v.node.IsScalar()) {
    if (!statusRange(v, ranges)) return;
  } else {
    error(v, "expected a status code, a range like 200-399 or a list of them, got " + describe(v.node));
    return;
  }
  hc.expect_status = std::move(ranges);
}

void Loader::loadOutlierDetection(const Value& v, OutlierDetectionConfig& od) {
  if (!expectMap(v)) return;
  checkKeys(v, {"consecutive_failures", "base_ejection", "max_ejection", "max_ejected_percent",
                "uneject_on_probe_pass"});
  if (auto f = field(v, "consecutive_failures")) {
    if (auto n = integer(*f, 1, std::numeric_limits<uint32_t>::max())) {
      od.consecutive_failures = static_cast<uint32_t>(*n);
    }
  }
  bool base_ok = true;
  if (auto base = field(v, "base_ejection")) {
    if (auto d = positiveDuration(*base)) {
      od.base_ejection = *d;
    } else {
      base_ok = false;
    }
  }
  if (auto max = field(v, "max_ejection")) {
    if (auto d = positiveDuration(*max)) {
      od.max_ejection = *d;
      // Compared with the base in effect (written or default), as for health check timeouts.
      if (base_ok && od.max_ejection < od.base_ejection) {
        error(*max, "must not be less than base_ejection (" + formatDuration(od.base_ejection) + ")");
      }
    }
  } else if (base_ok && od.max_ejection < od.base_ejection) {
    // Only base_ejection was written, and it is above the default maximum.
    error(*field(v, "base_ejection"),
          "must not exceed max_ejection (" + formatDuration(od.max_ejection) + ", the default)");
  }
  if (auto f = field(v, "max_ejected_percent")) {
    if (auto n = integer(*f, 0, 100)) od.max_ejected_percent = static_cast<uint32_t>(*n);
  }
  if (auto f = field(v, "uneject_on_probe_pass")) {
    if (auto flag = boolean(*f)) od.uneject_on_probe_pass = *flag;
  }
}

void Loader::loadRetries(const Value& v, RetryConfig& retries) {
  if (!expectMap(v)) return;
  checkKeys(v, {"attempts", "budget_percent", "budget_min", "on", "replay_buffer"});
  if (auto f = field(v, "attempts")) {
    if (auto n = integer(*f, 0, kMaxRetryAttempts)) retries.attempts = static_cast<uint32_t>(*n);
  }
  if (auto f = field(v, "budget_percent")) {
    if (auto n = integer(*f, 0, 100)) retries.budget_percent = static_cast<uint32_t>(*n);
  }
  if (auto f = field(v, "budget_min")) {
    if (auto n = integer(*f, 0, std::numeric_limits<uint32_t>::max())) {
      retries.budget_min = static_cast<uint32_t>(*n);
    }
  }
  if (auto on = field(v, "on"); on && expectSequence(*on)) {
    // An empty list is allowed: it turns retries off like attempts: 0.
    std::vector<RetryOn> conditions;
    std::vector<std::string> condition_paths;  // parallel to conditions
    bool ok = true;
    for (size_t i = 0; i < on->node.size(); ++i) {
      const Value c = item(*on, i, on->node[i]);
      const std::optional<std::string> text = scalar(c, "a retry condition");
      if (!text) {
        ok = false;
        continue;
      }
      const auto* found = std::find_if(std::begin(kRetryConditions), std::end(kRetryConditions),
                                       [&](const auto& rc) { return rc.first == *text; });
      if (found == std::end(kRetryConditions)) {
        error(c, "unknown retry condition " + quoted(*text) + " (allowed: " +
                     std::string(kRetryConditionsAllowed) + ")");
        ok = false;
        continue;
      }
      const auto dup = std::find(conditions.begin(), conditions.end(), found->second);
      if (dup != conditions.end()) {
        error(c, "duplicate retry condition " + quoted(*text) + " (also at " +
                     condition_paths[static_cast<size_t>(dup - conditions.begin())] + ")");
        ok = false;
        continue;
      }
      conditions.push_back(found->second);
      condition_paths.push_back(c.path);
    }
    if (ok) retries.on = std::move(conditions);
  }
  if (auto f = field(v, "replay_buffer")) {
    if (auto n = size(*f, 0, std::numeric_limits<uint64_t>::max())) retries.replay_buffer = *n;
  }
}

void Loader::loadRoutes(const Value& v, Config& cfg) {
  if (!expectSequence(v)) return;
  // An explicitly empty list is allowed: every request then gets a 404.
  std::map<std::string, std::string, std::less<>> names;  // name -> path of the route that took it
  for (size_t i = 0; i < v.node.size(); ++i) {
    RouteConfig route;
    const Value route_value = item(v, i, v.node[i]);
    loadRoute(route_value, route);
    if (route.name.empty()) {
      route.name = route_value.path;  // "routes[3]": '[' is not allowed in a written name
    } else if (auto [it, inserted] = names.emplace(route.name, route_value.path); !inserted) {
      error(*field(route_value, "name"), "duplicate route name " + quoted(route.name) + " (also at " + it->second + ")");
    }
    cfg.routes.push_back(std::move(route));
  }
}

namespace {

// Headers that carry the message's framing or the connection's state:
// ballast writes them itself, so no route may edit them.
constexpr std::string_view kUneditableHeaders[] = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                                                   "upgrade", "transfer-encoding", "content-length", "host"};

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lowerCase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A header or query value may hold visible characters, spaces and tabs: no
// CR, LF or other control character that could end the line early.
bool validFieldValue(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](unsigned char c) { return (c < ' ' && c != '\t') || c == 0x7f; });
}

// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address into `out`;
// returns the problem, or an empty string.
std::string parseCidr(std::string_view text, Cidr& out) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  out = Cidr{};
  out.text = std::string(text);
  int max_len = 0;
  if (inet_pton(AF_INET, address.c_str(), out.bytes) == 1) {
    out.family = AF_INET;
    max_len = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), out.bytes) == 1) {
    out.family = AF_INET6;
    max_len = 128;
  } else {
    return "expected an address or CIDR block like 10.0.0.0/8 or 2001:db8::/32, got " + quoted(text);
  }
  int len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const std::optional<int64_t> n =
        digits.size() <= 3 && std::all_of(digits.begin(), digits.end(), isDigit) ? parseInteger(digits) : std::nullopt;
    if (!n || *n > max_len) return "prefix length must be between 0 and " + std::to_string(max_len);
    len = static_cast<int>(*n);
  }
  out.prefix_len = static_cast<uint8_t>(len);
  // Bits past the prefix must be zero: "10.1.2.3/8" is most likely a typo
  // for a host or for another block, and silently widening it hides that.
  for (int bit = len; bit < max_len; ++bit) {
    if ((out.bytes[bit / 8] >> (7 - bit % 8)) & 1) {
      Cidr network = out;
      for (int b = len; b < max_len; ++b) network.bytes[b / 8] &= static_cast<uint8_t>(~(1u << (7 - b % 8)));
      char buf[INET6_ADDRSTRLEN] = {};
      inet_ntop(out.family, network.bytes, buf, sizeof buf);
      return "host bits are set past the /" + std::to_string(len) + " prefix (did you mean " + buf + "/" +
             std::to_string(len) + "?)";
    }
  }
  return {};
}

}  // namespace

void Loader::loadRoute(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  checkKeys(v, {"name", "match", "pool", "split", "split_key", "return", "rewrite", "headers", "timeouts", "retries",
                "allow", "deny", "rate_limit"});

  if (auto name = field(v, "name")) {
    if (auto text = scalar(*name, "a route name")) {
      const bool valid = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '.' || c == '-';
      });
      if (valid) {
        route.name = *text;
      } else {
        error(*name, "invalid route name " + quoted(*text) + " (allowed characters: A-Z a-z 0-9 _ . -)");
      }
    }
  }
  if (auto match = field(v, "match"); match && expectMap(*match)) loadRouteMatch(*match, route);

  // Exactly one action.
  const std::optional<Value> pool = field(v, "pool");
  const std::optional<Value> split = field(v, "split");
  const std::optional<Value> ret = field(v, "return");
  const int actions = (pool ? 1 : 0) + (split ? 1 : 0) + (ret ? 1 : 0);
  if (actions == 0) {
    addError(v.mark, childPath(v.path, "pool"), "missing required key (a route needs one of pool, split or return)");
  } else if (actions > 1) {
    const Value& second = ret ? *ret : *split;
    error(second, "a route takes one of pool, split or return, not several");
  }
  if (pool) poolReference(*pool, route.pool, route.pool_index);
  if (split) loadSplit(*split, route);
  if (ret) loadReturn(*ret, route);

  if (auto key = field(v, "split_key")) {
    if (!split) {
      error(*key, "only allowed with split");
    } else {
      route.split_key = requestKey(*key);
    }
  }
  if (auto f = field(v, "rewrite")) loadRewrite(*f, route);
  if (auto f = field(v, "headers")) loadRouteHeaders(*f, route);
  if (auto f = field(v, "timeouts")) loadRouteTimeouts(*f, route);
  if (auto f = field(v, "retries")) loadRouteRetries(*f, route);
  if (auto f = field(v, "allow")) loadCidrList(*f, route.allow);
  if (auto f = field(v, "deny")) loadCidrList(*f, route.deny);
  if (auto f = field(v, "rate_limit")) loadRateLimit(*f, route.rate_limit.emplace());

  // Keys that would do nothing are errors, never silently ignored.
  if (ret) {
    for (std::string_view key : {"timeouts", "retries"}) {
      if (auto f = field(v, key)) error(*f, "has no effect with return (nothing is sent to a backend)");
    }
    if (auto rw = field(v, "rewrite"); rw && rw->node.IsMap()) {
      if (auto host = field(*rw, "host")) error(*host, "has no effect with return (nothing is sent to a backend)");
    }
    if (auto headers = field(v, "headers"); headers && headers->node.IsMap()) {
      if (auto req = field(*headers, "request")) error(*req, "has no effect with return (nothing is sent to a backend)");
    }
  }
  if (auto rw = field(v, "rewrite"); rw && rw->node.IsMap()) {
    if (auto prefix = field(*rw, "path_prefix"); prefix && route.path_prefix.empty() && route.path.empty()) {
      error(*prefix, "needs match.path_prefix or match.path (the part of the path it replaces)");
    }
  }
}

void Loader::loadRouteMatch(const Value& match, RouteConfig& route) {
  checkKeys(match, {"host", "path_prefix", "path", "path_regex", "methods", "headers", "query", "client"});
  if (auto host = field(match, "host")) loadRouteHost(*host, route);
  if (auto prefix = field(match, "path_prefix")) {
    if (auto text = scalar(*prefix, "a path prefix")) {
      if (text->empty() || text->front() != '/') {
        error(*prefix, "must start with \"/\"");
      } else {
        route.path_prefix = *text;
      }
    }
  }
  if (auto path = field(match, "path")) {
    if (auto text = scalar(*path, "a path")) {
      if (text->empty() || text->front() != '/') {
        error(*path, "must start with \"/\"");
      } else if (text->find('?') != std::string::npos) {
        error(*path, "must not contain \"?\" (match query parameters with query)");
      } else if (field(match, "path_prefix")) {
        error(*path, "set path or path_prefix, not both");
      } else {
        route.path = *text;
      }
    }
  }
  if (auto regex = field(match, "path_regex")) {
    if (auto text = scalar(*regex, "a regular expression")) {
      if (auto re = compileRegex(*regex, *text)) {
        route.path_regex = *text;
        route.path_regex_compiled = std::move(re);
      }
    }
  }
  if (auto methods = field(match, "methods"); methods && expectSequence(*methods)) {
    if (methods->node.size() == 0) error(*methods, "at least one method is required (leave methods out to match any)");
    for (size_t i = 0; i < methods->node.size(); ++i) {
      const Value m = item(*methods, i, methods->node[i]);
      auto text = scalar(m, "an HTTP method");
      if (!text) continue;
      const bool valid = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
      });
      if (!valid) {
        error(m, "expected an upper-case HTTP method like GET, got " + quoted(*text));
      } else if (std::find(route.methods.begin(), route.methods.end(), *text) != route.methods.end()) {
        error(m, "duplicate method " + quoted(*text));
      } else {
        route.methods.push_back(*text);
      }
    }
  }
  if (auto headers = field(match, "headers")) loadValueMatches(*headers, /*header_names=*/true, route.headers);
  if (auto query = field(match, "query")) loadValueMatches(*query, /*header_names=*/false, route.query);
  if (auto client = field(match, "client")) loadCidrList(*client, route.client);
}

void Loader::loadRouteHost(const Value& host, RouteConfig& route) {
  auto text = scalar(host, "a host name");
  if (!text) return;
  std::string lower = lowerCase(*text);
  const size_t star = lower.find('*');
  std::string problem;
  if (lower.empty()) {
    problem = "must not be empty (leave host out to match any host)";
  } else if (lower.find("://") != std::string::npos) {
    problem = "expected a host name, not a URL";
  } else if (std::any_of(lower.begin(), lower.end(), isSpace)) {
    problem = "must not contain spaces";
  } else if (lower.find(':') != std::string::npos) {
    problem = "must not contain a port";
  } else if (lower.find('/') != std::string::npos) {
    problem = "must not contain a path (use path_prefix)";
  } else if (star != std::string::npos &&
             (star != 0 || lower.size() < 3 || lower[1] != '.' || lower.find('*', 1) != std::string::npos)) {
    problem = "a wildcard is only allowed as a leading \"*.\", e.g. *.example.com";
  }
  if (problem.empty()) {
    route.host = std::move(lower);
  } else {
    error(host, std::move(problem));
  }
}

std::shared_ptr<const re2::RE2> Loader::compileRegex(const Value& v, const std::string& pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) {
    error(v, "invalid regular expression " + quoted(pattern) + ": " + re->error());
    return nullptr;
  }
  return re;
}

// `headers:` or `query:` of a match: a mapping of name -> condition, where
// the condition is a value (equals), or { present: true|false },
// { equals: V } or { regex: R }.
void Loader::loadValueMatches(const Value& v, bool header_names, std::vector<ValueMatch>& out) {
  if (!expectMap(v)) return;
  std::map<std::string, std::string, std::less<>> seen;  // name -> path, to catch duplicates
  for (const auto& kv : v.node) {
    if (!kv.first.IsScalar()) {
      addError(kv.first.Mark(), v.path, "expected a string key, got " + describe(kv.first));
      continue;
    }
    const std::string& written = kv.first.Scalar();
    const std::string path = childPath(v.path, written);
    const Value value{kv.second, path, kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark()};
    ValueMatch m;
    m.name = header_names ? lowerCase(written) : written;
    if (written.empty() || (header_names && !std::all_of(written.begin(), written.end(), isTokenChar))) {
      addError(kv.first.Mark(), path, header_names ? "invalid header name " + quoted(written) : "must not be empty");
      continue;
    }
    if (auto [it, inserted] = seen.emplace(m.name, path); !inserted) {
      addError(kv.first.Mark(), path, "duplicate name (also at " + it->second + ")");
      continue;
    }
    if (value.node.IsScalar()) {
      m.kind = ValueMatch::Kind::Equals;
      m.value = value.node.Scalar();
    } else if (value.node.IsMap()) {
      checkKeys(value, {"present", "equals", "regex"});
      if (value.node.size() != 1) {
        error(value, "expected exactly one of present, equals or regex");
        continue;
      }
      if (auto present = field(value, "present")) {
        auto flag = boolean(*present);
        if (!flag) continue;
        m.kind = *flag ? ValueMatch::Kind::Present : ValueMatch::Kind::Absent;
      } else if (auto equals = field(value, "equals")) {
        auto text = scalar(*equals, "a value");
        if (!text) continue;
        m.kind = ValueMatch::Kind::Equals;
        m.value = *text;
      } else if (auto regex = field(value, "regex")) {
        auto text = scalar(*regex, "a regular expression");
        if (!text) continue;
        m.regex = compileRegex(*regex, *text);
        if (!m.regex) continue;
        m.kind = ValueMatch::Kind::Regex;
        m.value = *text;
      } else {
        continue;  // the unknown key has its error
      }
    } else {
      error(value, "expected a value or one of { present: true }, { equals: V }, { regex: R }, got " +
                       describe(value.node));
      continue;
    }
    out.push_back(std::move(m));
  }
}

void Loader::loadCidrList(const Value& v, std::vector<Cidr>& out) {
  if (!expectSequence(v)) return;
  if (v.node.size() == 0) error(v, "at least one address or CIDR block is required");
  for (size_t i = 0; i < v.node.size(); ++i) {
    const Value c = item(v, i, v.node[i]);
    auto text = scalar(c, "an address or CIDR block");
    if (!text) continue;
    Cidr cidr;
    if (std::string problem = parseCidr(*text, cidr); !problem.empty()) {
      error(c, std::move(problem));
      continue;
    }
    out.push_back(std::move(cidr));
  }
}

std::optional<RequestKey> Loader::requestKey(const Value& v) {
  auto text = scalar(v, "a request key");
  if (!text) return std::nullopt;
  RequestKey key;
  key.text = *text;
  const size_t colon = text->find(':');
  const std::string_view kind = std::string_view(*text).substr(0, colon);
  const std::string name = colon == std::string::npos ? std::string() : text->substr(colon + 1);
  if (*text == "client_ip") {
    key.source = RequestKey::Source::ClientIp;
    return key;
  }
  static constexpr std::pair<std::string_view, RequestKey::Source> kSources[] = {
      {"header", RequestKey::Source::Header}, {"cookie", RequestKey::Source::Cookie}, {"query", RequestKey::Source::Query}};
  for (const auto& [prefix, source] : kSources) {
    if (kind != prefix || colon == std::string::npos) continue;
    if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar)) {
      error(v, "expected a name after \"" + std::string(prefix) + ":\", e.g. " + std::string(prefix) + ":X-User");
      return std::nullopt;
    }
    key.source = source;
    key.name = source == RequestKey::Source::Header ? lowerCase(name) : name;
    return key;
  }
  error(v, "expected client_ip, header:NAME, cookie:NAME or query:NAME, got " + quoted(*text));
  return std::nullopt;
}

bool Loader::poolReference(const Value& v, std::string& name, size_t& index) {
  auto text = scalar(v, "a pool name");
  if (!text) return false;
  name = *text;
  if (auto it = pool_index_.find(*text); it != pool_index_.end()) {
    index = it->second;
    return true;
  }
  if (pools_usable_) error(v, "unknown pool " + quoted(*text));
  return false;
}

void Loader::loadSplit(const Value& v, RouteConfig& route) {
  if (!expectSequence(v)) return;
  if (v.node.size() == 0) {
    error(v, "at least one { pool, weight } is required");
    return;
  }
  uint64_t total = 0;
  bool weights_ok = true;
  for (size_t i = 0; i < v.node.size(); ++i) {
    const Value t = item(v, i, v.node[i]);
    if (!expectMap(t)) {
      weights_ok = false;
      continue;
    }
    checkKeys(t, {"pool", "weight"});
    SplitTarget target;
    if (auto pool = requiredField(t, "pool")) {
      if (poolReference(*pool, target.pool, target.pool_index)) {
        for (size_t j = 0; j < route.split.size(); ++j) {
          if (route.split[j].pool == target.pool) {
            error(*pool, "pool " + quoted(target.pool) + " is already in this split (" + indexPath(v.path, j) + ")");
          }
        }
      }
    }
    if (auto weight = field(t, "weight")) {
      if (auto n = integer(*weight, 0, kMaxWeight)) {
        target.weight = static_cast<uint32_t>(*n);
      } else {
        weights_ok = false;
      }
    }
    total += target.weight;  // 1 when not written
    route.split.push_back(std::move(target));
  }
  if (weights_ok && total == 0) error(v, "the weights add up to 0: at least one must be above 0");
}

void Loader::loadRewrite(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  checkKeys(v, {"path_prefix", "host"});
  if (auto prefix = field(v, "path_prefix")) {
    if (auto text = scalar(*prefix, "a path prefix")) {
      if (text->empty() || text->front() != '/') {
        error(*prefix, "must start with \"/\"");
      } else if (std::any_of(text->begin(), text->end(), isSpaceOrControl)) {
        error(*prefix, "must not contain spaces or control characters");
      } else {
        route.rewrite_path_prefix = *text;
      }
    }
  }
  if (auto host = field(v, "host")) {
    if (auto text = scalar(*host, "a host name")) {
      const bool valid = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '-' || c == '.' || c == ':' ||
               c == '[' || c == ']' || c == '_';
      });
      if (valid) {
        route.rewrite_host = *text;
      } else {
        error(*host, "expected a host name or host:port, got " + quoted(*text));
      }
    }
  }
}

void Loader::loadRouteHeaders(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  checkKeys(v, {"request", "response"});
  if (auto f = field(v, "request")) loadHeaderEdits(*f, route.request_headers);
  if (auto f = field(v, "response")) loadHeaderEdits(*f, route.response_headers);
}

void Loader::loadHeaderEdits(const Value& v, HeaderEditConfig& edits) {
  if (!expectMap(v)) return;
  checkKeys(v, {"set", "add", "remove"});
  // A name is checked where it is written; false when it cannot be edited.
  const auto editableName = [this](const YAML::Mark& mark, const std::string& path, const std::string& name) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), isTokenChar)) {
      addError(mark, path, "invalid header name " + quoted(name));
      return false;
    }
    const std::string lower = lowerCase(name);
    for (std::string_view fixed : kUneditableHeaders) {
      if (lower == fixed) {
        addError(mark, path, "header " + quoted(name) + " cannot be edited (ballast writes it" +
                                 (lower == "host" ? "; use rewrite.host" : "") + ")");
        return false;
      }
    }
    return true;
  };
  std::map<std::string, std::string, std::less<>> named;  // lower-case name -> path of its first edit
  const auto noteName = [&](const YAML::Mark& mark, const std::string& path, const std::string& lower) {
    if (auto [it, inserted] = named.emplace(lower, path); !inserted) {
      addError(mark, path, "header " + quoted(lower) + " is already edited at " + it->second);
    }
  };
  for (auto [key, target] : {std::pair{"set", &edits.set}, std::pair{"add", &edits.add}}) {
    auto f = field(v, key);
    if (!f || !expectMap(*f)) continue;
    for (const auto& kv : f->node) {
      if (!kv.first.IsScalar()) {
        addError(kv.first.Mark(), f->path, "expected a string key, got " + describe(kv.first));
        continue;
      }
      const std::string& name = kv.first.Scalar();
      const std::string path = childPath(f->path, name);
      if (!editableName(kv.first.Mark(), path, name)) continue;
      noteName(kv.first.Mark(), path, lowerCase(name));
      const Value value{kv.second, path, kv.second.IsNull() ? kv.first.Mark() : kv.second.Mark()};
      auto text = scalar(value, "a header value");
      if (!text) continue;
      if (!validFieldValue(*text)) {
        error(value, "must not contain control characters (CR, LF, ...)");
        continue;
      }
      target->emplace_back(name, *text);  // written as the operator spelled it
    }
  }
  if (auto f = field(v, "remove"); f && expectSequence(*f)) {
    for (size_t i = 0; i < f->node.size(); ++i) {
      const Value n = item(*f, i, f->node[i]);
      auto name = scalar(n, "a header name");
      if (!name || !editableName(n.mark, n.path, *name)) continue;
      noteName(n.mark, n.path, lowerCase(*name));
      edits.remove.push_back(lowerCase(*name));
    }
  }
}

void Loader::loadReturn(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  checkKeys(v, {"status", "location", "body"});
  ReturnConfig& ret = route.ret.emplace();
  bool status_ok = false;
  const std::optional<Value> status = requiredField(v, "status");
  if (status) {
    if (auto n = integer(*status, 200, kMaxStatus)) {
      if (*n == 204 || *n == 205 || *n == 304) {
        error(*status, "status " + std::to_string(*n) + " has no body; use another status");
      } else {
        ret.status = static_cast<int>(*n);
        status_ok = true;
      }
    }
  }
  const bool redirect = ret.status == 301 || ret.status == 302 || ret.status == 303 || ret.status == 307 ||
                        ret.status == 308;
  if (auto location = field(v, "location")) {
    if (auto text = scalar(*location, "a URL")) {
      std::string problem;
      if (text->empty()) {
        problem = "must not be empty";
      } else if (std::any_of(text->begin(), text->end(), isSpaceOrControl)) {
        problem = "must not contain spaces or control characters";
      } else {
        for (size_t i = 0; i < text->size() && problem.empty(); ++i) {
          const char c = (*text)[i];
          if (c != '{' && c != '}') continue;
          const size_t close = c == '{' ? text->find('}', i) : std::string::npos;
          const std::string var = close == std::string::npos ? text->substr(i, 1) : text->substr(i, close - i + 1);
          if (var != "{host}" && var != "{path}") {
            problem = "unknown variable " + quoted(var) + " (allowed: {host}, {path})";
          }
          if (close != std::string::npos) i = close;
        }
      }
      if (!problem.empty()) {
        error(*location, std::move(problem));
      } else if (status_ok && !((ret.status >= 300 && ret.status < 400) || ret.status == 201)) {
        error(*location, "only allowed with a 3xx or 201 status");
      } else {
        ret.location = *text;
      }
    }
  } else if (status_ok && redirect) {
    error(*status, "a redirect needs location");
  }
  if (auto body = field(v, "body")) {
    if (auto text = scalar(*body, "a string")) ret.body = *text;
  }
}

void Loader::loadRateLimit(const Value& v, RateLimitConfig& rl) {
  if (!expectMap(v)) return;
  checkKeys(v, {"requests_per_second", "burst", "key", "max_keys"});
  if (auto rps = requiredField(v, "requests_per_second")) {
    if (auto text = scalar(*rps, "a number")) {
      // A plain decimal: digits, at most one '.', nothing else.
      const bool shaped = !text->empty() && std::count(text->begin(), text->end(), '.') <= 1 &&
                          std::all_of(text->begin(), text->end(), [](char c) { return isDigit(c) || c == '.'; }) &&
                          text->front() != '.' && text->back() != '.';
      const double n = shaped ? std::strtod(text->c_str(), nullptr) : 0;
      if (!shaped) {
        error(*rps, "expected a number like 100 or 0.5, got " + quoted(*text));
      } else if (n < 0.001 || n > 1e6) {
        error(*rps, "must be between 0.001 and 1000000");
      } else {
        rl.requests_per_second = n;
      }
    }
  }
  if (auto burst = field(v, "burst")) {
    if (auto n = integer(*burst, 1, 1'000'000'000)) rl.burst = static_cast<uint32_t>(*n);
  } else {
    rl.burst = static_cast<uint32_t>(std::max(1.0, std::ceil(rl.requests_per_second)));
  }
  if (auto key = field(v, "key")) {
    if (auto k = requestKey(*key)) rl.key = std::move(*k);
  } else {
    rl.key.text = "client_ip";
  }
  if (auto max = field(v, "max_keys")) {
    if (auto n = integer(*max, 1, 10'000'000)) rl.max_keys = static_cast<uint32_t>(*n);
  }
}

void Loader::loadRouteTimeouts(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  checkKeys(v, {"connect", "backend_response"});
  if (auto f = field(v, "connect")) route.connect_timeout = positiveDuration(*f);
  if (auto f = field(v, "backend_response")) route.backend_response_timeout = positiveDuration(*f);
}

void Loader::loadRouteRetries(const Value& v, RouteConfig& route) {
  if (!expectMap(v)) return;
  // The budget bounds a pool's extra load, whichever route sent it.
  for (std::string_view key : {"budget_percent", "budget_min"}) {
    if (auto f = field(v, key)) error(*f, "the retry budget is per pool: set it in the pool's retries");
  }
  RetryConfig parsed;  // loadRetries checks every key and value
  loadRetries(v, parsed);
  if (field(v, "attempts")) route.retry_attempts = parsed.attempts;
  if (field(v, "on")) route.retry_on = parsed.on;
  if (field(v, "replay_buffer")) route.retry_replay_buffer = parsed.replay_buffer;
}

FileRead readFile(const std::string& path, size_t max_bytes, std::string& out) {
  // O_NONBLOCK so that opening a FIFO nobody writes to does not wait for a
  // writer. It is cleared before reading: reads then wait for data as usual,
  // and a FIFO without a writer reads as empty at once.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return FileRead{errno};
  FileRead result;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    result.too_large = true;
    result.size = static_cast<uint64_t>(st.st_size);
    return result;
  }
  if (const int flags = ::fcntl(fd, F_GETFL); flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  // Whatever the file claims to be (a growing file, /dev/zero), reading
  // stops one byte past the limit.
  char buf[65536];
  while (out.size() <= max_bytes) {
    const size_t want = std::min(sizeof(buf), max_bytes + 1 - out.size());
    const ssize_t n = ::read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      result.error = errno;
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (result.error == 0 && out.size() > max_bytes) result.too_large = true;
  return result;
}

// ---------------------------------------------------------------------------
// Bounds, checked on yaml-cpp's event stream before any node is built.
//
// yaml-cpp 0.7 needs guards its node API cannot give:
// * YAML::LoadAll() loops for ever on a document that consumes no token.
//   SingleDocParser::HandleNode() answers a token that cannot start a node
//   (a "," in block context, a "?" left over after a root scalar with an
//   anchor or tag) with an empty node and does not pop the token, so the
//   next document starts at the same token, and LoadAll() appends one more
//   empty document per turn until memory runs out. A file holding just ","
//   does it. (yaml-cpp issue #1040; fixed upstream in 2024 by PR #1319,
//   after 0.8.0.) YAML::Load() reads only the first document and returns.
// * It builds every node before anything can be counted, and the Loader
//   walks each alias as a copy of its anchor.
// So the text first goes through yaml-cpp's own event parser with the
// handler below, which builds nothing, counts, and throws a LimitHit at the
// first bound crossed (or at the first document that would repeat). Only
// then does YAML::Load() build the first document. The extra pass adds
// about 40% to what YAML::Load() takes.
//
// What this cannot bound: yaml-cpp tokenizes a whole flow collection
// ("[...]", "{...}") before the parser sees its first token, so for those
// the time and memory before an event arrives are bounded by the file size
// cap alone.

// A bound crossed (or the endless loop above): the one error to report.
struct LimitHit {
  YAML::Mark mark;
  std::string path;
  std::string message;
};

class BoundsChecker final : public YAML::EventHandler {
 public:
  // `text` is what the parser reads, for naming the token at a mark.
  // Both are borrowed and must outlive the checker.
  BoundsChecker(const std::string& text, const LoadLimits& limits) : text_(text), limits_(limits) {}

  // Where the root of the second document is, when there is one.
  const std::optional<YAML::Mark>& secondDocument() const { return second_document_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // A document made of nothing but an empty root, starting where the last
    // one started, consumed no token: the parser is stuck there.
    if (stuck_ && mark.pos == document_start_.pos) {
      throw LimitHit{mark, "", "invalid YAML: unexpected " + tokenAt(mark)};
    }
    document_start_ = mark;
    ++documents_;
    events_in_document_ = 0;
    stuck_ = false;
    stack_.clear();
    anchors_.clear();  // anchor ids restart with each document
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    stuck_ = events_in_document_ == 0 && anchor == YAML::NullAnchor;
    countNode(mark);
    keyIsNotAString();
    complete(anchor, 1, 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    countNode(mark);
    if (readingKey()) {
      checkKeyLength(mark, value.size(), value);
      stack_.back().key = value;
      stack_.back().key_is_string = true;
    }
    complete(anchor, 1, value.size());
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    noteRoot(mark);
    // yaml-cpp has checked that the anchor exists; every anchor has had its node event.
    static const Anchor kUnknown;
    const Anchor& target = anchor < anchors_.size() ? anchors_[anchor] : kUnknown;
    if (target.open) {
      throw LimitHit{mark, path(), "alias *" + shortened(target.name, kMaxEchoBytes) +
                                       " is inside the node it refers to (recursive structures are not allowed)"};
    }
    alias_nodes_ = saturatingAdd(alias_nodes_, target.nodes);
    if (alias_nodes_ > limits_.max_alias_nodes) {
      throw LimitHit{mark, path(), "aliases expand to more than " + std::to_string(limits_.max_alias_nodes) +
                                       " nodes; the limit is " + std::to_string(limits_.max_alias_nodes)};
    }
    // A key written as an alias of a long string is as long as the string.
    if (readingKey()) {
      checkKeyLength(mark, target.scalar_bytes, "*" + target.name);
      keyIsNotAString();
    }
    complete(YAML::NullAnchor, target.nodes, 0);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { close(); }

  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

 private:
  // Node counts saturate here: far above any limit, never overflowing.
  static constexpr uint64_t kSaturated = uint64_t{1} << 62;
  static uint64_t saturatingAdd(uint64_t a, uint64_t b) { return std::min(a + b, kSaturated); }

  // An open list or mapping.
  struct Frame {
    bool is_map = false;
    YAML::anchor_t anchor = YAML::NullAnchor;
    uint64_t nodes = 1;         // nodes inside, itself included, aliases expanded
    size_t children = 0;        // complete nodes directly inside (keys and values for a mapping)
    std::string key;            // mapping: the last key, when key_is_string
    bool key_is_string = false;
  };
  // An anchor of the current document, by id.
  struct Anchor {
    bool open = false;        // its node is not complete yet
    uint64_t nodes = 1;       // its node's size, aliases expanded
    size_t scalar_bytes = 0;  // its length when it is a scalar
    std::string name;
  };

  bool readingKey() const { return !stack_.empty() && stack_.back().is_map && stack_.back().children % 2 == 0; }
  void keyIsNotAString() {
    if (readingKey()) stack_.back().key_is_string = false;
  }

  // Every node but an alias (which builds no node) counts against max_nodes.
  void countNode(const YAML::Mark& mark) {
    noteRoot(mark);
    if (++nodes_ > limits_.max_nodes) {
      throw LimitHit{mark, path(), "more than " + std::to_string(limits_.max_nodes) +
                                       " YAML nodes; the limit is " + std::to_string(limits_.max_nodes)};
    }
  }
  void noteRoot(const YAML::Mark& mark) {
    if (events_in_document_++ == 0 && documents_ == 2) second_document_ = mark;
  }

  void checkKeyLength(const YAML::Mark& mark, size_t bytes, std::string_view shown) const {
    if (bytes <= limits_.max_key_bytes) return;
    throw LimitHit{mark, path(shown), "key is " + std::to_string(bytes) + " bytes; the limit is " +
                                          std::to_string(limits_.max_key_bytes) + " bytes"};
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    countNode(mark);
    if (stack_.size() >= limits_.max_depth) {
      throw LimitHit{mark, path(), "nested " + std::to_string(stack_.size() + 1) + " levels deep; the limit is " +
                                       std::to_string(limits_.max_depth)};
    }
    keyIsNotAString();
    if (anchor != YAML::NullAnchor) anchorAt(anchor) = Anchor{true, 1, 0, std::move(anchor_name_)};
    Frame& frame = stack_.emplace_back();
    frame.is_map = is_map;
    frame.anchor = anchor;
  }
  void close() {
    const Frame done = std::move(stack_.back());
    stack_.pop_back();
    complete(done.anchor, done.nodes, 0);
  }
  // A node of `nodes` nodes is complete: record it under its anchor and add
  // it to its parent.
  void complete(YAML::anchor_t anchor, uint64_t nodes, size_t scalar_bytes) {
    if (anchor != YAML::NullAnchor) {
      Anchor& a = anchorAt(anchor);
      if (!a.open) a.name = std::move(anchor_name_);  // a scalar or empty value: named just now
      a.open = false;
      a.nodes = nodes;
      a.scalar_bytes = scalar_bytes;
    }
    if (stack_.empty()) return;
    Frame& parent = stack_.back();
    parent.nodes = saturatingAdd(parent.nodes, nodes);
    ++parent.children;
  }
  Anchor& anchorAt(YAML::anchor_t id) {
    if (id >= anchors_.size()) anchors_.resize(id + 1);
    return anchors_[id];
  }

  // The key path of the node being read: the Loader's spelling
  // ("pools[0].backends[2]"). For a mapping key itself, `key` is appended
  // (shortened); the contents of a key that is not a string are named after
  // its mapping.
  std::string path(std::optional<std::string_view> key = std::nullopt) const {
    std::string out;
    for (size_t i = 0; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (!f.is_map) {
        out = indexPath(out, f.children);
      } else if (f.children % 2 == 1) {
        if (f.key_is_string) out = childPath(out, f.key);
      } else if (key && i + 1 == stack_.size()) {
        out = childPath(out, shortened(*key, kMaxKeyShownBytes));
      }
    }
    return out;
  }
  static constexpr size_t kMaxKeyShownBytes = 40;

  // The token at `mark`, for a message: "\",\"", or "token" when it is not
  // a printable character.
  std::string tokenAt(const YAML::Mark& mark) const {
    if (mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size()) {
      const char c = text_[static_cast<size_t>(mark.pos)];
      if (c > ' ' && c < 0x7f) return quoted(std::string_view(&c, 1));
    }
    return "token";
  }

  const std::string& text_;
  const LoadLimits& limits_;
  size_t documents_ = 0;
  size_t events_in_document_ = 0;
  YAML::Mark document_start_;
  bool stuck_ = false;  // the current document so far is one empty root and nothing else
  std::optional<YAML::Mark> second_document_;
  uint64_t nodes_ = 0;        // all documents
  uint64_t alias_nodes_ = 0;  // all documents
  std::vector<Frame> stack_;
  std::vector<Anchor> anchors_;
  std::string anchor_name_;  // from OnAnchor(), for the node event that follows it
};

// "2026-12-31T00:00:00Z" -> unix seconds; nullopt for any other shape.
std::optional<double> parseUtcTime(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
      static_cast<size_t>(n) != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<double>(timegm(&tm));
}

void Loader::loadDrills(const Value& v, Config& cfg) {
  if (!expectSequence(v)) return;
  for (size_t i = 0; i < v.node.size(); ++i) {
    DrillConfig d;
    const Value it = item(v, i, v.node[i]);
    d.position = position(it);
    const size_t errors = errors_.size();
    loadDrill(it, cfg, d);
    if (errors_.size() == errors) cfg.drills.push_back(std::move(d));
  }
}

void Loader::loadDrill(const Value& v, const Config& cfg, DrillConfig& d) {
  if (!expectMap(v)) return;
  checkKeys(v, {"pool", "route", "abort", "delay", "header", "expires", "duration"});
  const auto pool = field(v, "pool");
  const auto route = field(v, "route");
  if (pool.has_value() == route.has_value()) {
    error(v, pool ? "a drill targets a pool or a route, not both" : "a drill needs a target: pool or route");
  } else if (pool) {
    if (auto name = scalar(*pool, "a pool name")) {
      if (pools_usable_ && pool_index_.find(*name) == pool_index_.end()) {
        error(*pool, "unknown pool " + quoted(*name));
      } else {
        d.pool = *name;
        d.pools = {*name};
      }
    }
  } else if (auto name = scalar(*route, "a route name")) {
    const auto r = std::find_if(cfg.routes.begin(), cfg.routes.end(), [&](const RouteConfig& x) { return x.name == *name; });
    if (r == cfg.routes.end()) {
      error(*route, "unknown route " + quoted(*name) + " (a route is named by its `name:`)");
    } else if (r->pool.empty() && r->split.empty()) {
      error(*route, "route " + quoted(*name) + " answers by itself (return): no request of it reaches a pool");
    } else {
      d.route = *name;
      if (!r->pool.empty()) d.pools.push_back(r->pool);
      for (const auto& t : r->split) d.pools.push_back(t.pool);
    }
  }
  const auto abort = field(v, "abort");
  const auto delay = field(v, "delay");
  if (abort.has_value() == delay.has_value()) {
    error(v, abort ? "a drill is an abort or a delay, not both" : "a drill needs a fault: abort or delay");
  }
  const auto percent = [&](const Value& m) {
    if (auto p = requiredField(m, "percent")) {
      if (auto n = integer(*p, 1, 100)) d.percent = static_cast<uint32_t>(*n);
    }
  };
  if (abort && expectMap(*abort)) {
    d.action = DrillConfig::Action::Abort;
    checkKeys(*abort, {"percent", "status"});
    percent(*abort);
    if (auto st = field(*abort, "status")) {
      if (auto n = integer(*st, 500, 599)) d.status = static_cast<int>(*n);
    }
  } else if (delay && expectMap(*delay)) {
    d.action = DrillConfig::Action::Delay;
    checkKeys(*delay, {"percent", "duration"});
    percent(*delay);
    if (auto du = requiredField(*delay, "duration")) {
      if (auto ms = positiveDuration(*du)) {
        if (ms->count() > 600000) {
          error(*du, "must be at most 10m (a held request keeps its client connection)");
        } else {
          d.delay = *ms;
        }
      }
    }
  }
  if (auto h = field(v, "header")) {
    if (auto name = scalar(*h, "a header name")) {
      const bool token = !name->empty() && std::all_of(name->begin(), name->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      if (!token) {
        error(*h, "expected a header name such as x-ballast-drill, got " + quoted(*name));
      } else {
        d.header = *name;
      }
    }
  }
  // Always an expiry: a drill forgotten in the config must end by itself.
  const auto expires = field(v, "expires");
  const auto duration = field(v, "duration");
  if (expires.has_value() == duration.has_value()) {
    error(v, expires ? "expires or duration, not both"
                     : "a drill needs an expiry: expires (2026-12-31T00:00:00Z) or duration (10m, from load)");
  } else if (expires) {
    if (auto text = scalar(*expires, "a UTC time")) {
      if (auto t = parseUtcTime(*text)) {
        d.expires = *t;
      } else {
        error(*expires, "expected a UTC time like 2026-12-31T00:00:00Z, got " + quoted(*text));
      }
    }
  } else if (auto ms = positiveDuration(*duration)) {
    if (ms->count() > 7 * 24 * 3600 * 1000LL) {
      error(*duration, "must be at most 7d (168h)");
    } else {
      d.duration = *ms;
    }
  }
}

// Runs yaml-cpp's event parser over every document in `text` with the
// bounds above. Returns the first bound crossed, or nullopt and sets
// `second_document` when there is more than one document. yaml-cpp's
// syntax errors propagate as YAML::Exception.
std::optional<LimitHit> checkBounds(const std::string& text, const LoadLimits& limits,
                                    std::optional<YAML::Mark>& second_document) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  BoundsChecker checker(text, limits);
  try {
    // Ends: every turn consumes at least one token, or the checker throws.
    while (parser.HandleNextDocument(checker)) {
    }
  } catch (const LimitHit& hit) {
    return hit;
  }
  second_document = checker.secondDocument();
  return std::nullopt;
}

LoadResult loadOrThrow(const std::string& yaml, const std::string& file_name, const LoadLimits& limits) {
  LoadResult result;
  Loader loader(file_name, limits);
  if (yaml.size() > limits.max_file_bytes) {
    result.errors.push_back(ConfigError{file_name, 0, 0, "",
                                        tooLargeMessage("config file", FileRead{0, true, yaml.size()},
                                                        limits.max_file_bytes)});
    return result;
  }
  std::optional<YAML::Mark> second_document;
  YAML::Node root;
  try {
    if (std::optional<LimitHit> hit = checkBounds(yaml, limits, second_document)) {
      loader.addError(hit->mark, std::move(hit->path), std::move(hit->message));
      result.errors = loader.takeErrors();
      return result;
    }
    // Reads the first document only: the checks above passed for all of them.
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    // Syntax errors: yaml-cpp stops at the first one, so this is the only error.
    loader.addError(e.mark, "", "invalid YAML: " + e.msg);
    result.errors = loader.takeErrors();
    return result;
  }

  Config cfg;
  cfg.source_path = file_name;
  // An empty text has no document: root is then a null node, "config is empty".
  loader.loadDocument(root, cfg);
  // Later documents would be silently ignored; say so instead.
  if (second_document) loader.addError(*second_document, "", "expected a single YAML document");
  result.errors = loader.takeErrors();
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

}  // namespace

LoadResult loadConfigString(const std::string& yaml, const std::string& file_name, const LoadLimits& limits) {
  try {
    return loadOrThrow(yaml, file_name, limits);
  } catch (const std::exception& e) {
    // Not expected: the loader checks node types before using them. Kept so
    // that the "never throws" contract holds even for yaml-cpp surprises.
    LoadResult result;
    result.errors.push_back(ConfigError{file_name, 0, 0, "", std::string("internal error: ") + e.what()});
    return result;
  }
}

std::optional<ConfigError> readConfigFile(const std::string& path, std::string& text, const LoadLimits& limits) {
  text.clear();
  const FileRead read = readFile(path, limits.max_file_bytes, text);
  if (read.error == 0 && !read.too_large) return std::nullopt;
  text.clear();
  return ConfigError{path, 0, 0, "",
                     read.error != 0 ? "cannot read file: " + std::generic_category().message(read.error)
                                     : tooLargeMessage("config file", read, limits.max_file_bytes)};
}

LoadResult loadConfigFile(const std::string& path, const LoadLimits& limits) {
  std::string text;
  if (auto err = readConfigFile(path, text, limits)) {
    LoadResult result;
    result.errors.push_back(std::move(*err));
    return result;
  }
  return loadConfigString(text, path, limits);
}

const char* toString(DnsDiscoveryConfig::Type t) {
  switch (t) {
    case DnsDiscoveryConfig::Type::A: return "A";
    case DnsDiscoveryConfig::Type::AAAA: return "AAAA";
    case DnsDiscoveryConfig::Type::AandAAAA: return "A+AAAA";
    case DnsDiscoveryConfig::Type::Srv: return "SRV";
  }
  return "A";
}

const char* toString(DnsDiscoveryConfig::Family f) {
  switch (f) {
    case DnsDiscoveryConfig::Family::IPv4: return "ipv4";
    case DnsDiscoveryConfig::Family::IPv6: return "ipv6";
    case DnsDiscoveryConfig::Family::Both: return "both";
  }
  return "both";
}

}  // namespace ballast::config
