#include "lb/server/spawn.h"

extern char** environ;

namespace ballast {

int spawnInheriting(uv_loop_t* loop, uv_process_t* proc, const SpawnSpec& spec, uv_exit_cb on_exit) {
  std::vector<uv_stdio_container_t> stdio(3 + spec.fds.size());
  for (size_t i = 0; i < stdio.size(); ++i) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = i < 3 ? static_cast<int>(i) : spec.fds[i - 3];
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v = *e;
    bool dropped = false;
    for (std::string_view prefix : spec.drop) dropped = dropped || v.substr(0, prefix.size()) == prefix;
    if (!dropped) env.emplace_back(v);
  }
  env.insert(env.end(), spec.add.begin(), spec.add.end());
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.args;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  uv_process_options_t opts{};
  opts.file = spec.file.c_str();
  opts.args = argv.data();
  opts.env = envp.data();
  opts.stdio = stdio.data();
  opts.stdio_count = static_cast<int>(stdio.size());
  opts.flags = UV_PROCESS_DETACHED;
  opts.exit_cb = on_exit;
  return uv_spawn(loop, proc, &opts);
}

}  // namespace ballast
