#include "lb/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <charconv>
#include <cstring>
#include <ctime>
#include <mutex>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/time.h>

namespace ballast {

namespace {

uint64_t g_write_errors = 0;

// Appends each line to a buffer; flush_() writes it with as few syscalls as
// possible. Lines are written whole or dropped (counted), never cut in the
// middle by us. Single-threaded: null_mutex.
class BufferedFdSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // target: "stdout", "stderr" or a file path (opened O_APPEND).
  static std::shared_ptr<BufferedFdSink> open(const std::string& target, std::string* err) {
    auto s = std::shared_ptr<BufferedFdSink>(new BufferedFdSink(target));
    if (!s->reopen(err)) return nullptr;
    return s;
  }
  ~BufferedFdSink() override {
    flushBuffer();
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
  }
  bool reopen(std::string* err) {
    if (target_ == "stdout") {
      fd_ = 1;
      return true;
    }
    if (target_ == "stderr") {
      fd_ = 2;
      return true;
    }
    int fd = ::open(target_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (err) *err = "cannot open log file \"" + target_ + "\": " + std::strerror(errno);
      return false;
    }
    flushBuffer();
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = fd;
    owns_fd_ = true;
    return true;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    buf_.append(msg.payload.data(), msg.payload.size());
    buf_.push_back('\n');
    if (buf_.size() >= kFlushAt || msg.level >= spdlog::level::err) flushBuffer();
  }
  void flush_() override { flushBuffer(); }

 private:
  static constexpr size_t kFlushAt = 64 * 1024;
  explicit BufferedFdSink(std::string target) : target_(std::move(target)) { buf_.reserve(kFlushAt + 4096); }

  void flushBuffer() {
    size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        ++g_write_errors;  // disk full, closed pipe...: drop, keep proxying
        break;
      }
      off += static_cast<size_t>(n);
    }
    buf_.clear();
  }

  std::string target_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string buf_;
};

std::shared_ptr<spdlog::logger> makeLogger(const std::string& name, const std::string& target,
                                           std::string* err) {
  if (target == "off") return nullptr;
  auto sink = BufferedFdSink::open(target, err);
  if (!sink) return nullptr;
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::off);
  return logger;
}

spdlog::level::level_enum toSpd(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::Trace: return spdlog::level::trace;
    case config::LogLevel::Debug: return spdlog::level::debug;
    case config::LogLevel::Info: return spdlog::level::info;
    case config::LogLevel::Warn: return spdlog::level::warn;
    case config::LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Cached "YYYY-MM-DDTHH:MM:SS" for the current second.
struct TimeCache {
  time_t sec = -1;
  char prefix[32] = {0};
  size_t len = 0;
};
TimeCache g_time_cache;

}  // namespace

Log& log() {
  static Log instance;
  return instance;
}

std::string_view levelName(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Trace: return "trace";
    case config::LogLevel::Debug: return "debug";
    case config::LogLevel::Info: return "info";
    case config::LogLevel::Warn: return "warn";
    case config::LogLevel::Error: return "error";
  }
  return "info";
}

void JsonLine::escape(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\r': out.append("\\r", 2); break;
      case '\t': out.append("\\t", 2); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\u00", 4);
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          // Bytes >= 0x80 pass through; request paths are not guaranteed
          // UTF-8, so invalid sequences are replaced to keep the line valid JSON.
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

void JsonLine::key(std::string_view k) {
  if (!first_) buf_.push_back(',');
  first_ = false;
  buf_.push_back('"');
  buf_.append(k);
  buf_.append("\":", 2);
}

JsonLine& JsonLine::str(std::string_view k, std::string_view value) {
  key(k);
  buf_.push_back('"');
  // One pass: runs of plain printable ASCII are appended in bulk; control
  // characters, quotes and backslashes are escaped; multi-byte sequences are
  // kept when well-formed UTF-8 (RFC 3629 table 3-7: no overlongs, no
  // surrogates, <= U+10FFFF) and replaced by U+FFFD otherwise, so the line
  // is always valid JSON whatever bytes a request carried.
  const char* p = value.data();
  const size_t n = value.size();
  size_t i = 0;
  size_t run = 0;
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    buf_.append(p + run, i - run);
    if (c < 0x80) {
      escape(buf_, std::string_view(p + i, 1));
      ++i;
    } else {
      size_t len = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
      bool ok = len != 0 && i + len <= n;
      for (size_t j = 1; ok && j < len; ++j) ok = (static_cast<unsigned char>(p[i + j]) & 0xc0) == 0x80;
      if (ok && len >= 3) {
        unsigned char c1 = static_cast<unsigned char>(p[i + 1]);
        if (c == 0xe0 && c1 < 0xa0) ok = false;  // overlong
        if (c == 0xed && c1 > 0x9f) ok = false;  // surrogate
        if (c == 0xf0 && c1 < 0x90) ok = false;  // overlong
        if (c == 0xf4 && c1 > 0x8f) ok = false;  // > U+10FFFF
      }
      if (ok) {
        buf_.append(p + i, len);
        i += len;
      } else {
        buf_.append("\xef\xbf\xbd");
        ++i;
      }
    }
    run = i;
  }
  buf_.append(p + run, n - run);
  buf_.push_back('"');
  return *this;
}

JsonLine& JsonLine::num(std::string_view k, int64_t value) {
  key(k);
  char tmp[24];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, value);
  (void)ec;
  buf_.append(tmp, static_cast<size_t>(p - tmp));
  return *this;
}

JsonLine& JsonLine::num(std::string_view k, uint64_t value) {
  key(k);
  char tmp[24];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, value);
  (void)ec;
  buf_.append(tmp, static_cast<size_t>(p - tmp));
  return *this;
}

JsonLine& JsonLine::dbl(std::string_view k, double value, int precision) {
  key(k);
  if (!std::isfinite(value)) {
    buf_.append("null");  // JSON has no NaN or infinity
    return *this;
  }
  char tmp[48];
  auto [p, ec] = std::to_chars(tmp, tmp + sizeof tmp, value, std::chars_format::fixed, precision);
  (void)ec;
  buf_.append(tmp, static_cast<size_t>(p - tmp));
  return *this;
}

JsonLine& JsonLine::boolean(std::string_view k, bool value) {
  key(k);
  buf_.append(value ? "true" : "false");
  return *this;
}

JsonLine& JsonLine::null(std::string_view k) {
  key(k);
  buf_.append("null");
  return *this;
}

JsonLine& JsonLine::time(std::string_view k) {
  key(k);
  timeval tv;
  gettimeofday(&tv, nullptr);
  if (tv.tv_sec != g_time_cache.sec) {
    tm t;
    gmtime_r(&tv.tv_sec, &t);
    g_time_cache.len = strftime(g_time_cache.prefix, sizeof g_time_cache.prefix, "%Y-%m-%dT%H:%M:%S", &t);
    g_time_cache.sec = tv.tv_sec;
  }
  buf_.push_back('"');
  buf_.append(g_time_cache.prefix, g_time_cache.len);
  char ms[8];
  int m = static_cast<int>(tv.tv_usec / 1000);
  ms[0] = '.';
  ms[1] = static_cast<char>('0' + m / 100);
  ms[2] = static_cast<char>('0' + (m / 10) % 10);
  ms[3] = static_cast<char>('0' + m % 10);
  ms[4] = 'Z';
  ms[5] = '"';
  buf_.append(ms, 6);
  return *this;
}

bool Log::configure(const config::LogConfig& cfg, std::string* err) {
  std::shared_ptr<spdlog::logger> access;
  std::shared_ptr<spdlog::logger> events;
  if (cfg.access != "off") {
    access = makeLogger("access", cfg.access, err);
    if (!access) return false;
  }
  if (cfg.events != "off") {
    // Share the sink when both go to the same place, so lines never interleave mid-line.
    if (access && cfg.events == cfg.access) {
      events = std::make_shared<spdlog::logger>("events", access->sinks().front());
      events->set_level(spdlog::level::trace);
    } else {
      events = makeLogger("events", cfg.events, err);
      if (!events) return false;
    }
  }
  flush();
  access_ = std::move(access);
  events_ = std::move(events);
  level_ = cfg.level;
  return true;
}

void Log::flush() {
  if (access_) access_->flush();
  if (events_) events_->flush();
}

void Log::reopen() {
  for (auto* l : {access_.get(), events_.get()}) {
    if (!l) continue;
    for (auto& s : l->sinks()) {
      if (auto* b = dynamic_cast<BufferedFdSink*>(s.get())) b->reopen(nullptr);
    }
  }
}

void Log::access(std::string_view json_line) {
  if (access_) access_->log(spdlog::level::info, json_line);
}

JsonLine& Log::eventLine(config::LogLevel level, std::string_view event) {
  event_line_.begin().time("time").str("level", levelName(level)).str("event", event);
  return event_line_;
}

void Log::emit(config::LogLevel level) {
  event_line_.end();
  if (events_ && enabled(level)) events_->log(toSpd(level), event_line_.view());
}

uint64_t Log::writeErrors() const { return g_write_errors; }

void logEvent(config::LogLevel level, std::string_view event, std::string_view message) {
  Log& l = log();
  if (!l.enabled(level)) return;
  auto& j = l.eventLine(level, event);
  if (!message.empty()) j.str("message", message);
  l.emit(level);
}

}  // namespace ballast
