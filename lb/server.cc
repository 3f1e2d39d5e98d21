#include "lb/server.h"

#include <unistd.h>

#include <cassert>

#include "health/health_checker.h"
#include "lb/admin.h"
#include "lb/downstream_connection.h"
#include "lb/listener.h"
#include "lb/log.h"
#include "lb/upstream_connection.h"

namespace ballast {

std::shared_ptr<Runtime> Runtime::build(const config::Config& cfg, uint64_t now_ms) {
  auto rt = std::make_shared<Runtime>();
  rt->config = std::make_shared<const config::Config>(cfg);
  std::vector<Pool*> raw;
  for (const auto& pc : rt->config->pools) {
    rt->pools.push_back(std::make_shared<Pool>(pc, now_ms));
    raw.push_back(rt->pools.back().get());
  }
  rt->router.build(rt->config->routes, raw);
  return rt;
}

Server::Server(const config::Config& cfg) {
  uv_loop_init(&loop_);
  started_ms_ = uv_now(&loop_);
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  start_time_ = static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  runtime_ = Runtime::build(cfg, uv_now(&loop_));
  std::random_device rd;
  rng_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ uv_hrtime());
}

Server::~Server() {
  // run() closed every handle and the loop; a Server that never ran (tests,
  // start-up failure before run) still owns the loop's internal resources.
  if (!loop_closed_) uv_loop_close(&loop_);
  listeners_.clear();
  admin_.reset();
  runtime_.reset();
}

bool Server::bindListeners() {
  for (const auto& addr : config().listen) {
    auto l = std::make_unique<Listener>(&loop_, addr, "proxy", [this](Listener& x) { onConnectionPending(x); });
    int err = l->bind();
    if (err != 0) {
      auto& j = log().eventLine(config::LogLevel::Error, "bind_failed");
      j.str("kind", "proxy").str("address", addr.text).str("error", uv_strerror(err));
      log().emit(config::LogLevel::Error);
      l->close();
      listeners_.push_back(std::move(l));
      return false;
    }
    auto& j = log().eventLine(config::LogLevel::Info, "listening");
    j.str("kind", "proxy").str("address", l->boundAddress());
    log().emit(config::LogLevel::Info);
    listeners_.push_back(std::move(l));
  }
  admin_ = std::make_unique<AdminServer>(*this, config().admin.listen);
  int err = admin_->bind();
  if (err != 0) {
    auto& j = log().eventLine(config::LogLevel::Error, "bind_failed");
    j.str("kind", "admin").str("address", config().admin.listen.text).str("error", uv_strerror(err));
    log().emit(config::LogLevel::Error);
    return false;
  }
  auto& j = log().eventLine(config::LogLevel::Info, "listening");
  j.str("kind", "admin").str("address", admin_->boundAddress());
  log().emit(config::LogLevel::Info);
  return true;
}

int Server::run() {
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigusr1_);
  sigint_.data = sigterm_.data = sigusr1_.data = this;
  uv_signal_start(&sigint_, &Server::onSignal, SIGINT);
  uv_signal_start(&sigterm_, &Server::onSignal, SIGTERM);
  uv_signal_start(&sigusr1_, &Server::onSignal, SIGUSR1);
  uv_prepare_init(&loop_, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, &Server::onPrepare);
  uv_timer_init(&loop_, &sweep_);
  sweep_.data = this;

  int exit_code = 0;
  if (!bindListeners()) {
    exit_code = 1;
    stop();
  } else {
    bound_ = true;
    startHealthChecks();
    auto& j = log().eventLine(config::LogLevel::Info, "started");
    j.str("version", BALLAST_VERSION).num("pid", static_cast<int64_t>(getpid()));
    j.num("pools", static_cast<uint64_t>(runtime_->pools.size()));
    j.num("routes", static_cast<uint64_t>(runtime_->router.routes().size()));
    log().emit(config::LogLevel::Info);
  }
  log().flush();
  uv_run(&loop_, UV_RUN_DEFAULT);

  int rc = uv_loop_close(&loop_);
  loop_closed_ = rc == 0;
  if (rc != 0) {
    // A handle was left open: a lifetime bug. Say so loudly (tests look for it).
    auto& j = log().eventLine(config::LogLevel::Error, "loop_not_closed");
    j.str("error", uv_strerror(rc));
    log().emit(config::LogLevel::Error);
    uv_walk(&loop_, [](uv_handle_t* h, void*) {
      auto& e = log().eventLine(config::LogLevel::Error, "open_handle");
      e.str("type", uv_handle_type_name(h->type));
      log().emit(config::LogLevel::Error);
    }, nullptr);
    if (exit_code == 0) exit_code = 1;
  }
  if (exit_code == 0) logEvent(config::LogLevel::Info, "stopped");
  log().flush();
  return exit_code;
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (!listeners_.empty()) logEvent(config::LogLevel::Info, "stopping");
  for (auto& l : listeners_) l->close();
  if (admin_) admin_->close();
  for (auto& c : checkers_) c->close();
  checkers_.clear();
  // close() unlinks nothing synchronously (objects leave the lists from their
  // close callbacks), so walking the lists here is safe.
  for (DownstreamConnection* c = downstream_head_; c != nullptr; c = c->next_) c->close();
  for (UpstreamConnection* c = upstream_head_; c != nullptr; c = c->next_) c->close();
  for (auto* h : {reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigterm_),
                  reinterpret_cast<uv_handle_t*>(&sigusr1_), reinterpret_cast<uv_handle_t*>(&prepare_),
                  reinterpret_cast<uv_handle_t*>(&sweep_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

void Server::onSignal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Server*>(h->data);
  if (signum == SIGUSR1) {
    log().reopen();
    logEvent(config::LogLevel::Info, "logs_reopened");
    return;
  }
  auto& j = log().eventLine(config::LogLevel::Info, "signal");
  j.str("signal", signum == SIGINT ? "SIGINT" : "SIGTERM");
  log().emit(config::LogLevel::Info);
  self->stop();
}

void Server::onPrepare(uv_prepare_t*) { log().flush(); }

bool Server::ready() const {
  if (!bound_ || stopping_) return false;
  for (const auto& c : checkers_) {
    if (!c->firstRoundDone()) return false;
  }
  return true;
}

void Server::startHealthChecks() {
  bool outlier = false;
  for (const auto& p : runtime_->pools) {
    if (p->config().outlier_detection) outlier = true;
    if (!p->config().health_check || p->backends().empty()) continue;
    checkers_.push_back(std::make_unique<health::HealthChecker>(&loop_, p));
    checkers_.back()->start();
  }
  // Ejections end on time: a coarse sweep is enough (ejections last seconds).
  if (outlier) uv_timer_start(&sweep_, &Server::onSweep, 100, 100);
}

void Server::onSweep(uv_timer_t* h) {
  auto* self = static_cast<Server*>(h->data);
  uint64_t now = uv_now(&self->loop_);
  for (const auto& p : self->runtime_->pools) p->sweepEjections(now);
}

void Server::onConnectionPending(Listener& l) {
  if (stopping_ || l.closed()) return;
  if (n_downstream_ >= config().limits.max_connections) {
    // Leave it in the kernel's queue; libuv stops polling this listener
    // until we accept (resumePausedListeners).
    if (!l.paused()) {
      auto& j = log().eventLine(config::LogLevel::Warn, "accept_paused");
      j.str("address", l.boundAddress()).num("max_connections", static_cast<uint64_t>(config().limits.max_connections));
      log().emit(config::LogLevel::Warn);
    }
    l.setPaused(true);
    return;
  }
  DownstreamConnection::accept(*this, l.stream());
}

void Server::resumePausedListeners() {
  for (auto& l : listeners_) {
    if (!l->paused() || l->closed()) continue;
    if (n_downstream_ >= config().limits.max_connections) return;
    l->setPaused(false);
    // Accepting the pending connection also re-arms polling of the listener.
    DownstreamConnection::accept(*this, l->stream());
  }
}

void Server::linkDownstream(DownstreamConnection* c) {
  c->next_ = downstream_head_;
  c->prev_ = nullptr;
  if (downstream_head_) downstream_head_->prev_ = c;
  downstream_head_ = c;
  ++n_downstream_;
}

void Server::unlinkDownstream(DownstreamConnection* c) {
  if (c->prev_) c->prev_->next_ = c->next_; else downstream_head_ = c->next_;
  if (c->next_) c->next_->prev_ = c->prev_;
  --n_downstream_;
  if (!stopping_) resumePausedListeners();
}

void Server::linkUpstream(UpstreamConnection* c) {
  c->next_ = upstream_head_;
  c->prev_ = nullptr;
  if (upstream_head_) upstream_head_->prev_ = c;
  upstream_head_ = c;
  ++n_upstream_;
}

void Server::unlinkUpstream(UpstreamConnection* c) {
  if (c->prev_) c->prev_->next_ = c->next_; else upstream_head_ = c->next_;
  if (c->next_) c->next_->prev_ = c->prev_;
  --n_upstream_;
}

void Server::newRequestId(std::string& out) {
  static const char* hex = "0123456789abcdef";
  uint64_t a = rng_();
  uint64_t b = rng_();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char s[36];
  int pos = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[pos++] = '-';
    uint64_t v = i < 8 ? a : b;
    unsigned byte = static_cast<unsigned>((v >> (56 - 8 * (i % 8))) & 0xff);
    s[pos++] = hex[byte >> 4];
    s[pos++] = hex[byte & 15];
  }
  out.assign(s, 36);
}

}  // namespace ballast
