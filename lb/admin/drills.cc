#include "lb/admin/drills.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "config/duration.h"
#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/base/json_read.h"
#include "lb/base/log.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

constexpr uint64_t kMaxDuration = 24ull * 3600 * 1000;
constexpr uint64_t kMaxDelay = 600000;  // a held request keeps its client connection
// A drill's backend back up but getting no request (no traffic at all):
// its recovery is recorded without a first request after this long.
constexpr uint64_t kNoTrafficMs = 60000;

struct Drill {
  uint64_t id = 0;
  std::string action;  // simulate_down | abort | delay
  std::string source;  // api | config
  std::string key;     // config drills: the drill as written, its identity across reloads
  std::string pool;    // api drills, and config pool drills
  std::string route;   // config route drills
  std::vector<std::string> pools;  // the pools its faults go to
  std::string backend;
  uint32_t percent = 0;
  int status = 0;
  uint64_t delay_ms = 0;
  std::string header;
  std::string by;
  double started_wall = 0;
  double until_wall = 0;
  uint64_t until_ms = 0;
};

// A simulate_down drill followed from its start until its backend is back
// up and getting requests again (it outlives the drill).
struct Watch {
  uint64_t id = 0;
  std::string pool, backend;
  double started_wall = 0;
  bool failover_logged = false;
  bool ended = false;
  double ended_wall = 0;
  bool up = false;                // back up since the end
  uint64_t up_ms = 0;
  double up_wall = 0;
};

struct Registry {
  std::vector<Drill> drills;
  std::vector<Watch> watches;
  // Config drills of the config in force, started or already ended: a
  // reload that keeps one does not start it again.
  std::vector<std::string> config_keys;
  const Runtime* faults_for = nullptr;  // the runtime whose pools have the current faults
  uint64_t next_id = 0;
};

Registry& reg() {
  static Registry r;
  return r;
}

void writeDrill(JsonWriter& w, const Drill& d, uint64_t now_ms) {
  w.beginObject().str("id", std::to_string(d.id)).str("action", d.action);
  if (!d.pool.empty()) w.str("pool", d.pool);
  if (!d.route.empty()) w.str("route", d.route);
  if (!d.backend.empty()) w.str("backend", d.backend);
  if (d.action != "simulate_down") {
    w.num("percent", static_cast<uint64_t>(d.percent));
    if (d.action == "abort") w.num("status", d.status);
    if (d.action == "delay") w.num("delay_ms", d.delay_ms);
    if (!d.header.empty()) w.str("header", d.header);
  }
  w.str("by", d.by).str("source", d.source).str("started", isoTime(d.started_wall));
  w.str("expires", isoTime(d.until_wall));
  w.dbl("remaining_seconds", d.until_ms > now_ms ? static_cast<double>(d.until_ms - now_ms) / 1000.0 : 0.0, 1);
  w.endObject();
}

// Gives every pool of `rt` the abort and delay drills that apply to it.
void applyFaults(const Runtime& rt) {
  for (const auto& p : rt.pools) {
    std::vector<Pool::FaultDrill> list;
    for (const Drill& d : reg().drills) {
      if (d.action == "simulate_down" || std::find(d.pools.begin(), d.pools.end(), p->name()) == d.pools.end()) {
        continue;
      }
      Pool::FaultDrill f;
      f.id = d.id;
      f.kind = d.action == "delay" ? Pool::FaultDrill::Kind::Delay : Pool::FaultDrill::Kind::Abort;
      f.percent = d.percent;
      f.status = d.status;
      f.delay_ms = d.delay_ms;
      f.header = d.header;
      f.route = d.route;
      f.until_ms = d.until_ms;
      list.push_back(std::move(f));
    }
    p->setFaultDrills(std::move(list));
  }
  reg().faults_for = &rt;
}

void logStarted(const Drill& d, std::string_view duration) {
  auto& j = log().eventLine(LogLevel::Warn, "drill_started");
  j.str("id", std::to_string(d.id)).str("action", d.action).str("source", d.source);
  if (!d.pool.empty()) j.str("pool", d.pool);
  if (!d.route.empty()) j.str("route", d.route);
  if (!d.backend.empty()) j.str("backend", d.backend);
  if (d.action != "simulate_down") {
    j.num("percent", static_cast<uint64_t>(d.percent));
    if (d.action == "abort") j.num("status", d.status);
    if (d.action == "delay") j.num("delay_ms", d.delay_ms);
    j.str("header", d.header);
  }
  if (!duration.empty()) j.str("duration", duration);
  j.str("expires", isoTime(d.until_wall)).str("by", d.by);
  log().emit(LogLevel::Warn);
}

// Undoes a drill's effect and says so. The caller removes it from the list
// (and calls applyFaults for abort and delay drills).
void end(const Runtime& rt, const Drill& d, uint64_t now_ms, std::string_view why) {
  if (d.action == "simulate_down") {
    Pool* pool = rt.findPool(d.pool);
    Backend* b = pool != nullptr ? pool->find(d.backend) : nullptr;
    // Probes pass from now on; the mark stays (in the past) until the watch
    // sees the backend back up, so that nothing reads the drill's failed
    // probes as a real disagreement meanwhile (probe_traffic.cc).
    if (b != nullptr) b->setDrillDownUntilMs(std::min(b->drillDownUntilMs(), now_ms));
    for (Watch& w : reg().watches) {
      if (w.id != d.id) continue;
      w.ended = true;
      w.ended_wall = wallSeconds();
      if (b != nullptr) b->armFirstPick();  // its first request again is the recovery
    }
  }
  auto& j = log().eventLine(LogLevel::Info, "drill_ended");
  j.str("id", std::to_string(d.id)).str("action", d.action).str("source", d.source);
  if (!d.pool.empty()) j.str("pool", d.pool);
  if (!d.route.empty()) j.str("route", d.route);
  if (!d.backend.empty()) j.str("backend", d.backend);
  j.str("why", why);
  log().emit(LogLevel::Info);
}

// Follows each simulate_down drill's backend: failover (marked down and no
// request in flight: the last request it got is the failover time) and
// recovery (after the drill, back up and picked again). Times are the
// backend's own (its picks, its last state change), not the sweep's.
void watchBackends(const Runtime& rt, uint64_t now_ms) {
  auto& list = reg().watches;
  const double wall = wallSeconds();
  const uint64_t ns = nowNs();
  const auto wallOfNs = [&](uint64_t t) { return wall - static_cast<double>(ns - std::min(t, ns)) / 1e9; };
  for (auto it = list.begin(); it != list.end();) {
    Watch& w = *it;
    Pool* pool = rt.findPool(w.pool);
    Backend* b = pool != nullptr ? pool->find(w.backend) : nullptr;
    if (b == nullptr || (w.ended && b->drillDownUntilMs() > now_ms)) {
      // A reload removed it, or a new drill took it down again (that one
      // has its own watch): nothing more to follow.
      it = list.erase(it);
      continue;
    }
    if (!w.failover_logged && !b->available() && b->activeRequests() == 0) {
      w.failover_logged = true;
      const double last = std::max(w.started_wall, wallOfNs(b->lastPickNs()));
      auto& j = log().eventLine(LogLevel::Info, "drill_failover");
      j.str("id", std::to_string(w.id)).str("pool", w.pool).str("backend", w.backend);
      j.str("last_request", isoTime(last)).dbl("failover_s", last - w.started_wall, 3);
      log().emit(LogLevel::Info);
    }
    if (w.ended && !w.up && b->available()) {
      w.up = true;
      b->setDrillDownUntilMs(0);
      w.up_ms = now_ms;
      const uint64_t since = now_ms - std::min(now_ms, b->lastChangeMs());
      w.up_wall = std::max(w.ended_wall, wall - static_cast<double>(since) / 1000.0);
    }
    const bool traffic = w.up && b->firstPickNs() != 0;
    if (w.up && (traffic || now_ms - w.up_ms >= kNoTrafficMs)) {
      auto& j = log().eventLine(LogLevel::Info, "drill_recovered");
      j.str("id", std::to_string(w.id)).str("pool", w.pool).str("backend", w.backend);
      j.str("ended", isoTime(w.ended_wall)).str("back_up", isoTime(w.up_wall));
      if (traffic) {
        const double first = std::max(w.up_wall, wallOfNs(b->firstPickNs()));
        j.str("first_request", isoTime(first)).dbl("recovery_s", first - w.ended_wall, 3);
      } else {
        j.str("first_request", "none within 60s").dbl("recovery_s", w.up_wall - w.ended_wall, 3);
      }
      log().emit(LogLevel::Info);
      it = list.erase(it);
      continue;
    }
    ++it;
  }
}

// "60s" -> ms in (0, max], or 0.
uint64_t durationMs(const std::string& text, uint64_t max) {
  auto d = config::parseDuration(text);
  if (!d || d->count() <= 0 || static_cast<uint64_t>(d->count()) > max) return 0;
  return static_cast<uint64_t>(d->count());
}

std::string configKey(const config::DrillConfig& c) {
  JsonWriter w;
  w.beginObject().str("pool", c.pool).str("route", c.route);
  w.str("action", c.action == config::DrillConfig::Action::Delay ? "delay" : "abort");
  w.num("percent", static_cast<uint64_t>(c.percent)).num("status", c.status);
  w.num("delay_ms", static_cast<int64_t>(c.delay.count())).str("header", c.header);
  w.dbl("expires", c.expires, 0).num("duration_ms", static_cast<int64_t>(c.duration.count()));
  w.endObject();
  return std::string(w.view());
}

}  // namespace

void startDrill(const Runtime& rt, uint64_t now_ms, const AdminRequest& req, AdminReply& out) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string error;
  if (!parseFlatJsonObject(req.body, kv, error)) {
    return jsonError(out, 400, "the body must be a flat JSON object such as {\"action\": \"simulate_down\", "
                               "\"pool\": \"web\", \"backend\": \"127.0.0.1:9001\", \"duration\": \"60s\"}: " + error);
  }
  Drill d;
  d.source = "api";
  std::string duration, percent, status, delay;
  for (const auto& [k, v] : kv) {
    if (k == "action") {
      d.action = v;
    } else if (k == "pool") {
      d.pool = v;
    } else if (k == "backend") {
      d.backend = v;
    } else if (k == "duration") {
      duration = v;
    } else if (k == "percent") {
      percent = v;
    } else if (k == "status") {
      status = v;
    } else if (k == "delay") {
      delay = v;
    } else if (k == "header") {
      d.header = v;
    } else if (k == "by") {
      d.by = v;
    } else {
      return jsonError(out, 400, "unknown field \"" + k +
                                     "\" (allowed: action, pool, backend, duration, percent, status, delay, header, by)");
    }
  }
  if (d.action != "simulate_down" && d.action != "abort" && d.action != "delay") {
    return jsonError(out, 400, "\"action\" must be simulate_down, abort or delay");
  }
  const uint64_t dur = durationMs(duration, kMaxDuration);
  if (dur == 0) {
    return jsonError(out, 400, "\"duration\" is required: a duration up to 24h, like 60s (a drill always ends by itself)");
  }
  Pool* pool = rt.findPool(d.pool);
  if (pool == nullptr) return jsonError(out, 404, "unknown pool \"" + d.pool + "\"");
  d.until_ms = now_ms + dur;
  if (d.action == "simulate_down") {
    if (!percent.empty() || !status.empty() || !delay.empty() || !d.header.empty()) {
      return jsonError(out, 400, "percent, status, delay and header are for abort and delay drills");
    }
    Backend* b = pool->find(d.backend);
    if (b == nullptr) return jsonError(out, 404, "unknown backend \"" + d.backend + "\" in pool \"" + d.pool + "\"");
    if (!pool->config().health_check) {
      return jsonError(out, 409, "pool \"" + d.pool + "\" has no health check: nothing would detect a simulated outage");
    }
    b->setDrillDownUntilMs(d.until_ms);
  } else {
    if (!d.backend.empty()) return jsonError(out, 400, "an " + d.action + " drill applies to a pool; leave backend out");
    char* endp = nullptr;
    const long p = std::strtol(percent.c_str(), &endp, 10);
    if (percent.empty() || *endp != '\0' || p < 1 || p > 100) {
      return jsonError(out, 400, "\"percent\" is required for " + d.action + ": 1 to 100");
    }
    d.percent = static_cast<uint32_t>(p);
    if (d.action == "abort") {
      if (!delay.empty()) return jsonError(out, 400, "\"delay\" is for delay drills");
      long st = 503;
      if (!status.empty()) {
        st = std::strtol(status.c_str(), &endp, 10);
        if (*endp != '\0' || st < 500 || st > 599) return jsonError(out, 400, "\"status\" must be 500 to 599");
      }
      d.status = static_cast<int>(st);
    } else {
      if (!status.empty()) return jsonError(out, 400, "\"status\" is for abort drills");
      d.delay_ms = durationMs(delay, kMaxDelay);
      if (d.delay_ms == 0) return jsonError(out, 400, "\"delay\" is required for delay: a duration up to 10m, like 2s");
    }
    d.pools = {d.pool};
    // One abort and one delay drill per pool from the API: a new one replaces the running one of its kind.
    auto& list = reg().drills;
    for (auto it = list.begin(); it != list.end();) {
      if (it->source == "api" && it->action == d.action && it->pool == d.pool) {
        end(rt, *it, now_ms, "replaced by a new drill");
        it = list.erase(it);
      } else {
        ++it;
      }
    }
  }
  d.id = ++reg().next_id;
  if (d.by.empty()) d.by = std::string(req.client);
  d.started_wall = wallSeconds();
  d.until_wall = d.started_wall + static_cast<double>(dur) / 1000.0;
  reg().drills.push_back(d);
  if (d.action == "simulate_down") {
    Watch w;
    w.id = d.id;
    w.pool = d.pool;
    w.backend = d.backend;
    w.started_wall = d.started_wall;
    reg().watches.push_back(std::move(w));
  } else {
    applyFaults(rt);
  }
  logStarted(d, duration);
  JsonWriter w;
  writeDrill(w, d, now_ms);
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

void listDrills(uint64_t now_ms, AdminReply& out) {
  JsonWriter w;
  w.beginObject().key("drills").beginArray();
  for (const auto& d : reg().drills) writeDrill(w, d, now_ms);
  w.endArray().endObject();
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

void stopDrill(const Runtime& rt, uint64_t now_ms, std::string_view id, std::string_view client, AdminReply& out) {
  auto& list = reg().drills;
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (std::to_string(it->id) != id) continue;
    end(rt, *it, now_ms, "stopped by " + std::string(client));
    JsonWriter w;
    writeDrill(w, *it, now_ms);
    list.erase(it);
    applyFaults(rt);
    out.content_type = "application/json";
    out.body = w.take();
    out.body.push_back('\n');
    return;
  }
  jsonError(out, 404, "no running drill with id \"" + std::string(id) + "\" (see GET /drills)");
}

void sweepDrills(const Runtime& rt, uint64_t now_ms) {
  auto& list = reg().drills;
  bool changed = reg().faults_for != &rt;
  for (auto it = list.begin(); it != list.end();) {
    if (it->until_ms > now_ms) {
      ++it;
      continue;
    }
    end(rt, *it, now_ms, "its duration ran out");
    changed = changed || it->action != "simulate_down";
    it = list.erase(it);
  }
  if (changed) applyFaults(rt);
  watchBackends(rt, now_ms);
}

void applyConfigDrills(const Runtime& rt, uint64_t now_ms, double wall) {
  Registry& r = reg();
  std::vector<std::string> keys;
  for (const config::DrillConfig& c : rt.config->drills) keys.push_back(configKey(c));
  // Those that left the config end.
  for (auto it = r.drills.begin(); it != r.drills.end();) {
    if (it->source == "config" && std::find(keys.begin(), keys.end(), it->key) == keys.end()) {
      end(rt, *it, now_ms, "removed from the config");
      it = r.drills.erase(it);
    } else {
      ++it;
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const config::DrillConfig& c = rt.config->drills[i];
    // Running, or already run under this config: unchanged, left alone.
    if (std::find(r.config_keys.begin(), r.config_keys.end(), keys[i]) != r.config_keys.end()) continue;
    Drill d;
    d.source = "config";
    d.key = keys[i];
    d.action = c.action == config::DrillConfig::Action::Delay ? "delay" : "abort";
    d.pool = c.pool;
    d.route = c.route;
    d.pools = c.pools;
    d.percent = c.percent;
    d.status = c.status;
    d.delay_ms = static_cast<uint64_t>(c.delay.count());
    d.header = c.header;
    d.by = "config " + rt.config->source_path + ":" + std::to_string(c.position.line);
    d.started_wall = wall;
    d.until_wall = c.expires > 0 ? c.expires : wall + static_cast<double>(c.duration.count()) / 1000.0;
    if (d.until_wall <= wall) {
      auto& j = log().eventLine(LogLevel::Warn, "drill_not_started");
      j.str("source", "config").str("at", d.by).str("why", "its expiry " + isoTime(d.until_wall) + " has passed");
      log().emit(LogLevel::Warn);
      continue;
    }
    d.until_ms = now_ms + static_cast<uint64_t>((d.until_wall - wall) * 1000.0);
    d.id = ++r.next_id;
    r.drills.push_back(d);
    logStarted(d, c.expires > 0 ? std::string() : config::formatDuration(c.duration));
  }
  r.config_keys = std::move(keys);
  applyFaults(rt);
}

std::vector<std::string> drillsHolding(std::string_view pool) {
  std::vector<std::string> ids;
  for (const Watch& w : reg().watches) {
    if (w.pool == pool) ids.push_back(std::to_string(w.id));
  }
  return ids;
}

}  // namespace ballast
