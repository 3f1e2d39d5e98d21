// The e2e-tests main, plus a listener that prints the tail of every live
// child's output (ballast, demo-backend) when an assertion fails, so a failing
// end-to-end test shows what the processes said at that moment.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <iostream>

#include "tests/support/harness.h"

namespace {

class ProcessOutputOnFailure : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) {
      for (const auto* p : ballast::test::Process::live()) std::cerr << p->tail(20);
    }
    return true;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(ProcessOutputOnFailure)
