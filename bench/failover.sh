#!/usr/bin/env bash
# Failover benchmark: ballast vs HAProxy, same scenario, same measurements.
#
# N demo backends (default 3) behind the proxy, active HTTP health checks
# (GET /healthz, interval 1s, timeout 500ms, rise 2, fall 2, no jitter), one
# retry on connect failure / reset. wrk sends steady load; at KILL_AT seconds
# one backend is killed with SIGKILL, at RESTART_AT seconds it is restarted
# on the same port. Reported per proxy:
#   failed requests  non-2xx responses + wrk socket errors
#   detection ms     SIGKILL -> the proxy logs the backend down
#   recovery ms      restarted backend listening -> the proxy logs it up
# Log lines are timestamped on arrival (through a pipe) for both proxies.
#
# Environment (defaults in brackets):
#   BALLAST_BUILD [build]  build dir relative to the repo root (or absolute)
#   BACKENDS [3]  WRK_THREADS [1]  WRK_CONNS [16]  DURATION [12] (seconds)
#   KILL_AT [3]  RESTART_AT [6] (seconds after wrk starts)
#   SCENARIOS ["ballast ballast-budget100 haproxy"]; ballast-budget100 is
#     ballast with retries.budget_percent 100 (kept to show the default
#     budget costs nothing here: both fail 0 requests)  BENCH_KEEP [0] (1 = keep logs and configs)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BACKENDS:-3}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-16}
DURATION=${DURATION:-12}
KILL_AT=${KILL_AT:-3}
RESTART_AT=${RESTART_AT:-6}
SCENARIOS=${SCENARIOS:-"ballast ballast-budget100 haproxy"}

((BACKENDS >= 2)) || bench_die "BACKENDS must be >= 2"
((KILL_AT < RESTART_AT && RESTART_AT + 3 <= DURATION)) ||
  bench_die "need KILL_AT < RESTART_AT and RESTART_AT + 3 <= DURATION (room for rise 2)"

bench_require_tools wrk haproxy python3
bench_require_binaries
HAPROXY=$(bench_which haproxy)

VICTIM=2  # which backend (1-based) gets killed

# --- proxies -----------------------------------------------------------------
# Each start_* function gets the scenario dir and the backend ports, starts
# the proxy with its log going through the stamper into $dir/events.log, and
# sets PROXY_PID, PROXY_PORT, and the regexes matching the victim's
# down/up log lines (DOWN_RE, UP_RE).

start_ballast() {
  local dir=$1
  shift
  local retries="    # retries: defaults (attempts 1, on [connect_failure, reset], budget 20% / min 3)"
  if [[ "${BALLAST_RETRIES:-}" == budget100 ]]; then
    retries="    retries: { attempts: 1, on: [connect_failure, reset], budget_percent: 100 }"
  fi
  local ports=("$@") i
  {
    echo "listen: 127.0.0.1:0"
    echo "admin: { listen: 127.0.0.1:0 }"
    echo "log: { level: info, access: off, events: stderr }"
    echo "pools:"
    echo "  - name: web"
    echo "    backends:"
    for i in "${!ports[@]}"; do echo "      - { address: 127.0.0.1:${ports[$i]} }"; done
    echo "    health_check: { path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2, jitter: 0% }"
    echo "$retries"
  } >"$dir/ballast.yaml"
  "$BALLAST_BIN" --check --config "$dir/ballast.yaml" >/dev/null
  bench_start_stamper "$dir/events.fifo" "$dir/events.log"
  "$BALLAST_BIN" --config "$dir/ballast.yaml" 2>"$dir/events.fifo" >/dev/null &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  bench_wait_for "$dir/events.log" '"event":"listening","kind":"proxy"' 5 || bench_die "ballast did not start"
  PROXY_PORT=$(sed -n 's/.*"event":"listening","kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$dir/events.log" | head -1)
  # Wait until every backend passed its first probe.
  local deadline=$(($(bench_now_ms) + 5000))
  while (($(count_lines "$dir/events.log" '"event":"backend_state".*"new":"healthy"') < ${#ports[@]})); do
    (($(bench_now_ms) < deadline)) || bench_die "ballast backends not healthy: $(cat "$dir/events.log")"
    sleep 0.05
  done
  local victim="127.0.0.1:${ports[$((VICTIM - 1))]}"
  DOWN_RE="\"event\":\"backend_state\".*\"backend\":\"$victim\".*\"new\":\"unhealthy\""
  UP_RE="\"event\":\"backend_state\".*\"backend\":\"$victim\".*\"new\":\"healthy\""
}

start_haproxy() {
  local dir=$1
  shift
  local ports=("$@") i
  PROXY_PORT=$(bench_free_port)
  {
    cat <<EOF
global
  log stdout format raw local0
  nbthread 1
  maxconn 4096

defaults
  mode http
  log global
  option dontlog-normal
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 60s

frontend fe
  bind 127.0.0.1:$PROXY_PORT
  default_backend be

backend be
  balance roundrobin
  http-reuse safe
  # ballast's retry defaults: attempts 1, on connect_failure and reset
  retries 1
  retry-on conn-failure empty-response
  option redispatch
  option httpchk GET /healthz
  option log-health-checks
  timeout check 500ms
  default-server inter 1s fall 2 rise 2
EOF
    for i in "${!ports[@]}"; do echo "  server b$((i + 1)) 127.0.0.1:${ports[$i]} check"; done
  } >"$dir/haproxy.cfg"
  "$HAPROXY" -c -q -f "$dir/haproxy.cfg"
  bench_start_stamper "$dir/events.fifo" "$dir/events.log"
  "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/events.fifo" 2>&1 &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  # Wait until every server passed a check (HAProxy starts them UP).
  local deadline=$(($(bench_now_ms) + 5000))
  while (($(count_lines "$dir/events.log" '^[0-9]* Health check for server be/b[0-9]* succeeded') < ${#ports[@]})); do
    (($(bench_now_ms) < deadline)) || bench_die "haproxy checks did not pass: $(cat "$dir/events.log")"
    sleep 0.05
  done
  DOWN_RE="Server be/b$VICTIM is DOWN"
  UP_RE="Server be/b$VICTIM is UP"
}

# count_lines FILE REGEX: number of lines matching (0 when FILE is missing).
count_lines() {
  if [[ -f "$1" ]]; then grep -Ec -- "$2" "$1" || true; else echo 0; fi
}

# first_stamp FILE REGEX AFTER_MS: stamp of the first matching line at or
# after AFTER_MS, or "-".
first_stamp() {
  awk -v after="$3" -v re="$2" '$1 >= after && $0 ~ re { print $1; found = 1; exit } END { if (!found) print "-" }' "$1"
}

# --- one scenario -------------------------------------------------------------
RESULTS=()

run_scenario() {
  local name=$1 dir="$BENCH_TMP/$1" i
  mkdir -p "$dir"
  bench_log "$name: starting $BACKENDS backends"
  local ports=() pids=()
  for i in $(seq "$BACKENDS"); do
    bench_start_demo "$name-b$i" 0
    ports+=("$DEMO_PORT")
    pids+=("$DEMO_PID")
  done
  "start_${name%%-*}" "$dir" "${ports[@]}"
  bench_log "$name: proxy on 127.0.0.1:$PROXY_PORT; wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s"
  curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/" || bench_die "$name: proxy does not answer"

  local t0 t_kill t_restart
  t0=$(bench_now_ms)
  wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${DURATION}s" --timeout 2s -s "$BENCH_DIR/status-count.lua" "http://127.0.0.1:$PROXY_PORT/" >"$dir/wrk.out" 2>&1 &
  local wrk_pid=$!
  bench_track "$wrk_pid"

  sleep "$(awk -v t="$t0" -v now="$(bench_now_ms)" -v at="$KILL_AT" 'BEGIN { d = at - (now - t) / 1000; print (d > 0 ? d : 0) }')"
  t_kill=$(bench_now_ms)
  kill -KILL "${pids[$((VICTIM - 1))]}"
  wait "${pids[$((VICTIM - 1))]}" 2>/dev/null || true
  bench_log "$name: killed backend $VICTIM (port ${ports[$((VICTIM - 1))]})"

  sleep "$(awk -v t="$t0" -v now="$(bench_now_ms)" -v at="$RESTART_AT" 'BEGIN { d = at - (now - t) / 1000; print (d > 0 ? d : 0) }')"
  bench_start_demo "$name-b$VICTIM-restarted" "${ports[$((VICTIM - 1))]}"
  t_restart=$(bench_now_ms) # listening again
  bench_log "$name: restarted backend $VICTIM"

  wait "$wrk_pid" || bench_die "$name: wrk failed: $(cat "$dir/wrk.out")"
  sleep 0.2 # let the last log lines through the pipe

  local down up det rec requests non2xx sockerr rps p50 p99
  down=$(first_stamp "$dir/events.log" "$DOWN_RE" "$t_kill")
  up=$(first_stamp "$dir/events.log" "$UP_RE" "$t_restart")
  det=-
  rec=-
  [[ "$down" != - ]] && det=$((down - t_kill))
  [[ "$up" != - ]] && rec=$((up - t_restart))
  read -r requests non2xx sockerr rps p50 p99 < <(bench_wrk_parse "$dir/wrk.out")
  local statuses
  statuses=$(sed -n 's/^status \([0-9]*\): \([0-9]*\)$/\1:\2/p' "$dir/wrk.out" | paste -sd' ')
  RESULTS+=("$name|$((non2xx + sockerr))|$det|$rec|$requests|$non2xx|$sockerr|$rps|${statuses:--}")
  bench_log "$name: failed $((non2xx + sockerr)) (non-2xx $non2xx, socket $sockerr), detection $det ms, recovery $rec ms"

  # Stop everything this scenario started before the next one.
  bench_stop "$wrk_pid"
  bench_stop "$PROXY_PID"
  for i in "${pids[@]}" "$DEMO_PID"; do bench_stop "$i"; done
  bench_stop "$STAMPER_PID"
}

for s in $SCENARIOS; do
  case "$s" in
    ballast | haproxy) run_scenario "$s" ;;
    ballast-budget100) BALLAST_RETRIES=budget100 run_scenario "$s" ;;
    *) bench_die "unknown scenario $s (ballast, ballast-budget100, haproxy)" ;;
  esac
done

echo
echo "failover: $BACKENDS backends, wrk -t$WRK_THREADS -c$WRK_CONNS -d${DURATION}s, kill -9 backend $VICTIM at ${KILL_AT}s, restart at ${RESTART_AT}s"
echo "health check: GET /healthz every 1s, timeout 500ms, fall 2, rise 2, no jitter; 1 retry on connect failure/reset"
echo
{
  echo "scenario|failed requests|detection ms|recovery ms|total requests|non-2xx|socket errors|req/s|statuses"
  printf '%s\n' "${RESULTS[@]}"
} | column -t -s '|' -o ' | '
echo
echo "detection: SIGKILL -> down logged; recovery: restarted backend listening -> up logged"
echo "(probes every 1s with fall/rise 2: both are expected between 1000 and 2000 ms)"
