#include "health/health_session.h"

#include <llhttp.h>

#include <algorithm>

#include "config/duration.h"
#include "health/health_checker.h"
#include "lb/http/parser.h"
#include "lb/base/transport.h"
#include "lb/stats/local_resources.h"
#include "lb/tls/tls_transport.h"

namespace ballast::health {

// One probe: its own connection (plain TCP, or TLS for a pool that speaks
// TLS to its backends), request write and response parser. Owned by itself
// from start to its transport's close callback; `session` is cut (set
// null) when the session stops caring (result reported, or session closed).
struct Probe final : TransportUser {
  HealthSession* session = nullptr;
  std::unique_ptr<Transport> t;
  uv_connect_t connect_req;
  llhttp_t parser;
  char buf[4096];
  int http_status = 0;
  bool closing = false;

  void close() {
    if (closing) return;
    closing = true;
    session = nullptr;
    t->close();
  }

  // Reports once and detaches.
  void done(bool passed, const std::string& reason) {
    HealthSession* s = session;
    close();
    if (s) s->onProbeDone(passed, reason, http_status);
  }

  // A system error: the backend's failure, unless ballast itself is out of
  // descriptors, buffers or ports (then the probe proves nothing: skipped).
  void failed(int uv_err);
  // Connected (and, over TLS, the handshake done): pass a tcp check, or
  // send the request.
  void ready();

  uv_buf_t onTransportAlloc() override { return uv_buf_init(buf, sizeof buf); }
  void onTransportRead(ssize_t nread) override;
  void onTransportWriteDone(int status) override {
    if (status < 0 && session) failed(status);
  }
  void onTransportHandshake(int status) override {
    if (session == nullptr) return;
    if (status < 0) {
      done(false, "TLS handshake failed: " + (t->error().empty() ? std::string(uv_strerror(status)) : t->error()));
      return;
    }
    ready();
  }
  void onTransportClosed() override { delete this; }

  static int onHeadersComplete(llhttp_t* p) {
    auto* self = static_cast<Probe*>(p->data);
    if (p->status_code >= 100 && p->status_code < 200) return 0;  // interim; wait for the final one
    self->http_status = p->status_code;
    return HPE_PAUSED;
  }
};

namespace {

std::string failureText(int uv_err) {
  if (uv_err == UV_EOF) return "connection closed before a response";
  return uv_strerror(uv_err);
}

}  // namespace

void Probe::failed(int uv_err) {
  if (!isLocalResourceError(uv_err)) {
    done(false, failureText(uv_err));
    return;
  }
  HealthSession* s = session;
  close();
  if (s) s->onProbeSkipped(uv_err);
}

HealthSession::HealthSession(HealthChecker& checker, std::shared_ptr<Backend> backend,
                             const config::HealthCheckConfig& cfg, uv_loop_t* loop, uint64_t seed,
                             std::shared_ptr<tls::ClientContext> tls)
    : checker_(checker), backend_(std::move(backend)), cfg_(cfg), loop_(loop), tls_(std::move(tls)),
      state_(cfg.rise, cfg.fall, cfg.initial), rng_(seed) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  if (cfg_.type == config::HealthCheckConfig::Type::Http) {
    const std::string& host = cfg_.host.empty() ? backend_->name() : cfg_.host;
    request_ = std::string(cfg_.method == config::HealthCheckConfig::Method::Head ? "HEAD " : "GET ") + cfg_.path +
               " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: ballast-health/" BALLAST_VERSION
               "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }
}

void HealthSession::start() { probe(); }

void HealthSession::close() {
  if (closing_) return;
  closing_ = true;
  if (probe_) {
    probe_->close();
    probe_ = nullptr;
  }
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &HealthSession::onClose);
}

void HealthSession::onClose(uv_handle_t* h) { delete static_cast<HealthSession*>(h->data); }

void HealthSession::scheduleNext() {
  if (closing_) return;
  uint64_t base = static_cast<uint64_t>(cfg_.interval.count());
  if (state_.status() == HealthStatus::Unhealthy && cfg_.unhealthy_interval.count() > 0) {
    base = static_cast<uint64_t>(cfg_.unhealthy_interval.count());
  }
  // +/- jitter_percent, so probes of many backends drift apart.
  uint64_t spread = base * cfg_.jitter_percent / 100;
  uint64_t delay = base;
  if (spread > 0) delay = base - spread + rng_() % (2 * spread + 1);
  // The interval runs from the start of the last probe, so a probe that
  // times out does not stretch the period (detection stays within
  // interval * fall + timeout).
  uint64_t elapsed = uv_now(loop_) - probe_started_ms_;
  delay = delay > elapsed ? delay - elapsed : 0;
  uv_timer_start(&timer_, &HealthSession::onTimer, delay, 0);
}

void HealthSession::onTimer(uv_timer_t* t) {
  auto* self = static_cast<HealthSession*>(t->data);
  if (self->probe_ != nullptr) {
    // The probe is still in flight: its timeout, if it really had one. The
    // timer counts from the loop's clock, which lags after a long step of
    // the loop (a probe started right after it would time out at once): a
    // probe fails only when the monotonic clock says the time is up.
    const uint64_t elapsed_ms = (uv_hrtime() - self->probe_started_ns_) / 1000000;
    const uint64_t timeout_ms = static_cast<uint64_t>(self->cfg_.timeout.count());
    if (elapsed_ms < timeout_ms) {
      uv_timer_start(&self->timer_, &HealthSession::onTimer, timeout_ms - elapsed_ms, 0);
      return;
    }
    self->probe_->done(false, "timeout after " + config::formatDuration(self->cfg_.timeout));
    return;
  }
  self->probe();
}

void HealthSession::probe() {
  if (closing_) return;
  ++probes_;
  probe_started_ms_ = uv_now(loop_);
  probe_started_ns_ = uv_hrtime();
  auto* p = new Probe();
  p->session = this;
  probe_ = p;
  if (tls_) {
    p->t = std::make_unique<tls::TlsTransport>(loop_, *p, tls_, backend_->address());
  } else {
    p->t = std::make_unique<TcpTransport>(loop_, *p);
  }
  p->connect_req.data = p;
  uv_timer_start(&timer_, &HealthSession::onTimer, static_cast<uint64_t>(cfg_.timeout.count()), 0);
  int err = uv_tcp_connect(&p->connect_req, p->t->tcp(), backend_->sockAddr(), [](uv_connect_t* req, int status) {
    auto* p = static_cast<Probe*>(req->data);
    if (p->session == nullptr) return;  // timed out or closed meanwhile
    if (status < 0) {
      p->failed(status);
      return;
    }
    const int r = p->t->connected();  // TLS: the handshake first
    if (r < 0) {
      p->failed(r);
    } else if (r == 0) {
      p->ready();
    }
  });
  if (err < 0) p->failed(err);
}

void Probe::ready() {
  HealthSession* s = session;
  if (s->cfg_.type == config::HealthCheckConfig::Type::Tcp) {
    done(true, t->secure() ? "connected (TLS)" : "connected");
    return;
  }
  llhttp_init(&parser, HTTP_RESPONSE, parserSettings<Probe>());
  parser.data = this;
  if (s->cfg_.method == config::HealthCheckConfig::Method::Head) {
    // A response to HEAD has no body whatever its headers say.
    parser.method = HTTP_HEAD;
  }
  uv_buf_t b = uv_buf_init(s->request_.data(), static_cast<unsigned>(s->request_.size()));
  int werr = t->write(&b, 1);
  if (werr < 0) {
    failed(werr);
    return;
  }
  if (int rerr = t->readStart(); rerr < 0) failed(rerr);
}

void Probe::onTransportRead(ssize_t nread) {
  if (session == nullptr) return;
  if (nread < 0) {
    failed(static_cast<int>(nread));
    return;
  }
  llhttp_errno_t e = llhttp_execute(&parser, buf, static_cast<size_t>(nread));
  if (e == HPE_PAUSED) {
    HealthSession* s = session;
    int code = http_status;
    bool ok = s->cfg_.accepts(code);
    done(ok, "status " + std::to_string(code));
  } else if (e != HPE_OK) {
    done(false, "invalid response");
  }
}

void HealthSession::onProbeSkipped(int uv_err) {
  probe_ = nullptr;  // the probe closed itself
  uv_timer_stop(&timer_);
  ++skipped_;
  last_reason_ = std::string("skipped: ballast is out of local resources (") + uv_err_name(uv_err) + ")";
  const std::string what = "probe of " + backend_->name();
  noteLocalResourceError(ResourceSite::Probe, uv_err, uv_now(loop_), what.c_str());
  // No result: the health state does not move, and the next probe comes
  // at the usual interval.
  scheduleNext();
}

void HealthSession::onProbeDone(bool passed, const std::string& reason_in, int http_status) {
  probe_ = nullptr;  // the probe closed itself
  ++results_;
  last_result_ms_ = uv_now(loop_);
  // A drill (simulate_down) fails the probe whatever the backend said: the
  // detection, failover and recovery that follow are the real ones.
  std::string reason = reason_in;
  if (backend_->drillDownUntilMs() > last_result_ms_) {
    passed = false;
    reason = "drill: simulated down (the probe got: " + reason_in + ")";
  }
  last_http_status_ = http_status;
  uv_timer_stop(&timer_);
  last_passed_ = passed;
  last_reason_ = reason;
  last_latency_ms_ = static_cast<double>(uv_hrtime() - probe_started_ns_) / 1e6;
  HealthTransition t = state_.onResult(passed);
  checker_.report(*this, passed, t, reason, probe_started_ms_);
  scheduleNext();
}

}  // namespace ballast::health
