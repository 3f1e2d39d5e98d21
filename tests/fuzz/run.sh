#!/usr/bin/env bash
# Long fuzzing campaigns: each target for MINUTES of CPU time at nice 19,
# at most FUZZ_JOBS (default 2) at a time, each on its own growing corpus
# (build/fuzz/campaign/<target>/corpus, seeded from tests/fuzz/corpus).
# A finding does not end a target's campaign: it is kept in
# campaign/<target>/artifacts and the fuzzer restarts for the time left.
#   tests/fuzz/run.sh MINUTES [target...]     (default: all five targets)
# Prints per target: CPU-minutes, executions, corpus size, the last
# cov/ft figures and the findings (crash, timeout, leak, oom files).
# Environment: FUZZ_BUILD_DIR (default build/fuzz), FUZZ_JOBS, FUZZ_WALL_MINUTES
# (wall-time cap per target, default 3 x MINUTES).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [[ $# -lt 1 ]]; then
  echo "usage: $0 MINUTES [request|response|chunked|config|admin ...]" >&2
  exit 2
fi
MINUTES="$1"
shift
TARGETS=("$@")
[[ ${#TARGETS[@]} -eq 0 ]] && TARGETS=(request response chunked config admin)
BUILD="${FUZZ_BUILD_DIR:-$ROOT/build/fuzz}"
JOBS="${FUZZ_JOBS:-2}"
WALL=$((${FUZZ_WALL_MINUTES:-$((MINUTES * 3))} * 60))
"$ROOT/tests/fuzz/build.sh" "$BUILD" >/dev/null || { echo "fuzz build failed" >&2; exit 1; }

# CPU time (user + system) of a process, in clock ticks; empty once gone.
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# One target's campaign: runs the fuzzer until it has used MINUTES of CPU
# (wall time is capped, FUZZ_WALL_MINUTES, for a machine busy with other work);
# writes campaign/<t>/summary.
campaign() {
  local t="$1" dir="$BUILD/campaign/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local hz budget used=0 execs=0 runs=0 start pid last n
  hz=$(getconf CLK_TCK)
  budget=$((MINUTES * 60 * hz))
  start=$(date +%s)
  : >"$dir/log"
  while [[ $used -lt $budget && $runs -lt 50 && $(($(date +%s) - start)) -lt $WALL ]]; do
    runs=$((runs + 1))
    nice -n 19 "$BUILD/bin/${t}_fuzzer" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$ROOT/tests/fuzz/corpus/$t" >"$dir/run.log" 2>&1 &
    pid=$!
    last=0
    while kill -0 "$pid" 2>/dev/null; do
      n=$(cpu_of "$pid")
      [[ -n "$n" ]] && last=$n
      if [[ $((used + last)) -ge $budget || $(($(date +%s) - start)) -ge $WALL ]]; then
        kill -INT "$pid" 2>/dev/null
        break
      fi
      sleep 2
    done
    wait "$pid" 2>/dev/null
    used=$((used + last))
    cat "$dir/run.log" >>"$dir/log"
    n=$(grep -E "^stat::number_of_executed_units" "$dir/run.log" | awk '{print $2}')
    if [[ -z "$n" ]]; then
      # A crash ends the run before the final stats: the last status line.
      n=$(grep -oE "^#[0-9]+" "$dir/run.log" | tail -1 | tr -d '#')
    fi
    execs=$((execs + ${n:-0}))
  done
  rm -f "$dir/run.log"
  local cpu_min cov corpus crashes timeouts leaks ooms
  cpu_min=$(awk -v u="$used" -v hz="$hz" 'BEGIN { printf "%.1f", u / hz / 60 }')
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$dir/log" | tail -1)
  corpus=$(ls "$dir/corpus" | wc -l)
  crashes=$(ls "$dir/artifacts" | grep -c '^crash-')
  timeouts=$(ls "$dir/artifacts" | grep -c '^timeout-')
  leaks=$(ls "$dir/artifacts" | grep -c '^leak-')
  ooms=$(ls "$dir/artifacts" | grep -c '^oom-')
  printf "%-9s %8s %12s %8s %-22s %7s %8s %5s %4s %5s\n" "$t" "$cpu_min" "$execs" "$corpus" "$cov" "$crashes" \
    "$timeouts" "$leaks" "$ooms" "$(($(date +%s) - start))" >"$dir/summary"
}

pids=()
for t in "${TARGETS[@]}"; do
  if [[ ! -x "$BUILD/bin/${t}_fuzzer" ]]; then
    echo "unknown target: $t" >&2
    exit 2
  fi
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do wait -n; done
  echo "$(date -u +%H:%M:%S) $t: ${MINUTES} CPU-min" >&2
  campaign "$t" &
  pids+=($!)
done
wait
printf "%-9s %8s %12s %8s %-22s %7s %8s %5s %4s %5s\n" target CPU-min execs corpus "last cov/ft" crashes timeouts leaks ooms wall-s
for t in "${TARGETS[@]}"; do cat "$BUILD/campaign/$t/summary"; done
for t in "${TARGETS[@]}"; do
  for f in "$BUILD/campaign/$t/artifacts"/*; do
    [[ -e "$f" ]] && echo "finding: $f (replay: $BUILD/bin/${t}_fuzzer $f)"
  done
done
exit 0
