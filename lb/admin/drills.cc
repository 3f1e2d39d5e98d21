#include "lb/admin/drills.h"

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

struct Drill {
  uint64_t id = 0;
  std::string action;  // simulate_down | abort
  std::string pool;
  std::string backend;
  uint32_t percent = 0;
  int status = 0;
  std::string header;
  std::string by;
  double started_wall = 0;
  uint64_t until_ms = 0;
};

std::vector<Drill>& drills() {
  static std::vector<Drill> d;
  return d;
}

uint64_t next_id = 0;

void writeDrill(JsonWriter& w, const Drill& d, uint64_t now_ms) {
  w.beginObject().str("id", std::to_string(d.id)).str("action", d.action).str("pool", d.pool);
  if (!d.backend.empty()) w.str("backend", d.backend);
  if (d.action == "abort") {
    w.num("percent", static_cast<uint64_t>(d.percent)).num("status", d.status);
    if (!d.header.empty()) w.str("header", d.header);
  }
  w.str("by", d.by).str("started", isoTime(d.started_wall));
  w.dbl("remaining_seconds", d.until_ms > now_ms ? static_cast<double>(d.until_ms - now_ms) / 1000.0 : 0.0, 1);
  w.endObject();
}

// Undoes a drill's effect (if its pool and backend still exist).
void undo(const Runtime& rt, const Drill& d) {
  Pool* pool = rt.findPool(d.pool);
  if (pool == nullptr) return;
  if (d.action == "simulate_down") {
    if (Backend* b = pool->find(d.backend)) b->setDrillDownUntilMs(0);
  } else {
    pool->clearFaultDrill();
  }
}

void ended(const Drill& d, std::string_view why) {
  auto& j = log().eventLine(LogLevel::Info, "drill_ended");
  j.str("id", std::to_string(d.id)).str("action", d.action).str("pool", d.pool);
  if (!d.backend.empty()) j.str("backend", d.backend);
  j.str("why", why);
  log().emit(LogLevel::Info);
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
  std::string duration;
  std::string percent, status;
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
    } else if (k == "header") {
      d.header = v;
    } else if (k == "by") {
      d.by = v;
    } else {
      return jsonError(out, 400, "unknown field \"" + k +
                                     "\" (allowed: action, pool, backend, duration, percent, status, header, by)");
    }
  }
  if (d.action != "simulate_down" && d.action != "abort") {
    return jsonError(out, 400, "\"action\" must be simulate_down or abort");
  }
  auto dur = config::parseDuration(duration);
  if (!dur || dur->count() <= 0 || static_cast<uint64_t>(dur->count()) > kMaxDuration) {
    return jsonError(out, 400, "\"duration\" is required: a duration up to 24h, like 60s (a drill always ends by itself)");
  }
  Pool* pool = rt.findPool(d.pool);
  if (pool == nullptr) return jsonError(out, 404, "unknown pool \"" + d.pool + "\"");
  d.until_ms = now_ms + static_cast<uint64_t>(dur->count());
  if (d.action == "simulate_down") {
    if (!percent.empty() || !status.empty() || !d.header.empty()) {
      return jsonError(out, 400, "percent, status and header are for abort drills");
    }
    Backend* b = pool->find(d.backend);
    if (b == nullptr) return jsonError(out, 404, "unknown backend \"" + d.backend + "\" in pool \"" + d.pool + "\"");
    if (!pool->config().health_check) {
      return jsonError(out, 409, "pool \"" + d.pool + "\" has no health check: nothing would detect a simulated outage");
    }
    b->setDrillDownUntilMs(d.until_ms);
  } else {
    if (!d.backend.empty()) return jsonError(out, 400, "an abort drill applies to a pool; leave backend out");
    char* end = nullptr;
    const long p = std::strtol(percent.c_str(), &end, 10);
    if (percent.empty() || *end != '\0' || p < 1 || p > 100) {
      return jsonError(out, 400, "\"percent\" is required for abort: 1 to 100");
    }
    long st = 503;
    if (!status.empty()) {
      st = std::strtol(status.c_str(), &end, 10);
      if (*end != '\0' || st < 500 || st > 599) return jsonError(out, 400, "\"status\" must be 500 to 599");
    }
    d.percent = static_cast<uint32_t>(p);
    d.status = static_cast<int>(st);
    Pool::FaultDrill f;
    f.id = next_id + 1;
    f.percent = d.percent;
    f.status = d.status;
    f.header = d.header;
    f.until_ms = d.until_ms;
    // One fault drill per pool: a new one replaces the running one.
    for (auto it = drills().begin(); it != drills().end();) {
      if (it->action == "abort" && it->pool == d.pool) {
        ended(*it, "replaced by a new drill");
        it = drills().erase(it);
      } else {
        ++it;
      }
    }
    pool->setFaultDrill(f);
  }
  d.id = ++next_id;
  if (d.by.empty()) d.by = std::string(req.client);
  d.started_wall = wallSeconds();
  drills().push_back(d);
  auto& j = log().eventLine(LogLevel::Warn, "drill_started");
  j.str("id", std::to_string(d.id)).str("action", d.action).str("pool", d.pool);
  if (!d.backend.empty()) j.str("backend", d.backend);
  if (d.action == "abort") j.num("percent", static_cast<uint64_t>(d.percent)).num("status", d.status).str("header", d.header);
  j.str("duration", duration).str("by", d.by);
  log().emit(LogLevel::Warn);
  JsonWriter w;
  writeDrill(w, d, now_ms);
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

void listDrills(uint64_t now_ms, AdminReply& out) {
  JsonWriter w;
  w.beginObject().key("drills").beginArray();
  for (const auto& d : drills()) writeDrill(w, d, now_ms);
  w.endArray().endObject();
  out.content_type = "application/json";
  out.body = w.take();
  out.body.push_back('\n');
}

void stopDrill(const Runtime& rt, uint64_t now_ms, std::string_view id, std::string_view client, AdminReply& out) {
  auto& list = drills();
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (std::to_string(it->id) != id) continue;
    undo(rt, *it);
    ended(*it, "stopped by " + std::string(client));
    JsonWriter w;
    writeDrill(w, *it, now_ms);
    list.erase(it);
    out.content_type = "application/json";
    out.body = w.take();
    out.body.push_back('\n');
    return;
  }
  jsonError(out, 404, "no running drill with id \"" + std::string(id) + "\" (see GET /drills)");
}

void sweepDrills(const Runtime& rt, uint64_t now_ms) {
  auto& list = drills();
  for (auto it = list.begin(); it != list.end();) {
    if (it->until_ms > now_ms) {
      ++it;
      continue;
    }
    undo(rt, *it);
    ended(*it, "its duration ran out");
    it = list.erase(it);
  }
}

}  // namespace ballast
