// YAML -> config::Config, with complete validation. Every error carries the
// file, line, column and the key path, so an operator can jump to it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace ballast::config {

struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown (e.g. file not readable)
  int column = 0;  // 1-based; 0 when unknown
  std::string path;     // key path, e.g. "pools[0].backends[1].address"
  std::string message;  // e.g. "expected host:port"

  // "FILE:LINE:COL: PATH: MESSAGE" (parts that are unknown are left out).
  std::string format() const;
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every error found, in document order
  bool ok() const { return errors.empty(); }
};

// Reads and validates a config file. Never throws.
LoadResult loadConfigFile(const std::string& path);

// Same, from a string; `file_name` is used in error messages.
LoadResult loadConfigString(const std::string& yaml, const std::string& file_name = "<string>");

}  // namespace ballast::config
