// ballast: flags, load the config, run the server. Nothing else lives here.
#include <sys/prctl.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

#include "config/config_loader.h"
#include "lb/base/crash.h"
#include "lb/base/file_hash.h"
#include "lb/base/json.h"
#include "lb/server/postmortem.h"
#include "lb/base/log.h"
#include "lb/server/check_limits.h"
#include "lb/server/drill_cli.h"
#include "lb/server/preflight.h"
#include "lb/server/server.h"
#include "lb/server/supervisor.h"
#include "lb/stats/stats.h"
#include "lb/tls/tls_contexts.h"

namespace {

constexpr const char* kUsage =
    "Usage: ballast --config FILE [--check [--probe] | --watch] [--zone ZONE]\n"
    "       ballast drill --admin HOST:PORT --pool POOL --backend ADDR --duration 60s [--token T]\n"
    "       ballast postmortem --journal FILE [--incident ID | --since TIME --until TIME]\n"
    "                          [--format markdown|json]\n"
    "       ballast --version | --help\n"
    "\n"
    "A Layer-7 HTTP load balancer.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   YAML configuration file (required to run or check)\n"
    "      --check         validate the configuration, print every error, and exit\n"
    "                      (0 = valid, 1 = invalid); bounded to 20 s of CPU and 2 GiB\n"
    "      --probe         with --check: also run one round of every pool's health\n"
    "                      probes and say how many backends would pass (exit 3 when a\n"
    "                      pool would have none)\n"
    "      --watch         reload when the configuration file changes (debounced;\n"
    "                      handles atomic renames and Kubernetes ConfigMap updates)\n"
    "      --zone ZONE     this instance's zone (replaces the config's `zone:`), for\n"
    "                      pools with zone_aware: true\n"
    "  -v, --version       print the version and exit\n"
    "  -h, --help          print this help and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT drain and stop (a second one stops at once),\n"
    "SIGHUP reloads the configuration, SIGUSR1 reopens log files,\n"
    "SIGUSR2 starts a hot binary upgrade.\n";

int usageError(const std::string& what) {
  std::fprintf(stderr, "ballast: %s (try 'ballast --help')\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "drill") return ballast::drillCommand(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "postmortem") return ballast::runPostmortem(argc - 2, argv + 2);
  std::string config_path;
  bool check = false;
  bool probe = false;
  bool watch = false;
  std::string zone;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version" || a == "-v") {
      std::printf("ballast %s\n", BALLAST_VERSION);
      return 0;
    }
    if (a == "--check") {
      check = true;
    } else if (a == "--probe") {
      probe = true;
    } else if (a == "--watch") {
      watch = true;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) return usageError("option '" + a + "' needs a file argument");
      config_path = argv[++i];
    } else if (a == "--zone" || a.rfind("--zone=", 0) == 0) {
      if (a == "--zone") {
        if (i + 1 >= argc) return usageError("option '--zone' needs a zone name");
        zone = argv[++i];
      } else {
        zone = a.substr(7);
      }
      const bool valid = !zone.empty() && zone.size() <= 64 && zone.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string::npos;
      if (!valid) return usageError("invalid zone '" + zone + "' (1 to 64 of A-Z a-z 0-9 _ . -)");
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (!a.empty() && a[0] == '-') {
      return usageError("unknown option '" + a + "'");
    } else {
      return usageError("unexpected argument '" + a + "'");
    }
  }
  if (config_path.empty()) return usageError("missing --config FILE");
  if (probe && !check) return usageError("--probe goes with --check");

  // --check is also what the server runs, as a child, before every reload:
  // whatever the file, it ends within its CPU limit and a bounded memory.
  if (check) ballast::applyCheckLimits();
  std::string text;
  ballast::config::LoadResult result;
  if (auto err = ballast::config::readConfigFile(config_path, text)) {
    result.errors.push_back(std::move(*err));
  } else {
    result = ballast::config::loadConfigString(text, config_path);
  }
  // Certificates, keys and CA files are read and checked with the config:
  // --check (and so every reload) refuses an expired or mismatched one.
  ballast::tls::TlsContexts tls;
  if (result.ok() && !ballast::tls::buildTlsContexts(*result.config, static_cast<int64_t>(std::time(nullptr)),
                                                     result.errors, tls)) {
    result.config.reset();
  }
  if (!result.ok()) {
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.format().c_str());
    std::fprintf(stderr, "ballast: %zu error%s in %s\n", result.errors.size(),
                 result.errors.size() == 1 ? "" : "s", config_path.c_str());
    return 1;
  }
  const std::string hash = ballast::hashBytes(text);
  if (check) {
    // The hash names the bytes checked (the server compares it with what it loads).
    std::printf("%s: configuration OK (hash %s)\n", config_path.c_str(), hash.c_str());
    if (!probe) return 0;
    // One round of probes, on a loop of its own; nothing else starts.
    uv_loop_t loop;
    uv_loop_init(&loop);
    int rc = 0;
    ballast::Preflight::start(&loop, *result.config, tls, {}, [&rc](std::vector<ballast::PreflightPool> pools) {
      for (const auto& p : pools) {
        std::printf("%s\n", ballast::preflightSummary(p).c_str());
        if (p.backends > 0 && p.passing == 0) rc = 3;
      }
      if (pools.empty()) std::printf("no pool has a health check: nothing to probe\n");
    });
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    std::fflush(stdout);
    return rc;
  }

  std::string err;
  if (!ballast::log().configure(ballast::logOptions(result.config->log), &err)) {
    std::fprintf(stderr, "ballast: %s: log: %s\n", config_path.c_str(), err.c_str());
    return 1;
  }
  if (!ballast::configureJournal(result.config->journal, &err)) {
    std::fprintf(stderr, "ballast: %s: journal: %s\n", config_path.c_str(), err.c_str());
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  ballast::installCrashHandler();
  // workers: N > 1 runs a supervisor, which starts this binary N times with
  // BALLAST_WORKER="index:channel-fd" (see lb/server/supervisor.h).
  int worker_index = -1;
  int worker_fd = -1;
  if (const char* w = std::getenv("BALLAST_WORKER")) {
    if (std::sscanf(w, "%d:%d", &worker_index, &worker_fd) != 2 || worker_index < 0 || worker_fd < 0) {
      std::fprintf(stderr, "ballast: BALLAST_WORKER=%s: expected INDEX:FD (set by the supervisor only)\n", w);
      return 2;
    }
    ::unsetenv("BALLAST_WORKER");
    // Started as /proc/self/exe: the kernel names the process "exe". ps,
    // top and pkill should see what they see for the supervisor.
    ::prctl(PR_SET_NAME, "ballast", 0, 0, 0);
  } else if (result.config->workers > 1) {
    ballast::Supervisor supervisor(*result.config, config_path, argc, argv);
    return supervisor.run();
  }
  ballast::processStats().config_hash = hash;
  ballast::processStats().last_reload_success = static_cast<double>(std::time(nullptr));
  ballast::Server server(*result.config, std::move(tls), zone);
  server.setConfigPath(config_path);
  server.setConfigText(text);
  server.setCommandLine(argc, argv);
  server.setWatch(watch);
  if (worker_index >= 0) server.setWorker(worker_index, worker_fd);
  return server.run();
}
