// One admin client connection: one request, one answer, then close.
//
// States: Reading (parser fed; the request timer armed) -> Writing (the
// answer in flight; input discarded) -> Lingering (write side shut down;
// input discarded until EOF or kLingerMs) -> Closing (handles closing).
// Owns itself; unlinks and deletes itself after the last close callback.
// Sending on a closing connection is a no-op, so a reply that arrives after
// the connection was closed (a reload that closed the admin server while
// this request was being answered) cannot close it twice.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "lb/admin/admin_request.h"

namespace ballast {

class AdminServer;

class AdminConnection {
 public:
  static constexpr size_t kMaxHeadBytes = 8 * 1024;    // larger request head -> 431
  static constexpr size_t kMaxBodyBytes = 64 * 1024;   // larger body -> 413
  static constexpr uint64_t kRequestTimeoutMs = 10000;  // whole request, from accept
  // From the request to its answer (a reload: the config check may take
  // its full 30 s), then for writing the answer to a client that reads it.
  static constexpr uint64_t kAnswerTimeoutMs = 90000;
  static constexpr uint64_t kWriteTimeoutMs = 60000;
  static constexpr uint64_t kLingerMs = 1000;           // draining unread input after the answer

  explicit AdminConnection(AdminServer& admin, uv_loop_t* loop);
  // Accepts from `listener` and starts reading. False: nothing accepted
  // (close() the object).
  bool start(uv_stream_t* listener);
  // Idempotent. Pending write/shutdown requests are cancelled by libuv
  // before the close callbacks run, so the object outlives them.
  void close();
  // Still reading its request (a retired server closes these at once).
  bool reading() const { return state_ == State::Reading; }

 private:
  enum class State : uint8_t { Reading, Writing, Lingering, Closing };

  ~AdminConnection();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  bool countHead(size_t n);
  void respond();
  void send(const AdminReply& r, bool head_only);

  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onTimer(uv_timer_t* t);
  static void onHandlesClosed(AdminConnection* self);
  static int onUrl(llhttp_t* p, const char* at, size_t len);
  static int onHeaderField(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueComplete(llhttp_t* p);
  static int onBody(llhttp_t* p, const char* at, size_t len);
  static int onMessageComplete(llhttp_t* p);
  template <class U>
  friend llhttp_settings_t makeParserSettings();
  template <class U>
  friend void closeHandles(U* owner, std::initializer_list<uv_handle_t*> handles);

  AdminServer& admin_;  // borrowed: outlives every connection (see AdminServer::idle)
  uv_tcp_t tcp_;
  uv_timer_t timer_;    // request, answer, write, then linger deadline
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  llhttp_t parser_;
  char buf_[8192];  // read buffer; the parser consumes it entirely on each read
  State state_ = State::Reading;
  int pending_closes_ = 0;
  size_t head_bytes_ = 0;
  bool head_too_large_ = false;
  bool body_too_large_ = false;
  bool eof_ = false;  // the client finished sending while we were writing
  struct Captured {
    std::string_view name;
    std::string value;
    bool seen = false;
  };
  Captured captured_[4] = {{"authorization", {}, false},
                           {"host", {}, false},
                           {"origin", {}, false},
                           {"sec-fetch-site", {}, false}};
  std::string client_;
  std::string url_;
  std::string method_;
  std::string field_;
  std::string value_;
  std::string body_;
  std::string out_;  // the answer, owned until the write callback
  // Expires with the connection: an answer that comes later (a reload)
  // finds out whether there is still someone to send it to.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  template <class>
  friend class IntrusiveList;
  AdminConnection* next_ = nullptr;  // AdminServer's live connections
  AdminConnection* prev_ = nullptr;
};

}  // namespace ballast
