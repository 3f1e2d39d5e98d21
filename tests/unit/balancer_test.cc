// Smooth weighted round robin (RoundRobinBalancer) and the Pool that owns it.
// No loop: picks are pure functions of the weights, the candidates and the
// per-request TriedSet. (The other policies: policies_test.cc.)

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/balancer.h"
#include "lb/upstream/balancer_round_robin.h"
#include "lb/upstream/pool.h"

using ballast::Backend;
using ballast::BackendPtr;
using ballast::Pool;
using ballast::RoundRobinBalancer;
using ballast::TriedSet;
using ballast::PickMode;
using ballast::AttemptOutcome;
using ballast::AdminState;
namespace config = ballast::config;

namespace {

config::BackendConfig backendConfig(const std::string& text, uint32_t weight) {
  config::BackendConfig bc;
  bc.address.text = text;
  bc.weight = weight;
  return bc;
}

// Backends named "a", "b", ... (the name is Address::text) with the given
// weights, plus a balancer over them. Owns both; the balancer borrows.
// Availability changes go through rebuild() (the pool's refresh does that
// in the real thing): candidates are the available backends.
struct Fixture {
  std::vector<BackendPtr> backends;
  std::unique_ptr<RoundRobinBalancer> balancer;

  explicit Fixture(const std::vector<uint32_t>& weights) {
    for (size_t i = 0; i < weights.size(); ++i) {
      std::string name(1, static_cast<char>('a' + i));
      backends.push_back(std::make_shared<Backend>("pool", backendConfig(name, weights[i])));
    }
    balancer = std::make_unique<RoundRobinBalancer>();
    rebuild();
  }
  void rebuild() {
    std::vector<ballast::Candidate> c;
    for (const auto& b : backends) {
      if (b->available()) c.push_back(ballast::Candidate{b.get(), b->weight(), 1000});
    }
    balancer->rebuild(c);
  }
  void setAvailable(char name, bool v) {
    (*this)[name].setAvailable(v);
    rebuild();
  }
  Backend& operator[](char name) { return *backends.at(static_cast<size_t>(name - 'a')); }
  Backend* pick(const TriedSet& tried) {
    ballast::PickRequest r;
    r.tried = &tried;
    return balancer->pick(r);
  }

  // Names of `n` successive picks with an empty TriedSet, "-" for nullptr.
  std::string picks(size_t n, const TriedSet& tried = TriedSet()) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
      Backend* b = pick(tried);
      out += b ? b->name() : std::string("-");
    }
    return out;
  }
};

std::map<std::string, int> countPicks(Fixture& f, int n) {
  std::map<std::string, int> counts;
  TriedSet none;
  for (int i = 0; i < n; ++i) {
    Backend* b = f.pick(none);
    counts[b ? b->name() : "-"]++;
  }
  return counts;
}

}  // namespace

TEST_CASE("smooth WRR: exact pick sequences from a fresh balancer", "[balancer]") {
  struct Row {
    std::vector<uint32_t> weights;
    std::string expected;  // several full cycles
  };
  const std::vector<Row> rows = {
      // The nginx reference sequence, three full cycles: the state returns
      // to all-zero after each cycle of sum(weights) picks.
      {{5, 1, 1}, "aabacaa" "aabacaa" "aabacaa"},
      {{1, 1}, "abababab"},
      {{1, 1, 1}, "abcabcabc"},
      {{3, 3}, "abababab"},  // equal weights alternate whatever their value
      {{2, 1}, "aba" "aba" "aba"},
      {{1, 2}, "bab" "bab"},
      {{4, 2, 1}, "abacaba" "abacaba"},
      {{1}, "aaaa"},
      {{1000, 1}, std::string(500, 'a') + "b" + std::string(500, 'a')},
  };
  for (const auto& row : rows) {
    INFO("weights " << Catch::Detail::stringify(row.weights));
    Fixture f(row.weights);
    CHECK(f.picks(row.expected.size()) == row.expected);
  }
}

TEST_CASE("smooth WRR: long-run distribution equals the weights", "[balancer]") {
  const std::vector<std::vector<uint32_t>> rows = {{5, 1, 1}, {7, 3}, {1, 2, 3, 4}, {10, 10, 1}};
  for (const auto& weights : rows) {
    INFO("weights " << Catch::Detail::stringify(weights));
    Fixture f(weights);
    uint32_t total = 0;
    for (uint32_t w : weights) total += w;
    const int cycles = 50;
    auto counts = countPicks(f, static_cast<int>(total) * cycles);
    for (size_t i = 0; i < weights.size(); ++i) {
      std::string name(1, static_cast<char>('a' + i));
      CHECK(counts[name] == static_cast<int>(weights[i]) * cycles);
    }
    CHECK(counts.count("-") == 0);
  }
}

TEST_CASE("smooth WRR: unavailable backends are skipped", "[balancer]") {
  SECTION("5/1/1 with b down from the start: only a and c, 5:1") {
    Fixture f({5, 1, 1});
    f.setAvailable('b', false);
    auto counts = countPicks(f, 6 * 20);
    CHECK(counts["a"] == 100);
    CHECK(counts["c"] == 20);
    CHECK(counts.count("b") == 0);
  }
  SECTION("5/1/1 with a down from the start: b and c alternate") {
    Fixture f({5, 1, 1});
    f.setAvailable('a', false);
    CHECK(f.picks(6) == "bcbcbc");
  }
  SECTION("a backend going down mid-cycle: the rest stays proportional") {
    Fixture f({5, 1, 1});
    CHECK(f.picks(3) == "aab");  // leave the cycle midway
    f.setAvailable('a', false);
    // The cycle is laid out again over b and c; the position carries over.
    CHECK(f.picks(6) == "cbcbcb");
    auto counts = countPicks(f, 2000);
    CHECK(counts.count("a") == 0);
    CHECK(counts["b"] + counts["c"] == 2000);
    CHECK(counts["b"] == 1000);
    CHECK(counts["c"] == 1000);
  }
  SECTION("a backend coming back is picked again in proportion") {
    Fixture f({2, 1, 1});
    f.setAvailable('c', false);
    (void)countPicks(f, 30);
    f.setAvailable('c', true);
    auto counts = countPicks(f, 400);
    // Proportional 2:1:1 over the long run.
    CHECK(std::abs(counts["a"] - 200) <= 2);
    CHECK(std::abs(counts["b"] - 100) <= 2);
    CHECK(std::abs(counts["c"] - 100) <= 2);
  }
  SECTION("all unavailable: nullptr, repeatedly") {
    Fixture f({5, 1, 1});
    for (char c : {'a', 'b', 'c'}) f.setAvailable(c, false);
    CHECK(f.picks(5) == "-----");
  }
  SECTION("the only available one is always picked") {
    Fixture f({5, 1, 1});
    f.setAvailable('a', false);
    f.setAvailable('b', false);
    CHECK(f.picks(7) == "ccccccc");
  }
}

TEST_CASE("smooth WRR: TriedSet excludes backends a request already tried", "[balancer]") {
  SECTION("a retry never returns a tried backend") {
    Fixture f({5, 1, 1});
    for (int i = 0; i < 50; ++i) {
      TriedSet tried;
      Backend* first = f.pick(tried);
      REQUIRE(first != nullptr);
      tried.add(first);
      Backend* second = f.pick(tried);
      REQUIRE(second != nullptr);
      CHECK(second != first);
      tried.add(second);
      Backend* third = f.pick(tried);
      REQUIRE(third != nullptr);
      CHECK(third != first);
      CHECK(third != second);
      tried.add(third);
      CHECK(f.pick(tried) == nullptr);
    }
  }
  SECTION("excluding a gives b and c alternately") {
    Fixture f({5, 1, 1});
    TriedSet tried;
    tried.add(&f['a']);
    CHECK(f.picks(6, tried) == "bcbcbc");
  }
  SECTION("tried and unavailable combine") {
    Fixture f({1, 1, 1});
    f.setAvailable('b', false);
    TriedSet tried;
    tried.add(&f['a']);
    CHECK(f.picks(3, tried) == "ccc");
    tried.add(&f['c']);
    CHECK(f.picks(2, tried) == "--");
  }
}

TEST_CASE("TriedSet: add is idempotent and bounded by kMax", "[balancer]") {
  std::vector<int> storage(TriedSet::kMax + 2);
  auto ptr = [&](size_t i) { return reinterpret_cast<const Backend*>(&storage[i]); };
  TriedSet t;
  CHECK(t.size() == 0);
  CHECK_FALSE(t.contains(ptr(0)));
  t.add(ptr(0));
  t.add(ptr(0));
  CHECK(t.size() == 1);
  CHECK(t.contains(ptr(0)));
  for (size_t i = 1; i < storage.size(); ++i) t.add(ptr(i));
  CHECK(t.size() == TriedSet::kMax);
  CHECK(t.contains(ptr(TriedSet::kMax - 1)));
  CHECK_FALSE(t.contains(ptr(TriedSet::kMax)));  // dropped, not overflowed
  t.clear();
  CHECK(t.size() == 0);
  CHECK_FALSE(t.contains(ptr(0)));
}

TEST_CASE("Pool: builds backends from config and picks through its balancer", "[balancer]") {
  config::PoolConfig pc;
  pc.name = "web";
  pc.backends = {backendConfig("127.0.0.1:9001", 5), backendConfig("127.0.0.1:9002", 1),
                 backendConfig("127.0.0.1:9003", 1)};
  Pool pool(pc);
  CHECK(pool.name() == "web");
  REQUIRE(pool.backends().size() == 3);
  CHECK(pool.backends()[0]->name() == "127.0.0.1:9001");
  CHECK(pool.backends()[0]->poolName() == "web");
  CHECK(pool.backends()[0]->weight() == 5);
  CHECK(pool.backends()[0]->available());

  std::string seq;
  TriedSet none;
  for (int i = 0; i < 7; ++i) {
    Backend* b = pool.pick(none);
    REQUIRE(b != nullptr);
    seq += b->name().back();  // last digit: 1, 2 or 3
  }
  CHECK(seq == "1121311");

  for (const auto& b : pool.backends()) b->setAvailable(false);
  pool.refresh(0);
  CHECK(pool.pick(none) == nullptr);
}

TEST_CASE("Pool: a pick counts a request on the backend until its release", "[balancer]") {
  config::PoolConfig pc;
  pc.name = "web";
  pc.backends = {backendConfig("127.0.0.1:9001", 1), backendConfig("127.0.0.1:9002", 1)};
  Pool pool(pc);
  TriedSet none;
  Backend* a = pool.pick(none);
  Backend* b = pool.pick(none);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a != b);
  CHECK(a->activeRequests() == 1);
  CHECK(b->activeRequests() == 1);
  Backend* a2 = pool.pick(none);
  CHECK(a2 == a);
  CHECK(a->activeRequests() == 2);
  pool.release(*a, AttemptOutcome::Success);
  pool.release(*a, AttemptOutcome::Failure);
  pool.release(*b, AttemptOutcome::Aborted);
  CHECK(a->activeRequests() == 0);
  CHECK(b->activeRequests() == 0);
  // A draining backend with requests in flight shows as "draining", then "drained".
  pool.setAdminState(*b, AdminState::Draining, 0);
  Backend* c = pool.pick(none);
  CHECK(c == a);  // b takes no new requests
  pool.release(*c, AttemptOutcome::Success);
  CHECK(std::string(b->stateName()) == "drained");
}
