#include "lb/upstream/dns_watcher.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <algorithm>
#include <ctime>

#include "lb/base/handle.h"
#include "lb/base/log.h"

namespace ballast {

namespace {

// c-ares per query: 1 s per try, two tries per server. Short enough that a
// round ends well within a typical refresh, long enough for a busy server.
constexpr int kQueryTimeoutMs = 1000;
constexpr int kTries = 2;
// A TTL never makes rounds closer than this (a TTL of 0 or 1 would spin).
constexpr uint64_t kMinRefreshMs = 1000;

DnsResult resultOf(int status) {
  switch (status) {
    case ARES_SUCCESS: return DnsResult::Ok;
    case ARES_ENODATA: return DnsResult::Ok;  // the name exists, zero records: the state decides
    case ARES_ETIMEOUT: return DnsResult::Timeout;
    case ARES_ESERVFAIL: return DnsResult::ServFail;
    case ARES_EREFUSED: return DnsResult::ServFail;
    case ARES_ENOTFOUND: return DnsResult::NxDomain;
    default: return DnsResult::Error;
  }
}

}  // namespace

// One c-ares socket watched by the loop. Freed in its own close callback, so
// it never outlives its handle and never needs the watcher after close.
struct DnsWatcher::Poll {
  uv_poll_t handle{};
  ares_socket_t fd = ARES_SOCKET_BAD;
  DnsWatcher* owner = nullptr;  // borrowed; null once the socket is dropped
};

// One query in flight; freed in its callback (c-ares calls it exactly once,
// with ARES_EDESTRUCTION when the channel is destroyed).
struct DnsWatcher::Query {
  DnsWatcher* self;
  uint64_t round;
  Kind kind;
  uint16_t port;
  uint32_t weight;
  uint16_t priority;
};

DnsWatcher::DnsWatcher(uv_loop_t* loop, std::string pool, config::DnsDiscoveryConfig cfg, OnChange on_change)
    : loop_(loop),
      pool_(std::move(pool)),
      cfg_(std::move(cfg)),
      on_change_(std::move(on_change)),
      state_(static_cast<uint64_t>(cfg_.keep_last_good.count()), cfg_.allow_empty) {
  uv_timer_init(loop_, &refresh_timer_);
  uv_timer_init(loop_, &ares_timer_);
  refresh_timer_.data = this;
  ares_timer_.data = this;
}

DnsWatcher::~DnsWatcher() = default;

std::string DnsWatcher::start() {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) return std::string("c-ares: ") + ares_strerror(library);
  ares_options opts{};
  opts.sock_state_cb = &DnsWatcher::onSockState;
  opts.sock_state_cb_data = this;
  opts.timeout = kQueryTimeoutMs;
  opts.tries = kTries;
  // NOCHECKRESP: a SERVFAIL or REFUSED answer ends the query with that
  // status instead of being hidden behind a retry on the next server.
  opts.flags = ARES_FLAG_NOCHECKRESP;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  std::vector<char*> domains;
  if (test_resolver_) {
    for (std::string& d : test_resolver_->domains) domains.push_back(d.data());
    opts.domains = domains.data();
    opts.ndomains = static_cast<int>(domains.size());
    opts.ndots = test_resolver_->ndots;
    mask |= ARES_OPT_DOMAINS | ARES_OPT_NDOTS;
  }
  int rc = ares_init_options(&channel_, &opts, mask);
  if (rc != ARES_SUCCESS) return std::string("c-ares: ") + ares_strerror(rc);
  std::string csv;
  for (const auto& s : cfg_.servers) {
    if (!csv.empty()) csv += ',';
    csv += s.text;
  }
  // Servers named in the config answer for the name as written; the
  // system's resolver settings bring their search list with them.
  search_ = csv.empty();
  if (test_resolver_) csv = test_resolver_->servers_csv;
  if (!csv.empty()) {
    rc = ares_set_servers_ports_csv(channel_, csv.c_str());
    if (rc != ARES_SUCCESS) return std::string("c-ares servers: ") + ares_strerror(rc);
  }
  startRound();
  return {};
}

void DnsWatcher::setResolverForTest(std::string servers_csv, std::vector<std::string> domains, int ndots) {
  test_resolver_ = std::make_unique<TestResolver>(TestResolver{std::move(servers_csv), std::move(domains), ndots});
}

void DnsWatcher::close(std::unique_ptr<DnsWatcher> w) {
  DnsWatcher* self = w.release();
  self->closing_ = true;
  self->on_change_ = nullptr;
  // Cancels every query (their callbacks see ARES_EDESTRUCTION and free
  // themselves) and reports each socket closed (their polls close).
  if (self->channel_ != nullptr) ares_destroy(self->channel_);
  self->channel_ = nullptr;
  uv_timer_stop(&self->refresh_timer_);
  uv_timer_stop(&self->ares_timer_);
  closeHandles(self, {asHandle(&self->refresh_timer_), asHandle(&self->ares_timer_)});
}

void DnsWatcher::onHandlesClosed(DnsWatcher* self) { delete self; }

std::vector<config::BackendConfig> DnsWatcher::backends() const {
  std::vector<config::BackendConfig> out;
  for (const DiscoveredMember& m : state_.members()) {
    config::BackendConfig b;
    b.weight = m.weight;
    b.backup = m.backup;
    b.address.text = m.address;
    const bool v6 = m.address.front() == '[';
    const size_t colon = m.address.rfind(':');
    b.address.host = v6 ? m.address.substr(1, colon - 2) : m.address.substr(0, colon);
    b.address.port = static_cast<uint16_t>(std::stoi(m.address.substr(colon + 1)));
    if (v6) {
      uv_ip6_addr(b.address.host.c_str(), b.address.port, reinterpret_cast<sockaddr_in6*>(&b.address.addr));
      b.address.addr_len = sizeof(sockaddr_in6);
    } else {
      uv_ip4_addr(b.address.host.c_str(), b.address.port, reinterpret_cast<sockaddr_in*>(&b.address.addr));
      b.address.addr_len = sizeof(sockaddr_in);
    }
    out.push_back(std::move(b));
  }
  return out;
}

void DnsWatcher::startRound() {
  ++round_;
  outstanding_ = 0;
  round_failed_ = false;
  round_result_ = DnsResult::Ok;
  records_.clear();
  using T = config::DnsDiscoveryConfig::Type;
  switch (cfg_.type) {
    case T::A: send(Kind::A, cfg_.name, cfg_.port, 1, 0); break;
    case T::AAAA: send(Kind::AAAA, cfg_.name, cfg_.port, 1, 0); break;
    case T::AandAAAA:
      send(Kind::A, cfg_.name, cfg_.port, 1, 0);
      send(Kind::AAAA, cfg_.name, cfg_.port, 1, 0);
      break;
    case T::Srv: send(Kind::Srv, cfg_.name, 0, 0, 0); break;
  }
  armAresTimer();
}

void DnsWatcher::send(Kind kind, const std::string& name, uint16_t port, uint32_t weight, uint16_t priority) {
  ++outstanding_;
  auto* q = new Query{this, round_, kind, port, weight, priority};
  const int type = kind == Kind::AAAA || kind == Kind::TargetAAAA ? ns_t_aaaa : kind == Kind::Srv ? ns_t_srv : ns_t_a;
  const bool target = kind == Kind::TargetA || kind == Kind::TargetAAAA;
  if (search_ && !target) {
    ares_search(channel_, name.c_str(), ns_c_in, type, &DnsWatcher::onQuery, q);
  } else {
    ares_query(channel_, name.c_str(), ns_c_in, type, &DnsWatcher::onQuery, q);
  }
}

void DnsWatcher::onQuery(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;  // the watcher is closing
  DnsWatcher* self = q->self;
  if (self->closing_ || q->round != self->round_) return;
  self->onAnswer(*q, status, abuf, alen);
}

void DnsWatcher::onAnswer(const Query& q, int status, unsigned char* abuf, int alen) {
  DnsResult r = resultOf(status);
  const bool target = q.kind == Kind::TargetA || q.kind == Kind::TargetAAAA;
  if (status == ARES_SUCCESS && (q.kind == Kind::A || q.kind == Kind::TargetA)) {
    hostent* host = nullptr;
    ares_addrttl ttls[64];
    int n = 64;
    const int rc = ares_parse_a_reply(abuf, alen, &host, ttls, &n);
    if (host != nullptr) ares_free_hostent(host);
    if (rc == ARES_SUCCESS) {
      for (int i = 0; i < n; ++i) {
        char buf[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &ttls[i].ipaddr, buf, sizeof(buf));
        records_.push_back(DnsRecord{buf, q.port, target ? q.weight : 1u, q.priority,
                                     static_cast<uint32_t>(std::max(ttls[i].ttl, 0))});
      }
    } else if (rc != ARES_ENODATA) {
      r = DnsResult::Error;
    }
  } else if (status == ARES_SUCCESS && (q.kind == Kind::AAAA || q.kind == Kind::TargetAAAA)) {
    hostent* host = nullptr;
    ares_addr6ttl ttls[64];
    int n = 64;
    const int rc = ares_parse_aaaa_reply(abuf, alen, &host, ttls, &n);
    if (host != nullptr) ares_free_hostent(host);
    if (rc == ARES_SUCCESS) {
      for (int i = 0; i < n; ++i) {
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, &ttls[i].ip6addr, buf, sizeof(buf));
        records_.push_back(DnsRecord{buf, q.port, target ? q.weight : 1u, q.priority,
                                     static_cast<uint32_t>(std::max(ttls[i].ttl, 0))});
      }
    } else if (rc != ARES_ENODATA) {
      r = DnsResult::Error;
    }
  } else if (status == ARES_SUCCESS && q.kind == Kind::Srv) {
    ares_srv_reply* srv = nullptr;
    const int rc = ares_parse_srv_reply(abuf, alen, &srv);
    if (rc == ARES_SUCCESS) {
      // Each target is resolved in the same round, for the families asked.
      using F = config::DnsDiscoveryConfig::Family;
      for (ares_srv_reply* s = srv; s != nullptr; s = s->next) {
        if (cfg_.family != F::IPv6) send(Kind::TargetA, s->host, s->port, s->weight, s->priority);
        if (cfg_.family != F::IPv4) send(Kind::TargetAAAA, s->host, s->port, s->weight, s->priority);
      }
    } else if (rc != ARES_ENODATA) {
      r = DnsResult::Error;
    }
    if (srv != nullptr) ares_free_data(srv);
  }
  finishQuery(r);
}

void DnsWatcher::finishQuery(DnsResult r) {
  if (r != DnsResult::Ok && !round_failed_) {
    round_failed_ = true;
    round_result_ = r;
  }
  if (--outstanding_ == 0) finishRound();
}

void DnsWatcher::finishRound() {
  const uint64_t now = uv_now(loop_);
  const DnsResult given = round_failed_ ? round_result_ : DnsResult::Ok;
  const DiscoveryState::Outcome o = state_.onResolved(given, records_, now);
  ++counts_[static_cast<size_t>(o.result)];
  if (o.result == DnsResult::Ok) last_success_unix_ = static_cast<int64_t>(std::time(nullptr));
  if (o.state_changed) {
    const LogLevel level = o.result == DnsResult::Ok ? LogLevel::Info : LogLevel::Warn;
    auto& j = log().eventLine(level, "discovery_state");
    j.str("pool", pool_).str("name", cfg_.name).str("type", config::toString(cfg_.type));
    j.str("result", toString(o.result)).num("members", static_cast<uint64_t>(state_.members().size()));
    j.boolean("stale", state_.stale());
    log().emit(level);
  }
  next_delay_ms_ = state_.nextDelayMs(static_cast<uint64_t>(cfg_.refresh.count()), kMinRefreshMs);
  uv_timer_start(&refresh_timer_, &DnsWatcher::onRefresh, next_delay_ms_, 0);
  if (o.members_changed && on_change_) on_change_(*this);
}

void DnsWatcher::onRefresh(uv_timer_t* t) {
  auto* self = static_cast<DnsWatcher*>(t->data);
  if (self->closing_) return;
  self->startRound();
}

void DnsWatcher::armAresTimer() {
  if (channel_ == nullptr) return;
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    uv_timer_stop(&ares_timer_);
    return;
  }
  const uint64_t ms = static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
  uv_timer_start(&ares_timer_, &DnsWatcher::onAresTimeout, ms, 0);
}

void DnsWatcher::process(ares_socket_t read_fd, ares_socket_t write_fd) {
  ares_process_fd(channel_, read_fd, write_fd);
  if (!closing_) armAresTimer();
}

void DnsWatcher::onAresTimeout(uv_timer_t* t) {
  auto* self = static_cast<DnsWatcher*>(t->data);
  if (self->closing_ || self->channel_ == nullptr) return;
  self->process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void DnsWatcher::onPoll(uv_poll_t* p, int status, int events) {
  auto* poll = static_cast<Poll*>(p->data);
  DnsWatcher* self = poll->owner;
  if (self == nullptr || self->closing_ || self->channel_ == nullptr) return;
  const ares_socket_t fd = poll->fd;
  // An error on the socket: let c-ares read it and see the failure.
  const bool readable = status < 0 || (events & UV_READABLE) != 0;
  const bool writable = status >= 0 && (events & UV_WRITABLE) != 0;
  self->process(readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
}

void DnsWatcher::onSockState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<DnsWatcher*>(data);
  auto it = self->polls_.find(fd);
  if (readable == 0 && writable == 0) {
    // c-ares closes the socket right after this returns: stop watching it.
    if (it == self->polls_.end()) return;
    Poll* poll = it->second;
    self->polls_.erase(it);
    poll->owner = nullptr;
    uv_poll_stop(&poll->handle);
    uv_close(asHandle(&poll->handle), [](uv_handle_t* h) { delete static_cast<Poll*>(h->data); });
    return;
  }
  Poll* poll = nullptr;
  if (it == self->polls_.end()) {
    poll = new Poll;
    poll->owner = self;
    poll->fd = fd;
    if (uv_poll_init_socket(self->loop_, &poll->handle, fd) != 0) {
      delete poll;  // never initialised: no close callback to wait for
      return;
    }
    poll->handle.data = poll;
    self->polls_.emplace(fd, poll);
  } else {
    poll = it->second;
  }
  const int events = (readable != 0 ? UV_READABLE : 0) | (writable != 0 ? UV_WRITABLE : 0);
  uv_poll_start(&poll->handle, events, &DnsWatcher::onPoll);
}

}  // namespace ballast
