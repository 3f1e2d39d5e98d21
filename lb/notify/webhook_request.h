// One POST to a notify target: its own connection (plain TCP, or TLS
// through lb/tls's client transport for an https URL), a connect timeout
// and a response timeout, llhttp reading the status line and headers only.
// Non-blocking on the loop it is given; `Connection: close`, one request.
//
// Ownership: the request owns itself from start() to its last close
// callback (transport and timer), then deletes itself. The owner hears of
// it once through `done` (never from inside start()), or never after
// cancel(). A cancelled or finished request only closes.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "lb/base/transport.h"
#include "lb/tls/client_context.h"

namespace ballast::notify {

struct WebhookResult {
  bool ok = false;    // a 2xx status
  int status = 0;     // the response status; 0 = none
  std::string error;  // why it failed ("status 500", "timeout after 2s waiting for the response", ...)
  double ms = 0;      // from start to the status
};

class WebhookRequest final : public TransportUser {
 public:
  using Done = std::function<void(const WebhookResult&)>;

  // `bytes`: the whole request (head and body). `tls`: non-null for https.
  static WebhookRequest* start(uv_loop_t* loop, const config::NotifyTarget& target,
                               std::shared_ptr<tls::ClientContext> tls, std::string bytes,
                               uint64_t connect_timeout_ms, uint64_t timeout_ms, Done done);
  // No callback after this; the connection closes.
  void cancel();

  // llhttp callback (lb/http/parser.h): the final status has arrived.
  static int onHeadersComplete(llhttp_t* p);

  // The request bytes for `body` to `target`.
  static std::string requestBytes(const config::NotifyTarget& target, const std::string& body);

 private:
  WebhookRequest(uv_loop_t* loop, const config::NotifyTarget& target, std::shared_ptr<tls::ClientContext> tls);
  ~WebhookRequest() override = default;

  void begin(uint64_t connect_timeout_ms);
  void ready();
  void finish(WebhookResult r);
  void fail(std::string error);
  void closeAll();
  void onHandleClosed();

  uv_buf_t onTransportAlloc() override { return uv_buf_init(buf_, sizeof buf_); }
  void onTransportRead(ssize_t nread) override;
  void onTransportWriteDone(int status) override;
  void onTransportHandshake(int status) override;
  void onTransportClosed() override { onHandleClosed(); }

  static void onConnect(uv_connect_t* req, int status);
  static void onTimeout(uv_timer_t* t);
  static void onTimerClosed(uv_handle_t* h);

  std::unique_ptr<Transport> transport_;
  config::Address address_;
  uv_connect_t connect_req_;
  uv_timer_t timer_;
  llhttp_t parser_;
  char buf_[4096];
  std::string bytes_;  // written once; ours until the write is done
  std::string early_error_;  // uv_tcp_connect failed at once: reported by the timer
  Done done_;
  uint64_t timeout_ms_ = 0;
  uint64_t started_ns_ = 0;
  int status_ = 0;
  enum class Phase : uint8_t { Connecting, Waiting } phase_ = Phase::Connecting;
  bool finished_ = false;  // done_ called or cancelled
  bool closing_ = false;
  int open_handles_ = 2;  // transport, timer
};

}  // namespace ballast::notify
