#include "lb/base/log.h"

#include "lb/base/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <cerrno>
#include <cstring>

namespace ballast {

namespace {

uint64_t g_write_errors = 0;

}  // namespace

// Appends each line to a buffer; flush_() writes it with as few syscalls as
// possible. Lines are written whole or dropped (counted), never cut in the
// middle by us. Single-threaded: null_mutex.
class LogFdSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  // target: "stdout", "stderr" or a file path (opened O_APPEND).
  static std::shared_ptr<LogFdSink> open(const std::string& target, std::string* err) {
    auto s = std::shared_ptr<LogFdSink>(new LogFdSink(target));
    if (!s->reopen(err)) return nullptr;
    return s;
  }
  ~LogFdSink() override {
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

 public:
  // The access log's path: the line goes straight into the buffer, without
  // spdlog's message and formatter (the sink is ours and single-threaded).
  void appendLine(std::string_view line) {
    buf_.append(line.data(), line.size());
    buf_.push_back('\n');
    if (buf_.size() >= kFlushAt) flushBuffer();
  }
  void flushLines() {
    if (!buf_.empty()) flushBuffer();
  }

 private:
  static constexpr size_t kFlushAt = 64 * 1024;
  explicit LogFdSink(std::string target) : target_(std::move(target)) { buf_.reserve(kFlushAt + 4096); }

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

namespace {

std::shared_ptr<spdlog::logger> makeLogger(const std::string& name, const std::string& target,
                                           std::string* err) {
  if (target == "off") return nullptr;
  auto sink = LogFdSink::open(target, err);
  if (!sink) return nullptr;
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::off);
  return logger;
}

spdlog::level::level_enum toSpd(LogLevel l) {
  switch (l) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

std::string_view levelName(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

bool Log::configure(const LogOptions& cfg, std::string* err) {
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
  // Every logger's sink is a LogFdSink (makeLogger).
  access_sink_ = access_ ? static_cast<LogFdSink*>(access_->sinks().front().get()) : nullptr;
  events_ = std::move(events);
  level_ = cfg.level;
  return true;
}

void Log::flush() {
  if (access_sink_ != nullptr) access_sink_->flushLines();
  // Every loop turn calls this; most turns wrote no event (about 90
  // instructions a turn for spdlog's flush of nothing).
  if (events_ && events_written_) events_->flush();
  events_written_ = false;
}

void Log::reopen() {
  for (auto* l : {access_.get(), events_.get()}) {
    if (!l) continue;
    for (auto& s : l->sinks()) {
      if (auto* b = dynamic_cast<LogFdSink*>(s.get())) b->reopen(nullptr);
    }
  }
}

void Log::access(std::string_view json_line) {
  if (access_sink_ != nullptr) access_sink_->appendLine(json_line);
}

JsonWriter& Log::eventLine(LogLevel level, std::string_view event) {
  event_line_.clear();
  event_line_.beginObject().time("time").str("level", levelName(level)).str("event", event);
  return event_line_;
}

void Log::emit(LogLevel level) {
  if (!incident_tag_.empty()) event_line_.str("incident", incident_tag_);
  if (worker_index_ >= 0) event_line_.num("worker", static_cast<int64_t>(worker_index_));
  event_line_.endObject();
  if (events_ && level >= level_) {
    events_->log(toSpd(level), event_line_.view());
    events_written_ = true;
  }
  if (journal_ && level >= LogLevel::Info) journal_->append(event_line_.view());
}

uint64_t Log::writeErrors() const { return g_write_errors; }

void logEvent(LogLevel level, std::string_view event, std::string_view message) {
  Log& l = log();
  if (!l.enabled(level)) return;
  auto& j = l.eventLine(level, event);
  if (!message.empty()) j.str("message", message);
  l.emit(level);
}

bool closeLoopOrReport(uv_loop_t* loop) {
  const int rc = uv_loop_close(loop);
  if (rc == 0) return true;
  auto& j = log().eventLine(LogLevel::Error, "loop_not_closed");
  j.str("error", uv_strerror(rc));
  log().emit(LogLevel::Error);
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        auto& e = log().eventLine(LogLevel::Error, "open_handle");
        e.str("type", uv_handle_type_name(h->type));
        log().emit(LogLevel::Error);
      },
      nullptr);
  return false;
}

}  // namespace ballast
