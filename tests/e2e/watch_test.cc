// --watch: a change of the config file is picked up without a signal, both
// when the file is replaced by an atomic rename and when a Kubernetes-style
// ..data symlink is swapped; touching the file without changing it does not
// reload.
#include <catch2/catch.hpp>

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

std::string config(const std::string& backend) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: off, events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

uint16_t proxyPort(Process& p) {
  LineMatch m = p.requireLine(Stream::Stderr, R"re("event":"listening","kind":"proxy","address":"127\.0\.0\.1:(\d+)")re");
  return static_cast<uint16_t>(std::stoi(m.captures.back()));
}

std::string backendOf(uint16_t port) { return fetch(port, get("/")).headerOr("X-Backend"); }

}  // namespace

TEST_CASE("watch mode reloads on an atomic rename, not on a touch", "[reload]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string path = dir.file("ballast.yaml");
  writeFile(path, config(a.address()));
  Process p({BALLAST_BIN, "--config", path, "--watch"}, dir.path(), "ballast-watch");
  p.requireLine(Stream::Stderr, R"("event":"started")");
  p.requireLine(Stream::Stderr, R"("event":"watching")");
  uint16_t port = proxyPort(p);
  CHECK(backendOf(port) == "a");

  // Same bytes rewritten: no reload.
  writeFile(dir.file("tmp1.yaml"), config(a.address()));
  REQUIRE(::rename(dir.file("tmp1.yaml").c_str(), path.c_str()) == 0);
  // Then a real change by atomic rename: exactly one reload, by the watcher.
  writeFile(dir.file("tmp2.yaml"), config(b.address()));
  REQUIRE(::rename(dir.file("tmp2.yaml").c_str(), path.c_str()) == 0);
  LineMatch m = p.requireLine(Stream::Stderr, R"("event":"config_reloaded","trigger":"watch")", 5000ms);
  CHECK(backendOf(port) == "b");
  size_t reloads = 0;
  for (const auto& line : p.lines(Stream::Stderr)) reloads += line.find("\"config_reloaded\"") != std::string::npos;
  CHECK(reloads == 1);
}

TEST_CASE("watch mode follows a Kubernetes ConfigMap symlink swap", "[reload]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  // Layout of a ConfigMap volume: ballast.yaml -> ..data/ballast.yaml,
  // ..data -> ..v1; an update writes ..v2 and renames a new ..data symlink
  // over the old one.
  REQUIRE(::mkdir(dir.file("..v1").c_str(), 0755) == 0);
  writeFile(dir.file("..v1/ballast.yaml"), config(a.address()));
  REQUIRE(::symlink("..v1", dir.file("..data").c_str()) == 0);
  REQUIRE(::symlink("..data/ballast.yaml", dir.file("ballast.yaml").c_str()) == 0);
  Process p({BALLAST_BIN, "--config", dir.file("ballast.yaml"), "--watch"}, dir.path(), "ballast-watch");
  p.requireLine(Stream::Stderr, R"("event":"started")");
  p.requireLine(Stream::Stderr, R"("event":"watching")");
  uint16_t port = proxyPort(p);
  CHECK(backendOf(port) == "a");

  REQUIRE(::mkdir(dir.file("..v2").c_str(), 0755) == 0);
  writeFile(dir.file("..v2/ballast.yaml"), config(b.address()));
  REQUIRE(::symlink("..v2", dir.file("..data_tmp").c_str()) == 0);
  REQUIRE(::rename(dir.file("..data_tmp").c_str(), dir.file("..data").c_str()) == 0);
  p.requireLine(Stream::Stderr, R"("event":"config_reloaded","trigger":"watch")", 5000ms);
  CHECK(backendOf(port) == "b");
}
