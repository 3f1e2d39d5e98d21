// The applied configs, newest last (config `config_history`): the text of
// each config ballast ran, with when, its hash and what applied it (start,
// SIGHUP, admin, watch, guard_rollback, admin_rollback). Kept in a
// directory as HASH.yaml files plus an index (index.jsonl, one flat JSON
// object per entry), pruned to the newest `keep`. A write error is
// reported and never stops anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lb/admin/admin_control.h"

namespace ballast {

class ConfigHistory {
 public:
  // Reads the index in `dir` (creating the directory if needed).
  ConfigHistory(std::string dir, uint32_t keep);

  // Appends an entry (the text under HASH.yaml). Returns "" or an error.
  std::string record(const std::string& text, const std::string& hash, const std::string& trigger, double now);

  const std::vector<ConfigHistoryEntry>& entries() const { return entries_; }
  // The text of a config by hash; nullopt if it is not (any more) kept.
  std::optional<std::string> text(const std::string& hash) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string writeIndex() const;

  std::string dir_;
  uint32_t keep_;
  std::vector<ConfigHistoryEntry> entries_;
};

}  // namespace ballast
