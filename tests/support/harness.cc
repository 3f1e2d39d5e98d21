#include "tests/support/harness.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#ifndef BALLAST_BIN
#error "BALLAST_BIN must be defined (absolute path of the ballast binary)"
#endif
#ifndef DEMO_BACKEND_BIN
#error "DEMO_BACKEND_BIN must be defined (absolute path of the demo-backend binary)"
#endif

namespace ballast::test {

namespace {

constexpr Ms kPollInterval{5};
constexpr size_t kMaxHeadBytes = 1 << 20;
constexpr size_t kMaxLineBytes = 64 * 1024;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  if (left < 0) return 0;
  return static_cast<int>(std::min<long long>(left + 1, 1000));
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

// Shows bytes for a failure message: printable ASCII as is, others escaped,
// cut after `max` bytes.
std::string printable(std::string_view s, size_t max = 400) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      char tmp[8];
      std::snprintf(tmp, sizeof tmp, "\\x%02x", c);
      out += tmp;
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Header lines "Name: value" (after the first line) of a CRLF head.
std::vector<std::pair<std::string, std::string>> parseHeaderLines(const std::vector<std::string>& lines,
                                                                  bool strict) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty()) break;
    size_t colon = l.find(':');
    if (colon == std::string::npos || colon == 0) {
      if (strict) fail("malformed header line: " + printable(l));
      continue;
    }
    out.emplace_back(l.substr(0, colon), trim(std::string_view(l).substr(colon + 1)));
  }
  return out;
}

std::vector<std::string> splitCrlf(std::string_view head) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string_view::npos) {
      lines.emplace_back(head.substr(pos));
      break;
    }
    lines.emplace_back(head.substr(pos, e - pos));
    pos = e + 2;
  }
  return lines;
}

std::optional<std::string> findHeader(const std::vector<std::pair<std::string, std::string>>& headers,
                                      std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::vector<std::string> findHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                                     std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

int counter() {
  static int n = 0;
  return ++n;
}

std::vector<Process*>& registry() {
  static std::vector<Process*> r;
  return r;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------
// Files

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ballast-e2e-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) fail(errnoText("mkdtemp"));
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("BALLAST_E2E_KEEP")) {
    std::cerr << "ballast e2e: kept " << path_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name) const { return path_ + "/" + name; }

void writeFile(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("cannot write " + path);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f) fail("cannot write " + path);
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> splitLines(const std::string& text, bool keep_partial) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string::npos) {
      if (keep_partial) out.push_back(text.substr(pos));
      break;
    }
    std::string line = text.substr(pos, e - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    pos = e + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------
// FNV and pattern

void Fnv64::update(const void* data, size_t len) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = hash;
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  hash = h;
}

std::string Fnv64::hex() const {
  char tmp[17];
  std::snprintf(tmp, sizeof tmp, "%016" PRIx64, hash);
  return tmp;
}

std::string fnvHex(std::string_view data) {
  Fnv64 f;
  f.update(data);
  return f.hex();
}

namespace {
constexpr std::string_view kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kDemoPeriod = 251;
}  // namespace

std::string demoBody(uint64_t n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = kLetters[(i % kDemoPeriod) % kLetters.size()];
  return out;
}

std::string demoBodyFnv(uint64_t n) {
  // One period (251 bytes) repeated; hash it period by period.
  std::string period = demoBody(kDemoPeriod);
  Fnv64 f;
  uint64_t left = n;
  while (left >= kDemoPeriod) {
    f.update(period);
    left -= kDemoPeriod;
  }
  f.update(period.data(), static_cast<size_t>(left));
  return f.hex();
}

namespace {
constexpr size_t kPatternPeriod = 65521;  // prime

const std::array<char, kPatternPeriod>& patternBlock() {
  static const std::array<char, kPatternPeriod> block = [] {
    std::array<char, kPatternPeriod> b{};
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (auto& c : b) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      c = static_cast<char>(x >> 24);
    }
    return b;
  }();
  return block;
}
}  // namespace

void fillPattern(uint64_t offset, char* out, size_t len) {
  const auto& block = patternBlock();
  size_t pos = static_cast<size_t>(offset % kPatternPeriod);
  while (len > 0) {
    size_t n = std::min(len, kPatternPeriod - pos);
    std::memcpy(out, block.data() + pos, n);
    out += n;
    len -= n;
    pos = 0;
  }
}

// ---------------------------------------------------------------------------
// Process

Process::Process(std::vector<std::string> argv, const std::string& dir, const std::string& name)
    : name_(name), base_(dir + "/" + name) {
  if (argv.empty()) fail("Process: empty argv");
  int out = ::open(stdoutPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(stderrPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) {
    int saved = errno;
    for (int fd : {out, err, in})
      if (fd >= 0) ::close(fd);
    errno = saved;
    fail(errnoText("Process: open output files"));
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    ::close(err);
    ::close(in);
    fail(errnoText("fork"));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // die with the test binary
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::close_range(3, ~0U, 0);
    ::execv(cargv[0], cargv.data());
    const char msg[] = "harness: exec failed\n";
    [[maybe_unused]] auto r = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  ::close(in);
  pid_ = pid;
  registry().push_back(this);
}

Process::~Process() {
  auto& r = registry();
  r.erase(std::remove(r.begin(), r.end(), this), r.end());
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
}

const std::vector<Process*>& Process::live() { return registry(); }

std::string Process::text(Stream s) const { return readFile(s == Stream::Stdout ? stdoutPath() : stderrPath()); }

std::vector<std::string> Process::lines(Stream s) const { return splitLines(text(s)); }

std::optional<LineMatch> Process::waitForLine(Stream s, const std::string& re, Ms timeout, size_t skip) {
  const std::regex rx(re, std::regex::ECMAScript);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    // Check liveness before reading, so output written just before exit is
    // still searched once more.
    bool alive = running();
    size_t seen = 0;
    for (const auto& line : lines(s)) {
      std::smatch m;
      if (std::regex_search(line, m, rx)) {
        if (seen++ < skip) continue;
        LineMatch out;
        out.line = line;
        for (const auto& c : m) out.captures.push_back(c.str());
        return out;
      }
    }
    if (!alive || Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

LineMatch Process::requireLine(Stream s, const std::string& re, Ms timeout, size_t skip) {
  auto m = waitForLine(s, re, timeout, skip);
  if (!m) {
    std::string state = running() ? "still running" : "exited with " + std::to_string(exit_code_);
    fail(name_ + ": no line matching /" + re + "/ on " + (s == Stream::Stdout ? "stdout" : "stderr") +
         " within " + std::to_string(timeout.count()) + " ms (" + state + ")\n" + tail());
  }
  return *m;
}

void Process::signal(int sig) {
  if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

bool Process::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::optional<int> Process::waitExit(Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return exit_code_;
}

long Process::statusFieldKb(const char* field) const {
  if (reaped_) return 0;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  size_t flen = std::strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, flen, field) == 0 && line.size() > flen && line[flen] == ':')
      return std::strtol(line.c_str() + flen + 1, nullptr, 10);
  }
  return 0;
}

long Process::rssKb() const { return statusFieldKb("VmRSS"); }
long Process::peakRssKb() const { return statusFieldKb("VmHWM"); }

std::string Process::tail(size_t n) const {
  std::string out;
  for (Stream s : {Stream::Stdout, Stream::Stderr}) {
    auto ls = splitLines(text(s), true);
    out += "---- " + name_ + (s == Stream::Stdout ? " stdout" : " stderr") + " (last " +
           std::to_string(std::min(n, ls.size())) + " of " + std::to_string(ls.size()) + " lines)\n";
    for (size_t i = ls.size() > n ? ls.size() - n : 0; i < ls.size(); ++i) out += printable(ls[i], 600) + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------
// demo-backend and ballast

DemoBackend::DemoBackend(const TempDir& dir, const std::string& name, std::vector<std::string> extra)
    : name_(name) {
  std::vector<std::string> argv = {DEMO_BACKEND_BIN, "--listen", "127.0.0.1:0", "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_ = std::make_unique<Process>(argv, dir.path(), "backend-" + name + "-" + std::to_string(counter()));
  auto m = process_->requireLine(Stream::Stdout, R"(^listening 127\.0\.0\.1:(\d+)\s*$)");
  port_ = static_cast<uint16_t>(std::stoi(m.captures[1]));
}

std::string DemoBackend::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string configYaml(const std::vector<PoolSpec>& pools, const std::string& extra, const std::string& listen) {
  std::string y;
  y += "listen: " + listen + "\n";
  y += "admin: { listen: 127.0.0.1:0 }\n";
  y += "log: { level: info, access: stdout, events: stderr }\n";
  y += "pools:\n";
  for (const auto& p : pools) {
    y += "  - name: " + p.name + "\n";
    y += "    balance: round_robin\n";
    if (p.backends.empty()) {
      y += "    backends: []\n";
      continue;
    }
    y += "    backends:\n";
    for (const auto& b : p.backends)
      y += "      - { address: " + b.address + ", weight: " + std::to_string(b.weight) + " }\n";
  }
  if (!extra.empty()) {
    y += extra;
    if (y.back() != '\n') y += '\n';
  }
  return y;
}

std::string webConfig(const std::vector<std::string>& backend_addresses, const std::string& extra) {
  PoolSpec web{"web", {}};
  for (const auto& a : backend_addresses) web.backends.push_back({a, 1});
  return configYaml(std::vector<PoolSpec>{web}, extra);
}

JsonObject parseFlatJson(const std::string& line) {
  JsonObject obj;
  size_t i = 0;
  auto ws = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  auto bad = [&](const char* what) -> void {
    fail(std::string("parseFlatJson: ") + what + " at " + std::to_string(i) + " in: " + line);
  };
  auto str = [&]() -> std::string {
    if (i >= line.size() || line[i] != '"') bad("expected string");
    ++i;
    std::string out;
    while (i < line.size() && line[i] != '"') {
      char c = line[i++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= line.size()) bad("bad escape");
      char e = line[i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          if (i + 4 > line.size()) bad("bad \\u escape");
          unsigned cp = static_cast<unsigned>(std::stoul(line.substr(i, 4), nullptr, 16));
          i += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else {
            out += "\\u" + line.substr(i - 4, 4);  // kept escaped; tests only compare ASCII
          }
          break;
        }
        default: out += e;
      }
    }
    if (i >= line.size()) bad("unterminated string");
    ++i;
    return out;
  };
  ws();
  if (i >= line.size() || line[i] != '{') bad("expected '{'");
  ++i;
  ws();
  if (i < line.size() && line[i] == '}') return obj;
  for (;;) {
    ws();
    std::string key = str();
    ws();
    if (i >= line.size() || line[i] != ':') bad("expected ':'");
    ++i;
    ws();
    JsonValue v;
    if (i < line.size() && line[i] == '"') {
      v.is_string = true;
      v.text = str();
    } else {
      size_t b = i;
      while (i < line.size() && line[i] != ',' && line[i] != '}' && !std::isspace(static_cast<unsigned char>(line[i])))
        ++i;
      v.text = line.substr(b, i - b);
      if (v.text.empty() || v.text[0] == '{' || v.text[0] == '[') bad("expected a flat value");
    }
    obj[key] = v;
    ws();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') {
      ++i;
      break;
    }
    bad("expected ',' or '}'");
  }
  ws();
  if (i != line.size()) bad("trailing characters");
  return obj;
}

Ballast::Ballast(const TempDir& dir, const std::string& config_yaml, const std::vector<std::string>& extra_args) {
  int n = counter();
  config_path_ = dir.file("ballast-" + std::to_string(n) + ".yaml");
  writeFile(config_path_, config_yaml);
  std::vector<std::string> argv{BALLAST_BIN, "--config", config_path_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>(argv, dir.path(), "ballast-" + std::to_string(n));
  process_->requireLine(Stream::Stderr, R"re("event"\s*:\s*"started")re");
  const std::regex listening(R"re("event"\s*:\s*"listening")re");
  const std::regex kind(R"re("kind"\s*:\s*"(\w+)")re");
  const std::regex address(R"re("address"\s*:\s*"127\.\d+\.\d+\.\d+:(\d+)")re");
  for (const auto& line : process_->lines(Stream::Stderr)) {
    if (!std::regex_search(line, listening)) continue;
    std::smatch k, a;
    if (!std::regex_search(line, k, kind) || !std::regex_search(line, a, address))
      fail("ballast: unexpected listening event: " + line);
    auto port = static_cast<uint16_t>(std::stoi(a[1].str()));
    if (k[1].str() == "proxy") {
      proxy_ports_.push_back(port);
    } else if (k[1].str() == "admin") {
      admin_port_ = port;
    }
  }
  if (proxy_ports_.empty()) fail("ballast: started without a proxy listening event\n" + process_->tail());
}

Ballast::~Ballast() {
  if (!process_ || !process_->running()) return;
  // A failing test is unwinding: stop quietly, its own failure says enough.
  if (std::uncaught_exceptions() > 0) return;
  stopAndCheck();
}

int Ballast::stopAndCheck() {
  if (!process_->running()) return -1;
  process_->signal(SIGTERM);
  auto code = process_->waitExit(kStopGrace);
  if (!code) {
    // In-flight requests hold the drain (a hanging backend): the second
    // signal closes everything at once, which must be clean too.
    process_->signal(SIGTERM);
    code = process_->waitExit(Ms(10000));
  }
  const std::string err = process_->text(Stream::Stderr);
  INFO("ballast stopped with SIGTERM\n" << process_->tail(15));
  CHECK(code.has_value());
  CHECK(code.value_or(-1) == 0);
  CHECK(err.find("\"loop_not_closed\"") == std::string::npos);
  CHECK(err.find("ERROR: AddressSanitizer") == std::string::npos);
  CHECK(err.find("ERROR: LeakSanitizer") == std::string::npos);
  CHECK(err.find("runtime error:") == std::string::npos);
  return code.value_or(-1);
}

std::vector<std::string> Ballast::accessLog() const { return process_->lines(Stream::Stdout); }

std::vector<std::string> Ballast::waitAccessLog(size_t n, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto ls = accessLog();
    if (ls.size() >= n) return ls;
    if (Clock::now() >= deadline)
      fail("ballast: expected " + std::to_string(n) + " access log lines, got " + std::to_string(ls.size()) + "\n" +
           process_->tail());
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::vector<std::string> Ballast::events() const { return process_->lines(Stream::Stderr); }

CliResult runBallastCli(const TempDir& dir, const std::vector<std::string>& args, Ms timeout) {
  std::vector<std::string> argv = {BALLAST_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, dir.path(), "cli-" + std::to_string(counter()));
  auto code = p.waitExit(timeout);
  if (!code) fail("ballast CLI did not exit within " + std::to_string(timeout.count()) + " ms\n" + p.tail());
  return CliResult{*code, p.text(Stream::Stdout), p.text(Stream::Stderr)};
}

DeadPort::DeadPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail(errnoText("socket"));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    ::close(fd_);
    fail(errnoText("DeadPort bind"));
  }
  port_ = ntohs(a.sin_port);
}

DeadPort::~DeadPort() {
  if (fd_ >= 0) ::close(fd_);
}

std::string DeadPort::address() const { return "127.0.0.1:" + std::to_string(port_); }

// ---------------------------------------------------------------------------
// Response

std::optional<std::string> Response::header(std::string_view name) const { return findHeader(headers, name); }

std::vector<std::string> Response::headerValues(std::string_view name) const { return findHeaders(headers, name); }

std::string Response::describe() const {
  std::string out = "---- response head" + std::string(head_complete ? "" : " (incomplete)") + ":\n" +
                    printable(raw_head, 2000) + "\n---- body: " + std::to_string(body_bytes) + " bytes" +
                    (complete ? "" : " (incomplete)") + (peer_closed ? ", peer closed" : "") +
                    (chunked ? ", chunked" : "") + (close_delimited ? ", close-delimited" : "") + "\n";
  if (!body.empty()) out += printable(body, 300) + "\n";
  return out;
}

std::optional<std::string> EchoedHead::header(std::string_view name) const { return findHeader(headers, name); }

std::vector<std::string> EchoedHead::headerValues(std::string_view name) const { return findHeaders(headers, name); }

EchoedHead parseEchoedHead(const std::string& body) {
  EchoedHead h;
  auto lines = splitCrlf(body);
  if (lines.empty()) fail("echoed head is empty");
  h.request_line = lines[0];
  h.headers = parseHeaderLines(lines, false);
  return h;
}

// ---------------------------------------------------------------------------
// Client

Client::Client(uint16_t port, Ms timeout, int rcvbuf) : port_(port), timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) fail(errnoText("socket"));
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno != EINPROGRESS) {
    std::string e = errnoText("connect");
    close();
    fail(e + " (127.0.0.1:" + std::to_string(port) + ")");
  }
  auto deadline = Clock::now() + timeout_;
  for (;;) {
    pollfd p{fd_, POLLOUT, 0};
    int rc = ::poll(&p, 1, remainingMs(deadline));
    if (rc > 0) break;
    if (rc < 0 && errno != EINTR) {
      std::string e = errnoText("poll");
      close();
      fail(e);
    }
    if (Clock::now() >= deadline) {
      close();
      fail("connect to 127.0.0.1:" + std::to_string(port) + " timed out");
    }
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    close();
    fail("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
  }
}

Client::Client(Client&& other) noexcept
    : fd_(other.fd_), port_(other.port_), timeout_(other.timeout_), buf_(std::move(other.buf_)), eof_(other.eof_) {
  other.fd_ = -1;
}

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Client::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

std::string Client::describeTimeout(const char* what) const {
  return std::string(what) + " timed out after " + std::to_string(timeout_.count()) + " ms (127.0.0.1:" +
         std::to_string(port_) + "); " + std::to_string(buf_.size()) + " unconsumed bytes:\n" + printable(buf_);
}

bool Client::trySendAll(std::string_view bytes) {
  if (fd_ < 0) fail("send on a closed client");
  size_t off = 0;
  auto deadline = Clock::now() + timeout_;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      deadline = Clock::now() + timeout_;  // inactivity deadline
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) fail(errnoText("send"));
    if (Clock::now() >= deadline) fail(describeTimeout("send"));
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, remainingMs(deadline));
  }
  return true;
}

void Client::sendAll(std::string_view bytes) {
  if (trySendAll(bytes)) return;
  // Show what the peer said before closing (often an error response).
  std::string said;
  try {
    said = readUntilClose(Ms(500));
  } catch (const std::exception&) {
    said = buf_;
  }
  fail("send: connection closed by peer (127.0.0.1:" + std::to_string(port_) + "); it had sent " +
       std::to_string(said.size()) + " unread bytes:\n" + printable(said));
}

void Client::sendPatternBody(uint64_t n, Fnv64& fnv, bool chunked, const std::function<void(uint64_t)>& on_progress) {
  static constexpr size_t kChunkSizes[] = {1, 7, 100, 4096, 65535, 65536, 200003, 262144};
  constexpr size_t kBlock = 256 * 1024;
  std::string buf;
  buf.reserve(kBlock + 64);
  uint64_t sent = 0;
  size_t which = 0;
  while (sent < n) {
    size_t len = chunked ? kChunkSizes[which++ % std::size(kChunkSizes)] : kBlock;
    len = static_cast<size_t>(std::min<uint64_t>(len, n - sent));
    buf.clear();
    if (chunked) {
      char hdr[32];
      std::snprintf(hdr, sizeof hdr, "%zx\r\n", len);
      buf += hdr;
    }
    size_t at = buf.size();
    buf.resize(at + len);
    fillPattern(sent, buf.data() + at, len);
    fnv.update(buf.data() + at, len);
    if (chunked) buf += "\r\n";
    sendAll(buf);
    sent += len;
    if (on_progress) on_progress(sent);
  }
  if (chunked) sendAll("0\r\n\r\n");
}

bool Client::fill(Clock::time_point deadline, size_t max) {
  if (eof_) return false;
  if (fd_ < 0) fail("read on a closed client");
  for (;;) {
    size_t old = buf_.size();
    buf_.resize(old + max);
    ssize_t n = ::recv(fd_, buf_.data() + old, max, 0);
    buf_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) return true;
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) {
      eof_ = true;
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) fail(errnoText("recv"));
    if (Clock::now() >= deadline) fail(describeTimeout("read"));
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, remainingMs(deadline));
  }
}

std::optional<size_t> Client::lineEnd(Clock::time_point deadline) {
  size_t searched = 0;
  for (;;) {
    size_t e = buf_.find("\r\n", searched);
    if (e != std::string::npos) return e;
    searched = buf_.empty() ? 0 : buf_.size() - 1;
    if (buf_.size() > kMaxLineBytes) fail("line longer than 64 KiB:\n" + printable(buf_));
    if (!fill(deadline, 64 * 1024)) return std::nullopt;
  }
}

Response Client::readResponse(const ReadOptions& opts) {
  Response r;
  auto deadline = [&] { return Clock::now() + timeout_; };

  // Head.
  size_t head_end;
  for (size_t searched = 0;;) {
    size_t e = buf_.find("\r\n\r\n", searched);
    if (e != std::string::npos) {
      head_end = e + 4;
      break;
    }
    searched = buf_.size() > 3 ? buf_.size() - 3 : 0;
    if (buf_.size() > kMaxHeadBytes) fail("response head larger than 1 MiB:\n" + printable(buf_));
    if (!fill(deadline(), opts.read_size)) {
      r.raw_head = buf_;
      buf_.clear();
      r.peer_closed = true;
      return r;
    }
  }
  r.raw_head = buf_.substr(0, head_end);
  buf_.erase(0, head_end);
  r.head_complete = true;
  auto lines = splitCrlf(std::string_view(r.raw_head).substr(0, head_end - 4));
  static const std::regex status_rx(R"(^(HTTP/\d\.\d) (\d{3})(?: (.*))?$)");
  std::smatch m;
  if (lines.empty() || !std::regex_match(lines[0], m, status_rx))
    fail("malformed status line:\n" + printable(r.raw_head));
  r.version = m[1].str();
  r.status = std::stoi(m[2].str());
  r.reason = m[3].str();
  r.headers = parseHeaderLines(lines, true);

  // Which framing (RFC 9112 section 6.3).
  if (opts.method == "HEAD" || r.status / 100 == 1 || r.status == 204 || r.status == 304) {
    r.complete = true;
    return r;
  }
  auto te = r.header("Transfer-Encoding");
  auto cls = r.headerValues("Content-Length");
  if (te && toLower(*te).find("chunked") != std::string::npos) {
    r.chunked = true;
  } else if (!cls.empty()) {
    for (const auto& v : cls)
      if (v != cls[0]) fail("conflicting Content-Length headers:\n" + printable(r.raw_head));
  } else {
    r.close_delimited = true;
  }

  auto sink = [&](const char* p, size_t n) {
    r.body_fnv.update(p, n);
    r.body_bytes += n;
    if (opts.store_body) r.body.append(p, n);
    if (opts.on_progress) opts.on_progress(r.body_bytes);
  };
  auto raw = [&](const char* p, size_t n) {
    if (opts.store_body) r.raw_body.append(p, n);
  };
  auto more = [&]() -> bool {
    if (opts.pause_between_reads.count() > 0) std::this_thread::sleep_for(opts.pause_between_reads);
    return fill(deadline(), opts.read_size);
  };
  // Passes `n` body bytes to the sink; false if the peer closed first.
  auto consume = [&](uint64_t n) -> bool {
    while (n > 0) {
      if (buf_.empty() && !more()) return false;
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
      sink(buf_.data(), take);
      raw(buf_.data(), take);
      buf_.erase(0, take);
      n -= take;
    }
    return true;
  };

  if (r.close_delimited) {
    while (true) {
      if (!buf_.empty()) {
        sink(buf_.data(), buf_.size());
        raw(buf_.data(), buf_.size());
        buf_.clear();
      }
      if (!more()) break;
    }
    r.complete = true;
    r.peer_closed = true;
    return r;
  }

  if (!r.chunked) {
    const std::string& v = cls[0];
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
      fail("invalid Content-Length:\n" + printable(r.raw_head));
    uint64_t len = std::stoull(v);
    if (!consume(len)) {
      r.peer_closed = true;
      return r;
    }
    r.complete = true;
    return r;
  }

  // Chunked.
  for (;;) {
    auto e = lineEnd(deadline());
    if (!e) {
      r.peer_closed = true;
      return r;
    }
    std::string line = buf_.substr(0, *e);
    raw(buf_.data(), *e + 2);
    buf_.erase(0, *e + 2);
    std::string size_text = trim(line.substr(0, line.find(';')));
    if (size_text.empty() || size_text.size() > 16 ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      fail("malformed chunk size line: " + printable(line));
    uint64_t size = std::stoull(size_text, nullptr, 16);
    if (size == 0) {
      // Trailer section up to the empty line.
      for (;;) {
        auto t = lineEnd(deadline());
        if (!t) {
          r.peer_closed = true;
          return r;
        }
        raw(buf_.data(), *t + 2);
        bool last = *t == 0;
        buf_.erase(0, *t + 2);
        if (last) break;
      }
      r.complete = true;
      return r;
    }
    if (!consume(size)) {
      r.peer_closed = true;
      return r;
    }
    auto crlf = lineEnd(deadline());
    if (!crlf) {
      r.peer_closed = true;
      return r;
    }
    if (*crlf != 0) fail("chunk data not followed by CRLF: " + printable(buf_));
    raw(buf_.data(), 2);
    buf_.erase(0, 2);
  }
}

Response Client::roundTrip(std::string_view req, const ReadOptions& opts) {
  sendAll(req);
  return readResponse(opts);
}

std::string Client::readUntilClose(std::optional<Ms> timeout) {
  auto deadline = Clock::now() + timeout.value_or(timeout_);
  while (fill(deadline)) {
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool Client::quietFor(Ms window) {
  if (!buf_.empty() || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  auto deadline = Clock::now() + window;
  for (;;) {
    int rc = ::poll(&p, 1, remainingMs(deadline));
    if (rc > 0) return false;
    if (rc < 0 && errno != EINTR) fail(errnoText("poll"));
    if (Clock::now() >= deadline) return true;
  }
}

std::string request(const std::string& method, const std::string& target, const std::vector<std::string>& headers,
                    const std::string& body, const std::string& host, const std::string& version) {
  std::string r = method + " " + target + " " + version + "\r\n";
  if (!host.empty()) r += "Host: " + host + "\r\n";
  bool framed = false;
  for (const auto& h : headers) {
    r += h + "\r\n";
    std::string l = toLower(h);
    if (l.rfind("content-length:", 0) == 0 || l.rfind("transfer-encoding:", 0) == 0) framed = true;
  }
  if (!body.empty() && !framed) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

Response fetch(uint16_t port, const std::string& raw_request, const ReadOptions& opts) {
  Client c(port);
  return c.roundTrip(raw_request, opts);
}

}  // namespace ballast::test

// ===========================================================================
// Health checking and failover helpers (issue 3).

namespace ballast::test {

std::string failoverConfig(const std::vector<PoolBackend>& backends, const std::vector<std::string>& pool_keys,
                           const std::string& extra) {
  std::string y;
  y += "listen: 127.0.0.1:0\n";
  y += "admin: { listen: 127.0.0.1:0 }\n";
  y += "log: { level: info, access: stdout, events: stderr }\n";
  y += "pools:\n";
  y += "  - name: web\n";
  y += "    balance: round_robin\n";
  y += "    backends:\n";
  for (const auto& b : backends)
    y += "      - { address: " + b.address + (b.backup ? ", backup: true" : "") + " }\n";
  for (const auto& k : pool_keys) y += "    " + k + "\n";
  if (!extra.empty()) {
    y += extra;
    if (y.back() != '\n') y += '\n';
  }
  return y;
}

std::unique_ptr<Process> startDemoBackendAt(const TempDir& dir, const std::string& name, const std::string& address,
                                            std::vector<std::string> extra, Ms timeout) {
  std::vector<std::string> argv = {DEMO_BACKEND_BIN, "--listen", address, "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string want = "^listening " + std::regex_replace(address, std::regex(R"([.\[\]])"), R"(\$&)") + R"(\s*$)";
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto p = std::make_unique<Process>(argv, dir.path(), "backend-" + name + "-" + std::to_string(counter()));
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (p->waitForLine(Stream::Stdout, want, std::max(left, Ms(1)))) return p;
    // Exited (bind failed) or timed out.
    if (Clock::now() >= deadline)
      fail("demo-backend " + name + " did not come up on " + address + " in time\n" + p->tail());
    std::this_thread::sleep_for(Ms(20));
  }
}

void demoControl(uint16_t port, const std::string& query) {
  Response r = fetch(port, request("POST", "/_control?" + query, {"Content-Length: 0"}));
  if (r.status != 200) fail("demo-backend /_control?" + query + " answered " + std::to_string(r.status));
}

std::vector<JsonObject> eventObjects(const Ballast& lb, const std::string& event) {
  std::vector<JsonObject> out;
  for (const auto& line : lb.events()) {
    if (line.empty() || line[0] != '{') continue;
    JsonObject o;
    try {
      o = parseFlatJson(line);
    } catch (const std::exception&) {
      continue;
    }
    if (!event.empty()) {
      auto it = o.find("event");
      if (it == o.end() || it->second.text != event) continue;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string jsonText(const JsonObject& o, const std::string& key) {
  auto it = o.find(key);
  return it == o.end() ? std::string() : it->second.text;
}

size_t countEvents(const Ballast& lb, const std::string& event, const EventPredicate& pred) {
  size_t n = 0;
  for (const auto& o : eventObjects(lb, event))
    if (!pred || pred(o)) ++n;
  return n;
}

JsonObject waitEvent(Ballast& lb, const std::string& event, const EventPredicate& pred, Ms timeout, size_t skip) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    bool alive = lb.process().running();
    size_t seen = 0;
    for (auto& o : eventObjects(lb, event)) {
      if (pred && !pred(o)) continue;
      if (seen++ < skip) continue;
      return o;
    }
    if (!alive || Clock::now() >= deadline) {
      std::string tail;
      auto ls = lb.events();
      for (size_t i = ls.size() > 40 ? ls.size() - 40 : 0; i < ls.size(); ++i) tail += ls[i] + "\n";
      fail("no \"" + event + "\" event" + (pred ? " matching the predicate" : "") + " (#" + std::to_string(skip + 1) +
           ") within " + std::to_string(timeout.count()) + " ms" + (alive ? "" : " (ballast exited)") +
           "; event log tail:\n" + tail);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

EventPredicate backendState(const std::string& backend, const std::string& new_state) {
  return [backend, new_state](const JsonObject& o) {
    return jsonText(o, "backend") == backend && (new_state.empty() || jsonText(o, "new") == new_state);
  };
}

// ---------------------------------------------------------------------------
// FakeServer

FakeServer::FakeServer(FakeHandler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail(errnoText("socket"));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(listen_fd_, 128) < 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    std::string e = errnoText("FakeServer bind/listen");
    ::close(listen_fd_);
    fail(e);
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FakeServer::~FakeServer() { stop(); }

std::string FakeServer::address() const { return "127.0.0.1:" + std::to_string(port_); }

void FakeServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();  // polls stopping_ every few ms
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes blocked recv calls
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
}

void FakeServer::acceptLoop() {
  uint64_t next_id = 0;
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, 10);
    if (rc <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    conn_fds_.push_back(fd);
    uint64_t id = ++next_id;
    workers_.emplace_back([this, fd, id] { serve(fd, id); });
  }
}

void FakeServer::serve(int fd, uint64_t id) {
  std::string buf;
  char tmp[16 * 1024];
  // Reads more into buf; false on EOF, error or stop.
  auto more = [&]() -> bool {
    for (;;) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  };
  auto sendAllFd = [&](const std::string& s) -> bool {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  };
  // Reads and answers one request: Keep (go on), End (close) or Reset.
  enum class Next { Keep, End, Reset };
  auto one = [&]() -> Next {
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (stopping_ || !more()) return Next::End;
    }
    FakeRequest req;
    req.conn_id = id;
    req.head = buf.substr(0, head_end + 4);
    buf.erase(0, head_end + 4);
    auto lines = splitCrlf(std::string_view(req.head).substr(0, head_end));
    if (lines.empty()) return Next::End;
    size_t sp1 = lines[0].find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : lines[0].find(' ', sp1 + 1);
    req.method = lines[0].substr(0, sp1);
    if (sp1 != std::string::npos)
      req.target = lines[0].substr(sp1 + 1, sp2 == std::string::npos ? sp2 : sp2 - sp1 - 1);
    auto headers = parseHeaderLines(lines, false);
    auto conn = findHeader(headers, "Connection");
    bool close_after = conn && toLower(*conn).find("close") != std::string::npos;
    auto te = findHeader(headers, "Transfer-Encoding");
    auto cl = findHeader(headers, "Content-Length");
    if (te && toLower(*te).find("chunked") != std::string::npos) {
      size_t end;
      while ((end = buf.find("0\r\n\r\n")) == std::string::npos) {
        if (stopping_ || !more()) return Next::End;
      }
      req.body = buf.substr(0, end + 5);
      buf.erase(0, end + 5);
    } else if (cl) {
      size_t n = static_cast<size_t>(std::stoull(*cl));
      while (buf.size() < n) {
        if (stopping_ || !more()) return Next::End;
      }
      req.body = buf.substr(0, n);
      buf.erase(0, n);
    }
    ++requests_;
    FakeReply rep = handler_(req);
    switch (rep.action) {
      case FakeReply::Action::Reset: return Next::Reset;
      case FakeReply::Action::Close: return Next::End;
      case FakeReply::Action::Hang:
        while (!stopping_ && more()) {
        }
        return Next::End;
      case FakeReply::Action::Respond: break;
    }
    std::string out = "HTTP/1.1 " + std::to_string(rep.status) + " Fake\r\n";
    for (const auto& h : rep.headers) out += h + "\r\n";
    out += "Content-Length: " + std::to_string(rep.body.size()) + "\r\n";
    if (close_after) out += "Connection: close\r\n";
    out += "\r\n" + rep.body;
    if (!sendAllFd(out) || close_after) return Next::End;
    return Next::Keep;
  };
  Next next;
  while ((next = one()) == Next::Keep) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (next == Next::Reset) {
    linger l{1, 0};  // close() then sends a RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
  conn_fds_.erase(std::remove(conn_fds_.begin(), conn_fds_.end(), fd), conn_fds_.end());
}

// ---------------------------------------------------------------------------
// Shared test helpers

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("freePort: bind failed");
  }
  ::close(fd);
  return ntohs(sa.sin_port);
}

void replaceConfig(const std::string& path, const std::string& yaml) {
  const std::string tmp = path + ".tmp";
  writeFile(tmp, yaml);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("replaceConfig: rename failed");
}

bool pollUntil(const std::function<bool()>& cond, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Ms(5));
  }
  return true;
}

int tryConnect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

std::set<std::string> servedBy(const Ballast& lb, int n, const std::string& tag) {
  std::set<std::string> out;
  for (const auto& b : backendsOf(lb.port(), n, tag)) out.insert(b);
  return out;
}

std::vector<std::string> backendsOf(uint16_t port, int n, const std::string& tag) {
  Client c(port);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    Response r = c.roundTrip(get("/" + tag + "-" + std::to_string(i)));
    INFO(tag << " request " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    out.push_back(r.headerOr("X-Backend"));
  }
  return out;
}

std::string firstFailures(const std::vector<std::string>& failures, size_t n) {
  std::string s;
  for (size_t i = 0; i < failures.size() && i < n; ++i) s += failures[i] + "\n---\n";
  return s;
}

Load::Load(uint16_t port, int keepalive, int fresh) {
  for (int i = 0; i < keepalive; ++i) threads_.emplace_back([this, port, i] { run(port, i, true); });
  for (int i = 0; i < fresh; ++i) threads_.emplace_back([this, port, i] { run(port, 100 + i, false); });
}

Load::~Load() { stop(); }

void Load::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

std::vector<std::string> Load::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::map<std::string, uint64_t> Load::byBackend() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_backend_;
}

std::map<std::string, uint64_t> Load::byBackendAfterMark() const {
  std::lock_guard<std::mutex> lock(mu_);
  return after_mark_;
}

void Load::record(bool after_mark, const Response& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  if (r.status == 200 && r.complete) {
    ++by_backend_[r.headerOr("X-Backend")];
    if (after_mark) ++after_mark_[r.headerOr("X-Backend")];
  } else {
    failures_.push_back(r.describe());
  }
}

void Load::recordError(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  failures_.push_back("client error: " + what);
}

void Load::run(uint16_t port, int id, bool keepalive) {
  uint64_t n = 0;
  while (!stop_) {
    try {
      Client c(port, Ms(5000));
      bool server_closes = false;
      do {
        bool after = marked_.load();
        Response r = c.roundTrip(get("/load-" + std::to_string(id) + "-" + std::to_string(n++)));
        // `Connection: close` (a draining server): the next request goes on a
        // new connection, as HTTP/1.1 requires of a client.
        server_closes = iequals(r.headerOr("Connection", ""), "close");
        record(after, r);
      } while (keepalive && !stop_ && !server_closes);
    } catch (const std::exception& e) {
      recordError(e.what());
    }
  }
}

}  // namespace ballast::test
