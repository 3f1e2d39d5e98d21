#include "lb/server/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "lb/base/json.h"
#include "lb/base/json_read.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

namespace {

using Members = std::vector<std::pair<std::string, std::string>>;

const std::string* member(const Members& m, std::string_view name) {
  for (const auto& [k, v] : m) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool number(const std::string* s, double& out) {
  if (s == nullptr || s->empty()) return false;
  char* end = nullptr;
  out = std::strtod(s->c_str(), &end);
  return end == s->c_str() + s->size();
}

}  // namespace

std::string stateHeader(double now_unix) {
  JsonWriter w;
  w.beginObject().num("ballast_state", static_cast<uint64_t>(1)).dbl("written", now_unix, 3).endObject();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

std::string renderStateBody(const Runtime& rt) {
  std::string out;
  JsonWriter w;
  for (const auto& pool : rt.pools) {
    for (const auto& bp : pool->backends()) {
      const Backend& b = *bp;
      w.clear();
      w.beginObject().str("pool", pool->name()).str("backend", b.name()).str("health", toString(b.health()));
      w.str("admin", toString(b.adminState()));
      if (b.adminState() != AdminState::Enabled) {
        const AdminOverride& o = b.adminOverride();
        w.str("reason", o.reason).str("by", o.by).dbl("since", o.since_unix, 3);
        w.dbl("expires", o.expires_ms != 0 ? o.expires_unix : 0.0, 3);
      }
      w.endObject();
      out.append(w.view());
      out.push_back('\n');
    }
  }
  return out;
}

bool applyState(std::string_view text, const Runtime& rt, double now_unix, uint64_t now_ms, uint64_t max_age_ms,
                StateApplied& out, std::string& error) {
  out = StateApplied{};
  // Parse everything first: a file that is corrupt anywhere applies nothing.
  std::vector<Members> lines;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    Members m;
    std::string e;
    if (!parseFlatJsonObject(line, m, e)) {
      error = "line " + std::to_string(line_no) + ": " + e;
      return false;
    }
    lines.push_back(std::move(m));
  }
  double written = 0;
  if (lines.empty() || member(lines[0], "ballast_state") == nullptr || *member(lines[0], "ballast_state") != "1" ||
      !number(member(lines[0], "written"), written)) {
    error = "line 1: not a ballast state file (expected {\"ballast_state\":1,\"written\":...})";
    return false;
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const Members& m = lines[i];
    const std::string* pool = member(m, "pool");
    const std::string* backend = member(m, "backend");
    const std::string* health = member(m, "health");
    const std::string* admin = member(m, "admin");
    if (pool == nullptr || backend == nullptr || health == nullptr || admin == nullptr) {
      error = "line " + std::to_string(i + 1) + ": pool, backend, health and admin are required";
      return false;
    }
    if (*health != "healthy" && *health != "unhealthy" && *health != "unknown") {
      error = "line " + std::to_string(i + 1) + ": unknown health \"" + *health + "\"";
      return false;
    }
    if (*admin != "enabled" && *admin != "draining" && *admin != "disabled") {
      error = "line " + std::to_string(i + 1) + ": unknown admin state \"" + *admin + "\"";
      return false;
    }
  }
  out.age_seconds = now_unix - written;
  out.stale = max_age_ms == 0 || out.age_seconds < 0 || out.age_seconds * 1000.0 > static_cast<double>(max_age_ms);
  std::vector<Pool*> touched;
  for (size_t i = 1; i < lines.size(); ++i) {
    const Members& m = lines[i];
    Pool* pool = rt.findPool(*member(m, "pool"));
    if (pool != nullptr && std::find(touched.begin(), touched.end(), pool) == touched.end()) touched.push_back(pool);
    Backend* b = pool != nullptr ? pool->find(*member(m, "backend")) : nullptr;
    if (b == nullptr) {
      ++out.unknown;
      continue;
    }
    const std::string& health = *member(m, "health");
    if (!out.stale && health != "unknown" && pool->config().health_check) {
      b->setHealth(health == "healthy" ? HealthStatus::Healthy : HealthStatus::Unhealthy);
      ++out.health;
    }
    const std::string& admin = *member(m, "admin");
    if (admin == "enabled") continue;
    double since = 0, expires = 0;
    number(member(m, "since"), since);
    number(member(m, "expires"), expires);
    if (expires > 0 && expires <= now_unix) {
      ++out.expired;  // its time ran out while ballast was down
      continue;
    }
    pool->setAdminState(*b, admin == "draining" ? AdminState::Draining : AdminState::Disabled, now_ms);
    AdminOverride& o = b->adminOverride();
    const std::string* reason = member(m, "reason");
    const std::string* by = member(m, "by");
    o.reason = reason != nullptr ? *reason : std::string();
    o.by = by != nullptr ? *by : std::string();
    o.since_unix = since;
    // Loop time of `since` (it may be before this process started).
    const double ago_ms = (now_unix - since) * 1000.0;
    o.since_ms = ago_ms > 0 && static_cast<double>(now_ms) > ago_ms ? now_ms - static_cast<uint64_t>(ago_ms) : 1;
    o.expires_unix = expires;
    o.expires_ms = expires > 0 ? now_ms + static_cast<uint64_t>((expires - now_unix) * 1000.0) : 0;
    o.stale = false;
    ++out.overrides;
  }
  // Health was set on the backends directly: the pools recompute their
  // candidates from it.
  for (Pool* p : touched) p->refresh(now_ms);
  return true;
}

int writeFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return err;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return err;
  }
  return 0;
}

}  // namespace ballast
