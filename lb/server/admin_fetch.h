// The supervisor's client for its workers' admin APIs (workers: see
// supervisor.h): one request per connection to 127.0.0.1:<port>, the
// whole answer read until the worker closes (its admin answers with
// Connection: close), a deadline for everything. Non-blocking, on the
// supervisor's loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ballast {

struct AdminFetchResult {
  int status = 0;     // 0: no answer (see error)
  std::string error;  // "connect: connection refused", "timeout after 10 s", ...
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // besides the framing ones
  std::string body;
};

class AdminFetcher {
 public:
  static constexpr size_t kMaxAnswerBytes = 64u << 20;  // a /metrics of a huge config
  using Done = std::function<void(AdminFetchResult)>;

  explicit AdminFetcher(uv_loop_t* loop) : loop_(loop) {}
  ~AdminFetcher();
  AdminFetcher(const AdminFetcher&) = delete;
  AdminFetcher& operator=(const AdminFetcher&) = delete;

  // Sends `request` (whole bytes) to 127.0.0.1:`port`; `done` runs once, on a
  // later loop turn, unless closeAll() ran first.
  void fetch(int port, std::string request, uint64_t timeout_ms, Done done);
  // Cancels every request in flight (no callback); their handles close.
  void closeAll();
  size_t inFlight() const { return live_.size(); }

  // Parses a whole HTTP/1.1 answer (status line, headers, body framed by
  // Content-Length or by the close). A short body is an error.
  static AdminFetchResult parse(const std::string& bytes);

 private:
  struct Call;
  void finish(Call* c, AdminFetchResult r);
  uv_loop_t* loop_;
  std::vector<Call*> live_;
};

}  // namespace ballast
