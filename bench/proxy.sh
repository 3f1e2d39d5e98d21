#!/usr/bin/env bash
# Proxy throughput per core: ballast vs HAProxy vs nginx, one core each.
#
# One demo backend; wrk (-t1 -c64 -d10s by default, --latency) against
#   direct   the backend itself (moved to the proxy core for this run)
#   ballast  single event loop
#   haproxy  nbthread 1, http-reuse safe
#   nginx    worker_processes 1, upstream keepalive 64, HTTP/1.1 upstream
# each with access logs on (a JSON line per request to a file, the same
# fields for all three: bench/lib.sh) and off. The proxies' configs are
# bench/lib.sh's bench_start_proxy, shared with tls.sh and compare.sh.
# With >= 2 CPUs the proxy is pinned to PROXY_CPU (default 0) and wrk plus
# the demo backend to CLIENT_CPU (default 1). "CPU %" is the proxy's CPU use
# (all its processes) during the measured run; "req/s/core" = req/s divided
# by that share, i.e. what one fully busy core would do at this load.
#
# Environment (defaults in brackets):
#   BALLAST_BUILD [build]  build dir relative to the repo root (or absolute)
#   WRK_THREADS [1]  WRK_CONNS [64]  DURATION [10] (s)  WARMUP [1] (s)
#   PROXY_CPU [0]  CLIENT_CPU [1]  TARGETS ["ballast haproxy nginx"]
#   LOGS ["on off"]  REPEAT [1] (rounds over all targets, interleaved; the
#   table shows each target's median round by req/s)
#   BENCH_KEEP [0] (1 = keep configs, logs, wrk output)
# Other load on the machine skews everything: the load average at the start
# is printed with the table.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-64}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TARGETS=${TARGETS:-"ballast haproxy nginx"}
LOGS=${LOGS:-"on off"}
REPEAT=${REPEAT:-1}

bench_require_tools wrk haproxy nginx python3
bench_require_binaries

bench_pin_setup

# --- runs ---------------------------------------------------------------------
declare -A ROWS # name-logs -> newline-separated result rows, one per round
declare -A RPS  # name-logs -> req/s of the median round
ORDER=()

# measure NAME LOGS PORT PIDS...: warm up, then the measured wrk run.
measure() {
  local name=$1 logs=$2 port=$3
  shift 3
  local dir="$BENCH_TMP/$name-$logs/round$ROUND"
  mkdir -p "$dir"
  bench_wait_http "http://127.0.0.1:$port/" || bench_die "$name does not answer on $port"
  if ((WARMUP > 0)); then
    "${PIN_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WARMUP}s" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  fi
  local t0 t1 c0 c1
  c0=$(bench_cpu_ticks "$@")
  t0=$(bench_now_ms)
  "${PIN_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" >"$dir/wrk.out" 2>&1 ||
    bench_die "$name: wrk failed: $(cat "$dir/wrk.out")"
  t1=$(bench_now_ms)
  c1=$(bench_cpu_ticks "$@")
  local requests non2xx sockerr rps p50 p99 cpu per_core
  # shellcheck disable=SC2034 # requests: wrk's count, unused here
  read -r requests non2xx sockerr rps p50 p99 < <(bench_wrk_parse "$dir/wrk.out")
  cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", d / hz * 1000 / ms * 100 }')
  per_core=$(awk -v r="$rps" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", r / (c / 100); else print "-" }')
  [[ -n "${ROWS[$name-$logs]:-}" ]] || ORDER+=("$name-$logs")
  local bound=proxy
  ((cpu < 90)) && bound="client*"
  ROWS[$name-$logs]+="$name|$logs|$rps|$p50|$p99|$cpu|$per_core|$bound|$((non2xx + sockerr))"$'\n'
  bench_log "$name (logs $logs): $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU $cpu%, errors $((non2xx + sockerr))"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "$PIN_NOTE; load average $LOAD"
awk -v l="${LOAD%% *}" -v n="$NCPU" 'BEGIN { exit !(l > n / 2) }' &&
  bench_log "warning: load average ${LOAD%% *} on $NCPU CPUs; other processes will skew the numbers"
bench_start_demo backend 0 "$BACKEND_CPU"
BACKEND_PID=$DEMO_PID
BACKEND_PORT=$DEMO_PORT

for ROUND in $(seq "$REPEAT"); do
  ((REPEAT > 1)) && bench_log "round $ROUND of $REPEAT"
  # (a) the backend directly, on the proxy core (wrk alone on the client core).
  ((NCPU >= 2)) && taskset -pc "$PROXY_CPU" "$BACKEND_PID" >/dev/null
  measure direct - "$BACKEND_PORT" "$BACKEND_PID"
  ((NCPU >= 2)) && taskset -pc "$CLIENT_CPU" "$BACKEND_PID" >/dev/null

  for logs in $LOGS; do
    for target in $TARGETS; do
      bench_start_proxy "$target" "$BENCH_TMP/$target-$logs/round$ROUND" log="$logs"
      measure "$target" "$logs" "$PROXY_PORT" "$PROXY_PID"
      bench_stop "$PROXY_PID"
    done
  done
done

# The median round of each target (by req/s).
RESULTS=()
for key in "${ORDER[@]}"; do
  row=$(printf '%s' "${ROWS[$key]}" | sort -t'|' -k3,3n | awk -v n="$REPEAT" 'NR == int((n + 1) / 2)')
  RESULTS+=("$row")
  RPS[$key]=$(cut -d'|' -f3 <<<"$row")
done

ratio() {
  local a=${RPS[$1]:-} b=${RPS[$2]:-}
  [[ -n "$a" && -n "$b" ]] || {
    echo "-"
    return
  }
  awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo
echo "proxy throughput: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency (warm-up ${WARMUP}s), GET / from one demo backend"
echo "$PIN_NOTE; $NCPU CPUs; load average at start $LOAD"
((REPEAT > 1)) && echo "median of $REPEAT interleaved rounds"
echo
{
  echo "target|access log|req/s|p50 ms|p99 ms|proxy CPU %|req/s/core|bound|errors"
  printf '%s\n' "${RESULTS[@]}"
} | column -t -s '|' -o ' | '
echo
{
  echo "access log|ballast/haproxy|ballast/nginx"
  for logs in $LOGS; do
    echo "$logs|$(ratio "ballast-$logs" "haproxy-$logs")|$(ratio "ballast-$logs" "nginx-$logs")"
  done
} | column -t -s '|' -o ' | '
echo
echo "ratios are req/s ratios; direct = the demo backend alone on the proxy core"
echo "bound: proxy = the proxy core was >= 90% busy (req/s is the per-core figure);"
echo "client* = it was not: wrk/backend (or other load on the machine) limited the run,"
echo "compare req/s/core instead, which is only an estimate at partial load"
