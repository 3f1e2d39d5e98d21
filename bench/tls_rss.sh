#!/usr/bin/env bash
# Memory per idle client connection, plain and TLS: ballast's resident set
# (VmRSS) before and after N connections that each made one keep-alive
# request and then sit idle, for a plain and for a TLS listener (TLS 1.3,
# EC P-256 certificate, the client resumes nothing). Prints KiB per
# connection for each.
#
# Environment: BALLAST_BUILD [build]  CONNS [2000]  BENCH_KEEP [0]
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNS=${CONNS:-2000}
bench_require_binaries
bench_make_certs
bench_start_demo backend 0
BACKEND_PORT=$DEMO_PORT

cat >"$BENCH_TMP/ballast.yaml" <<EOF
listen:
  - 127.0.0.1:0
  - address: 127.0.0.1:0
    tls:
      certificates: [{ cert: $CERTS/site.pem, key: $CERTS/site.key }]
admin: { listen: 127.0.0.1:0 }
log: { level: info, access: off, events: $BENCH_TMP/events.log }
timeouts: { client_idle: 300s }
pools:
  - name: web
    backends: [{ address: 127.0.0.1:$BACKEND_PORT }]
EOF
# A fresh ballast for each measurement: memory freed by one set of
# connections would otherwise be reused by the next.
start_ballast() {
  : >"$BENCH_TMP/events.log"
  "$BALLAST_BIN" --config "$BENCH_TMP/ballast.yaml" >"$BENCH_TMP/stdout.log" 2>&1 &
  PID=$!
  bench_track "$PID"
  bench_wait_for "$BENCH_TMP/events.log" '"event":"started"' 5 || bench_die "ballast did not start"
  mapfile -t PORTS < <(sed -n 's/.*"event":"listening","kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$BENCH_TMP/events.log")
}

# measure PORT TLS(0/1): prints "before after" (bench/lib.sh bench_idle_rss).
measure() { bench_idle_rss "$1" "$2" "$CONNS" "$PID"; }

start_ballast
read -r p0 p1 < <(measure "${PORTS[0]}" 0)
bench_stop "$PID"
bench_untrack "$PID"
start_ballast
read -r t0 t1 < <(measure "${PORTS[1]}" 1)
bench_stop "$PID"
bench_untrack "$PID"
echo
echo "RSS per idle client connection ($CONNS connections, one request each, then idle)"
{
  echo "listener|RSS before KiB|RSS with conns KiB|KiB per connection"
  echo "plain|$p0|$p1|$(awk -v a="$p0" -v b="$p1" -v n="$CONNS" 'BEGIN { printf "%.1f", (b - a) / n }')"
  echo "tls|$t0|$t1|$(awk -v a="$t0" -v b="$t1" -v n="$CONNS" 'BEGIN { printf "%.1f", (b - a) / n }')"
} | column -t -s '|' -o ' | '
