// Structured logging: the access log (one JSON object per request) and the
// event log (operational events as JSON objects), both through spdlog with
// a buffered sink that the event loop flushes once per iteration, so a
// request costs no write syscall of its own. A write error on a log file is
// counted and never stops proxying.
#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ballast {

// Builds one JSON object into a reusable buffer, escaping strings per RFC 8259.
class JsonLine {
 public:
  JsonLine() { buf_.reserve(512); }
  JsonLine& begin() {
    buf_.clear();
    buf_.push_back('{');
    first_ = true;
    return *this;
  }
  JsonLine& str(std::string_view key, std::string_view value);
  JsonLine& num(std::string_view key, int64_t value);
  JsonLine& num(std::string_view key, uint64_t value);
  JsonLine& num(std::string_view key, int value) { return num(key, static_cast<int64_t>(value)); }
  JsonLine& dbl(std::string_view key, double value, int precision = 3);
  JsonLine& boolean(std::string_view key, bool value);
  JsonLine& null(std::string_view key);
  JsonLine& time(std::string_view key);  // current UTC time, ISO 8601 with ms
  JsonLine& end() {
    buf_.push_back('}');
    return *this;
  }
  std::string_view view() const { return buf_; }

  static void escape(std::string& out, std::string_view s);

 private:
  void key(std::string_view k);
  std::string buf_;
  bool first_ = true;
};

class Log {
 public:
  // Opens the access and event outputs. On failure returns false with a
  // message in *err and leaves the previous outputs in place.
  bool configure(const config::LogConfig& cfg, std::string* err);
  // Writes buffered lines (called once per loop iteration and at exit).
  void flush();
  // Reopens file outputs (logrotate, SIGUSR1).
  void reopen();

  bool accessEnabled() const { return access_ != nullptr; }
  void access(std::string_view json_line);

  bool enabled(config::LogLevel level) const { return level >= level_; }
  // `fields` is a JsonLine that the caller began and filled with its own
  // fields; event() prepends time, level and event name. Pass an ended-less
  // JsonLine built with eventLine().
  JsonLine& eventLine(config::LogLevel level, std::string_view event);
  void emit(config::LogLevel level);

  uint64_t writeErrors() const;

 private:
  std::shared_ptr<spdlog::logger> access_;
  std::shared_ptr<spdlog::logger> events_;
  config::LogLevel level_ = config::LogLevel::Info;
  JsonLine event_line_;
};

// The process-wide log (logging is inherently global; the loop is single-threaded).
Log& log();

// Convenience: one event line with no extra fields.
void logEvent(config::LogLevel level, std::string_view event, std::string_view message = {});

std::string_view levelName(config::LogLevel level);

}  // namespace ballast
