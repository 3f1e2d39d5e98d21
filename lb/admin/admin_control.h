// The narrow interface through which the admin API reaches the process it
// administers (the server implements it; a loop test implements a fake).
// Everything the admin reads or changes goes through here, so nothing in
// lb/admin knows the server.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/health_checker.h"
#include "lb/proxy/runtime.h"
#include "lb/stats/incidents.h"
#include "lb/upstream/dns_watcher.h"

namespace ballast {

struct ReloadResult {
  bool ok = false;
  std::vector<std::string> errors;  // each "FILE:LINE:COL: PATH: MESSAGE" or a sentence
};

// One applied config (config_history).
struct ConfigHistoryEntry {
  double time = 0;  // unix seconds
  std::string hash;
  std::string trigger;
};

// One pool of a reload preflight (dry run).
struct PreflightPool {
  std::string name;
  size_t backends = 0;
  size_t passing = 0;
  std::vector<std::string> failures;  // "127.0.0.1:9001: status 404"
};

// POST /reload?dry_run=1: what a reload would do, with nothing changed.
struct PreflightResult {
  bool valid = false;
  std::vector<std::string> errors;   // as ReloadResult's
  std::string hash;                  // of the file checked
  std::vector<std::string> changes;  // "pool web: backend 127.0.0.1:9003 added", ...
  std::vector<PreflightPool> probes; // new or changed pools with a health check
};

struct ListenerInfo {
  std::string bound;       // "127.0.0.1:8080" (port 0 resolved)
  std::string configured;  // as written in the config
};

class AdminControl {
 public:
  virtual ~AdminControl() = default;
  virtual uv_loop_t* loop() = 0;
  // The config in force (pools, backends, router, admin settings).
  virtual std::shared_ptr<Runtime> runtime() const = 0;
  virtual const std::vector<std::unique_ptr<health::HealthChecker>>& checkers() const = 0;
  // The DNS discovery of each pool that has one (test doubles: none).
  virtual const std::vector<DnsWatcherPtr>& discovery() const {
    static const std::vector<DnsWatcherPtr> none;
    return none;
  }
  virtual std::vector<ListenerInfo> listeners() const = 0;
  // Listeners bound and every pool's first probe round done; not draining.
  virtual bool ready() const = 0;
  virtual bool stopping() const = 0;
  // Wall-clock start (Unix seconds) and the loop time then (ms).
  virtual double startTime() const = 0;
  virtual uint64_t startedMs() const = 0;
  // Re-reads and applies the config file, off the loop; `done` (may be
  // empty) gets the result later, on the loop. May retire the admin
  // listener this request arrived on: the request is still answered.
  using ReloadDone = std::function<void(const ReloadResult&)>;
  virtual void reload(std::string_view trigger, ReloadDone done) = 0;
  // Goes back to the previously applied config (kept in memory; the file
  // is not read). Test doubles without one answer that there is none.
  // Validates the config file and probes what it adds or changes; applies
  // nothing. Test doubles without one say so.
  using PreflightDone = std::function<void(const PreflightResult&)>;
  virtual void preflight(PreflightDone done) {
    PreflightResult r;
    r.errors.push_back("dry runs are not available");
    if (done) done(r);
  }
  // config_history (empty, and nullopt, when not configured).
  virtual std::vector<ConfigHistoryEntry> configHistory() const { return {}; }
  // Open and recent incidents (null in test doubles without a tracker).
  virtual const IncidentTracker* incidents() const { return nullptr; }
  // POST /incidents/{id}/ack (test doubles without a tracker: not found).
  virtual IncidentTracker::AckResult ackIncident(std::string_view /*id*/, std::string_view /*by*/,
                                                 std::string_view /*note*/) {
    return IncidentTracker::AckResult::NotFound;
  }
  virtual std::optional<std::string> configText(const std::string& /*hash*/) const { return std::nullopt; }
  virtual void rollback(std::string_view /*trigger*/, ReloadDone done) {
    ReloadResult r;
    r.errors.push_back("no previous configuration to roll back to");
    if (done) done(r);
  }
};

}  // namespace ballast
