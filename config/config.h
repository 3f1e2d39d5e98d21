// Plain configuration structs with their defaults. No parsing, no I/O here:
// config_loader.cc turns YAML into these and validates everything, so the
// runtime (lb/, health/) can trust every value it reads.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace re2 {
class RE2;
}

namespace ballast::config {

using Duration = std::chrono::milliseconds;

// A resolved socket address. `text` is what the operator wrote (for logs and
// metric labels); `addr`/`addr_len` are resolved once at load time.
struct Address {
  std::string text;  // as written, e.g. "127.0.0.1:9001", "[::1]:80", "svc.local:80"
  std::string host;  // host part without brackets
  uint16_t port = 0;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
};

// Where a value was written, for errors found after loading (a certificate
// that does not match its key is found by the TLS layer, not the loader).
struct Position {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string path;  // key path, e.g. "listen[1].tls.certificates[0]"
};

enum class TlsVersion { Tls12, Tls13 };

// One certificate of a TLS listener. The loader resolves the paths (relative
// to the config file) but does not read the files: the TLS layer reads and
// checks them (chain, key match, expiry, names) on every load and reload.
struct CertificateConfig {
  std::string cert;       // as written (for messages and metric labels)
  std::string key;        // as written
  std::string cert_path;  // resolved
  std::string key_path;   // resolved
  Position where;
};

// TLS termination on one listener.
struct ListenerTlsConfig {
  // At least one. SNI picks one: an exact name, then a wildcard; the first
  // is the default (no SNI, or no name matches).
  std::vector<CertificateConfig> certificates;
  TlsVersion min_version = TlsVersion::Tls12;
  // OpenSSL cipher list for TLS 1.2; empty = ballast's defaults (ECDHE with
  // AES-GCM or ChaCha20-Poly1305). TLS 1.3 suites are OpenSSL's defaults.
  std::string ciphers;
  Position ciphers_where;
  // Protocols offered through ALPN; only "http/1.1" is spoken. Empty = no ALPN.
  std::vector<std::string> alpn{"http/1.1"};
  // Stateless resumption with ticket keys generated and rotated in memory.
  bool session_tickets = true;
};

// A proxy listener: an address, plain or TLS.
struct ListenConfig : Address {
  std::optional<ListenerTlsConfig> tls;
};

// TLS from ballast to the backends of one pool (`tls:` of a pool).
struct PoolTlsConfig {
  bool enabled = true;   // `tls: {}` turns it on; `enabled: false` keeps the block but off
  bool verify = true;    // verify the backend's certificate chain and name
  std::string ca;        // as written; empty = the system's trust store
  std::string ca_path;   // resolved
  Position ca_where;
  std::string sni;       // empty = the backend's host name (none for an IP address)
  Position where;
};

struct AdminConfig {
  // Default 127.0.0.1:9100 (filled in by the loader when absent).
  Address listen;
  // Bearer token for the admin API: from `token`, or read (and trimmed of
  // surrounding whitespace) from `token_file` at load time. Empty = none.
  // Required by the loader when `listen` is not a loopback address. When
  // set, every POST needs `Authorization: Bearer <token>`.
  std::string token;
  std::string token_file;  // as written (for messages); empty when `token` was used
  // Reads (GET /status, /metrics) need the token too. /healthz, /readyz and
  // the status page shell (GET /) stay open.
  bool protect_reads = false;
};

enum class LogLevel { Trace, Debug, Info, Warn, Error };

struct LogConfig {
  LogLevel level = LogLevel::Info;
  // "stdout" | "stderr" | "off" | a file path. Access log: one JSON line per request.
  std::string access = "stdout";
  // Operational events (start, listen, errors, state changes) as JSON lines.
  std::string events = "stderr";
};

struct Timeouts {
  Duration connect{2000};           // backend connect
  Duration client_header{10000};    // whole request head must arrive within this
  Duration backend_response{30000}; // time to first response byte, and max gap between response reads
  Duration client_idle{60000};      // keep-alive idle; also max gap while a client sends a body or reads a response
  Duration backend_idle{60000};     // idle pooled backend connection
  // Lingering close: after an answer that closes the connection while the
  // client may still be sending (an error reply, a body not read to its
  // end), the write side is shut down and input is read and discarded, so
  // the kernel does not answer the unread bytes with a RST that destroys
  // the reply. At most `lingering` between reads, `lingering_total` in all.
  Duration lingering{5000};
  Duration lingering_total{30000};
  // An upgraded connection (WebSocket) with no byte in either direction for
  // this long is closed; client_idle and backend_response do not apply to it.
  Duration tunnel{3600000};
};

// Operator overrides (drain/disable through the admin API).
struct OverridesConfig {
  // An override given without `for` raises backend_override_stale (event and
  // metric) once it is this old: a backend left disabled after maintenance.
  Duration warn_after{4 * 3600 * 1000};
};

// reload.guard: after a reload, watch the pools it added or changed for
// `window`; if one of them falls below `min_available_percent` of its
// backends available (once every one of them has a probe result), roll
// back to the previous config by itself. Absent = no guard.
struct ReloadGuardConfig {
  Duration window{30000};
  uint32_t min_available_percent = 50;
};

// journal: every operational event (the event log's lines at info and
// above) appended to `path`, flushed per event, rotated when it would pass
// `max_size` keeping `keep` older files. Empty path = no journal.
struct JournalConfig {
  std::string path;  // relative to the config file's directory
  uint64_t max_size = 64ull * 1024 * 1024;
  uint32_t keep = 5;
};

// incidents: a pool's incident opens when it has no available backend or
// its available share falls below `threshold_percent`, and closes once it
// has stayed at or above the threshold for `settle`.
struct IncidentsConfig {
  uint32_t threshold_percent = 50;
  Duration settle{30000};
};

// drills: a fault injected from the config into one pool's requests, or one
// route's, that always ends by itself: at `expires` (unix seconds), or
// `duration` after the config was first loaded with it. Exactly one of
// pool and route; exactly one of abort and delay; exactly one of expires
// and duration (the loader enforces all three).
struct DrillConfig {
  enum class Action : uint8_t { Abort, Delay };
  std::string pool;                // pool drills
  std::string route;               // route drills: that route's requests only
  std::vector<std::string> pools;  // the pools it applies to (the pool, or the route's pools)
  Action action = Action::Abort;
  uint32_t percent = 0;            // 1..100 of the matching requests
  int status = 503;                // abort: 500..599
  Duration delay{0};               // delay: how long a picked request is held
  std::string header;              // non-empty: only requests carrying this header
  double expires = 0;              // unix seconds; 0 = `duration` from load
  Duration duration{0};
  Position position;               // where it was written (file:line), for its events
};

// notify: the paging chain (lb/notify). Targets are webhooks; rules say
// which events go to which targets, and after how long an unacknowledged
// incident escalates to more of them.
enum class NotifyFormat : uint8_t { Slack, Json, Alertmanager };

struct NotifyTarget {
  std::string name;
  std::string url;          // as written
  bool https = false;
  Address address;          // host:port of the URL, resolved at load
  std::string host_header;  // host[:port] as in the URL
  std::string path;         // path and query ("/" when the URL has none)
  NotifyFormat format = NotifyFormat::Json;
  PoolTlsConfig tls;        // https: verify against `ca` (else the system's store), SNI = the URL's host
  Position where;
};

struct NotifyEscalation {
  Duration after{0};
  std::vector<std::string> notify;  // target names
};

struct NotifyRule {
  std::vector<std::string> events;  // backend_down, backend_up, pool_degraded, pool_down, resolved, reload_failed
  std::vector<std::string> notify;  // target names
  std::vector<NotifyEscalation> escalate;
};

struct NotifyConfig {
  std::vector<NotifyTarget> targets;
  std::vector<NotifyRule> rules;
  Duration group_wait{2000};       // backend events of one pool within this window: one message
  Duration repeat{0};              // re-send an unacknowledged open incident; 0 = never
  Duration connect_timeout{2000};  // per attempt
  Duration timeout{5000};          // per attempt: from the request sent to the response status
  uint32_t retries = 3;            // attempts after the first, then dropped
  Duration backoff{1000};          // before the first retry; doubles, at most 5 minutes
  uint32_t queue = 100;            // messages waiting per target; the oldest is dropped beyond
};

// Graceful shutdown (SIGTERM/SIGINT).
struct DrainConfig {
  Duration delay{0};        // keep accepting this long after /readyz turns 503 (outer LB notices)
  Duration timeout{30000};  // then wait at most this long for in-flight requests
};

struct Limits {
  uint32_t max_connections = 10000;  // accepting pauses above this
  uint32_t max_header_bytes = 16384; // request head larger -> 431
  uint64_t max_body_bytes = 0;       // 0 = unlimited; larger -> 413
  uint32_t max_headers = 100;        // header lines in a request head; more -> 431
  uint32_t max_request_line = 8192;  // method + target + version; longer -> 414
  // Client connections from one source address at once; 0 = no limit. A
  // request on a connection over the limit is answered 429 (and closed).
  uint32_t max_connections_per_client = 0;
  // Slowest upload accepted, in bytes per second averaged over
  // min_body_rate_window while ballast waits on the client; 0 = off. Slower
  // -> 408.
  uint64_t min_body_rate = 0;
  Duration min_body_rate_window{10000};
};

struct BackendConfig {
  Address address;
  uint32_t weight = 1;  // 0..1000; 0 = configured but never picked
  // A backup takes traffic only when no primary backend of its pool is usable.
  bool backup = false;
  std::string zone;              // [A-Za-z0-9_.-]*; empty = no zone (never local)
  uint32_t max_connections = 0;  // concurrent requests to it; 0 = no limit
  bool discovered = false;       // added by DNS discovery (never from the file)
};

// An inclusive range of HTTP status codes; a single code has lo == hi.
// The loader guarantees 100 <= lo <= hi <= 599.
struct StatusRange {
  int lo;
  int hi;
};

// Active health checking for one pool. Absent from PoolConfig = no probes.
struct HealthCheckConfig {
  enum class Type { Http, Tcp } type = Type::Http;  // Tcp: a successful connect passes
  // The fields from `path` to `expect_status` are used by Http checks only;
  // the loader rejects them with type tcp.
  std::string path = "/healthz";  // starts with '/', no spaces or control characters
  std::string host;               // Host header; empty = the backend address
  enum class Method { Get, Head } method = Method::Get;
  std::vector<StatusRange> expect_status{{200, 399}};  // never empty
  Duration interval{2000};         // > 0, between probe starts
  Duration timeout{1000};          // > 0, <= interval and <= unhealthy_interval
  uint32_t rise = 2;               // 1..100 consecutive passes: Unhealthy -> Healthy
  uint32_t fall = 3;               // 1..100 consecutive failures: Healthy -> Unhealthy
  uint32_t jitter_percent = 10;    // 0..50; each wait is interval +/- this share
  Duration unhealthy_interval{0};  // used while Unhealthy; 0 = same as interval
  // Status before the first probe result. Unknown: the first result decides.
  enum class Initial { Unknown, Healthy, Unhealthy } initial = Initial::Unknown;
  // When a backend turns unhealthy, close its open tunnels (WebSockets) too.
  // Off by default: a tunnel that still works is left to end by itself.
  bool close_tunnels_on_unhealthy = false;

  // True when `status` falls in one of the expect_status ranges.
  bool accepts(int status) const {
    for (const StatusRange& r : expect_status) {
      if (status >= r.lo && status <= r.hi) return true;
    }
    return false;
  }
};

// Passive health: eject a backend after consecutive request failures.
// Absent from PoolConfig = no ejection.
struct OutlierDetectionConfig {
  uint32_t consecutive_failures = 5;  // >= 1
  Duration base_ejection{30000};      // > 0; how long an ejection lasts (at least)
  Duration max_ejection{300000};      // >= base_ejection; upper bound for any ejection
  uint32_t max_ejected_percent = 50;  // 0..100 of the pool's backends
  // An ejected backend returns as soon as an active probe passes after the
  // ejection (needs health_check on the pool; otherwise only time returns it).
  bool uneject_on_probe_pass = true;
};

// What a failed attempt may be retried on. The Status* values are responses
// from the backend with that code (only before any byte went downstream).
enum class RetryOn : uint8_t { ConnectFailure, Reset, Timeout, Status502, Status503, Status504 };

struct RetryConfig {
  uint32_t attempts = 1;        // 0..10 extra attempts after the first
  uint32_t budget_percent = 20; // 0..100: over time, retries add at most this share of the pool's requests (token bucket)
  uint32_t budget_min = 3;      // retries always allowed while fewer than this are in flight
  std::vector<RetryOn> on{RetryOn::ConnectFailure, RetryOn::Reset};  // no duplicates; may be empty
  uint64_t replay_buffer = 64 * 1024;  // bodies up to this many bytes are kept for a retry

  bool retries(RetryOn r) const {
    for (RetryOn x : on) {
      if (x == r) return true;
    }
    return false;
  }
};

enum class Balance { RoundRobin, LeastRequest, P2C, Random, ConsistentHash };

// What consistent_hash hashes (the proxy extracts it from each request).
struct HashKey {
  enum class Kind { ClientIp, Header, Cookie, Path, Query } kind = Kind::ClientIp;
  std::string name;  // header (lower-case), cookie or query parameter name; empty otherwise
};

// Sticky sessions: the response sets `cookie` naming the backend (an opaque
// id); later requests carrying it go there while it is available.
struct StickyConfig {
  std::string cookie = "ballast_sticky";  // a cookie-name token
  Duration ttl{3600000};                  // > 0: the cookie's Max-Age
};

// A backend that becomes available ramps its effective weight from 10% to
// 100% over `window`: factor = 0.1 + 0.9 * (t / window)^(1 / aggression).
struct SlowStartConfig {
  Duration window{0};       // 0 = off
  double aggression = 1.0;  // > 0; 1 = linear
};

// The pool's bounded FIFO of requests waiting for a backend slot
// (max_connections); full or timed out -> 503.
struct QueueConfig {
  uint32_t size = 1000;    // 1..1000000
  Duration timeout{2000};  // > 0
};

// DNS discovery of a pool's backends (`discovery.dns`): every address the
// name resolves to becomes a backend beside the static ones.
struct DnsDiscoveryConfig {
  enum class Type { A, AAAA, AandAAAA, Srv } type = Type::A;
  std::string name;       // a host name; for SRV the full record name (_http._tcp.web.example)
  uint16_t port = 0;      // A/AAAA: 1..65535, required; SRV: forbidden (each record has its port)
  // SRV only (`dns.family`): which address records each SRV target is
  // resolved for. Both (default): an A and an AAAA query per target.
  enum class Family { IPv4, IPv6, Both } family = Family::Both;
  Duration refresh{10000};         // > 0: at most this long between resolutions (a shorter TTL wins)
  std::vector<Address> servers;    // numeric ip:port; empty = /etc/resolv.conf
  Duration keep_last_good{0};      // how long failures keep the last good set; 0 = forever
  bool allow_empty = false;        // an answer with zero records empties the set (else: a failure)
};
const char* toString(DnsDiscoveryConfig::Type t);  // "A", "AAAA", "A+AAAA", "SRV"
const char* toString(DnsDiscoveryConfig::Family f);  // "ipv4", "ipv6", "both"

struct PoolConfig {
  std::string name;
  Balance balance = Balance::RoundRobin;
  HashKey hash_key;             // consistent_hash only (loader-enforced)
  double bounded_load = 0;      // 0 = off; else > 1: no backend over this x the average load (consistent_hash)
  std::optional<StickyConfig> sticky;
  SlowStartConfig slow_start;
  bool zone_aware = false;
  uint32_t zone_min_healthy = 70;  // percent 0..100 of the local zone available to keep all traffic local
  std::optional<QueueConfig> queue;  // absent = no queue: every candidate full -> 503 at once
  std::vector<BackendConfig> backends;  // static members; may be empty only with `discovery`
  std::optional<DnsDiscoveryConfig> discovery;  // absent = the static backends only
  std::optional<HealthCheckConfig> health_check;            // `health_check: {}` = all defaults, on
  std::optional<OutlierDetectionConfig> outlier_detection;  // `outlier_detection: {}` likewise
  RetryConfig retries;           // defaults apply when `retries` is absent
  uint32_t panic_threshold = 0;  // percent 0..100; 0 = off
  std::optional<PoolTlsConfig> tls;  // absent = plain TCP to the backends
  // True when connections to the backends (and health probes) use TLS.
  bool usesTls() const { return tls && tls->enabled; }
};

// A CIDR block ("10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or
// /128). Host bits beyond the prefix are zero (the loader refuses others).
struct Cidr {
  std::string text;        // as written, for messages and /status
  int family = AF_INET;    // AF_INET or AF_INET6
  uint8_t bytes[16] = {};  // network address, 4 or 16 bytes used
  uint8_t prefix_len = 0;  // 0..32 or 0..128
};

// A condition on a header or a query parameter. Regexes are RE2, compiled
// by the loader (so a bad one is a load error) and shared by every copy of
// the config; they must match the whole value.
struct ValueMatch {
  enum class Kind { Present, Absent, Equals, Regex } kind = Kind::Present;
  std::string name;   // header name (lower-case) or query parameter name
  std::string value;  // Equals: the value; Regex: the pattern as written
  std::shared_ptr<const re2::RE2> regex;  // Regex only
};

// Where a per-request key comes from (split_key, rate_limit.key).
struct RequestKey {
  enum class Source { ClientIp, Header, Cookie, Query } source = Source::ClientIp;
  std::string name;  // Header (lower-case), Cookie, Query; empty for ClientIp
  std::string text;  // as written, e.g. "header:X-User"
};

struct SplitTarget {
  std::string pool;
  size_t pool_index = 0;  // into Config::pools, filled by the loader
  uint32_t weight = 1;    // 0..1000 (default 1); the weights of one split add up to at least 1
};

// Header edits for one direction. Names in `remove` are lower-case, those in
// `set` and `add` as written (matched case-insensitively); values are checked
// for control characters. `set` replaces every header of that name, `add`
// appends one more, `remove` drops every header of that name; framing and
// hop-by-hop headers cannot be edited.
struct HeaderEditConfig {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

// `return:` - ballast answers itself instead of proxying.
struct ReturnConfig {
  int status = 200;
  // Redirects: a template with {host} (Host without port, IPv6 in brackets) and {path} (the
  // request target, after rewrite.path_prefix). Empty = no Location.
  std::string location;
  std::optional<std::string> body;  // nullopt = ballast's one-line text
};

struct RateLimitConfig {
  double requests_per_second = 0;  // > 0 (fractions allowed)
  uint32_t burst = 1;              // bucket size, >= 1
  RequestKey key;                  // default client_ip
  uint32_t max_keys = 65536;       // keys tracked at once; the least recently used one goes
};

struct RouteConfig {
  // For metrics and /status: `name:`, or "routes[N]" when not written.
  std::string name;

  // ---- match: every condition written must hold ----
  // Empty host = any host. "*.example.com" matches any subdomain. Stored
  // lower-case, without a port.
  std::string host;
  // Empty = any path. A byte prefix of the request target.
  std::string path_prefix;
  std::string path;        // exact path (the target before any '?'); empty = any
  std::string path_regex;  // RE2 over the whole path before any '?'; empty = none
  std::shared_ptr<const re2::RE2> path_regex_compiled;
  std::vector<std::string> methods;  // empty = any method
  std::vector<ValueMatch> headers;
  std::vector<ValueMatch> query;     // names and values compared percent-decoded
  std::vector<Cidr> client;          // empty = any client address

  // ---- what to do: exactly one of pool, split, return ----
  std::string pool;      // pool name, validated to exist (empty with split or return)
  size_t pool_index = 0; // index into Config::pools, filled by the loader
  std::vector<SplitTarget> split;
  std::optional<RequestKey> split_key;  // the same key always picks the same side
  std::optional<ReturnConfig> ret;

  // ---- per-route policy ----
  std::optional<std::string> rewrite_path_prefix;  // replaces the matched path_prefix (or path)
  std::string rewrite_host;                        // empty = Host unchanged
  HeaderEditConfig request_headers;
  HeaderEditConfig response_headers;
  std::optional<Duration> connect_timeout;           // overrides timeouts.connect
  std::optional<Duration> backend_response_timeout;  // overrides timeouts.backend_response
  std::optional<uint32_t> retry_attempts;            // override the pool's retries.attempts ...
  std::optional<std::vector<RetryOn>> retry_on;      // ... retries.on ...
  std::optional<uint64_t> retry_replay_buffer;       // ... and retries.replay_buffer
  std::vector<Cidr> allow;  // non-empty: only these client addresses (others 403)
  std::vector<Cidr> deny;   // these client addresses get 403 (checked first)
  std::optional<RateLimitConfig> rate_limit;
};

struct Config {
  std::string source_path;       // file the config came from ("<string>" in tests)
  std::string zone;              // this instance's zone (`zone:`; --zone overrides it); empty = none
  std::vector<ListenConfig> listen;  // at least one
  AdminConfig admin;
  LogConfig log;
  Timeouts timeouts;
  Limits limits;
  DrainConfig drain;
  OverridesConfig overrides;
  std::optional<ReloadGuardConfig> reload_guard;
  JournalConfig journal;
  IncidentsConfig incidents;
  NotifyConfig notify;
  // config_history: every applied config (start, reload, rollback) kept in
  // `dir` with its time, hash and trigger; the newest `keep`. Empty dir =
  // no history.
  std::string history_dir;
  uint32_t history_keep = 20;
  // explain.buffer: the last requests kept for GET /requests/{id} (failed
  // and retried ones in a second ring of half that size, so they stay
  // longer); 0 = off.
  uint32_t explain_buffer = 1000;
  // workers: how many worker processes (each one loop, see
  // lb/server/supervisor.h); 1 = no supervisor, today's single process.
  // `auto` resolves to the number of online CPUs when loading.
  uint32_t workers = 1;
  bool workers_auto = false;  // written `auto`
  // worker_watchdog: a worker whose loop has not answered the supervisor's
  // ping for this long is killed and restarted (0 = off). With workers > 1.
  Duration worker_watchdog{10000};
  // Where the operator state survives restarts and hot upgrades (overrides
  // with reason and expiry, each backend's health and since when); empty =
  // not kept. Relative to the config file's directory. Health read back is
  // used only when the file was written less than state_max_age ago.
  std::string state_file;
  Duration state_max_age{60000};
  std::vector<PoolConfig> pools; // at least one, unique names
  // When the YAML has no `routes` and exactly one pool, the loader adds one
  // catch-all route to it, so the runtime always routes through this list.
  std::vector<RouteConfig> routes;
  std::vector<DrillConfig> drills;  // `drills:` (see DrillConfig)
};

}  // namespace ballast::config
