// A fatal signal writes the signal and a stack trace to stderr before the
// process dies of that same signal.
#include <catch2/catch.hpp>

#include <signal.h>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("a fatal signal prints a stack trace and the process dies of it", "[lifecycle]") {
  for (int sig : {SIGSEGV, SIGABRT}) {
    INFO("signal " << sig);
    TempDir dir;
    DemoBackend a(dir, "a");
    Ballast lb(dir, webConfig({a.address()}));
    lb.process().signal(sig);
    auto code = lb.process().waitExit(5000ms);
    REQUIRE(code.has_value());
    CHECK(*code == 128 + sig);
    std::string err = lb.process().text(Stream::Stderr);
    CHECK(err.find("\"event\":\"fatal_signal\"") != std::string::npos);
    CHECK(err.find(sig == SIGSEGV ? "fatal signal SIGSEGV" : "fatal signal SIGABRT") != std::string::npos);
    // Frames name our own functions (the binary exports its symbols).
    CHECK(err.find("ballast6Server3run") != std::string::npos);
  }
}
