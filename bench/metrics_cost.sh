#!/usr/bin/env bash
# What recording metrics costs per request: the same proxy built with and
# without hot-path metrics (-DBALLAST_METRICS=OFF), measured two ways:
#   1. instructions per request under callgrind (repeatable on a busy machine):
#      (I(N2) - I(N1)) / (N2 - N1) over two runs with N1 and N2 keep-alive GETs,
#      so start-up and shutdown cancel out;
#   2. requests/s under wrk (noisy; proxy pinned to CPU 0 when there are 2 CPUs).
# Prints both and the ratio with/without.
#   bench/metrics_cost.sh            (builds build-nometrics/ if needed)
#   N1=2000 N2=6000 DURATION=5s bench/metrics_cost.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N1=${N1:-2000}
N2=${N2:-6000}
DURATION=${DURATION:-5s}
NOMETRICS_BUILD=$REPO_ROOT/build-nometrics

bench_require_tools valgrind wrk
bench_require_binaries
if [[ ! -x "$NOMETRICS_BUILD/bin/ballast" || "$NOMETRICS_BUILD/bin/ballast" -ot "$BALLAST_BIN" ]]; then
  bench_log "building the no-metrics variant in $NOMETRICS_BUILD"
  cmake -S "$REPO_ROOT" -B "$NOMETRICS_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBALLAST_METRICS=OFF >&2
  cmake --build "$NOMETRICS_BUILD" --target ballast >&2
fi

bench_start_demo metrics-cost 0
BACKEND_PORT=$DEMO_PORT


write_config() {
  cat >"$BENCH_TMP/metrics-cost.yaml" <<YAML
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { access: off }
pools:
  - name: web
    backends:
      - { address: "127.0.0.1:$BACKEND_PORT" }
YAML
}
write_config


rps() {
  local bin=$1 out="$BENCH_TMP/wrk.$RANDOM"
  local pin=()
  (($(nproc) >= 2)) && pin=(taskset -c 0)
  "${pin[@]}" "$bin" --config "$BENCH_TMP/metrics-cost.yaml" >"$out.stdout" 2>"$out.stderr" &
  local pid=$!
  bench_track "$pid"
  bench_wait_for "$out.stderr" '"event":"listening","kind":"proxy"' 10 || bench_die "ballast did not start"
  local port
  port=$(sed -n 's/.*"kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out.stderr" | head -1)
  local wpin=()
  (($(nproc) >= 2)) && wpin=(taskset -c 1)
  "${wpin[@]}" wrk -t1 -c32 -d"$DURATION" "http://127.0.0.1:$port/" >"$out.wrk" 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  bench_wrk_parse "$out.wrk" | awk '{print $4}'
}

bench_log "callgrind: $N1 and $N2 requests, with metrics"
w1=$(bench_callgrind_instructions "$BALLAST_BIN" "$BENCH_TMP/metrics-cost.yaml" "$N1")
w2=$(bench_callgrind_instructions "$BALLAST_BIN" "$BENCH_TMP/metrics-cost.yaml" "$N2")
bench_log "callgrind: $N1 and $N2 requests, without metrics"
o1=$(bench_callgrind_instructions "$NOMETRICS_BUILD/bin/ballast" "$BENCH_TMP/metrics-cost.yaml" "$N1")
o2=$(bench_callgrind_instructions "$NOMETRICS_BUILD/bin/ballast" "$BENCH_TMP/metrics-cost.yaml" "$N2")
bench_log "wrk: $DURATION each"
rps_with=$(rps "$BALLAST_BIN")
rps_without=$(rps "$NOMETRICS_BUILD/bin/ballast")

python3 - "$N1" "$N2" "$w1" "$w2" "$o1" "$o2" "$rps_with" "$rps_without" <<'PY'
import sys
n1, n2, w1, w2, o1, o2 = (int(x) for x in sys.argv[1:7])
rw, ro = float(sys.argv[7]), float(sys.argv[8])
per_with = (w2 - w1) / (n2 - n1)
per_without = (o2 - o1) / (n2 - n1)
print("metrics cost per request (one keep-alive client, 1 backend)")
print("variant          | instructions/request | wrk req/s")
print("with metrics     | %20.0f | %9.0f" % (per_with, rw))
print("without metrics  | %20.0f | %9.0f" % (per_without, ro))
print("ratio with/without: instructions %.3f, req/s %.3f" % (per_with / per_without, rw / ro if ro else 0))
PY
