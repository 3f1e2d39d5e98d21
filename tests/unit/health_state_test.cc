// health::HealthState: rise/fall hysteresis over scripted probe sequences.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "health/health_state.h"

using ballast::config::HealthCheckConfig;
using ballast::health::HealthState;
using ballast::health::HealthStatus;
using ballast::health::HealthTransition;
using Initial = HealthCheckConfig::Initial;

namespace {

// One scripted run. Strings are read one character per probe:
//   results:     P = pass, F = fail
//   transitions: . = Unchanged, p = ChangePending, C = Changed
//   statuses:    H = Healthy, U = Unhealthy (after that probe)
struct Sequence {
  const char* name;
  uint32_t rise;
  uint32_t fall;
  Initial initial;
  std::string results;
  std::string transitions;
  std::string statuses;
};

char transitionChar(HealthTransition t) {
  switch (t) {
    case HealthTransition::Unchanged:
      return '.';
    case HealthTransition::ChangePending:
      return 'p';
    case HealthTransition::Changed:
      return 'C';
  }
  return '?';
}

char statusChar(HealthStatus s) {
  switch (s) {
    case HealthStatus::Unknown:
      return '?';
    case HealthStatus::Healthy:
      return 'H';
    case HealthStatus::Unhealthy:
      return 'U';
  }
  return '!';
}

}  // namespace

TEST_CASE("HealthState: scripted sequences", "[health]") {
  const std::vector<Sequence> sequences = {
      // The brief's example: failures below fall are pending, a pass resets them.
      {"rise 2 fall 3 from healthy: F F P F F F", 2, 3, Initial::Healthy,
       "FFPFFF", "pp.ppC", "HHHHHU"},
      {"flapping never changes state with rise 2 fall 2", 2, 2, Initial::Healthy,
       "PFPFPFPFPF", ".p.p.p.p.p", "HHHHHHHHHH"},
      {"flapping from unhealthy never recovers with rise 2", 2, 2, Initial::Unhealthy,
       "FPFPFPFP", ".p.p.p.p", "UUUUUUUU"},
      {"fall 1 flips on one failure", 2, 1, Initial::Healthy,
       "PFP", ".Cp", "HUU"},
      {"rise 1 flips on one pass", 1, 3, Initial::Unhealthy,
       "FPF", ".Cp", "UHH"},
      {"rise 1 fall 1 follows every result", 1, 1, Initial::Healthy,
       "FFPPF", "C.C.C", "UUHHU"},
      {"unknown: a first pass decides at once, despite rise 5", 5, 5, Initial::Unknown,
       "PPF", "C.p", "HHH"},
      {"unknown: a first failure decides at once, despite fall 5", 5, 5, Initial::Unknown,
       "FFP", "C.p", "UUU"},
      {"unknown then the normal thresholds apply", 2, 3, Initial::Unknown,
       "PFFFPP", "CppCpC", "HHHUUH"},
      {"unhealthy: fails reset the pass count", 3, 2, Initial::Unhealthy,
       "PPFPPP", "pp.ppC", "UUUUUH"},
      {"a full cycle down and up", 2, 3, Initial::Healthy,
       "PPFFFFFPPP", "..ppC..pC.", "HHHHUUUUHH"},
      {"initial unhealthy needs rise passes, not one", 3, 3, Initial::Unhealthy,
       "PPP", "ppC", "UUH"},
      {"initial healthy needs fall failures, not one", 3, 3, Initial::Healthy,
       "FFF", "ppC", "HHU"},
      {"after going down, a lone pass is undone by the next failure", 2, 2, Initial::Healthy,
       "FFPFP", "pCp.p", "HUUUU"},
  };
  for (const Sequence& seq : sequences) {
    DYNAMIC_SECTION(seq.name) {
      REQUIRE(seq.transitions.size() == seq.results.size());
      REQUIRE(seq.statuses.size() == seq.results.size());
      HealthState state(seq.rise, seq.fall, seq.initial);
      std::string transitions;
      std::string statuses;
      for (char r : seq.results) {
        transitions += transitionChar(state.onResult(r == 'P'));
        statuses += statusChar(state.status());
      }
      CHECK(transitions == seq.transitions);
      CHECK(statuses == seq.statuses);
    }
  }
}

TEST_CASE("HealthState: initial status", "[health]") {
  CHECK(HealthState(2, 3, Initial::Unknown).status() == HealthStatus::Unknown);
  CHECK(HealthState(2, 3, Initial::Healthy).status() == HealthStatus::Healthy);
  CHECK(HealthState(2, 3, Initial::Unhealthy).status() == HealthStatus::Unhealthy);
  const HealthState fresh(2, 3, Initial::Healthy);
  CHECK(fresh.consecutivePasses() == 0);
  CHECK(fresh.consecutiveFailures() == 0);
}

TEST_CASE("HealthState: counters count the current run, across changes", "[health]") {
  HealthState state(2, 2, Initial::Healthy);
  state.onResult(true);
  state.onResult(true);
  state.onResult(true);
  CHECK(state.consecutivePasses() == 3);
  CHECK(state.consecutiveFailures() == 0);

  CHECK(state.onResult(false) == HealthTransition::ChangePending);
  CHECK(state.consecutivePasses() == 0);
  CHECK(state.consecutiveFailures() == 1);

  CHECK(state.onResult(false) == HealthTransition::Changed);
  CHECK(state.status() == HealthStatus::Unhealthy);
  CHECK(state.consecutiveFailures() == 2);  // not reset by the change

  CHECK(state.onResult(false) == HealthTransition::Unchanged);
  CHECK(state.consecutiveFailures() == 3);

  CHECK(state.onResult(true) == HealthTransition::ChangePending);
  CHECK(state.consecutivePasses() == 1);
  CHECK(state.consecutiveFailures() == 0);
}

TEST_CASE("HealthState: set() forces a status and restarts rise/fall", "[health]") {
  SECTION("a pending fall is forgotten") {
    HealthState state(2, 3, Initial::Healthy);
    state.onResult(false);
    state.onResult(false);
    CHECK(state.consecutiveFailures() == 2);
    state.set(HealthStatus::Healthy);
    CHECK(state.status() == HealthStatus::Healthy);
    CHECK(state.consecutivePasses() == 0);
    CHECK(state.consecutiveFailures() == 0);
    // Without set() the next failure would have been the third.
    CHECK(state.onResult(false) == HealthTransition::ChangePending);
    CHECK(state.onResult(false) == HealthTransition::ChangePending);
    CHECK(state.onResult(false) == HealthTransition::Changed);
  }
  SECTION("forced unhealthy needs rise passes to come back") {
    HealthState state(2, 3, Initial::Healthy);
    state.onResult(true);
    state.set(HealthStatus::Unhealthy);
    CHECK(state.status() == HealthStatus::Unhealthy);
    CHECK(state.consecutivePasses() == 0);
    CHECK(state.onResult(true) == HealthTransition::ChangePending);
    CHECK(state.onResult(true) == HealthTransition::Changed);
    CHECK(state.status() == HealthStatus::Healthy);
  }
  SECTION("back to unknown: the next result decides at once") {
    HealthState state(5, 5, Initial::Healthy);
    state.set(HealthStatus::Unknown);
    CHECK(state.status() == HealthStatus::Unknown);
    CHECK(state.onResult(false) == HealthTransition::Changed);
    CHECK(state.status() == HealthStatus::Unhealthy);
  }
}

TEST_CASE("HealthState: rise or fall 0 behaves as 1", "[health]") {
  HealthState state(0, 0, Initial::Healthy);
  CHECK(state.onResult(false) == HealthTransition::Changed);
  CHECK(state.onResult(true) == HealthTransition::Changed);
}

TEST_CASE("HealthState: toString", "[health]") {
  using ballast::toString;
  CHECK(std::string(toString(HealthStatus::Unknown)) == "unknown");
  CHECK(std::string(toString(HealthStatus::Healthy)) == "healthy");
  CHECK(std::string(toString(HealthStatus::Unhealthy)) == "unhealthy");
}
