// Keeps one pool's discovered members current: resolves the pool's
// `discovery.dns` name with c-ares on the server's libuv loop (a uv_poll per
// c-ares socket, a uv_timer for c-ares' own timeouts, as Node drives it),
// again after `refresh` (shortened by the answer's TTL), and feeds each
// result to a DiscoveryState (dns_discovery.h), which decides.
//
// A round is one resolution: one query for A or AAAA, two for A+AAAA, and
// for SRV the SRV query and then, per target, an A query, an AAAA query or
// both (`dns.family`). A round that is only partly answered (one of its
// queries failed) counts as a failure, so a missing half never removes
// members.
//
// Names: with `servers` given, the name is asked as written (no search
// list). Without, c-ares reads /etc/resolv.conf (servers, `search`,
// `ndots`) and the name is looked up as ares_search does: a name with a
// trailing dot as is; one with at least `ndots` dots as is first, then
// with each search domain; a shorter one with each search domain first,
// then as is. SRV targets come from answers (absolute): asked as is.
//
// Lifetime: owned by the server through a unique_ptr; DnsWatcher::close()
// takes it back, cancels the queries (ares_destroy) and frees it after the
// last close callback of its timers. The change callback runs inside a
// c-ares callback: it may rebuild pools but must not close this watcher.
#pragma once

#include <ares.h>
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "lb/upstream/dns_discovery.h"

namespace ballast {

class DnsWatcher {
 public:
  // Called when the members changed (call backends() for the new set).
  using OnChange = std::function<void(DnsWatcher&)>;

  DnsWatcher(uv_loop_t* loop, std::string pool, config::DnsDiscoveryConfig cfg, OnChange on_change);
  ~DnsWatcher();
  DnsWatcher(const DnsWatcher&) = delete;
  DnsWatcher& operator=(const DnsWatcher&) = delete;

  // Sets up c-ares and starts the first round now. Returns an empty string,
  // or why it could not start (then close() it).
  std::string start();
  // Tests only, before start(): use these servers ("ip:port,...") with this
  // search list and ndots, as if read from resolv.conf (search applies).
  void setResolverForTest(std::string servers_csv, std::vector<std::string> domains, int ndots);
  // Starts from the members of the pool's previous discovery (a reload
  // changed the block); see DiscoveryState::inherit. Before start().
  void inherit(const DnsWatcher& previous) { state_.inherit(previous.state_); }
  static void close(std::unique_ptr<DnsWatcher> w);

  const std::string& pool() const { return pool_; }
  const config::DnsDiscoveryConfig& config() const { return cfg_; }
  const DiscoveryState& state() const { return state_; }
  // The discovered members as backend configs (numeric addresses, weights
  // and backup roles from SRV).
  std::vector<config::BackendConfig> backends() const;
  uint64_t resolutions(DnsResult r) const { return counts_[static_cast<size_t>(r)]; }
  int64_t lastSuccessUnix() const { return last_success_unix_; }  // 0 = never
  uint64_t nextRefreshMs() const { return next_delay_ms_; }

  static constexpr size_t kResults = 6;  // DnsResult values

 private:
  template <class T>
  friend void closeHandles(T*, std::initializer_list<uv_handle_t*>);
  struct Poll;
  struct Query;
  enum class Kind : uint8_t { A, AAAA, Srv, TargetA, TargetAAAA };

  void startRound();
  void send(Kind kind, const std::string& name, uint16_t port, uint32_t weight, uint16_t priority);
  void onAnswer(const Query& q, int status, unsigned char* abuf, int alen);
  void finishQuery(DnsResult r);
  void finishRound();
  void armAresTimer();
  void process(ares_socket_t read_fd, ares_socket_t write_fd);
  static void onSockState(void* data, ares_socket_t fd, int readable, int writable);
  static void onQuery(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void onRefresh(uv_timer_t* t);
  static void onAresTimeout(uv_timer_t* t);
  static void onPoll(uv_poll_t* p, int status, int events);
  static void onHandlesClosed(DnsWatcher* self);

  uv_loop_t* loop_;  // borrowed: the server's loop
  std::string pool_;
  config::DnsDiscoveryConfig cfg_;
  OnChange on_change_;
  DiscoveryState state_;
  ares_channel channel_ = nullptr;
  bool search_ = false;  // the configured name goes through the search list
  struct TestResolver {
    std::string servers_csv;
    std::vector<std::string> domains;
    int ndots = 1;
  };
  std::unique_ptr<TestResolver> test_resolver_;
  uv_timer_t refresh_timer_{};
  uv_timer_t ares_timer_{};
  std::unordered_map<ares_socket_t, Poll*> polls_;  // each freed in its own close callback
  bool closing_ = false;
  int pending_closes_ = 0;
  // The round in flight.
  uint64_t round_ = 0;  // queries of an older round are ignored
  int outstanding_ = 0;
  bool round_failed_ = false;
  DnsResult round_result_ = DnsResult::Ok;
  std::vector<DnsRecord> records_;
  std::array<uint64_t, kResults> counts_{};
  int64_t last_success_unix_ = 0;
  uint64_t next_delay_ms_ = 0;
};

using DnsWatcherPtr = std::unique_ptr<DnsWatcher>;

}  // namespace ballast
