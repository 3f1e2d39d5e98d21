// Structured logging: the access log (one JSON object per request) and the
// event log (operational events as JSON objects), both through spdlog with
// a buffered sink that the event loop flushes once per iteration, so a
// request costs no write syscall of its own. A write error on a log file is
// counted and never stops proxying.
#pragma once

#include <uv.h>

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lb/base/json.h"

namespace ballast {

class Journal;
class LogFdSink;

enum class LogLevel : uint8_t { Trace, Debug, Info, Warn, Error };

// Where the two logs go: "stdout", "stderr", "off" or a file path.
struct LogOptions {
  LogLevel level = LogLevel::Info;
  std::string access = "stdout";
  std::string events = "stderr";
};

class Log {
 public:
  // Opens the access and event outputs. On failure returns false with a
  // message in *err and leaves the previous outputs in place.
  bool configure(const LogOptions& opts, std::string* err);
  // Writes buffered lines (called once per loop iteration and at exit).
  void flush();
  // Reopens file outputs (logrotate, SIGUSR1).
  void reopen();

  bool accessEnabled() const { return access_ != nullptr; }
  void access(std::string_view json_line);

  // True when an event at `level` goes anywhere: the event log, or the
  // journal (which takes info and above whatever log.level says).
  bool enabled(LogLevel level) const {
    return level >= level_ || (journal_ != nullptr && level >= LogLevel::Info);
  }
  // Begins an event line (time, level, event name) for the caller to add
  // fields to, then emit() ends and writes it (if `level` is enabled).
  JsonWriter& eventLine(LogLevel level, std::string_view event);
  void emit(LogLevel level);

  uint64_t writeErrors() const;

  // The journal (lb/base/journal.h) receives a copy of every event line at
  // info or above, whatever the event log's own target and level; null = no
  // journal. Borrowed: the server owns it and clears this before freeing it.
  void setJournal(Journal* journal) { journal_ = journal; }
  // Ids of the open incidents ("" = none): added as "incident" to every
  // event line while non-empty, so events inside an incident carry its id.
  void setIncidentTag(std::string tag) { incident_tag_ = std::move(tag); }
  // workers: every event line of worker `index` says "worker": index.
  void setWorkerIndex(int index) { worker_index_ = index; }

 private:
  std::shared_ptr<spdlog::logger> access_;
  std::shared_ptr<spdlog::logger> events_;
  LogFdSink* access_sink_ = nullptr;  // access_'s sink, borrowed
  bool events_written_ = false;  // an event line went to events_ since its last flush
  LogLevel level_ = LogLevel::Info;
  JsonWriter event_line_;
  Journal* journal_ = nullptr;  // borrowed
  std::string incident_tag_;
  int worker_index_ = -1;
};

// The process-wide log (logging is inherently global; the loop is single-threaded).
// Inline: reached on every request (the static's guard is one load).
inline Log& log() {
  static Log instance;
  return instance;
}

// Convenience: one event line with no extra fields.
void logEvent(LogLevel level, std::string_view event, std::string_view message = {});

// uv_loop_close() at the end of a process's loop. A handle left open is a
// lifetime bug: said loudly (a loop_not_closed event and one open_handle
// event per handle; tests look for them). Returns true when it closed.
bool closeLoopOrReport(uv_loop_t* loop);

std::string_view levelName(LogLevel level);

}  // namespace ballast
