#include "lb/admin/status_json.h"

#include <unistd.h>

#include <algorithm>

#include "health/health_session.h"
#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {
// Per-backend sparklines only for pools up to this size: /status of a pool
// of thousands of backends stays small.
constexpr size_t kSparklineMaxBackends = 100;
}  // namespace


namespace {

const char* balanceName(config::Balance b) {
  switch (b) {
    case config::Balance::RoundRobin: return "round_robin";
    case config::Balance::LeastRequest: return "least_request";
    case config::Balance::P2C: return "p2c";
    case config::Balance::Random: return "random";
    case config::Balance::ConsistentHash: return "consistent_hash";
  }
  return "round_robin";
}

}  // namespace

std::string readinessReason(const AdminControl& control) {
  if (control.stopping()) return "not ready: stopping";
  if (control.ready()) return "ready";
  std::string waiting;
  for (const auto& c : control.checkers()) {
    if (c->firstRoundDone()) continue;
    size_t probed = 0;
    for (const health::HealthSession* s : c->sessions()) probed += s->hasStatus() ? 1 : 0;
    if (!waiting.empty()) waiting += ", ";
    waiting += "pool " + c->poolName() + " (" + std::to_string(probed) + " of " + std::to_string(c->sessions().size()) +
               " backends probed)";
  }
  if (!waiting.empty()) return "not ready: waiting for the first health check round: " + waiting;
  return "not ready: listeners not bound yet";
}

std::string statusJson(AdminControl& control, std::string_view admin_address) {
  const uint64_t now_ms = uv_now(control.loop());
  const double now_wall = wallSeconds();
  const double start = control.startTime();
  // Loop time (ms) -> Unix time, anchored at start-up.
  const auto wallOf = [&](uint64_t loop_ms) {
    return start + (static_cast<double>(loop_ms) - static_cast<double>(control.startedMs())) / 1000.0;
  };
  const auto secondsSince = [&](uint64_t loop_ms) {
    return loop_ms <= now_ms ? static_cast<double>(now_ms - loop_ms) / 1000.0 : 0.0;
  };
  const auto rt = control.runtime();
  const config::Config& cfg = *rt->config;

  JsonWriter w;
  w.beginObject();
  w.str("version", BALLAST_VERSION);
  w.num("pid", static_cast<int64_t>(getpid()));
  w.str("started", isoTime(start));
  w.str("now", isoTime(now_wall));
  w.dbl("uptime_seconds", std::max(0.0, now_wall - start), 1);
  w.boolean("ready", control.ready());
  w.str("ready_reason", readinessReason(control));
  w.boolean("stopping", control.stopping());
  w.key("admin").beginObject();
  w.boolean("token_required", !cfg.admin.token.empty());
  w.boolean("protect_reads", cfg.admin.protect_reads);
  w.str("address", admin_address);
  w.endObject();

  w.key("listeners").beginArray();
  for (const auto& l : control.listeners()) {
    w.beginObject().str("address", l.bound).str("configured", l.configured).endObject();
  }
  w.endArray();

  w.key("routes").beginArray();
  for (const Route& r : rt->router.routes()) {
    w.beginObject();
    w.str("name", r.name);
    w.str("host", r.wildcard ? "*" + r.host : r.host);
    w.str("path_prefix", r.path_prefix);
    w.str("path", r.path);
    w.str("pool", r.pool != nullptr ? r.pool->name() : std::string());
    // What the route does: "pool", "split" (pools and weights) or "return" (status).
    const config::RouteConfig& rc = *r.config;
    w.str("action", rc.ret ? "return" : rc.split.empty() ? "pool" : "split");
    if (!rc.split.empty()) {
      w.key("split").beginArray();
      for (const config::SplitTarget& t : rc.split) {
        w.beginObject().str("pool", t.pool).num("weight", static_cast<uint64_t>(t.weight)).endObject();
      }
      w.endArray();
    }
    if (rc.ret) w.num("return_status", static_cast<uint64_t>(rc.ret->status));
    w.endObject();
  }
  w.endArray();

  w.key("pools").beginArray();
  for (const auto& p : rt->pools) {
    const health::HealthChecker* checker = nullptr;
    for (const auto& c : control.checkers()) {
      if (c->poolName() == p->name()) checker = c.get();
    }
    const auto& hc = p->config().health_check;
    w.beginObject();
    w.str("name", p->name());
    w.str("balance", balanceName(p->config().balance));
    w.str("mode", Pool::modeName(p->mode()));
    w.num("available", static_cast<uint64_t>(p->availableCount()));
    w.num("size", static_cast<uint64_t>(p->backends().size()));
    w.num("tunnels_active", static_cast<uint64_t>(std::max<int64_t>(0, p->stats().tunnels_active)));
    for (const auto& d : control.discovery()) {
      if (!d || d->pool() != p->name()) continue;
      // DNS discovery: what the last round said, and whether a failure
      // keeps the last good set (stale).
      w.key("discovery").beginObject();
      w.str("name", d->config().name).str("type", config::toString(d->config().type));
      uint64_t rounds = 0;
      for (size_t r = 0; r < DnsWatcher::kResults; ++r) rounds += d->resolutions(static_cast<DnsResult>(r));
      w.str("result", rounds == 0 ? "pending" : toString(d->state().lastResult()));
      w.num("members", static_cast<uint64_t>(d->state().members().size()));
      w.boolean("stale", d->state().stale());
      w.num("last_success", d->lastSuccessUnix());
      w.num("next_refresh_ms", d->nextRefreshMs());
      w.endObject();
    }
    {
      // The last 15 minutes in 10 s slots, oldest first (the page's charts).
      const PoolSeries& s = p->stats().series;
      w.key("charts").beginObject().num("slot_seconds", kSeriesSlotMs / 1000);
      w.key("requests").beginArray();
      for (uint64_t v : s.requests(now_ms)) w.num(v);
      w.endArray().key("errors").beginArray();
      for (uint64_t v : s.errors(now_ms)) w.num(v);
      w.endArray().key("p99_ms").beginArray();
      for (double v : s.p99(now_ms)) {
        if (v < 0) {
          w.null();
        } else {
          w.dbl(v * 1000.0, 1);
        }
      }
      w.endArray().endObject();
    }
    w.key("health_check");
    if (hc) {
      w.beginObject();
      w.str("type", hc->type == config::HealthCheckConfig::Type::Http ? "http" : "tcp");
      if (hc->type == config::HealthCheckConfig::Type::Http) w.str("path", hc->path);
      w.num("interval_ms", static_cast<uint64_t>(hc->interval.count()));
      w.num("timeout_ms", static_cast<uint64_t>(hc->timeout.count()));
      w.endObject();
    } else {
      w.null();
    }
    w.boolean("outlier_detection", p->config().outlier_detection.has_value());
    w.num("panic_threshold", static_cast<uint64_t>(p->config().panic_threshold));
    {
      const config::PoolConfig& pc = p->config();
      w.num("slow_start_ms", static_cast<uint64_t>(pc.slow_start.window.count()));
      w.key("queue");
      if (pc.queue) {
        w.beginObject();
        w.num("length", static_cast<uint64_t>(p->queueLength()));
        w.num("size", static_cast<uint64_t>(pc.queue->size));
        w.num("timeout_ms", static_cast<uint64_t>(pc.queue->timeout.count()));
        w.num("timeouts", p->stats().queue_timeouts);
        w.num("full", p->stats().queue_full);
        w.endObject();
      } else {
        w.null();
      }
      w.key("sticky");
      if (pc.sticky) {
        w.beginObject();
        w.str("cookie", pc.sticky->cookie);
        w.num("ttl_seconds", static_cast<uint64_t>(pc.sticky->ttl.count() / 1000));
        w.endObject();
      } else {
        w.null();
      }
      w.boolean("zone_aware", pc.zone_aware);
      w.str("zone", p->localZone());
      w.str("zone_mode", toString(p->zoneMode()));
      w.dbl("spill_ratio", p->spillRatio(), 3);
      w.key("zones").beginArray();
      for (const ZoneInfo& z : p->zones()) {
        w.beginObject();
        w.str("zone", z.name).boolean("local", z.local);
        w.num("backends", static_cast<uint64_t>(z.backends)).num("available", static_cast<uint64_t>(z.available));
        w.endObject();
      }
      w.endArray();
    }

    w.key("backends").beginArray();
    for (const auto& bp : p->backends()) {
      const Backend& b = *bp;
      w.beginObject();
      w.str("address", b.name());
      w.num("weight", static_cast<uint64_t>(b.weight()));
      // Slow start: the share of its weight it takes now (1 = fully ramped).
      const uint32_t ramp = p->rampPermille(b, now_ms);
      w.dbl("weight_factor", ramp / 1000.0, 3);
      w.dbl("effective_weight", b.weight() * (ramp / 1000.0), 3);
      w.str("zone", b.zone());
      w.num("max_connections", static_cast<uint64_t>(b.maxConnections()));
      w.boolean("backup", b.backup());
      w.str("state", b.stateName());
      w.boolean("available", b.available());
      w.str("health", toString(b.health()));
      w.str("admin", toString(b.adminState()));
      w.str("probes_vs_traffic", toString(b.probeTraffic()));
      if (b.adminState() != AdminState::Enabled) {
        // Why, by whom, since when and until when (null: until enabled).
        const AdminOverride& o = b.adminOverride();
        w.key("override").beginObject();
        w.str("reason", o.reason).str("by", o.by).str("since", isoTime(o.since_unix));
        w.key("expires");
        if (o.expires_ms != 0) {
          w.str(isoTime(o.expires_unix));
          w.dbl("expires_in_seconds", o.expires_ms > now_ms ? static_cast<double>(o.expires_ms - now_ms) / 1000.0 : 0.0,
                1);
        } else {
          w.null();
        }
        w.boolean("stale", o.stale);
        w.endObject();
      }
      w.boolean("ejected", b.ejected());
      if (b.ejected()) {
        w.str("ejected_until", isoTime(wallOf(b.ejected_until_ms_)));
        w.dbl("ejected_remaining_seconds",
              b.ejected_until_ms_ > now_ms ? static_cast<double>(b.ejected_until_ms_ - now_ms) / 1000.0 : 0.0, 1);
        w.num("ejections", static_cast<uint64_t>(b.ejections_));
      }
      w.str("since", isoTime(wallOf(b.lastChangeMs())));
      w.dbl("since_seconds", secondsSince(b.lastChangeMs()), 1);

      if (hc) {
        const health::HealthSession* session = checker != nullptr ? checker->sessionFor(b) : nullptr;
        w.key("last_probe");
        if (session == nullptr || session->results() == 0) {
          w.null();
        } else {
          w.beginObject();
          w.str("result", session->lastPassed() ? "pass" : "fail");
          w.str("reason", session->lastReason());
          w.dbl("latency_ms", session->lastLatencyMs(), 1);
          w.key("http_status");
          if (session->lastHttpStatus() > 0) {
            w.num(static_cast<int64_t>(session->lastHttpStatus()));
          } else {
            w.null();
          }
          w.str("at", isoTime(wallOf(session->lastResultMs())));
          w.dbl("age_seconds", secondsSince(session->lastResultMs()), 1);
          w.num("consecutive_passes", static_cast<uint64_t>(session->state().consecutivePasses()));
          w.num("consecutive_failures", static_cast<uint64_t>(session->state().consecutiveFailures()));
          w.endObject();
        }
      }

      const BackendStats& st = b.stats();
      w.num("active_requests", static_cast<uint64_t>(b.activeRequests()));
      w.num("active_connections", static_cast<uint64_t>(st.connections_active));
      w.num("idle_connections", static_cast<uint64_t>(b.idle().size()));
      w.num("requests_1m", st.requests_1m.sum(now_ms));
      if (p->backends().size() <= kSparklineMaxBackends) {
        w.key("requests_15m").beginArray();
        for (uint64_t v : st.requests_15m.snapshot(now_ms)) w.num(v);
        w.endArray();
      }
      w.num("errors_1m", st.errors_1m.sum(now_ms));
      w.endObject();
    }
    w.endArray();
    w.endObject();
  }
  w.endArray();
  w.endObject();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

}  // namespace ballast
