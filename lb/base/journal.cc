#include "lb/base/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ballast {

Journal& journal() {
  static Journal instance;
  return instance;
}

Journal::~Journal() { close(); }

bool Journal::open(const std::string& path, uint64_t max_size, uint32_t keep, std::string* err) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (err) *err = "cannot open journal \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  close();
  fd_ = fd;
  size_ = size;
  path_ = path;
  max_size_ = max_size;
  keep_ = keep;
  return true;
}

void Journal::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Journal::rotate() {
  // Why rename before reopening: a reader following the journal (tail -F)
  // keeps the complete old file, and the new path starts empty.
  if (keep_ == 0) {
    ::unlink(path_.c_str());
  } else {
    for (uint32_t i = keep_; i >= 1; --i) {
      const std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      const std::string to = path_ + "." + std::to_string(i);
      ::rename(from.c_str(), to.c_str());  // a missing older file is fine
    }
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    ++write_errors_;
    return;  // keep writing to the renamed file rather than lose events
  }
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
  ++rotations_;
}

void Journal::append(std::string_view line) {
  if (observer_) observer_(line);
  if (fd_ < 0) return;
  buf_.assign(line);
  buf_.push_back('\n');
  if (max_size_ > 0 && size_ > 0 && size_ + buf_.size() > max_size_) rotate();
  size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ++write_errors_;  // disk full, I/O error: drop the line, keep proxying
      return;
    }
    off += static_cast<size_t>(n);
  }
  size_ += buf_.size();
  ++lines_;
}

}  // namespace ballast
