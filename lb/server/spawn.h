// Starting a ballast process that inherits descriptors: the new binary of a
// hot upgrade (hot_upgrade.h) and each worker of a supervisor
// (supervisor.h). stdin, stdout and stderr are shared; `fds[i]` becomes
// descriptor 3 + i in the child (childFd); the environment is ours without
// the variables that start with one of `drop`, plus `add`. The child runs in
// a session of its own (UV_PROCESS_DETACHED).
#pragma once

#include <uv.h>

#include <string>
#include <string_view>
#include <vector>

namespace ballast {

struct SpawnSpec {
  std::string file;
  std::vector<std::string> args;  // argv, argv[0] included
  std::vector<int> fds;
  std::vector<std::string_view> drop;  // environment prefixes ("BALLAST_INHERIT=")
  std::vector<std::string> add;        // "NAME=value"
};

// The child's number for fds[i].
inline int childFd(size_t i) { return static_cast<int>(3 + i); }

// uv_spawn of `spec` into `proc` (initialised by it; on failure it must
// still be closed). Returns 0 or a libuv error.
int spawnInheriting(uv_loop_t* loop, uv_process_t* proc, const SpawnSpec& spec, uv_exit_cb on_exit);

}  // namespace ballast
