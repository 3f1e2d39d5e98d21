// Test certificates for unit tests: generated once per test process by
// tests/support/make_test_certs.sh into a temporary directory (removed at
// exit). Needs BALLAST_SOURCE_DIR defined by the build.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace ballast::test {

inline const std::string& certDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/ballast-tls-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    std::string d = tmpl;
    const std::string cmd = std::string("sh ") + BALLAST_SOURCE_DIR "/tests/support/make_test_certs.sh " + d;
    REQUIRE(std::system(cmd.c_str()) == 0);
    static struct Cleanup {
      std::string dir;
      ~Cleanup() {
        if (std::system(("rm -rf " + dir).c_str()) != 0) {
        }
      }
    } cleanup{d};
    return d;
  }();
  return dir;
}

}  // namespace ballast::test
