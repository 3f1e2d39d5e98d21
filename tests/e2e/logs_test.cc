// Log files: SIGUSR1 reopens them (logrotate), and a log that cannot be
// written never stops proxying.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdio.h>

#include <fstream>
#include <thread>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

size_t countLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// Polls until `path` has at least `n` lines (the access log is flushed once
// per loop turn, just after the response went out).
bool waitLines(const std::string& path, size_t n, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (countLines(path) >= n) return true;
    std::this_thread::sleep_for(10ms);
  }
  return countLines(path) >= n;
}

std::string fileLogConfig(const std::string& backend, const std::string& access) {
  return "listen: 127.0.0.1:0\n"
         "admin: { listen: 127.0.0.1:0 }\n"
         "log: { level: info, access: \"" + access + "\", events: stderr }\n"
         "pools:\n"
         "  - name: web\n"
         "    backends:\n"
         "      - { address: " + backend + " }\n";
}

}  // namespace

TEST_CASE("SIGUSR1 reopens the access log file (logrotate)", "[logs]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  std::string log = dir.file("access.log");
  Ballast lb(dir, fileLogConfig(a.address(), log));
  Client c(lb.port());
  for (int i = 0; i < 3; ++i) REQUIRE(c.roundTrip(get("/before")).status == 200);
  REQUIRE(waitLines(log, 3));

  // logrotate: rename, then signal. Until the signal, lines still go to the
  // renamed file (the open descriptor).
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  for (int i = 0; i < 2; ++i) REQUIRE(c.roundTrip(get("/rotated")).status == 200);
  REQUIRE(waitLines(log + ".1", 5));

  lb.process().signal(SIGUSR1);
  REQUIRE(lb.process().waitForLine(Stream::Stderr, R"("event":"logs_reopened")").has_value());
  for (int i = 0; i < 4; ++i) REQUIRE(c.roundTrip(get("/after")).status == 200);
  REQUIRE(waitLines(log, 4));
  CHECK(countLines(log) == 4);
  CHECK(countLines(log + ".1") == 5);
  std::ifstream in(log);
  std::string first;
  std::getline(in, first);
  CHECK(first.find("\"path\":\"/after\"") != std::string::npos);
}

TEST_CASE("an access log that cannot be written never stops proxying", "[logs]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  // Every write to /dev/full fails with ENOSPC.
  Ballast lb(dir, fileLogConfig(a.address(), "/dev/full"));
  Client c(lb.port());
  for (int i = 0; i < 200; ++i) {
    Response r = c.roundTrip(get("/x"));
    INFO(i);
    REQUIRE(r.status == 200);
  }
  // A fresh connection works too, and the process is still running.
  CHECK(fetch(lb.port(), get("/y")).status == 200);
  CHECK(lb.process().running());
}
