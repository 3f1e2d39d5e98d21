// Pick cost per balancing policy (issue 11), through the Pool as the proxy
// calls it: one pick and its release per iteration, with 10, 100 and 10,000
// backends (all available, equal weights except every fourth at weight 3).
// consistent_hash gets a different key each iteration.
//
//   cmake --build build --target balancer-bench && build/bin/balancer-bench
#include <benchmark/benchmark.h>

#include <string>

#include "config/config.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/balancer.h"
#include "lb/upstream/pool.h"

namespace {

using ballast::config::Balance;

ballast::config::PoolConfig poolConfig(Balance balance, int n, bool bounded) {
  ballast::config::PoolConfig pc;
  pc.name = "bench";
  pc.balance = balance;
  if (bounded) pc.bounded_load = 1.25;
  for (int i = 0; i < n; ++i) {
    ballast::config::BackendConfig bc;
    bc.address.text = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                      std::to_string(i % 256) + ":80";
    bc.weight = i % 4 == 0 ? 3 : 1;
    pc.backends.push_back(bc);
  }
  return pc;
}

void pickAndRelease(benchmark::State& state, Balance balance, bool bounded = false) {
  ballast::Pool pool(poolConfig(balance, static_cast<int>(state.range(0)), bounded));
  ballast::TriedSet none;
  ballast::PickRequest r;
  r.tried = &none;
  r.has_hash = balance == Balance::ConsistentHash;
  uint64_t key = 0;
  for (auto _ : state) {
    r.hash = ballast::mix64(++key);
    ballast::PickResult res = pool.pick(r);
    benchmark::DoNotOptimize(res.backend);
    pool.release(*res.backend, ballast::AttemptOutcome::Success);
  }
}

void BM_RoundRobin(benchmark::State& s) { pickAndRelease(s, Balance::RoundRobin); }
void BM_LeastRequest(benchmark::State& s) { pickAndRelease(s, Balance::LeastRequest); }
void BM_P2C(benchmark::State& s) { pickAndRelease(s, Balance::P2C); }
void BM_Random(benchmark::State& s) { pickAndRelease(s, Balance::Random); }
void BM_ConsistentHash(benchmark::State& s) { pickAndRelease(s, Balance::ConsistentHash); }
void BM_ConsistentHashBounded(benchmark::State& s) { pickAndRelease(s, Balance::ConsistentHash, true); }

}  // namespace

BENCHMARK(BM_RoundRobin)->Arg(10)->Arg(100)->Arg(10000);
BENCHMARK(BM_LeastRequest)->Arg(10)->Arg(100)->Arg(10000);
BENCHMARK(BM_P2C)->Arg(10)->Arg(100)->Arg(10000);
BENCHMARK(BM_Random)->Arg(10)->Arg(100)->Arg(10000);
BENCHMARK(BM_ConsistentHash)->Arg(10)->Arg(100)->Arg(10000);
BENCHMARK(BM_ConsistentHashBounded)->Arg(10)->Arg(100)->Arg(10000);

BENCHMARK_MAIN();
