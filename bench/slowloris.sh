#!/usr/bin/env bash
# Slowloris: what 1,000 slow request heads cost normal clients, ballast vs
# HAProxy, same scenario.
#
# One demo backend. For each proxy:
#   1. wrk -t1 -c16 --latency for DURATION s: normal clients, no attack
#   2. ATTACKERS slowloris connections are opened (bench/slowloris_attacker.py:
#      a request head that never ends, one byte per connection per second;
#      a connection the proxy closes is reopened at once), and the same wrk
#      run is repeated under the attack.
# Both proxies cut a head that is not complete within HEAD_TIMEOUT (ballast
# timeouts.client_header, HAProxy timeout http-request), answering 408. The
# slow connections are opened together, so they are cut together: a wave of
# ATTACKERS 408s and as many reconnects every HEAD_TIMEOUT s. The attack
# starts HEAD_TIMEOUT - DURATION/2 s (at least 1 s) before the measured run,
# so each run under attack holds the first wave in its middle, whichever
# proxy it is (the run would otherwise hold a wave or not depending on how
# fast the connections were established).
# Reported per proxy and round: normal clients' p50/p99 and req/s without
# and with the attack, the p99 ratio (with / without; the goal is <= 2), the
# slowest request under attack, the proxy's CPU use, the attacker's
# connections still open when the measured run ended ("held") and how many
# the proxy closed during it.
#
# With >= 2 CPUs the proxy runs on PROXY_CPU (default 0); wrk, the demo
# backend and the attacker share CLIENT_CPU (default 1), as in proxy.sh.
# The attacker needs one descriptor per connection: the script raises the
# shell's soft open-file limit (ulimit -n) to ATTACKERS + 512 when it is
# lower (possible up to the hard limit; beyond that it stops and says how
# to raise it).
#
# Environment (defaults in brackets):
#   BALLAST_BUILD [build]  build dir relative to the repo root (or absolute)
#   ATTACKERS [1000]  TRICKLE [1] (seconds between two bytes of a slow head)
#   HEAD_TIMEOUT [10] (s)  DURATION [10] (s per wrk run)  WARMUP [1] (s)
#   ROUNDS [2] (rounds over both proxies, order alternating each round; the
#   summary gives each proxy's median)  WRK_THREADS [1]  WRK_CONNS [16]
#   PROXY_CPU [0]  CLIENT_CPU [1]  TARGETS ["ballast haproxy"]
#   BENCH_KEEP [0] (1 = keep configs, logs and wrk output)
# About 30 s per proxy and round: ~2 min with the defaults. Timings are noisy
# on a shared machine: compare the proxies within one run, over rounds.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ATTACKERS=${ATTACKERS:-1000}
TRICKLE=${TRICKLE:-1}
HEAD_TIMEOUT=${HEAD_TIMEOUT:-10}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-2}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-16}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TARGETS=${TARGETS:-"ballast haproxy"}

((ATTACKERS >= 1 && ROUNDS >= 1 && DURATION >= 1)) || bench_die "need ATTACKERS, ROUNDS, DURATION >= 1"

bench_require_tools wrk haproxy python3
bench_require_binaries
HAPROXY=$(bench_which haproxy)
ATTACKER="$BENCH_DIR/slowloris_attacker.py"

# Both proxies may hold this many client connections: the attack plus the
# normal clients fit with room to spare.
MAXCONN=$((ATTACKERS + 1000))
# The attack starts this long before the measured run: at least 1 s (all
# connections established), and so that the first wave of 408s, HEAD_TIMEOUT
# after the attack started, falls in the middle of the run.
ATTACK_LEAD_MS=$(awk -v h="$HEAD_TIMEOUT" -v d="$DURATION" 'BEGIN { x = (h - d / 2) * 1000; if (x < 1000) x = 1000; printf "%d", x }')

# --- open-file limit ------------------------------------------------------------
# The attacker holds ATTACKERS sockets; the proxies inherit the limit too
# (ballast raises its soft limit to the hard one by itself, HAProxy sizes it
# from maxconn).
FD_NEED=$((ATTACKERS + 512))
FD_SOFT=$(ulimit -Sn)
FD_HARD=$(ulimit -Hn)
FD_NOTE="open-file limit $FD_SOFT"
if [[ "$FD_SOFT" != unlimited ]] && ((FD_SOFT < FD_NEED)); then
  if [[ "$FD_HARD" == unlimited ]] || ((FD_HARD >= FD_NEED)); then
    ulimit -Sn "$FD_NEED"
    FD_NOTE="open-file limit raised from $FD_SOFT to $FD_NEED (ulimit -n)"
  else
    bench_die "need $FD_NEED open files for $ATTACKERS attackers, hard limit is $FD_HARD: raise it (e.g. 'ulimit -Hn $FD_NEED' as root, or LimitNOFILE / limits.conf), or lower ATTACKERS"
  fi
fi

NCPU=$(nproc)
PIN_PROXY=()
PIN_CLIENT=()
if ((NCPU >= 2)); then
  PIN_PROXY=(taskset -c "$PROXY_CPU")
  PIN_CLIENT=(taskset -c "$CLIENT_CPU")
  PIN_NOTE="proxy pinned to CPU $PROXY_CPU; wrk, the demo backend and the attacker share CPU $CLIENT_CPU"
else
  PIN_NOTE="only 1 CPU: nothing pinned (ratios only)"
fi
CLK_TCK=$(getconf CLK_TCK)

# proc_ticks PID: utime+stime of one process (both proxies run as one here).
proc_ticks() {
  local rest
  rest=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || {
    echo 0
    return
  }
  # shellcheck disable=SC2086 # split the fields on purpose
  set -- $rest
  echo $((${12} + ${13}))
}

# --- proxies ------------------------------------------------------------------
# start_<target> DIR: start the proxy pinned; set PROXY_PID and PROXY_PORT.

start_ballast() {
  local dir=$1
  cat >"$dir/ballast.yaml" <<EOF
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { level: info, access: off, events: $dir/events.log }
timeouts: { client_header: ${HEAD_TIMEOUT}s, client_idle: 60s }
limits: { max_connections: $MAXCONN }
pools:
  - name: web
    backends:
      - { address: 127.0.0.1:$BACKEND_PORT }
EOF
  "$BALLAST_BIN" --check --config "$dir/ballast.yaml" >/dev/null
  "${PIN_PROXY[@]}" "$BALLAST_BIN" --config "$dir/ballast.yaml" >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  bench_wait_for "$dir/events.log" '"event":"listening","kind":"proxy"' 5 || bench_die "ballast did not start: $(cat "$dir/stdout.log")"
  PROXY_PORT=$(sed -n 's/.*"event":"listening","kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$dir/events.log" | head -1)
}

start_haproxy() {
  local dir=$1
  PROXY_PORT=$(bench_free_port)
  cat >"$dir/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $MAXCONN

defaults
  mode http
  no log
  maxconn $MAXCONN
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  timeout http-request ${HEAD_TIMEOUT}s
  timeout http-keep-alive 60s

frontend fe
  bind 127.0.0.1:$PROXY_PORT
  default_backend be

backend be
  http-reuse safe
  server b1 127.0.0.1:$BACKEND_PORT
EOF
  "$HAPROXY" -c -q -f "$dir/haproxy.cfg"
  "${PIN_PROXY[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
}

wait_http() {
  local port=$1 i
  for i in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# attack_field FILE NAME: one counter from the attacker's status line.
attack_field() {
  [[ -f "$1" ]] || return 0
  sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$1" | head -1
}

# wrk_max FILE: the slowest request of a wrk run, in ms.
wrk_max() {
  awk '$1 == "Latency" && NF >= 4 { v = $4; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0
    printf "%.0f", v * f; exit }' "$1"
}

# run_wrk DIR NAME PORT: one measured wrk run; sets WRK_OUT and CPU (the
# proxy's CPU % during the run).
run_wrk() {
  local dir=$1 name=$2 port=$3 t0 t1 c0 c1
  WRK_OUT="$dir/wrk-$name.out"
  c0=$(proc_ticks "$PROXY_PID")
  t0=$(bench_now_ms)
  "${PIN_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" >"$WRK_OUT" 2>&1 ||
    bench_die "wrk failed: $(cat "$WRK_OUT")"
  t1=$(bench_now_ms)
  c1=$(proc_ticks "$PROXY_PID")
  CPU=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", d / hz * 1000 / ms * 100 }')
}

# --- one proxy, one round -----------------------------------------------------
ROWS=()        # one table row per proxy and round
declare -A P99R # proxy -> newline-separated p99 ratios, one per round

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && a > 0) printf "%.2f", b / a; else print "-" }'; }

run_one() {
  local target=$1 round=$2 dir="$BENCH_TMP/$1/round$2"
  mkdir -p "$dir"
  "start_$target" "$dir"
  wait_http "$PROXY_PORT" || bench_die "$target does not answer on $PROXY_PORT"
  if ((WARMUP > 0)); then
    "${PIN_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${WARMUP}s" "http://127.0.0.1:$PROXY_PORT/" >/dev/null 2>&1 || true
  fi

  local rps0 p50_0 p99_0 cpu0
  run_wrk "$dir" without "$PROXY_PORT"
  cpu0=$CPU
  read -r _ _ _ rps0 p50_0 p99_0 < <(bench_wrk_parse "$WRK_OUT")
  bench_log "$target round $round, no attack: $rps0 req/s, p50 $p50_0 ms, p99 $p99_0 ms, CPU $cpu0%"

  # The attack: wait until every slow connection is established, then until
  # the measured run is placed so that the first wave (every slow head cut
  # at HEAD_TIMEOUT, answered 408, and reopened) falls in its middle.
  local status="$dir/attack.status" t_attack held=0
  t_attack=$(bench_now_ms)
  "${PIN_CLIENT[@]}" python3 "$ATTACKER" "$PROXY_PORT" "$ATTACKERS" "$status" "$TRICKLE" 2>"$dir/attack.err" &
  local attack_pid=$!
  bench_track "$attack_pid"
  while (($(bench_now_ms) < t_attack + 20000)); do
    held=$(attack_field "$status" held)
    ((${held:-0} >= ATTACKERS)) && break
    bench_alive "$attack_pid" || bench_die "attacker died: $(cat "$dir/attack.err")"
    sleep 0.1
  done
  ((${held:-0} >= ATTACKERS)) || bench_log "warning: only ${held:-0} of $ATTACKERS slow connections established after 20 s"
  local wait_ms=$((t_attack + ATTACK_LEAD_MS - $(bench_now_ms)))
  ((wait_ms > 0)) && sleep "$(awk -v ms="$wait_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"

  local non1 sock1 rps1 p50_1 p99_1 cpu1 closed0 closed1 held_end
  closed0=$(attack_field "$status" closed_by_proxy)
  run_wrk "$dir" with "$PROXY_PORT"
  cpu1=$CPU
  # When the measured run ended (the status line is at most 0.5 s old).
  held_end=$(attack_field "$status" held)
  closed1=$(attack_field "$status" closed_by_proxy)
  read -r _ non1 sock1 rps1 p50_1 p99_1 < <(bench_wrk_parse "$WRK_OUT")
  local max1
  max1=$(wrk_max "$WRK_OUT")
  bench_stop "$attack_pid"
  bench_stop "$PROXY_PID"
  local closed=$((closed1 - closed0))

  local r errors=$((non1 + sock1))
  r=$(ratio "$p99_0" "$p99_1")
  P99R[$target]+="$r"$'\n'
  ROWS+=("$target|$round|$p50_0 -> $p50_1|$p99_0|$p99_1|$r|$max1|$rps0|$rps1|$errors|$cpu0 -> $cpu1|$held_end/$ATTACKERS|$closed")
  bench_log "$target round $round, under attack: $rps1 req/s, p50 $p50_1 ms, p99 $p99_1 ms (x$r), max $max1 ms, CPU $cpu1%, errors $errors, attackers held $held_end, closed by proxy $closed"
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "$PIN_NOTE; $FD_NOTE; load average $LOAD"
backend_cpu=""
((NCPU >= 2)) && backend_cpu=$CLIENT_CPU
bench_start_demo backend 0 "$backend_cpu"
BACKEND_PORT=$DEMO_PORT

read -ra TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do
  case "$t" in
    ballast | haproxy) ;;
    *) bench_die "unknown target $t (ballast, haproxy)" ;;
  esac
done
for round in $(seq "$ROUNDS"); do
  # Alternate the order so neither proxy always runs first.
  order=("${TARGET_LIST[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#TARGET_LIST[@]} - 1; i >= 0; i--)); do order+=("${TARGET_LIST[$i]}"); done
  fi
  for t in "${order[@]}"; do run_one "$t" "$round"; done
done

echo
echo "slowloris: $ATTACKERS connections trickling a head (1 byte per ${TRICKLE}s each, reopened when closed);"
echo "normal clients: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s --latency, GET / from one demo backend"
echo "head timeout ${HEAD_TIMEOUT}s (ballast client_header, HAProxy timeout http-request); maxconn $MAXCONN both"
echo "$PIN_NOTE; $NCPU CPUs; load average at start $LOAD; $FD_NOTE"
echo
{
  echo "proxy|round|p50 ms (no attack -> attack)|p99 ms no attack|p99 ms attack|p99 ratio|max ms attack|req/s no attack|req/s attack|errors attack|proxy CPU %|attackers held at end|closed by proxy"
  printf '%s\n' "${ROWS[@]}"
} | column -t -s '|' -o ' | '
echo
for t in "${TARGET_LIST[@]}"; do
  med=$(printf '%s' "${P99R[$t]}" | grep -v '^-$' | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  verdict="within the 2x goal"
  awk -v m="$med" 'BEGIN { exit !(m == "-" || m > 2) }' && verdict="OVER the 2x goal"
  echo "$t: median p99 ratio over $ROUNDS round(s) $med ($verdict)"
done
echo
echo "p99 ratio = p99 under attack / p99 without; errors = non-2xx + socket errors seen by wrk under attack"
echo "held = slow connections open when the measured run ended; closed by proxy = slow connections the"
echo "proxy closed during the measured run (cut after ${HEAD_TIMEOUT}s with a 408, then reopened at once);"
echo "the attack started $((ATTACK_LEAD_MS / 1000)) s before the run, so its first wave of 408s falls mid-run"
