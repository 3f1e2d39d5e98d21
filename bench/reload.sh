#!/usr/bin/env bash
# Reload under load: ballast vs HAProxy vs nginx, same scenario.
#
# Three demo backends a, b, c. Two configs alternate: {a, b} and {a, b, c}
# (every reload adds or removes backend c). wrk keeps keep-alive load on the
# proxy while the script reloads it RELOADS times:
#   ballast  SIGHUP; done when its config_reloaded event count went up
#   haproxy  master-worker (haproxy -W -db -f cfg), kill -USR2 <master>;
#            done when the master logged one more "Loading success."
#   nginx    worker_processes 1, pid file in the scratch dir, nginx -s reload;
#            done when the error log (notice level) shows one more
#            "start worker process"
# After each confirmed reload the script waits RELOAD_GAP seconds, so each
# proxy gets the same number of reloads at about the same pace. wrk is
# stopped (SIGINT: it prints its summary) once the last reload has had
# TAIL seconds of traffic.
#
# Reported per proxy: failed requests (non-2xx responses + wrk socket errors:
# connect, read, write, timeout), and that figure per 100 reloads.
#
# Environment (defaults in brackets):
#   BALLAST_BUILD [build]  build dir relative to the repo root (or absolute)
#   RELOADS [100]  RELOAD_GAP [0.05] (seconds)  TAIL [1] (seconds)
#   WRK_THREADS [1]  WRK_CONNS [16]
#   TARGETS ["ballast haproxy nginx"]  BENCH_KEEP [0] (1 = keep logs and configs)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RELOADS=${RELOADS:-100}
RELOAD_GAP=${RELOAD_GAP:-0.05}
TAIL=${TAIL:-1}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-16}
TARGETS=${TARGETS:-"ballast haproxy nginx"}

((RELOADS >= 1)) || bench_die "RELOADS must be >= 1"

bench_require_tools wrk haproxy nginx python3
bench_require_binaries
HAPROXY=$(bench_which haproxy)
NGINX=$(bench_which nginx)

# count_lines FILE REGEX: number of lines matching (0 when FILE is missing).
count_lines() {
  if [[ -f "$1" ]]; then grep -Ec -- "$2" "$1" || true; else echo 0; fi
}

# wait_count FILE REGEX N TIMEOUT_S: wait until FILE has at least N matching lines.
wait_count() {
  local file=$1 re=$2 n=$3 timeout=$4 deadline
  deadline=$(($(bench_now_ms) + timeout * 1000))
  while (($(count_lines "$file" "$re") < n)); do
    (($(bench_now_ms) < deadline)) || return 1
    sleep 0.005
  done
}

# replace_file SRC DST: atomic replacement (a proxy never reads half a file).
replace_file() {
  cp "$1" "$2.tmp"
  mv -f "$2.tmp" "$2"
}

# --- proxies -----------------------------------------------------------------
# write_<proxy>_config DIR VARIANT writes $DIR/<variant>.conf for variant
# "ab" or "abc"; start_<proxy> DIR starts it on the "ab" config and sets
# PROXY_PID and PROXY_PORT; reload_<proxy> DIR N triggers reload number N
# (1-based) and returns once the proxy confirmed it.

write_ballast_config() {
  local dir=$1 variant=$2 p
  {
    echo "listen: 127.0.0.1:$PROXY_PORT"
    echo "admin: { listen: 127.0.0.1:0 }"
    echo "log: { level: info, access: off, events: stderr }"
    echo "pools:"
    echo "  - name: web"
    echo "    backends:"
    for p in $(ports_of "$variant"); do echo "      - { address: 127.0.0.1:$p }"; done
  } >"$dir/$variant.conf"
  "$BALLAST_BIN" --check --config "$dir/$variant.conf" >/dev/null
}

start_ballast() {
  local dir=$1
  cp "$dir/ab.conf" "$dir/ballast.yaml"
  "$BALLAST_BIN" --config "$dir/ballast.yaml" 2>"$dir/events.log" >/dev/null &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  bench_wait_for "$dir/events.log" '"event":"started"' 5 || bench_die "ballast did not start: $(cat "$dir/events.log")"
}

reload_ballast() {
  local dir=$1 n=$2
  kill -HUP "$PROXY_PID"
  wait_count "$dir/events.log" '"event":"config_reloaded"' "$n" 5 ||
    bench_die "ballast: reload $n not confirmed: $(tail -5 "$dir/events.log")"
}

write_haproxy_config() {
  local dir=$1 variant=$2 p i=0
  {
    cat <<EOF
global
  nbthread 1
  maxconn 4096

defaults
  mode http
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
EOF
    for p in $(ports_of "$variant"); do
      i=$((i + 1))
      echo "  server b$i 127.0.0.1:$p"
    done
  } >"$dir/$variant.conf"
  "$HAPROXY" -c -q -f "$dir/$variant.conf"
}

start_haproxy() {
  local dir=$1
  cp "$dir/ab.conf" "$dir/haproxy.cfg"
  "$HAPROXY" -W -db -f "$dir/haproxy.cfg" >"$dir/events.log" 2>&1 &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  wait_count "$dir/events.log" 'Loading success' 1 5 || bench_die "haproxy did not start: $(cat "$dir/events.log")"
}

reload_haproxy() {
  local dir=$1 n=$2
  kill -USR2 "$PROXY_PID"
  wait_count "$dir/events.log" 'Loading success' $((n + 1)) 5 ||
    bench_die "haproxy: reload $n not confirmed: $(tail -5 "$dir/events.log")"
}

write_nginx_config() {
  local dir=$1 variant=$2
  # shellcheck disable=SC2046 # one port per word
  bench_nginx_conf "$dir" "$PROXY_PORT" off "$dir/events.log notice" $(ports_of "$variant") >"$dir/$variant.conf"
  "$NGINX" -t -q -p "$dir" -c "$dir/$variant.conf" -e "$dir/check.log"
}

start_nginx() {
  local dir=$1
  cp "$dir/ab.conf" "$dir/nginx.conf"
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/events.log" >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
  bench_track "$PROXY_PID"
  wait_count "$dir/events.log" 'start worker process [0-9]+' 1 5 || bench_die "nginx did not start: $(cat "$dir/events.log")"
  bench_wait_for "$dir/nginx.pid" '^[0-9]+' 5 || bench_die "nginx wrote no pid file"
}

reload_nginx() {
  local dir=$1 n=$2
  "$NGINX" -s reload -p "$dir" -c "$dir/nginx.conf" -e "$dir/events.log"
  wait_count "$dir/events.log" 'start worker process [0-9]+' $((n + 1)) 5 ||
    bench_die "nginx: reload $n not confirmed: $(tail -5 "$dir/events.log")"
}

# The live config file of each proxy (what a reload re-reads).
live_config() {
  case "$1" in
    ballast) echo ballast.yaml ;;
    haproxy) echo haproxy.cfg ;;
    nginx) echo nginx.conf ;;
  esac
}

# ports_of VARIANT: backend ports of the "ab" or "abc" config.
ports_of() {
  if [[ "$1" == abc ]]; then echo "${BACKEND_PORTS[@]}"; else echo "${BACKEND_PORTS[@]:0:2}"; fi
}

# --- one run -----------------------------------------------------------------
RESULTS=()

run_target() {
  local name=$1 dir="$BENCH_TMP/$1" i
  mkdir -p "$dir"
  PROXY_PORT=$(bench_free_port)
  "write_${name}_config" "$dir" ab
  "write_${name}_config" "$dir" abc
  "start_$name" "$dir"
  local deadline=$(($(bench_now_ms) + 5000))
  until curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/"; do
    (($(bench_now_ms) < deadline)) || bench_die "$name does not answer on 127.0.0.1:$PROXY_PORT"
    sleep 0.05
  done
  bench_log "$name: on 127.0.0.1:$PROXY_PORT; wrk -t$WRK_THREADS -c$WRK_CONNS; $RELOADS reloads"

  # A long -d: wrk is stopped with SIGINT after the last reload (it then
  # prints its summary and the status lines of status-count.lua).
  wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d600s --timeout 2s -s "$BENCH_DIR/status-count.lua" \
    "http://127.0.0.1:$PROXY_PORT/" >"$dir/wrk.out" 2>&1 &
  local wrk_pid=$!
  bench_track "$wrk_pid"
  sleep 0.5 # warm: every wrk connection open

  local live t0 t1
  live=$(live_config "$name")
  t0=$(bench_now_ms)
  for i in $(seq "$RELOADS"); do
    if ((i % 2 == 1)); then replace_file "$dir/abc.conf" "$dir/$live"; else replace_file "$dir/ab.conf" "$dir/$live"; fi
    "reload_$name" "$dir" "$i"
    sleep "$RELOAD_GAP"
  done
  t1=$(bench_now_ms)
  sleep "$TAIL"
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  grep -q "requests in" "$dir/wrk.out" || bench_die "$name: no wrk summary: $(cat "$dir/wrk.out")"

  local requests non2xx sockerr rps p50 p99 statuses sock_detail per100
  read -r requests non2xx sockerr rps p50 p99 < <(bench_wrk_parse "$dir/wrk.out")
  statuses=$(sed -n 's/^status \([0-9]*\): \([0-9]*\)$/\1:\2/p' "$dir/wrk.out" | paste -sd' ')
  sock_detail=$(sed -n 's/.*Socket errors: \(.*\)$/\1/p' "$dir/wrk.out")
  per100=$(awk -v f=$((non2xx + sockerr)) -v n="$RELOADS" 'BEGIN { printf "%.1f", f * 100 / n }')
  RESULTS+=("$name|$RELOADS|$((non2xx + sockerr))|$per100|$requests|$non2xx|${sock_detail:-none}|$rps|$((t1 - t0))|${statuses:--}")
  bench_log "$name: failed $((non2xx + sockerr)) (non-2xx $non2xx, socket $sockerr) over $RELOADS reloads in $((t1 - t0)) ms"

  bench_stop "$PROXY_PID"
}

bench_log "starting backends a, b, c"
BACKEND_PORTS=()
for b in a b c; do
  bench_start_demo "$b" 0
  BACKEND_PORTS+=("$DEMO_PORT")
done

for t in $TARGETS; do
  case "$t" in
    ballast | haproxy | nginx) run_target "$t" ;;
    *) bench_die "unknown target $t (ballast, haproxy, nginx)" ;;
  esac
done

echo
echo "reload under load: $RELOADS reloads alternating backends {a,b} / {a,b,c}, ${RELOAD_GAP}s after each confirmed reload"
echo "wrk -t$WRK_THREADS -c$WRK_CONNS (keep-alive), --timeout 2s"
echo
{
  echo "proxy|reloads|failed requests|failed per 100 reloads|total requests|non-2xx|socket errors|req/s|reload phase ms|statuses"
  printf '%s\n' "${RESULTS[@]}"
} | column -t -s '|' -o ' | '
echo
echo "failed = non-2xx responses + wrk socket errors (connect, read, write, timeout)"
