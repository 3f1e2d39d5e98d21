// Plain configuration structs with their defaults. No parsing, no I/O here:
// config_loader.cc turns YAML into these and validates everything, so the
// runtime (lb/, health/) can trust every value it reads.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
  std::vector<BackendConfig> backends;
  std::optional<HealthCheckConfig> health_check;            // `health_check: {}` = all defaults, on
  std::optional<OutlierDetectionConfig> outlier_detection;  // `outlier_detection: {}` likewise
  RetryConfig retries;           // defaults apply when `retries` is absent
  uint32_t panic_threshold = 0;  // percent 0..100; 0 = off
};

struct RouteConfig {
  // Empty host = any host. "*.example.com" matches any subdomain. Stored
  // lower-case, without a port.
  std::string host;
  // Empty = any path.
  std::string path_prefix;
  std::string pool;     // pool name, validated to exist
  size_t pool_index = 0; // index into Config::pools, filled by the loader
};

struct Config {
  std::string source_path;       // file the config came from ("<string>" in tests)
  std::string zone;              // this instance's zone (`zone:`; --zone overrides it); empty = none
  std::vector<Address> listen;   // at least one
  AdminConfig admin;
  LogConfig log;
  Timeouts timeouts;
  Limits limits;
  DrainConfig drain;
  std::vector<PoolConfig> pools; // at least one, unique names
  // When the YAML has no `routes` and exactly one pool, the loader adds one
  // catch-all route to it, so the runtime always routes through this list.
  std::vector<RouteConfig> routes;
};

}  // namespace ballast::config
