// End-to-end test harness: temporary directories, child processes with their
// output captured in files, wrappers that start `demo-backend` and `ballast`
// and wait for the lines they print, and a deadline-bounded blocking HTTP/1.1
// client over raw sockets.
//
// Rules the harness enforces so tests stay hermetic and can only pass for the
// right reason:
//  - everything talks to 127.0.0.1; processes bind port 0 and the real port is
//    read from what they print;
//  - every wait has a deadline and throws (failing the test) when it passes,
//    so a hang never blocks the suite;
//  - every process started is SIGKILLed and reaped by its destructor, and is
//    also killed by the kernel if the test binary itself dies
//    (PR_SET_PDEATHSIG); a ballast still running when its Ballast object
//    goes away is stopped with SIGTERM instead, and must exit 0 with its
//    loop closed (no leaked handle, no sanitizer report);
//  - every socket the harness opens is close-on-exec, so a child never
//    inherits (and keeps open) a test's connection.
//
// The harness is single-threaded: call it from the test's thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ballast::test {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

// Built with AddressSanitizer (BALLAST_SANITIZE=1): slower and bigger, so
// a few tests scale their loads and memory bounds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

inline constexpr Ms kDefaultTimeout{10000};
inline constexpr Ms kStartTimeout{10000};

// ---------------------------------------------------------------------------
// Files

// A fresh directory under $TMPDIR (or /tmp), removed recursively by the
// destructor unless BALLAST_E2E_KEEP is set in the environment (then its path
// is printed so the outputs can be inspected).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

// Writes (truncates) `path`; throws on failure.
void writeFile(const std::string& path, std::string_view text);
// Whole file; empty string when it does not exist.
std::string readFile(const std::string& path);
// Splits on '\n'; a trailing partial line is dropped unless `keep_partial`.
std::vector<std::string> splitLines(const std::string& text, bool keep_partial = false);

// ---------------------------------------------------------------------------
// FNV-1a 64 and the upload byte pattern

struct Fnv64 {
  uint64_t hash = 14695981039346656037ULL;
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // 16 lower-case hex digits.
  std::string hex() const;
};
std::string fnvHex(std::string_view data);

// The body demo-backend generates for ?size=N: byte i is
// "A-Za-z"[(i % 251) % 52]. Returns its first `n` bytes (small n only), or
// its length-n FNV without storing it.
std::string demoBody(uint64_t n);
std::string demoBodyFnv(uint64_t n);

// The byte pattern uploads are generated from: a fixed pseudo-random block of
// a prime length (65521), so chunk boundaries never line up with its period.
// Fills `out[0..len)` with the bytes at stream offset `offset`.
void fillPattern(uint64_t offset, char* out, size_t len);

// ---------------------------------------------------------------------------
// Processes

enum class Stream { Stdout, Stderr };

// One line found by Process::waitForLine: the whole line and the regex
// captures (captures[0] is the whole match).
struct LineMatch {
  std::string line;
  std::vector<std::string> captures;
};

// A child process whose stdout and stderr go to `<dir>/<name>.stdout` and
// `<dir>/<name>.stderr`, stdin from /dev/null.
class Process {
 public:
  // argv[0] is the executable path (no PATH lookup). Throws if fork fails;
  // an exec failure shows up as exit code 127 with a message on stderr.
  Process(std::vector<std::string> argv, const std::string& dir, const std::string& name);
  // SIGKILLs and reaps the child if it is still running.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  std::string stdoutPath() const { return base_ + ".stdout"; }
  std::string stderrPath() const { return base_ + ".stderr"; }

  // Everything the child has written to the stream so far.
  std::string text(Stream s) const;
  // Complete ('\n'-terminated) lines written so far.
  std::vector<std::string> lines(Stream s) const;

  // Polls the stream until a complete line matches `re` (std::regex_search,
  // ECMAScript); `skip` matching lines are passed over first, so skip = k
  // waits for the (k+1)-th match. Returns std::nullopt on timeout, or as soon
  // as the child has exited and its whole output was searched.
  std::optional<LineMatch> waitForLine(Stream s, const std::string& re, Ms timeout = kStartTimeout,
                                       size_t skip = 0);
  // Same, but throws a descriptive std::runtime_error instead of nullopt.
  LineMatch requireLine(Stream s, const std::string& re, Ms timeout = kStartTimeout, size_t skip = 0);

  // Sends `sig` to the child (no-op once it has been reaped).
  void signal(int sig);
  // True until the child has exited (reaps it when it has).
  bool running();
  // Waits for the child to exit. Returns its exit code, or 128 + signal
  // number when it was killed by a signal; std::nullopt on timeout (the child
  // is left running; the destructor kills it).
  std::optional<int> waitExit(Ms timeout = kDefaultTimeout);

  // Current resident set size (VmRSS) and its peak so far (VmHWM), in KiB,
  // from /proc/PID/status; 0 if unavailable.
  long rssKb() const;
  long peakRssKb() const;

  // The last `n` lines of stdout and stderr, for failure diagnostics.
  std::string tail(size_t n = 30) const;

  // Processes currently alive in this test binary (for the failure listener
  // that prints their output when an assertion fails).
  static const std::vector<Process*>& live();

 private:
  long statusFieldKb(const char* field) const;

  std::string name_;
  std::string base_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_code_ = -1;
};

// ---------------------------------------------------------------------------
// demo-backend and ballast

// `demo-backend --listen 127.0.0.1:0 --name NAME [extra...]`, started and
// waited for (its `listening 127.0.0.1:PORT` line). Throws if it does not
// come up within kStartTimeout.
class DemoBackend {
 public:
  DemoBackend(const TempDir& dir, const std::string& name, std::vector<std::string> extra = {});

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT"
  std::string address() const;
  const std::string& name() const { return name_; }
  Process& process() { return *process_; }

 private:
  std::string name_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
};

struct BackendSpec {
  std::string address;  // "127.0.0.1:PORT"
  unsigned weight = 1;
};

struct PoolSpec {
  std::string name;
  std::vector<BackendSpec> backends;  // may be empty (`backends: []`)
};

// The standard test config: proxy and admin on 127.0.0.1:0, access log on
// stdout, events on stderr, the given pools, then `extra` appended verbatim
// (top-level blocks such as timeouts:, limits:, routes:). `listen` replaces
// the `listen:` value (e.g. "[127.0.0.1:0, 127.0.0.1:0]").
std::string configYaml(const std::vector<PoolSpec>& pools, const std::string& extra = "",
                       const std::string& listen = "127.0.0.1:0");
// One pool "web" with the given backends (weight 1 each).
std::string webConfig(const std::vector<std::string>& backend_addresses, const std::string& extra = "");

// A flat JSON object (string, number, bool and null values only), as printed
// by ballast's access log and event log.
struct JsonValue {
  bool is_string = false;
  std::string text;  // unescaped string, or the literal number/true/false/null
};
using JsonObject = std::map<std::string, JsonValue>;
// Throws std::runtime_error on anything that is not a flat JSON object.
JsonObject parseFlatJson(const std::string& line);

// `ballast --config DIR/NAME.yaml`, started and waited for: one
// `"event":"listening"` line per listener, then `"event":"started"` (stderr).
// Throws (with ballast's output) if it exits or does not start in time.
class Ballast {
 public:
  // `extra_args` go after `--config FILE` (e.g. {"--zone", "eu-1a"}).
  Ballast(const TempDir& dir, const std::string& config_yaml, const std::vector<std::string>& extra_args = {});
  // Stops a ballast that is still running the way an operator does
  // (SIGTERM; a second one after kStopGrace if in-flight requests hold the
  // drain), and checks (Catch CHECK) that it exits 0 with its loop closed.
  ~Ballast();
  Ballast(const Ballast&) = delete;
  Ballast& operator=(const Ballast&) = delete;
  static constexpr Ms kStopGrace{2000};

  // The same check, now: SIGTERM, wait, exit code 0, nothing left open.
  // Returns the exit code (or -1 if it did not exit).
  int stopAndCheck();

  // The first proxy listener's port, and all of them in the order printed.
  uint16_t port() const { return proxy_ports_.at(0); }
  const std::vector<uint16_t>& proxyPorts() const { return proxy_ports_; }
  uint16_t adminPort() const { return admin_port_; }
  const std::string& configPath() const { return config_path_; }
  Process& process() { return *process_; }

  // Access log: stdout lines so far. waitAccessLog polls until at least `n`
  // lines exist (throws on timeout) and returns all of them.
  std::vector<std::string> accessLog() const;
  std::vector<std::string> waitAccessLog(size_t n, Ms timeout = Ms(5000));
  // Event log: stderr lines so far.
  std::vector<std::string> events() const;

 private:
  std::string config_path_;
  std::unique_ptr<Process> process_;
  std::vector<uint16_t> proxy_ports_;
  uint16_t admin_port_ = 0;
};

// Runs BALLAST_BIN with `args` to completion (e.g. --version, --check).
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CliResult runBallastCli(const TempDir& dir, const std::vector<std::string>& args, Ms timeout = Ms(5000));

// A TCP socket bound to 127.0.0.1:0 but not listening: connecting to it is
// refused. Kept bound (so the port cannot be reused) for its lifetime.
class DeadPort {
 public:
  DeadPort();
  ~DeadPort();
  DeadPort(const DeadPort&) = delete;
  DeadPort& operator=(const DeadPort&) = delete;
  uint16_t port() const { return port_; }
  std::string address() const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------
// HTTP client

// A response as read by Client::readResponse.
struct Response {
  bool head_complete = false;  // false: EOF arrived before the end of the head
  std::string raw_head;        // bytes of the head as received (status line .. blank line)
  std::string version;         // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, repeats kept

  std::string body;       // decoded body (empty when not stored)
  std::string raw_body;   // body bytes as on the wire (chunk framing included; when stored)
  uint64_t body_bytes = 0;  // decoded body length, counted even when not stored
  Fnv64 body_fnv;           // FNV-1a 64 of the decoded body
  bool chunked = false;
  bool close_delimited = false;  // no Content-Length, not chunked: body ran until EOF
  bool complete = false;         // head and body framing complete
  bool peer_closed = false;      // EOF (or RST) seen while reading this response

  // First value of header `name` (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
  // All values of header `name`, in order.
  std::vector<std::string> headerValues(std::string_view name) const;
  bool hasHeader(std::string_view name) const { return header(name).has_value(); }
  // First value of header `name`, or `fallback` when absent (reads well in
  // CHECK expressions).
  std::string headerOr(std::string_view name, const std::string& fallback = "<absent>") const {
    return header(name).value_or(fallback);
  }
  std::string describe() const;  // head + body summary for failure messages
};

struct ReadOptions {
  std::string method = "GET";  // "HEAD" -> no body
  bool store_body = true;      // false: count and hash only (large downloads)
  size_t read_size = 256 * 1024;
  Ms pause_between_reads{0};   // slow reader: sleep after each recv
  // Called after each body read with the decoded bytes received so far.
  std::function<void(uint64_t)> on_progress;
};

// A blocking HTTP/1.1 client connection to 127.0.0.1:port. Every operation has
// a deadline (`timeout`, default kDefaultTimeout) and throws
// std::runtime_error when it passes. Bytes received beyond one response stay
// buffered for the next readResponse (pipelining).
class Client {
 public:
  // Connects; throws on failure or timeout. `rcvbuf` > 0 sets SO_RCVBUF
  // before connecting (slow-reader tests).
  explicit Client(uint16_t port, Ms timeout = kDefaultTimeout, int rcvbuf = 0);
  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&&) = delete;
  Client(const Client&) = delete;

  void setTimeout(Ms t) { timeout_ = t; }
  int fd() const { return fd_; }

  // Sends all bytes; throws on error (EPIPE, ECONNRESET...) or timeout.
  void sendAll(std::string_view bytes);
  // Same, but returns false instead of throwing when the peer has closed or
  // reset the connection.
  bool trySendAll(std::string_view bytes);
  // Streams `n` pattern bytes (see fillPattern) as a body, updating `fnv`.
  // chunked: as chunks of varying sizes, then the last-chunk. `on_progress`
  // is called with the body bytes sent so far.
  void sendPatternBody(uint64_t n, Fnv64& fnv, bool chunked,
                       const std::function<void(uint64_t)>& on_progress = {});

  // Reads the next response (1xx interim responses included, returned on
  // their own). Throws on timeout or on a malformed head; an EOF inside the
  // head returns head_complete = false, an EOF inside a framed body returns
  // complete = false.
  Response readResponse(const ReadOptions& opts = {});
  Response readResponse(const std::string& method) {
    ReadOptions o;
    o.method = method;
    return readResponse(o);
  }
  // Convenience: send then read.
  Response roundTrip(std::string_view request, const ReadOptions& opts = {});

  // Buffered bytes plus everything until the peer closes; throws if it has
  // not closed within `timeout`.
  std::string readUntilClose(std::optional<Ms> timeout = std::nullopt);
  // True if nothing at all (no byte, no EOF) arrives within `window`.
  bool quietFor(Ms window);
  // Bytes received but not yet consumed by a readResponse.
  const std::string& buffered() const { return buf_; }
  bool eof() const { return eof_; }

  void shutdownWrite();
  void close();

 private:
  // Reads more into buf_. Returns false on EOF/RST. Throws on timeout.
  bool fill(Clock::time_point deadline, size_t max = 256 * 1024);
  // Ensures buf_ holds a "\r\n"-terminated line; returns its length (without CRLF).
  std::optional<size_t> lineEnd(Clock::time_point deadline);
  std::string describeTimeout(const char* what) const;

  int fd_ = -1;
  uint16_t port_ = 0;
  Ms timeout_;
  std::string buf_;
  bool eof_ = false;
};

// Request builders. `headers` lines are "Name: value" without CRLF.
std::string request(const std::string& method, const std::string& target,
                    const std::vector<std::string>& headers = {}, const std::string& body = "",
                    const std::string& host = "test.local", const std::string& version = "HTTP/1.1");
inline std::string get(const std::string& target, const std::vector<std::string>& headers = {}) {
  return request("GET", target, headers);
}

// One request on a fresh connection; convenience for the many tests that need
// exactly that.
Response fetch(uint16_t port, const std::string& raw_request, const ReadOptions& opts = {});

// Headers of a request head as echoed back by `echo=head`.
struct EchoedHead {
  std::string request_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> header(std::string_view name) const;
  std::vector<std::string> headerValues(std::string_view name) const;
  std::string headerOr(std::string_view name, const std::string& fallback = "<absent>") const {
    return header(name).value_or(fallback);
  }
};
EchoedHead parseEchoedHead(const std::string& body);

bool iequals(std::string_view a, std::string_view b);
std::string toLower(std::string_view s);

}  // namespace ballast::test

// ===========================================================================
// Health checking and failover helpers (issue 3). Appended as a block of its
// own; the includes below are the extra ones it needs.

#include <atomic>
#include <mutex>
#include <thread>

namespace ballast::test {

// A backend entry of failoverConfig().
struct PoolBackend {
  std::string address;  // "127.0.0.1:PORT"
  bool backup = false;
};

// The standard test config (as configYaml) with one pool "web" whose
// backends are `backends` and whose further keys are `pool_keys`, one YAML
// line each without indentation (e.g. "health_check: { interval: 200ms }",
// "panic_threshold: 50"); `extra` is appended at top level.
std::string failoverConfig(const std::vector<PoolBackend>& backends, const std::vector<std::string>& pool_keys,
                           const std::string& extra = "");

// `demo-backend --listen ADDRESS --name NAME [extra...]` on a given address,
// e.g. to bring a killed backend back on its old port. A bind that fails
// (the port is briefly in use) is retried until `timeout`; throws if the
// backend does not come up by then.
std::unique_ptr<Process> startDemoBackendAt(const TempDir& dir, const std::string& name, const std::string& address,
                                            std::vector<std::string> extra = {}, Ms timeout = kStartTimeout);

// Sends POST /_control?QUERY straight to a demo-backend (not through
// ballast) and requires its 200, e.g. demoControl(port, "health_status=500").
void demoControl(uint16_t port, const std::string& query);

// The event log (stderr) of `lb` as parsed objects, in order; lines that are
// not flat JSON objects are skipped. `event` non-empty keeps only lines whose
// "event" field equals it.
std::vector<JsonObject> eventObjects(const Ballast& lb, const std::string& event = "");
// The text of `key` in `o` (string or literal), or "" when absent.
std::string jsonText(const JsonObject& o, const std::string& key);
// Polls the event log until the (skip+1)-th line with "event" == `event`
// for which `pred` holds (no predicate: any) appears, and returns it; throws
// with the event log tail when `timeout` passes or ballast exits.
using EventPredicate = std::function<bool(const JsonObject&)>;
JsonObject waitEvent(Ballast& lb, const std::string& event, const EventPredicate& pred = {}, Ms timeout = Ms(5000),
                     size_t skip = 0);
// How many lines with "event" == `event` satisfy `pred` so far.
size_t countEvents(const Ballast& lb, const std::string& event, const EventPredicate& pred = {});
// A predicate for backend_state events of `backend` ("127.0.0.1:PORT"),
// optionally requiring the "new" state.
EventPredicate backendState(const std::string& backend, const std::string& new_state = "");

// ---------------------------------------------------------------------------
// Shared test helpers

// A TCP port that was free a moment ago on 127.0.0.1.
uint16_t freePort();
// Replaces a file atomically (temp file + rename), so a reader (ballast
// reloading its config) never sees it half written.
void replaceConfig(const std::string& path, const std::string& yaml);
// Polls `cond` every 5 ms until it holds; false if `timeout` passes first.
bool pollUntil(const std::function<bool()>& cond, Ms timeout);
// A plain connect() to 127.0.0.1:port: 0 on success, else the errno.
int tryConnect(uint16_t port);
// The X-Backend of `n` GETs over one keep-alive connection (paths
// "/TAG-i"); every answer must be 200 (REQUIRE).
std::vector<std::string> backendsOf(uint16_t port, int n, const std::string& tag);
// The distinct backends answering `n` GETs through ballast (X-Backend of each).
std::set<std::string> servedBy(const Ballast& lb, int n, const std::string& tag = "served");
// `part` occurs in `s`.
inline bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
// The first few failure descriptions, for an INFO message.
std::string firstFailures(const std::vector<std::string>& failures, size_t n = 5);

// Client load: `keepalive` threads sending GETs over one keep-alive
// connection each (a connection that failed is replaced), and `fresh`
// threads opening a new connection per request. Every answer must be 200;
// anything else (another status, a refused connect, an EOF, a timeout) is
// recorded as a failure. mark() splits the answers in before/after (to check
// that a removed backend gets nothing new). Each thread owns its Client and
// touches nothing else of the (single-threaded) harness.
class Load {
 public:
  Load(uint16_t port, int keepalive, int fresh = 0);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void stop();
  void mark() { marked_ = true; }
  uint64_t total() const { return total_.load(); }
  std::vector<std::string> failures() const;
  std::map<std::string, uint64_t> byBackend() const;
  std::map<std::string, uint64_t> byBackendAfterMark() const;

 private:
  void record(bool after_mark, const Response& r);
  void recordError(const std::string& what);
  void run(uint16_t port, int id, bool keepalive);

  std::atomic<bool> stop_{false};
  std::atomic<bool> marked_{false};
  std::atomic<uint64_t> total_{0};
  mutable std::mutex mu_;
  std::vector<std::string> failures_;
  std::map<std::string, uint64_t> by_backend_;
  std::map<std::string, uint64_t> after_mark_;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------
// FakeServer: a tiny blocking-socket HTTP/1.1 server on 127.0.0.1:0 for
// behaviour demo-backend does not script (alternating health answers, a
// reset after reading the request...). One thread accepts; one thread per
// connection reads requests (Content-Length bodies; chunked bodies are read
// up to their last chunk, undecoded) and asks the handler what to do. The
// handler runs on those threads: it must be thread-safe. The destructor
// stops everything and joins every thread.

struct FakeRequest {
  std::string method;
  std::string target;  // as sent, e.g. "/healthz"
  std::string head;    // the raw head, request line to blank line
  std::string body;
  uint64_t conn_id = 0;  // per accepted connection, from 1
};

struct FakeReply {
  enum class Action {
    Respond,  // send the response below (keep-alive unless the request asked to close)
    Reset,    // abort the connection with a RST, no response
    Close,    // close the connection (FIN), no response
    Hang,     // never answer; the connection stays open until the server stops
  };
  Action action = Action::Respond;
  int status = 200;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"; Content-Length is added

  static FakeReply respond(int status, std::string body, std::vector<std::string> headers = {}) {
    FakeReply r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static FakeReply reset() {
    FakeReply r;
    r.action = Action::Reset;
    return r;
  }
};

using FakeHandler = std::function<FakeReply(const FakeRequest&)>;

class FakeServer {
 public:
  explicit FakeServer(FakeHandler handler);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;
  // Requests read so far (whatever the handler did with them).
  size_t requests() const { return requests_.load(); }
  // Stops accepting, shuts every connection down and joins the threads.
  // Idempotent; the destructor calls it.
  void stop();

 private:
  void acceptLoop();
  void serve(int fd, uint64_t id);

  FakeHandler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> requests_{0};
  std::mutex mu_;                // guards conn_fds_ and workers_
  std::vector<int> conn_fds_;    // open connections (shut down by stop())
  std::vector<std::thread> workers_;
  std::thread acceptor_;
  bool stopped_ = false;
};

}  // namespace ballast::test
