#include "lb/notify/notify_event.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ballast::notify {

namespace {

std::string_view get(const Members& m, std::string_view key) {
  for (const auto& [k, v] : m) {
    if (k == key) return v;
  }
  return {};
}

bool isDown(std::string_view state) { return state == "unhealthy" || state == "ejected"; }

uint32_t toU32(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > 0xffffffffu) return 0;
  }
  return static_cast<uint32_t>(v);
}

// "1 of 2 available", or "" when the size is unknown.
std::string share(uint32_t available, uint32_t total) {
  if (total == 0) return {};
  return std::to_string(available) + " of " + std::to_string(total) + " available";
}

std::string incidentSuffix(const std::string& id) { return id.empty() ? std::string() : " (incident " + id + ")"; }

}  // namespace

std::string_view kindName(Kind k) {
  switch (k) {
    case Kind::BackendDown: return "backend_down";
    case Kind::BackendUp: return "backend_up";
    case Kind::PoolDegraded: return "pool_degraded";
    case Kind::PoolDown: return "pool_down";
    case Kind::Resolved: return "resolved";
    case Kind::ReloadFailed: return "reload_failed";
  }
  return "?";
}

std::string_view alertName(Kind k) {
  switch (k) {
    case Kind::BackendDown:
    case Kind::BackendUp: return "BackendDown";
    case Kind::PoolDegraded: return "PoolDegraded";
    case Kind::PoolDown: return "PoolDown";
    case Kind::ReloadFailed: return "ReloadFailed";
    case Kind::Resolved: break;
  }
  return "Resolved";
}

std::string_view severity(Kind k) {
  switch (k) {
    case Kind::PoolDown: return "critical";
    case Kind::BackendDown:
    case Kind::PoolDegraded:
    case Kind::ReloadFailed: return "warning";
    case Kind::BackendUp:
    case Kind::Resolved: break;
  }
  return "info";
}

std::string coreReason(std::string_view reason) {
  // "<n> consecutive failures: <why>" (health) -> "<why>".
  const size_t colon = reason.find(": ");
  if (colon != std::string_view::npos && reason.substr(0, colon).find("consecutive") != std::string_view::npos) {
    return std::string(reason.substr(colon + 2));
  }
  return std::string(reason);
}

std::string humanDuration(uint64_t ms) {
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%llu ms", static_cast<unsigned long long>(ms));
  } else if (ms < 60000) {
    if (ms % 1000 == 0) {
      std::snprintf(buf, sizeof buf, "%llu s", static_cast<unsigned long long>(ms / 1000));
    } else {
      std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    }
  } else if (ms % 3600000 == 0) {
    std::snprintf(buf, sizeof buf, "%lluh", static_cast<unsigned long long>(ms / 3600000));
  } else if (ms % 60000 == 0) {
    std::snprintf(buf, sizeof buf, "%llum", static_cast<unsigned long long>(ms / 60000));
  } else {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(ms / 1000));
  }
  return buf;
}

std::string EventMapper::incidentOf(const std::string& pool) const {
  auto it = pools_.find(pool);
  return it == pools_.end() ? std::string() : it->second.incident;
}

void EventMapper::onLine(const Members& line, std::vector<Event>& out) {
  const std::string_view name = get(line, "event");
  if (name == "backend_state") {
    const std::string_view from = get(line, "old"), to = get(line, "new");
    Event e;
    if (isDown(to) && !isDown(from)) {
      e.kind = Kind::BackendDown;
    } else if (to == "healthy" && isDown(from)) {
      e.kind = Kind::BackendUp;
    } else {
      return;
    }
    e.pool = get(line, "pool");
    PoolState& p = pools_[e.pool];
    e.backend = get(line, "backend");
    e.backends = {e.backend};
    e.reason = coreReason(get(line, "reason"));
    e.time = get(line, "time");
    e.available = toU32(get(line, "available_in_pool"));
    e.total = p.total;
    e.incident = p.incident;
    // A drill's own backend says so in its reason (simulate_down), perhaps
    // before the drill's incident line has come.
    e.drill = (!p.incident.empty() && p.drill) || e.reason.rfind("drill: ", 0) == 0;
    std::string s = share(e.available, e.total);
    if (e.kind == Kind::BackendDown) {
      e.summary = "Backend " + e.backend + " of pool " + e.pool + " is down: " + e.reason + (s.empty() ? "" : " (" + s + ")");
    } else {
      e.summary = "Backend " + e.backend + " of pool " + e.pool + " is back up" + (s.empty() ? "" : " (" + s + ")");
    }
    e.summary += incidentSuffix(e.incident);
    if (e.drill) e.summary = "DRILL: " + e.summary;
    out.push_back(e);
    // The last backend of a degraded incident's pool: the pool is down now.
    if (e.kind == Kind::BackendDown && e.available == 0 && !p.incident.empty() && !p.down) {
      p.down = true;
      p.told.push_back(Kind::PoolDown);
      Event d;
      d.kind = Kind::PoolDown;
      d.pool = e.pool;
      d.reason = "no available backend";
      d.time = e.time;
      d.incident = p.incident;
      d.total = p.total;
      d.drill = p.drill;
      d.summary = std::string(d.drill ? "DRILL: " : "") + "Pool " + d.pool + " is down: no available backend" +
                  (p.total ? " (0 of " + std::to_string(p.total) + ")" : std::string()) + incidentSuffix(d.incident);
      out.push_back(std::move(d));
    }
  } else if (name == "incident_opened") {
    Event e;
    e.pool = get(line, "pool");
    PoolState& p = pools_[e.pool];
    e.incident = get(line, "id");
    e.reason = get(line, "reason");
    e.time = get(line, "time");
    e.available = toU32(get(line, "available"));
    e.total = toU32(get(line, "total"));
    if (e.total) p.total = e.total;
    p.incident = e.incident;
    p.opened = e.time;
    p.down = e.available == 0;
    p.drill = get(line, "drill") == "true";
    e.drill = p.drill;
    e.kind = p.down ? Kind::PoolDown : Kind::PoolDegraded;
    p.told = {e.kind};
    e.summary = std::string(e.drill ? "DRILL: " : "") + "Pool " + e.pool + (p.down ? " is down: " : " is degraded: ") + e.reason +
                (p.down && e.total ? " (0 of " + std::to_string(e.total) + ")" : std::string()) +
                incidentSuffix(e.incident);
    out.push_back(std::move(e));
  } else if (name == "incident_closed") {
    Event e;
    e.kind = Kind::Resolved;
    e.pool = get(line, "pool");
    e.incident = get(line, "id");
    e.time = get(line, "time");
    e.opened = get(line, "opened");
    e.reason = get(line, "why");
    e.total = toU32(get(line, "total"));
    e.available = e.total;
    e.drill = get(line, "drill") == "true";
    auto it = pools_.find(e.pool);
    if (it != pools_.end() && it->second.incident == e.incident) {
      e.resolves = it->second.told;
      it->second.incident.clear();
      it->second.told.clear();
      it->second.down = false;
      it->second.drill = false;
    }
    if (e.resolves.empty()) e.resolves = {Kind::PoolDown, Kind::PoolDegraded};
    const std::string_view duration = get(line, "duration_s");
    e.summary = std::string(e.drill ? "DRILL: " : "") + "Resolved: pool " + e.pool + " " + (e.reason == "recovered" ? "recovered" : e.reason) +
                (duration.empty() ? std::string() : " after " + std::string(duration) + " s") +
                incidentSuffix(e.incident);
    out.push_back(std::move(e));
  } else if (name == "config_reload_failed") {
    Event e;
    e.kind = Kind::ReloadFailed;
    e.time = get(line, "time");
    e.reason = get(line, "errors");
    const std::string_view trigger = get(line, "trigger");
    e.summary = "Config reload failed" + (trigger.empty() ? std::string() : " (" + std::string(trigger) + ")") + ": " +
                e.reason + "; the running configuration is unchanged";
    out.push_back(std::move(e));
  }
}

bool Grouper::add(Event e, uint64_t now_ms) {
  if (wait_ms_ == 0 || (e.kind != Kind::BackendDown && e.kind != Kind::BackendUp)) return false;
  for (Window& w : windows_) {
    if (w.pool == e.pool && w.kind == e.kind) {
      w.held.emplace_back(std::move(e), now_ms);
      return true;
    }
  }
  Window w;
  w.pool = e.pool;
  w.kind = e.kind;
  w.due_ms = now_ms + wait_ms_;
  w.held.emplace_back(std::move(e), now_ms);
  windows_.push_back(std::move(w));
  return true;
}

void Grouper::flush(uint64_t now_ms, std::vector<Event>& out, bool all) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (all || it->due_ms <= now_ms) {
      out.push_back(merge(it->held, wait_ms_));
      it = windows_.erase(it);
    } else {
      ++it;
    }
  }
}

uint64_t Grouper::nextDue() const {
  uint64_t due = 0;
  for (const Window& w : windows_) {
    if (due == 0 || w.due_ms < due) due = w.due_ms;
  }
  return due;
}

Event Grouper::merge(const std::vector<std::pair<Event, uint64_t>>& held, uint64_t wait_ms) {
  if (held.size() == 1) return held.front().first;
  const Event& first = held.front().first;
  const Event& last = held.back().first;
  Event g;
  g.kind = first.kind;
  g.pool = first.pool;
  g.time = first.time;
  g.available = last.available;
  g.total = last.total;
  g.incident = last.incident;
  g.drill = last.drill;
  for (const auto& [e, at] : held) {
    if (std::find(g.backends.begin(), g.backends.end(), e.backend) == g.backends.end()) g.backends.push_back(e.backend);
  }
  const size_t n = g.backends.size();
  const std::string count = std::to_string(n) + (g.total ? " of " + std::to_string(g.total) : std::string()) +
                            " backends of pool " + g.pool;
  std::string list;
  for (const auto& b : g.backends) list += (list.empty() ? "" : ", ") + b;
  if (g.kind == Kind::BackendUp) {
    g.summary = count + " are back up: " + list;
  } else {
    const bool shared = std::all_of(held.begin(), held.end(), [&](const auto& h) { return h.first.reason == first.reason; });
    if (shared) {
      g.reason = first.reason;
      g.summary = count + " failed within " + humanDuration(wait_ms) + ": " + g.reason +
                  " \u2014 a shared dependency is likely (" + list + ")";
    } else {
      // A cascade: the order they fell in, with each one's reason.
      std::string order;
      for (const auto& [e, at] : held) {
        if (!order.empty()) order += ", then ";
        order += e.backend + " (" + e.reason + ")";
        if (at > held.front().second) order += " " + humanDuration(at - held.front().second) + " later";
      }
      g.summary = count + " failed one after another within " + humanDuration(wait_ms) + " (a cascade): " + order;
    }
  }
  if (g.total) g.summary += " (" + std::to_string(g.available) + " of " + std::to_string(g.total) + " available)";
  g.summary += incidentSuffix(g.incident);
  if (g.drill) g.summary = "DRILL: " + g.summary;
  return g;
}

}  // namespace ballast::notify
