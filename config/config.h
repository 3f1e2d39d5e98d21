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
};

struct Limits {
  uint32_t max_connections = 10000;  // accepting pauses above this
  uint32_t max_header_bytes = 16384; // request head larger -> 431
  uint64_t max_body_bytes = 0;       // 0 = unlimited; larger -> 413
};

struct BackendConfig {
  Address address;
  uint32_t weight = 1;  // 1..1000
};

enum class Balance { RoundRobin };

struct PoolConfig {
  std::string name;
  Balance balance = Balance::RoundRobin;
  std::vector<BackendConfig> backends;
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
  std::vector<Address> listen;   // at least one
  AdminConfig admin;
  LogConfig log;
  Timeouts timeouts;
  Limits limits;
  std::vector<PoolConfig> pools; // at least one, unique names
  // When the YAML has no `routes` and exactly one pool, the loader adds one
  // catch-all route to it, so the runtime always routes through this list.
  std::vector<RouteConfig> routes;
};

}  // namespace ballast::config
