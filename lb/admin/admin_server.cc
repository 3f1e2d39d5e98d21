#include "lb/admin/admin_server.h"

#include "lb/admin/admin_auth.h"
#include "lb/admin/incidents_json.h"
#include "lb/admin/admin_connection.h"
#include "lb/admin/backend_control.h"
#include "lb/admin/drills.h"
#include "lb/admin/metrics_render.h"
#include "lb/admin/status_json.h"
#include "lb/admin/status_page.h"
#include "lb/base/clock.h"
#include "lb/base/json.h"
#include "lb/base/log.h"
#include "lb/proxy/explain.h"
#include "lb/stats/local_resources.h"
#include "lb/stats/stats.h"

namespace ballast {

namespace {

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kHtmlType = "text/html; charset=utf-8";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding of one path segment; a malformed escape is kept literally.

// No endpoint takes a query parameter: refuse any (never ignore one).
bool noQuery(const AdminRequest& req, AdminReply& out) {
  if (req.query.empty()) return true;
  std::string_view first = req.query.substr(0, req.query.find('&'));
  first = first.substr(0, first.find('='));
  const std::string message = "unknown query parameter \"" + percentDecode(first) + "\" for " +
                              std::string(req.path) + " (this endpoint takes no parameters)";
  if (req.method == "POST") {
    jsonError(out, 400, message);
  } else {
    plainReply(out, 400, "400 Bad Request: " + message);
  }
  return false;
}

}  // namespace

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

void plainReply(AdminReply& out, int status, std::string body) {
  out.status = status;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(body);
  out.body.push_back('\n');
}

void jsonError(AdminReply& out, int status, std::string_view message) {
  out.status = status;
  out.content_type = std::string(kJsonType);
  JsonWriter w;
  w.beginObject().str("error", message).endObject();
  out.body = w.take();
  out.body.push_back('\n');
}

void methodNotAllowed(AdminReply& out, std::string_view allow) {
  plainReply(out, 405, "405 Method Not Allowed (allowed: " + std::string(allow) + ")");
  out.headers.emplace_back("Allow", std::string(allow));
}

AdminServer::AdminServer(AdminControl& control, const config::Address& addr)
    : AdminServer(control.loop(), addr, nullptr) {
  control_ = &control;
}

AdminServer::AdminServer(uv_loop_t* loop, const config::Address& addr, Forward forward)
    : loop_(loop), forward_(std::move(forward)), listener_(loop, addr.addr, addr.text, "admin", [this](Listener& l) {
        auto* c = new AdminConnection(*this, loop_);
        if (!c->start(l.stream())) c->close();
      }) {
  listener_.setErrorHandler([this](Listener& l, int status) {
    if (isLocalResourceError(status)) {
      noteLocalResourceError(ResourceSite::Accept, status, uv_now(loop_), l.boundAddress().c_str());
      return;
    }
    auto& j = log().eventLine(LogLevel::Warn, "accept_error");
    j.str("kind", "admin").str("address", l.boundAddress()).str("error", uv_strerror(status));
    log().emit(LogLevel::Warn);
  });
}

AdminServer::~AdminServer() = default;

void AdminServer::retire() {
  listener_.close();
  conns_.forEach([](AdminConnection* c) {
    if (c->reading()) c->close();
  });
}

void AdminServer::close() {
  listener_.close();
  conns_.forEach([](AdminConnection* c) { c->close(); });
}

void AdminServer::handle(const AdminRequest& req, Respond respond) {
  if (forward_) {
    forward_(req, std::move(respond));
    return;
  }
  AdminReply out;
  if (answer(req, out, respond)) respond(out);
}

bool AdminServer::answer(const AdminRequest& req, AdminReply& out, const Respond& respond) {
  const std::string_view path = req.path;
  const bool get = req.method == "GET";  // HEAD arrives as GET
  const auto rt = control_->runtime();
  const config::AdminConfig& cfg = rt->config->admin;

  if (path == "/" || path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/status") {
    if (!get) {
      methodNotAllowed(out, "GET, HEAD");
      return true;
    }
    if (!noQuery(req, out)) return true;
    if (path == "/") {
      // The page shell holds no data: it stays open so that a browser can
      // load it and then send the token with its own /status requests.
      out.content_type = std::string(kHtmlType);
      out.body = std::string(statusPageHtml());
      out.headers.emplace_back("Content-Security-Policy",
                               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'");
      out.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return true;
    }
    if (path == "/healthz") {
      plainReply(out, 200, control_->stopping() ? "stopping" : "ok");
    } else if (path == "/readyz") {
      plainReply(out, control_->ready() ? 200 : 503, readinessReason(*control_));
    } else if (cfg.protect_reads && !authorize(cfg, req, out)) {
      // 401 filled in
    } else if (path == "/metrics") {
      out.content_type = std::string(kMetricsType);
      out.body = renderMetrics(*rt, control_->startTime(), control_->discovery());
    } else {
      out.content_type = std::string(kJsonType);
      out.body = statusJson(*control_, advertised_.empty() ? boundAddress() : advertised_);
    }
    return true;
  }

  // Applied configs (config_history). A config's text may hold secrets
  // (admin.token): it needs the token whenever one is set, like a POST.
  constexpr std::string_view kHistory = "/config/history";
  if (path == kHistory || (path.size() > kHistory.size() + 1 && path.substr(0, kHistory.size() + 1) == "/config/history/")) {
    if (!get) {
      methodNotAllowed(out, "GET, HEAD");
      return true;
    }
    if (!noQuery(req, out)) return true;
    const bool one = path != kHistory;
    if ((one || cfg.protect_reads) && !authorize(cfg, req, out)) return true;
    if (!one) {
      JsonWriter w;
      w.beginObject().key("configs").beginArray();
      const auto entries = control_->configHistory();
      const std::string& current = processStats().config_hash;
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        w.beginObject().str("time", isoTime(it->time)).str("hash", it->hash).str("trigger", it->trigger);
        w.boolean("current", it == entries.rbegin() && it->hash == current).endObject();
      }
      w.endArray().endObject();
      out.content_type = std::string(kJsonType);
      out.body = w.take();
      out.body.push_back('\n');
      return true;
    }
    const std::string hash = percentDecode(path.substr(kHistory.size() + 1));
    if (auto text = control_->configText(hash)) {
      out.content_type = "application/yaml; charset=utf-8";
      out.body = std::move(*text);
    } else {
      plainReply(out, 404, "404 Not Found: no config with hash \"" + hash + "\" in the history (see GET /config/history)");
    }
    return true;
  }

  // Drills: POST /drills starts one, GET /drills lists them, POST
  // /drills/{id}/stop ends one early.
  if (path == "/drills" || (path.size() > 8 && path.substr(0, 8) == "/drills/")) {
    const bool stop = path != "/drills";
    std::string_view id;
    if (stop) {
      const std::string_view rest = path.substr(8);
      const size_t slash = rest.find('/');
      if (slash == std::string_view::npos || rest.substr(slash) != "/stop") {
        plainReply(out, 404, "404 Not Found: no admin endpoint at this path (POST /drills/{id}/stop)");
        return true;
      }
      id = rest.substr(0, slash);
    }
    if (!stop && get) {
      if (!noQuery(req, out)) return true;
      if (cfg.protect_reads && !authorize(cfg, req, out)) return true;
      listDrills(uv_now(control_->loop()), out);
      return true;
    }
    if (req.method != "POST") {
      methodNotAllowed(out, stop ? "POST" : "GET, HEAD, POST");
      return true;
    }
    if (!sameSite(cfg, req, out) || !authorize(cfg, req, out) || !noQuery(req, out)) return true;
    if (stop) {
      stopDrill(*rt, uv_now(control_->loop()), id, req.client, out);
    } else {
      startDrill(*rt, uv_now(control_->loop()), req, out);
    }
    return true;
  }

  // GET /incidents, GET /incidents/{id}: read like /status; POST
  // /incidents/{id}/ack: an action like the backend ones.
  constexpr std::string_view kIncidents = "/incidents";
  if (path == kIncidents || (path.size() > kIncidents.size() + 1 && path.substr(0, kIncidents.size() + 1) == "/incidents/")) {
    const std::string_view rest = path.size() > kIncidents.size() ? path.substr(kIncidents.size() + 1) : std::string_view();
    if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
      if (rest.substr(slash) != "/ack" || slash == 0) {
        plainReply(out, 404, "404 Not Found: no admin endpoint at this path (POST /incidents/{id}/ack)");
        return true;
      }
      if (req.method != "POST") {
        methodNotAllowed(out, "POST");
        return true;
      }
      if (!sameSite(cfg, req, out) || !authorize(cfg, req, out) || !noQuery(req, out)) return true;
      ackIncident(*control_, percentDecode(rest.substr(0, slash)), req, out);
      return true;
    }
    if (!get) {
      methodNotAllowed(out, "GET, HEAD");
      return true;
    }
    if (!noQuery(req, out)) return true;
    if (cfg.protect_reads && !authorize(cfg, req, out)) return true;
    const std::string id = path == kIncidents ? std::string() : percentDecode(path.substr(kIncidents.size() + 1));
    answerIncidents(control_->incidents(), id, out);
    return true;
  }

  // GET /requests/{X-Request-Id}: why a recent request went the way it did.
  constexpr std::string_view kRequests = "/requests/";
  if (path.size() > kRequests.size() && path.substr(0, kRequests.size()) == kRequests) {
    if (!get) {
      methodNotAllowed(out, "GET, HEAD");
      return true;
    }
    if (!noQuery(req, out)) return true;
    if (cfg.protect_reads && !authorize(cfg, req, out)) return true;
    const std::string id = percentDecode(path.substr(kRequests.size()));
    if (!explainLog().enabled()) {
      jsonError(out, 404, "request explanations are off (explain.buffer: 0)");
    } else if (const ExplainRecord* r = explainLog().find(id)) {
      out.content_type = std::string(kJsonType);
      out.body = explainJson(*r, uv_now(control_->loop()), wallSeconds());
    } else {
      jsonError(out, 404, "no recent request with X-Request-Id \"" + id +
                              "\" (kept: the last explain.buffer requests, and half as many failed or retried ones)");
    }
    return true;
  }

  if (path == "/config/rollback") {
    if (req.method != "POST") {
      methodNotAllowed(out, "POST");
      return true;
    }
    if (!sameSite(cfg, req, out) || !authorize(cfg, req, out) || !noQuery(req, out)) return true;
    control_->rollback("admin_rollback", [respond](const ReloadResult& r) {
      AdminReply reply;
      JsonWriter w;
      w.beginObject().boolean("success", r.ok).key("errors").beginArray();
      for (const auto& e : r.errors) w.str(e);
      w.endArray().endObject();
      reply.status = r.ok ? 200 : 409;
      reply.content_type = std::string(kJsonType);
      reply.body = w.take();
      reply.body.push_back('\n');
      respond(reply);
    });
    return false;
  }

  if (path == "/reload") {
    if (req.method != "POST") {
      methodNotAllowed(out, "POST");
      return true;
    }
    if (!sameSite(cfg, req, out) || !authorize(cfg, req, out)) return true;
    // The one parameter: dry_run=1 (or true). Anything else is refused, never
    // ignored (a dry run that reloads for real is the bug this prevents).
    if (!req.query.empty()) {
      if (req.query != "dry_run=1" && req.query != "dry_run=true") {
        std::string_view first = req.query.substr(0, req.query.find('&'));
        const std::string name = percentDecode(first.substr(0, first.find('=')));
        jsonError(out, 400, name == "dry_run" ? "dry_run takes 1 or true (one parameter only)"
                                               : "unknown query parameter \"" + name + "\" for /reload (allowed: dry_run=1)");
        return true;
      }
      control_->preflight([respond](const PreflightResult& r) {
        AdminReply reply;
        JsonWriter w;
        w.beginObject().boolean("dry_run", true).boolean("valid", r.valid).str("hash", r.hash);
        w.key("errors").beginArray();
        for (const auto& e : r.errors) w.str(e);
        w.endArray().key("changes").beginArray();
        for (const auto& c : r.changes) w.str(c);
        w.endArray().key("probes").beginArray();
        for (const auto& p : r.probes) {
          w.beginObject().str("pool", p.name).num("backends", static_cast<uint64_t>(p.backends));
          w.num("passing", static_cast<uint64_t>(p.passing)).key("failures").beginArray();
          for (const auto& f : p.failures) w.str(f);
          w.endArray().endObject();
        }
        w.endArray().key("summary").beginArray();
        for (const auto& p : r.probes) {
          std::string line = "pool " + p.name + ": " + std::to_string(p.passing) + " of " + std::to_string(p.backends) +
                             " would pass";
          if (!p.failures.empty()) line += ": " + p.failures.front() + (p.failures.size() > 1 ? ", ..." : "");
          w.str(line);
        }
        w.endArray().str("result", "nothing was changed").endObject();
        reply.status = r.valid ? 200 : 422;
        reply.content_type = std::string(kJsonType);
        reply.body = w.take();
        reply.body.push_back('\n');
        respond(reply);
      });
      return false;
    }
    control_->reload("admin", [respond](const ReloadResult& r) {
      AdminReply reply;
      JsonWriter w;
      w.beginObject().boolean("success", r.ok).key("errors").beginArray();
      for (const auto& e : r.errors) w.str(e);
      w.endArray().endObject();
      reply.status = r.ok ? 200 : 422;
      reply.content_type = std::string(kJsonType);
      reply.body = w.take();
      reply.body.push_back('\n');
      respond(reply);
    });
    return false;
  }

  // /pools/{pool}/backends/{address}/{action}
  constexpr std::string_view kPools = "/pools/";
  if (path.substr(0, kPools.size()) == kPools) {
    std::vector<std::string_view> seg;
    std::string_view rest = path.substr(kPools.size());
    for (;;) {
      const size_t slash = rest.find('/');
      seg.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    const bool shaped = seg.size() == 4 && !seg[0].empty() && seg[1] == "backends" && !seg[2].empty() &&
                        (seg[3] == "drain" || seg[3] == "disable" || seg[3] == "enable");
    if (shaped) {
      if (req.method != "POST") {
        methodNotAllowed(out, "POST");
      } else if (sameSite(cfg, req, out) && authorize(cfg, req, out)) {
        controlBackend(*rt, uv_now(control_->loop()), req, percentDecode(seg[0]), percentDecode(seg[2]), seg[3],
                       out);
      }
      return true;
    }
  }
  plainReply(out, 404, "404 Not Found: no admin endpoint at this path (see / for the status page)");
  return true;
}

}  // namespace ballast
