#include "lb/proxy/explain.h"

#include "lb/base/clock.h"
#include "lb/base/json.h"

namespace ballast {

ExplainLog& explainLog() {
  static ExplainLog l;
  return l;
}

void ExplainLog::setCapacity(size_t n) {
  if (n == recent_.size()) return;
  recent_.assign(n, ExplainRecord{});
  failed_.assign(n == 0 ? 0 : (n + 1) / 2, ExplainRecord{});
  next_recent_ = next_failed_ = 0;
}

ExplainRecord& ExplainLog::slot(bool failed) {
  if (failed) {
    ExplainRecord& r = failed_[next_failed_];
    next_failed_ = (next_failed_ + 1) % failed_.size();
    return r;
  }
  ExplainRecord& r = recent_[next_recent_];
  next_recent_ = (next_recent_ + 1) % recent_.size();
  return r;
}

const ExplainRecord* ExplainLog::find(std::string_view request_id) const {
  if (request_id.empty()) return nullptr;
  const ExplainRecord* best = nullptr;
  for (const auto* ring : {&failed_, &recent_}) {
    for (const auto& r : *ring) {
      if (r.request_id == request_id && (best == nullptr || r.end_ms > best->end_ms)) best = &r;
    }
  }
  return best;
}

std::string explainJson(const ExplainRecord& r, uint64_t now_ms, double now_wall) {
  JsonWriter w;
  w.beginObject();
  const double wall = now_wall - static_cast<double>(now_ms >= r.end_ms ? now_ms - r.end_ms : 0) / 1000.0;
  w.str("request_id", r.request_id).str("time", isoTime(wall)).str("method", r.method).str("path", r.path);
  w.str("route", r.route).str("pool", r.pool).num("status", r.status);
  w.str("termination", std::string_view(r.termination, 2)).dbl("duration_ms", r.duration_ms, 3);
  w.boolean("failed_or_retried", r.failed).str("config_hash", r.config_hash);
  w.key("attempts").beginArray();
  for (const auto& a : r.attempts) {
    w.beginObject().str("backend", a.backend).dbl("start_ms", a.start_ms, 3).dbl("duration_ms", a.duration_ms, 3);
    w.boolean("reused_connection", a.reused).str("outcome", a.outcome);
    if (a.http_status != 0) w.num("http_status", a.http_status);
    w.endObject();
  }
  w.endArray();
  w.key("candidates").beginArray();
  for (const auto& c : r.candidates) {
    w.beginObject().str("backend", c.backend).str("state", c.state).boolean("available", c.available);
    w.boolean("at_max_connections", c.at_capacity).boolean("tried", c.tried);
    // Why it was not used, in one word (the first reason that applies).
    const char* why = c.tried ? "tried" : !c.available ? "not_available" : c.at_capacity ? "at_max_connections" : "";
    if (*why) w.str("skipped_because", why);
    w.endObject();
  }
  w.endArray();
  w.key("retry_budget").beginObject().dbl("tokens", r.retry_budget_tokens, 2);
  w.num("retries_in_flight", static_cast<uint64_t>(r.retries_in_flight)).endObject();
  w.endObject();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

}  // namespace ballast
