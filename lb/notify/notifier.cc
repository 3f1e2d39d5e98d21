#include "lb/notify/notifier.h"

#include <algorithm>

#include "lb/base/json_read.h"
#include "lb/base/log.h"
#include "lb/notify/notify_format.h"
#include "lb/stats/notify_stats.h"

namespace ballast::notify {

namespace {

constexpr uint64_t kMaxBackoffMs = 5 * 60 * 1000;

// The event lines the paging chain reads (a cheap look before parsing: the
// observer sees every event line, requests' included).
bool wanted(std::string_view line) {
  constexpr std::string_view kKey = "\"event\":\"";
  const size_t at = line.find(kKey);
  if (at == std::string_view::npos) return false;
  std::string_view name = line.substr(at + kKey.size());
  name = name.substr(0, name.find('"'));
  return name == "backend_state" || name == "incident_opened" || name == "incident_closed" ||
         name == "incident_acked" || name == "config_reload_failed";
}

bool contains(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

Notifier::Notifier(uv_loop_t* loop) : loop_(loop) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

Notifier::~Notifier() {
  for (auto& t : targets_) {
    if (t->inflight) t->inflight->cancel();
  }
}

void Notifier::configure(const config::NotifyConfig& cfg,
                         const std::vector<std::shared_ptr<tls::ClientContext>>& tls) {
  if (closed_) return;
  cfg_ = cfg;
  grouper_.setWait(static_cast<uint64_t>(cfg.group_wait.count()));
  auto& stats = notifyStats();
  std::vector<std::unique_ptr<Target>> next;
  for (size_t i = 0; i < cfg.targets.size(); ++i) {
    const config::NotifyTarget& c = cfg.targets[i];
    auto it = std::find_if(targets_.begin(), targets_.end(), [&](const auto& t) { return t && t->cfg.name == c.name; });
    std::unique_ptr<Target> t;
    if (it != targets_.end()) {
      t = std::move(*it);
    } else {
      t = std::make_unique<Target>();
    }
    t->cfg = c;
    t->tls = i < tls.size() ? tls[i] : nullptr;
    stats[c.name].configured = true;
    next.push_back(std::move(t));
  }
  // Targets no longer configured: what they still hold is dropped.
  for (auto& t : targets_) {
    if (!t) continue;
    if (t->inflight) {
      t->inflight->cancel();
      t->inflight = nullptr;
    }
    while (!t->queue.empty()) dropFront(*t, "target removed by a reload");
    stats[t->cfg.name].configured = false;
    stats[t->cfg.name].queued = 0;
  }
  targets_ = std::move(next);
  schedule();
}

void Notifier::onEvent(std::string_view line) {
  if (closed_ || targets_.empty() || !wanted(line)) return;
  Members m;
  std::string err;
  if (!parseFlatJsonObject(line, m, err)) return;
  pending_.push_back(std::move(m));
  uv_timer_start(&timer_, &Notifier::onTimer, 0, 0);
}

void Notifier::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& t : targets_) {
    if (t->inflight) {
      t->inflight->cancel();
      t->inflight = nullptr;
    }
    notifyStats()[t->cfg.name].queued = 0;
  }
  targets_.clear();
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Notifier::onTimer(uv_timer_t* t) {
  auto* self = static_cast<Notifier*>(t->data);
  self->process();
}

Notifier::Target* Notifier::find(std::string_view name) {
  for (auto& t : targets_) {
    if (t->cfg.name == name) return t.get();
  }
  return nullptr;
}

Notifier::OpenIncident* Notifier::findOpen(std::string_view id) {
  for (auto& o : open_) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

void Notifier::process() {
  if (closed_) return;
  const uint64_t now = uv_now(loop_);
  std::vector<Members> lines;
  lines.swap(pending_);
  std::vector<Event> events;
  for (const Members& m : lines) {
    std::string_view name, id;
    for (const auto& [k, v] : m) {
      if (k == "event") name = v;
      if (k == "id") id = v;
    }
    if (name == "incident_acked") {
      if (OpenIncident* o = findOpen(id)) o->acked = true;
      continue;
    }
    mapper_.onLine(m, events);
  }
  for (Event& e : events) {
    if (!grouper_.add(e, now)) route(std::move(e), now);
  }
  events.clear();
  grouper_.flush(now, events);
  for (Event& e : events) route(std::move(e), now);

  // Escalations and repeats of open incidents.
  for (OpenIncident& o : open_) {
    if (o.acked) continue;
    for (auto it = o.escalations.begin(); it != o.escalations.end();) {
      if (it->due_ms > now) {
        ++it;
        continue;
      }
      Event e = o.last;
      e.note = "Escalated, not acknowledged after " + humanDuration(it->after_ms);
      for (const auto& name : it->targets) {
        send(name, e, now);
        if (!contains(o.told, name)) o.told.push_back(name);
      }
      it = o.escalations.erase(it);
    }
    if (o.next_repeat_ms != 0 && o.next_repeat_ms <= now) {
      Event e = o.last;
      e.note = "Reminder, still open and not acknowledged";
      for (const auto& name : o.told) send(name, e, now);
      o.next_repeat_ms = now + static_cast<uint64_t>(cfg_.repeat.count());
    }
  }
  for (auto& t : targets_) pump(*t, now);
  schedule();
}

void Notifier::route(Event e, uint64_t now) {
  const std::string_view kind = kindName(e.kind);
  std::vector<std::string> to;
  for (size_t i = 0; i < cfg_.rules.size(); ++i) {
    const config::NotifyRule& r = cfg_.rules[i];
    if (!contains(r.events, kind)) continue;
    for (const auto& n : r.notify) {
      if (!contains(to, n)) to.push_back(n);
    }
  }
  if (e.kind == Kind::PoolDown || e.kind == Kind::PoolDegraded) {
    OpenIncident* o = findOpen(e.incident);
    if (o == nullptr && !e.incident.empty() && !to.empty()) {
      open_.emplace_back();
      o = &open_.back();
      o->id = e.incident;
      if (cfg_.repeat.count() > 0) o->next_repeat_ms = now + static_cast<uint64_t>(cfg_.repeat.count());
    }
    if (o != nullptr) {
      o->last = e;
      for (size_t i = 0; i < cfg_.rules.size(); ++i) {
        const config::NotifyRule& r = cfg_.rules[i];
        if (!contains(r.events, kind) || std::find(o->rules_armed.begin(), o->rules_armed.end(), i) != o->rules_armed.end()) {
          continue;
        }
        o->rules_armed.push_back(i);
        for (const auto& step : r.escalate) {
          Escalation x;
          x.after_ms = static_cast<uint64_t>(step.after.count());
          x.due_ms = now + x.after_ms;
          x.targets = step.notify;
          o->escalations.push_back(std::move(x));
        }
      }
      for (const auto& n : to) {
        if (!contains(o->told, n)) o->told.push_back(n);
      }
    }
  } else if (e.kind == Kind::Resolved) {
    auto it = std::find_if(open_.begin(), open_.end(), [&](const OpenIncident& o) { return o.id == e.incident; });
    if (it != open_.end()) {
      for (const auto& n : it->told) {
        if (!contains(to, n)) to.push_back(n);
      }
      open_.erase(it);
    }
  }
  for (const auto& n : to) send(n, e, now);
}

void Notifier::send(const std::string& name, const Event& e, uint64_t now) {
  Target* t = find(name);
  if (t == nullptr) return;  // removed by a reload since the rule was read
  auto& st = notifyStats()[name];
  // Full: the oldest waiting message goes (not the one in flight).
  while (t->queue.size() >= cfg_.queue) {
    if (t->inflight != nullptr && t->queue.size() == 1) break;
    const size_t victim = t->inflight != nullptr ? 1 : 0;
    Message m = std::move(t->queue[victim]);
    t->queue.erase(t->queue.begin() + static_cast<std::ptrdiff_t>(victim));
    ++st.dropped;
    auto& j = log().eventLine(LogLevel::Error, "notification_dropped");
    j.str("target", name).str("notify_event", m.event);
    if (!m.incident.empty()) j.str("incident_id", m.incident);
    j.str("why", "queue full (notify.queue: " + std::to_string(cfg_.queue) + ")");
    log().emit(LogLevel::Error);
  }
  Message m;
  m.body = WebhookRequest::requestBytes(t->cfg, formatBody(e, t->cfg.format));
  m.event = std::string(kindName(e.kind));
  m.incident = e.incident;
  m.not_before_ms = now;
  t->queue.push_back(std::move(m));
  st.queued = t->queue.size();
}

void Notifier::pump(Target& t, uint64_t now) {
  if (closed_ || t.inflight != nullptr || t.queue.empty()) return;
  Message& m = t.queue.front();
  if (m.not_before_ms > now) return;
  ++m.attempts;
  if (t.cfg.https && !t.tls) {
    WebhookResult r;
    r.error = "no TLS client context for an https target";
    onResult(t, r);
    return;
  }
  Target* tp = &t;
  t.inflight = WebhookRequest::start(loop_, t.cfg, t.tls, m.body, static_cast<uint64_t>(cfg_.connect_timeout.count()),
                                     static_cast<uint64_t>(cfg_.timeout.count()), [this, tp](const WebhookResult& r) {
                                       tp->inflight = nullptr;
                                       onResult(*tp, r);
                                       pump(*tp, uv_now(loop_));
                                       schedule();
                                     });
}

void Notifier::onResult(Target& t, const WebhookResult& r) {
  if (t.queue.empty()) return;
  Message& m = t.queue.front();
  auto& st = notifyStats()[t.cfg.name];
  if (r.ok) {
    ++st.sent;
    auto& j = log().eventLine(LogLevel::Info, "notification_sent");
    j.str("target", t.cfg.name).str("notify_event", m.event);
    if (!m.incident.empty()) j.str("incident_id", m.incident);
    j.num("status", r.status).num("attempt", uint64_t{m.attempts}).dbl("ms", r.ms, 1);
    log().emit(LogLevel::Info);
    t.queue.pop_front();
    st.queued = t.queue.size();
    return;
  }
  ++st.failed;
  const bool last = m.attempts > cfg_.retries;
  uint64_t backoff = static_cast<uint64_t>(cfg_.backoff.count());
  for (uint32_t i = 1; i < m.attempts && backoff < kMaxBackoffMs; ++i) backoff *= 2;
  backoff = std::min(backoff, kMaxBackoffMs);
  auto& j = log().eventLine(LogLevel::Warn, "notification_failed");
  j.str("target", t.cfg.name).str("notify_event", m.event);
  if (!m.incident.empty()) j.str("incident_id", m.incident);
  j.str("error", r.error).num("attempt", uint64_t{m.attempts}).dbl("ms", r.ms, 1);
  if (!last) j.num("retry_in_ms", backoff);
  log().emit(LogLevel::Warn);
  if (last) {
    dropFront(t, "gave up after " + std::to_string(m.attempts) + " attempts");
  } else {
    m.not_before_ms = uv_now(loop_) + backoff;
  }
}

void Notifier::dropFront(Target& t, std::string_view why) {
  Message m = std::move(t.queue.front());
  t.queue.pop_front();
  auto& st = notifyStats()[t.cfg.name];
  ++st.dropped;
  st.queued = t.queue.size();
  auto& j = log().eventLine(LogLevel::Error, "notification_dropped");
  j.str("target", t.cfg.name).str("notify_event", m.event);
  if (!m.incident.empty()) j.str("incident_id", m.incident);
  j.str("why", why);
  log().emit(LogLevel::Error);
}

void Notifier::schedule() {
  if (closed_) return;
  const uint64_t now = uv_now(loop_);
  uint64_t due = 0;
  const auto consider = [&](uint64_t d) {
    if (d != 0 && (due == 0 || d < due)) due = d;
  };
  if (!pending_.empty()) consider(now);
  consider(grouper_.nextDue());
  for (const OpenIncident& o : open_) {
    if (o.acked) continue;
    for (const auto& x : o.escalations) consider(x.due_ms);
    consider(o.next_repeat_ms);
  }
  for (const auto& t : targets_) {
    if (t->inflight == nullptr && !t->queue.empty()) consider(std::max<uint64_t>(t->queue.front().not_before_ms, 1));
  }
  if (due == 0) {
    uv_timer_stop(&timer_);
    return;
  }
  uv_timer_start(&timer_, &Notifier::onTimer, due > now ? due - now : 0, 0);
}

}  // namespace ballast::notify
