// The operator state that survives restarts and hot upgrades (config
// `state_file`): every override with its reason, author and expiry, and
// each backend's health with the time it was written. On start it is read
// back: overrides apply at once (an expired one is dropped), health seeds
// the probes only when the file is younger than `state_max_age` (HAProxy's
// server-state-file, without its staleness trap). A missing file is a
// first start; a corrupt or unreadable one is logged and ignored, never
// fatal.
//
// Format: JSON lines of flat objects. The first line is the header
//   {"ballast_state":1,"written":<unix seconds>}
// then one line per backend:
//   {"pool":"web","backend":"127.0.0.1:9001","health":"healthy",
//    "admin":"disabled","reason":"INC-1","by":"alice","since":<unix>,"expires":<unix or 0>}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lb/proxy/runtime.h"

namespace ballast {

// The backend lines of `rt` (no header): what changed since the last
// write is seen by comparing these.
std::string renderStateBody(const Runtime& rt);
std::string stateHeader(double now_unix);

struct StateApplied {
  size_t overrides = 0;  // admin states restored
  size_t expired = 0;    // overrides whose `for` ran out while ballast was down
  size_t health = 0;     // backends seeded with their last health
  size_t unknown = 0;    // lines naming a pool or backend the config no longer has
  bool stale = false;    // older than max_age: health not used
  double age_seconds = 0;
};

// Applies a state file's text to `rt` (before the health checks start).
// Health is used only when the text is younger than `max_age_ms`; 0 = never
// (overrides only: a restarted worker).
// False with `error` set when the text is not a state file (then nothing
// was applied).
bool applyState(std::string_view text, const Runtime& rt, double now_unix, uint64_t now_ms, uint64_t max_age_ms,
                StateApplied& out, std::string& error);

// Writes `data` to `path` through a temporary file and rename(), so a
// reader never sees half a file. Returns 0 or an errno.
int writeFileAtomically(const std::string& path, std::string_view data);

}  // namespace ballast
