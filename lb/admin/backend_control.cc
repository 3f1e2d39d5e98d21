#include "lb/admin/backend_control.h"

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

constexpr size_t kMaxReason = 256;
constexpr size_t kMaxBy = 128;
constexpr uint64_t kMaxFor = 30ull * 24 * 3600 * 1000;  // 30 days

struct Params {
  std::string for_text;
  uint64_t for_ms = 0;
  std::string reason;
  std::string by;
};

bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

// Reads `for`, `reason` and `by` from the query string and the JSON body;
// false (with `out` set to a 400) on anything else or anything invalid.
bool readParams(const AdminRequest& req, std::string_view action, Params& p, AdminReply& out) {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string_view q = req.query;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name = percentDecode(part.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    for (char& c : value) {
      if (c == '+') c = ' ';  // form encoding
    }
    kv.emplace_back(std::move(name), percentDecode(value));
  }
  if (!req.body.empty()) {
    std::vector<std::pair<std::string, std::string>> body;
    std::string error;
    if (!parseFlatJsonObject(req.body, body, error)) {
      jsonError(out, 400, "the request body must be a flat JSON object such as {\"for\": \"2h\", \"reason\": "
                          "\"INC-4411\"}: " + error);
      return false;
    }
    for (auto& m : body) kv.push_back(std::move(m));
  }
  const std::string where = "POST /pools/{pool}/backends/{address}/" + std::string(action);
  bool seen_for = false, seen_reason = false, seen_by = false;
  for (const auto& [name, value] : kv) {
    bool* seen = name == "for" ? &seen_for : name == "reason" ? &seen_reason : name == "by" ? &seen_by : nullptr;
    if (seen == nullptr) {
      jsonError(out, 400, "unknown parameter \"" + name + "\" for " + where + " (allowed: for, reason, by)");
      return false;
    }
    if (*seen) {
      jsonError(out, 400, "parameter \"" + name + "\" given twice");
      return false;
    }
    *seen = true;
    if (name == "for") {
      if (action == "enable") {
        jsonError(out, 400, "\"for\" applies to drain and disable (enable ends an override)");
        return false;
      }
      auto d = config::parseDuration(value);
      if (!d || d->count() <= 0 || static_cast<uint64_t>(d->count()) > kMaxFor) {
        jsonError(out, 400, "\"for\" must be a duration from 1ms to 30 days, like 30m or 2h, not \"" + value + "\"");
        return false;
      }
      p.for_text = value;
      p.for_ms = static_cast<uint64_t>(d->count());
    } else if (name == "reason") {
      if (value.size() > kMaxReason || !printable(value)) {
        jsonError(out, 400, "\"reason\" must be at most 256 bytes with no control characters");
        return false;
      }
      p.reason = value;
    } else {
      if (value.size() > kMaxBy || !printable(value)) {
        jsonError(out, 400, "\"by\" must be at most 128 bytes with no control characters");
        return false;
      }
      p.by = value;
    }
  }
  return true;
}

void writeOverride(JsonWriter& w, const AdminOverride& o) {
  w.str("reason", o.reason).str("by", o.by).str("since", isoTime(o.since_unix));
  w.key("expires");
  if (o.expires_ms != 0) {
    w.str(isoTime(o.expires_unix));
  } else {
    w.null();
  }
  w.boolean("stale", o.stale);
}

}  // namespace

void controlBackend(const Runtime& rt, uint64_t now_ms, const AdminRequest& req, std::string_view pool_name,
                    std::string_view backend_name, std::string_view action, AdminReply& out) {
  Params params;
  if (!readParams(req, action, params, out)) return;
  Pool* pool = rt.findPool(pool_name);
  if (pool == nullptr) return jsonError(out, 404, "unknown pool \"" + std::string(pool_name) + "\"");
  Backend* b = pool->find(backend_name);
  if (b == nullptr) {
    return jsonError(out, 404, "unknown backend \"" + std::string(backend_name) + "\" in pool \"" +
                                   std::string(pool_name) + "\" (use the address as configured, e.g. 127.0.0.1:9001)");
  }
  // The admin state lives in the Backend, which a reload carries over when
  // the pool keeps the same address: the override survives reloads.
  const AdminState target = action == "drain"     ? AdminState::Draining
                            : action == "disable" ? AdminState::Disabled
                                                  : AdminState::Enabled;
  const std::string old_state = b->stateName();
  const AdminState old_admin = b->adminState();
  if (old_admin != target) {
    b->setAdminState(target);
    b->markChanged(now_ms);
  }
  AdminOverride& o = b->adminOverride();
  if (target == AdminState::Enabled) {
    o = AdminOverride{};
  } else {
    // A new drain/disable (or the same one again: a new reason or expiry)
    // starts its own clock.
    const double wall = wallSeconds();
    o.reason = params.reason;
    o.by = params.by.empty() ? std::string(req.client) : params.by;
    o.since_unix = wall;
    o.since_ms = now_ms;
    o.expires_ms = params.for_ms != 0 ? now_ms + params.for_ms : 0;
    o.expires_unix = params.for_ms != 0 ? wall + static_cast<double>(params.for_ms) / 1000.0 : 0;
    o.stale = false;
  }
  // A backend out of rotation keeps no pooled connections: requests in
  // flight finish on theirs, nothing new is sent.
  if (target != AdminState::Enabled) b->idle().closeAll();
  const std::string new_state = b->stateName();

  const auto level = target == AdminState::Enabled ? LogLevel::Info : LogLevel::Warn;
  auto& j = log().eventLine(level, "admin_action");
  j.str("action", action).str("pool", pool->name()).str("backend", b->name());
  j.str("old", old_state).str("new", new_state);
  j.str("old_admin", toString(old_admin)).str("admin", toString(target));
  j.str("reason", params.reason).str("by", params.by.empty() ? std::string(req.client) : params.by);
  if (params.for_ms != 0) j.str("for", params.for_text).str("expires", isoTime(o.expires_unix));
  j.num("active_requests", static_cast<uint64_t>(b->activeRequests()));
  j.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
  j.str("client", req.client);
  log().emit(level);

  out.content_type = "application/json";
  JsonWriter w;
  w.beginObject();
  w.str("pool", pool->name()).str("backend", b->name()).str("action", action);
  w.str("old", old_state).str("new", new_state).str("admin", toString(target));
  w.num("active_requests", static_cast<uint64_t>(b->activeRequests()));
  w.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
  if (target != AdminState::Enabled) {
    w.key("override").beginObject();
    writeOverride(w, o);
    w.endObject();
  }
  w.endObject();
  out.body = w.take();
  out.body.push_back('\n');
}

void sweepOverrides(const Runtime& rt, uint64_t now_ms) {
  const uint64_t warn_after = static_cast<uint64_t>(rt.config->overrides.warn_after.count());
  for (const auto& pool : rt.pools) {
    for (const auto& bp : pool->backends()) {
      Backend& b = *bp;
      if (b.adminState() == AdminState::Enabled) continue;
      AdminOverride& o = b.adminOverride();
      if (o.expires_ms != 0 && now_ms >= o.expires_ms) {
        const AdminState was = b.adminState();
        const std::string old_state = b.stateName();
        b.setAdminState(AdminState::Enabled);
        b.markChanged(now_ms);
        auto& j = log().eventLine(LogLevel::Info, "backend_override_expired");
        j.str("pool", pool->name()).str("backend", b.name()).str("was", toString(was));
        j.str("reason", o.reason).str("by", o.by).str("since", isoTime(o.since_unix));
        j.str("old", old_state).str("new", b.stateName());
        j.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
        log().emit(LogLevel::Info);
        o = AdminOverride{};
        continue;
      }
      if (o.expires_ms == 0 && !o.stale && o.since_ms != 0 && now_ms - o.since_ms >= warn_after) {
        o.stale = true;
        auto& j = log().eventLine(LogLevel::Warn, "backend_override_stale");
        j.str("pool", pool->name()).str("backend", b.name()).str("admin", toString(b.adminState()));
        j.str("reason", o.reason).str("by", o.by).str("since", isoTime(o.since_unix));
        j.num("age_seconds", (now_ms - o.since_ms) / 1000);
        j.str("hint", "an override without `for` is still in place; enable the backend or set an expiry");
        log().emit(LogLevel::Warn);
      }
    }
  }
}

}  // namespace ballast
