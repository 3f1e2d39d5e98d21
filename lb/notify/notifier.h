// The paging chain (README "Paging chain"): turns the event lines into
// notify events (notify_event.h), groups backend events of one pool within
// notify.group_wait, routes them by notify.rules to the targets, and posts
// them (webhook_request.h) on the server's loop.
//
// A slow or dead receiver costs only its own queue: each target has one
// request in flight at most, a bounded queue (the oldest message is dropped
// and counted when it is full), a connect and a response timeout, and a
// bounded number of retries with exponential backoff, after which the
// message is dropped and counted. Every attempt is an event line
// (notification_sent, notification_failed, notification_dropped), so it
// lands in the journal too.
//
// Incidents: the targets told about an incident (pool_degraded, pool_down)
// are remembered; an escalation step sends to more targets `after` the
// incident was first notified unless it was acknowledged (the
// incident_acked event line) or closed; `repeat` re-sends to the targets
// told while it stays open and unacknowledged; when it closes, `resolved`
// goes to every target told (and to rules that list resolved).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "lb/notify/notify_event.h"
#include "lb/notify/webhook_request.h"
#include "lb/tls/client_context.h"

namespace ballast::notify {

class Notifier {
 public:
  explicit Notifier(uv_loop_t* loop);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Targets, rules and timings, at start and on every reload. A target kept
  // (same name) keeps its queue; the messages of a target no longer
  // configured are dropped and counted. `tls`: parallel to cfg.targets, the
  // client context of each https target (null for http), built with the
  // config's other TLS contexts (lb/tls/tls_contexts.h).
  void configure(const config::NotifyConfig& cfg, const std::vector<std::shared_ptr<tls::ClientContext>>& tls);
  // Every event line (the journal's observer). Must not log: it keeps the
  // lines it cares about and the timer handles them on a later turn.
  void onEvent(std::string_view line);
  // The size of each pool (for "3 of 4 backends"), from the server's sweep.
  void setPoolTotal(const std::string& pool, uint32_t total) { mapper_.setPoolTotal(pool, total); }
  // Stops everything: requests in flight are cancelled, queues dropped
  // (not counted: the process is stopping). The timer's close callback
  // follows; the object may be deleted once the loop has run it.
  void close();

  // Open incidents notified and not yet resolved (for tests).
  size_t openIncidents() const { return open_.size(); }

 private:
  struct Message {
    std::string body;
    std::string event;
    std::string incident;
    uint32_t attempts = 0;
    uint64_t not_before_ms = 0;
  };
  struct Target {
    config::NotifyTarget cfg;
    std::shared_ptr<tls::ClientContext> tls;  // https only
    std::deque<Message> queue;  // the front one is in flight when `inflight` is set
    WebhookRequest* inflight = nullptr;  // self-owned; cancelled when the target goes
  };
  struct Escalation {
    uint64_t due_ms = 0;
    uint64_t after_ms = 0;
    std::vector<std::string> targets;
  };
  struct OpenIncident {
    std::string id;
    Event last;                       // the latest incident event (pool_degraded or pool_down)
    std::vector<std::string> told;    // targets told about it
    std::vector<size_t> rules_armed;  // rules whose escalation steps are scheduled
    std::vector<Escalation> escalations;
    uint64_t next_repeat_ms = 0;
    bool acked = false;
  };

  void process();
  void route(Event e, uint64_t now_ms);
  void send(const std::string& target, const Event& e, uint64_t now_ms);
  void pump(Target& t, uint64_t now_ms);
  void onResult(Target& t, const WebhookResult& r);
  void dropFront(Target& t, std::string_view why);
  void schedule();
  Target* find(std::string_view name);
  OpenIncident* findOpen(std::string_view id);

  static void onTimer(uv_timer_t* t);

  uv_loop_t* loop_;
  uv_timer_t timer_;
  bool closed_ = false;
  config::NotifyConfig cfg_;
  std::vector<std::unique_ptr<Target>> targets_;
  EventMapper mapper_;
  Grouper grouper_;
  std::vector<Members> pending_;  // lines seen, not handled yet
  std::vector<OpenIncident> open_;
};

}  // namespace ballast::notify
