#include "lb/admin/backend_control.h"

#include <string>

#include "lb/base/json.h"
#include "lb/base/log.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

namespace ballast {

void controlBackend(const Runtime& rt, uint64_t now_ms, std::string_view client, std::string_view pool_name,
                    std::string_view backend_name, std::string_view action, AdminReply& out) {
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
  pool->setAdminState(*b, target, now_ms);
  // A backend out of rotation keeps no pooled connections: requests in
  // flight finish on theirs, nothing new is sent.
  if (target != AdminState::Enabled) b->idle().closeAll();
  const std::string new_state = b->stateName();

  const auto level = target == AdminState::Enabled ? LogLevel::Info : LogLevel::Warn;
  auto& j = log().eventLine(level, "admin_action");
  j.str("action", action).str("pool", pool->name()).str("backend", b->name());
  j.str("old", old_state).str("new", new_state);
  j.str("old_admin", toString(old_admin)).str("admin", toString(target));
  j.num("active_requests", static_cast<uint64_t>(b->activeRequests()));
  j.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
  j.str("client", client);
  log().emit(level);

  out.content_type = "application/json";
  JsonWriter w;
  w.beginObject();
  w.str("pool", pool->name()).str("backend", b->name()).str("action", action);
  w.str("old", old_state).str("new", new_state).str("admin", toString(target));
  w.num("active_requests", static_cast<uint64_t>(b->activeRequests()));
  w.num("available_in_pool", static_cast<uint64_t>(pool->availableCount()));
  w.endObject();
  out.body = w.take();
  out.body.push_back('\n');
}

}  // namespace ballast
