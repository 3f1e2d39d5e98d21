// The command line: --version, --help, usage errors, --check.
#include <catch2/catch.hpp>

#include <regex>

#include "tests/support/harness.h"

using namespace ballast::test;

namespace {

std::string regexEscape(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

// True if some line of `text` matches `re` entirely.
bool hasLine(const std::string& text, const std::string& re) {
  const std::regex rx(re);
  for (const auto& l : splitLines(text, true))
    if (std::regex_match(l, rx)) return true;
  return false;
}

size_t nonEmptyLines(const std::string& text) {
  size_t n = 0;
  for (const auto& l : splitLines(text, true))
    if (!l.empty()) ++n;
  return n;
}

}  // namespace

TEST_CASE("cli: --version prints the version and exits 0", "[cli]") {
  TempDir dir;
  CliResult r = runBallastCli(dir, {"--version"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(hasLine(r.out, R"(ballast \d+\.\d+\.\d+)"));
}

TEST_CASE("cli: --help prints usage and exits 0", "[cli]") {
  TempDir dir;
  CliResult r = runBallastCli(dir, {"--help"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK((r.out + r.err).find("--config") != std::string::npos);
}

TEST_CASE("cli: an unknown flag is a usage error: exit 2 and a one-line hint", "[cli]") {
  TempDir dir;
  CliResult r = runBallastCli(dir, {"--no-such-flag"});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(nonEmptyLines(r.err) == 1);
}

TEST_CASE("cli: running without --config is a usage error (exit 2)", "[cli]") {
  TempDir dir;
  CliResult none = runBallastCli(dir, {});
  INFO("no args: stdout: " << none.out << "\nstderr: " << none.err);
  CHECK(none.exit_code == 2);
  CHECK(nonEmptyLines(none.err) >= 1);

  CliResult check = runBallastCli(dir, {"--check"});
  INFO("--check: stdout: " << check.out << "\nstderr: " << check.err);
  CHECK(check.exit_code == 2);
}

TEST_CASE("cli: --check accepts a valid config with exit 0", "[cli][check]") {
  TempDir dir;
  const std::string path = dir.file("ok.yaml");
  // Nothing listens on the backend: --check must not need it.
  writeFile(path, configYaml({PoolSpec{"web", {{"127.0.0.1:9", 2}}}},
                             "timeouts: { connect: 2s, client_header: 10s }\n"
                             "limits: { max_connections: 100, max_body_bytes: 0 }\n"
                             "routes:\n  - { match: { host: \"*.example.com\", path_prefix: /v1 }, pool: web }\n"
                             "  - { pool: web }\n"));
  CliResult r = runBallastCli(dir, {"--check", "--config", path});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("cli: --check reports every error with file:line:col and key path, exit 1", "[cli][check]") {
  TempDir dir;
  const std::string path = dir.file("bad.yaml");
  writeFile(path,
            "listen: 127.0.0.1:0\n"                               // 1
            "admin: { listen: 127.0.0.1:0 }\n"                    // 2
            "bogus: 1\n"                                          // 3: unknown key
            "pools:\n"                                            // 4
            "  - name: web\n"                                     // 5
            "    backends:\n"                                     // 6
            "      - { address: 127.0.0.1:99999, weight: 1 }\n"); // 7: port out of range
  CliResult r = runBallastCli(dir, {"--check", "--config", path});
  const std::string all = r.out + r.err;
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  const std::string file = regexEscape(path);
  CHECK(hasLine(all, file + R"(:3:\d+: bogus: .+)"));
  CHECK(hasLine(all, file + R"(:7:\d+: pools\[0\]\.backends\[0\]\.address: .+)"));
}

TEST_CASE("cli: --check --probe runs one round of health probes and says how many backends would pass", "[cli][dry_run]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DeadPort dead;
  auto write = [&](const std::string& name, const std::vector<std::string>& backends) {
    std::string y = "listen: 127.0.0.1:0\npools:\n  - name: web\n    health_check: { interval: 1s, timeout: 500ms }\n"
                    "    backends:\n";
    for (const auto& b : backends) y += "      - { address: " + b + " }\n";
    writeFile(dir.file(name), y);
    return dir.file(name);
  };
  CliResult some = runBallastCli(dir, {"--check", "--probe", "--config", write("some.yaml", {a.address(), dead.address()})});
  INFO(some.out << some.err);
  CHECK(some.exit_code == 0);
  CHECK(some.out.find("pool web: 1 of 2 would pass: " + dead.address() + ": first probe failed: connection refused") !=
        std::string::npos);
  CliResult none = runBallastCli(dir, {"--check", "--probe", "--config", write("none.yaml", {dead.address()})});
  CHECK(none.exit_code == 3);
  CHECK(none.out.find("pool web: 0 of 1 would pass") != std::string::npos);
  CliResult alone = runBallastCli(dir, {"--probe", "--config", write("x.yaml", {a.address()})});
  CHECK(alone.exit_code == 2);
  CHECK(alone.err.find("--probe goes with --check") != std::string::npos);
}
