// The journal: one place where every operational event of the process is
// recorded, as the JSON lines of the event log (lb/base/log copies each
// event line at info or above here). Each line is written and reaches the
// file before append() returns (no buffering: the journal is what a
// postmortem is drafted from, and a crash must not lose its last minute).
// When the file would grow past max_size it is rotated by renaming:
// path -> path.1 -> ... -> path.keep (the oldest is removed), so at most
// keep + 1 files exist. A write error never stops proxying: the line is
// dropped and counted (ballast_journal_write_errors_total).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ballast {

class Journal {
 public:
  Journal() = default;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  // Opens `path` for appending (created if missing). On failure returns
  // false with a message in *err and keeps the previous file (if any).
  bool open(const std::string& path, uint64_t max_size, uint32_t keep, std::string* err);
  void close();
  // New rotation settings for the open file (a reload).
  void setLimits(uint64_t max_size, uint32_t keep) {
    max_size_ = max_size;
    keep_ = keep;
  }
  bool isOpen() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

  // Appends one line (a newline is added). Rotates first when the line
  // would take the file past max_size (a file always holds at least one line).
  void append(std::string_view line);

  // Sees every line appended, written or not, with no file too (the
  // incident tracker builds its timelines from it). Must not log.
  void setObserver(std::function<void(std::string_view)> fn) { observer_ = std::move(fn); }

  uint64_t lines() const { return lines_; }
  uint64_t writeErrors() const { return write_errors_; }
  uint64_t rotations() const { return rotations_; }

 private:
  void rotate();

  std::string path_;
  uint64_t max_size_ = 0;
  uint32_t keep_ = 0;
  int fd_ = -1;
  uint64_t size_ = 0;  // bytes in the current file
  uint64_t lines_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t rotations_ = 0;
  std::string buf_;
  std::function<void(std::string_view)> observer_;  // the line and its newline, written with one write()
};

// The process-wide journal (like log(): the loop is single-threaded).
Journal& journal();

}  // namespace ballast
