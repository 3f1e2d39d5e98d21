// YAML -> config::Config, with complete validation. Every error carries the
// file, line, column and the key path, so an operator can jump to it.
#pragma once

#include <cstddef>
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

// Bounds on what the loader accepts, so that no file, however broken or
// large, makes a load run long or take much memory. A file over a bound
// gets one error naming the bound (and file:line:col and key path where
// there is one); nothing of it is loaded.
//
// Why these numbers: yaml-cpp 0.7 takes about 1 us and up to about 240
// bytes of memory per input byte while it tokenizes (a flow collection is
// held whole in its token queue), and about 460 bytes per node it builds.
// 4 MiB of input is ~80,000 backends written one per line, far above any
// hand-written config, and costs at most ~1 GB and ~5 s in the worst
// (pathological) case; the node cap keeps what is built under ~250 MB.
struct LoadLimits {
  // Config file (or string) size, checked before anything is parsed.
  size_t max_file_bytes = 4 * 1024 * 1024;
  // Nodes (scalars, lists, mappings, empty values) in the whole text,
  // counted before any is built.
  size_t max_nodes = 500'000;
  // Nodes added by aliases, each alias counting as a full copy of the node
  // it names (the loader walks it that way): stops "billion laughs".
  size_t max_alias_nodes = 100'000;
  // Lists and mappings inside each other. The schema needs 5.
  size_t max_depth = 64;
  // Length of one mapping key. Schema keys are under 32 bytes.
  size_t max_key_bytes = 256;
  // admin.token_file is read whole; a token is short.
  size_t max_token_file_bytes = 64 * 1024;
};

inline constexpr LoadLimits kDefaultLoadLimits{};

// Reads a config file's bytes into `text`, refusing (with one error) a file
// over limits.max_file_bytes without reading all of it. Never blocks on a
// FIFO without a writer.
std::optional<ConfigError> readConfigFile(const std::string& path, std::string& text,
                                          const LoadLimits& limits = kDefaultLoadLimits);

// Reads and validates a config file. Never throws.
LoadResult loadConfigFile(const std::string& path, const LoadLimits& limits = kDefaultLoadLimits);

// Same, from a string; `file_name` is used in error messages.
LoadResult loadConfigString(const std::string& yaml, const std::string& file_name = "<string>",
                            const LoadLimits& limits = kDefaultLoadLimits);

}  // namespace ballast::config
