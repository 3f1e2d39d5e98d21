// A line-oriented channel over one end of a socketpair (the supervisor and
// its workers, see lb/server/supervisor.h). Lines are text without '\n';
// fields are separated by '\t' and escaped with escapeField (no field can
// hold a tab or a newline). Writes are queued and never block; a line
// longer than kMaxLine from the other side closes the channel (a peer that
// is not ours, or a bug).
//
// Ownership: the owner calls close() (also from inside on_line or
// on_close); the object then deletes itself from the pipe's close callback,
// never inside its own callbacks. on_line runs for each complete line until
// close(); on_close runs once, when the peer hung up or a read/write failed,
// and never after close(). Both must be set.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

class LineChannel {
 public:
  static constexpr size_t kMaxLine = 1 << 20;
  using OnLine = std::function<void(std::string_view line)>;
  using OnClose = std::function<void()>;

  // Takes `fd` (a connected AF_UNIX stream socket) and starts reading.
  // nullptr (fd closed) when libuv refuses it.
  static LineChannel* open(uv_loop_t* loop, int fd, OnLine on_line, OnClose on_close);
  // Queues `line` + '\n'. A no-op once closed.
  void send(std::string_view line);
  // Stops reading, drops nothing already queued to the kernel, frees itself.
  void close();
  bool closed() const { return closing_; }

  // '\\' -> "\\\\", '\t' -> "\\t", '\n' -> "\\n", '\r' -> "\\r".
  static std::string escapeField(std::string_view s);
  static std::string unescapeField(std::string_view s);
  // Splits on '\t' (fields stay escaped).
  static std::vector<std::string_view> split(std::string_view line);

 private:
  LineChannel(OnLine on_line, OnClose on_close) : on_line_(std::move(on_line)), on_close_(std::move(on_close)) {}
  ~LineChannel() = default;
  void fail();
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);

  uv_pipe_t pipe_;
  OnLine on_line_;
  OnClose on_close_;
  std::string in_;  // a partial line
  char buf_[16384];
  bool closing_ = false;
};

}  // namespace ballast
