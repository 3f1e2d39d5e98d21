#!/usr/bin/env bash
# Checks the monitoring examples against a live ballast:
#   1. every metric name the Grafana dashboard and the alert rules mention
#      (examples/grafana/ballast-dashboard.json, examples/prometheus/alerts.yml)
#      is in ballast's GET ADMIN/metrics;
#   2. the exposition passes `promtool check metrics`;
#   3. exactly 10 GETs through the proxy add exactly 10 to the sum of
#      ballast_requests_total.
#
# It starts BUILD/bin/demo-backend and BUILD/bin/ballast (a temporary config:
# one pool with active health checks, outlier detection and retries, so their
# series exist), all on 127.0.0.1 with ports chosen by the kernel, and kills
# both on exit.
#
# usage: tests/observability/dashboard_metrics.sh [BUILD_DIR]   (default: build)
# BUILD_DIR is relative to the repository root unless absolute. Exits non-zero
# on any failure, naming each metric that is missing.
set -euo pipefail

SCRIPT=dashboard_metrics
# shellcheck source=tests/observability/lib.sh
source "$(dirname "$0")/lib.sh"
DASHBOARD=examples/grafana/ballast-dashboard.json
ALERTS=examples/prometheus/alerts.yml

command -v promtool >/dev/null 2>&1 ||
  fail "promtool not found. It comes with the Debian package 'prometheus':" \
    "run scripts/install-deps.sh --test (or apt-get install prometheus)."

scrape() { curl -fsS --max-time 5 "http://$ADMIN/metrics"; }

# Sum of every ballast_requests_total sample in the exposition on stdin.
requests_sum() { awk '/^ballast_requests_total[{ ]/ { s += $NF } END { printf "%.0f\n", s }'; }

# --- start a demo backend -------------------------------------------------
start_demo obs
BACKEND=$DEMO_ADDR

# --- start ballast in front of it -------------------------------------------
# A TLS listener too (second, so the plain one is the proxy address below),
# so the ballast_tls_* series exist.
sh "$ROOT/tests/support/make_test_certs.sh" "$tmp/certs" || fail "cannot generate test certificates"
cat >"$tmp/ballast.yaml" <<EOF
listen:
  - 127.0.0.1:0
  - address: 127.0.0.1:0
    tls: { certificates: [{ cert: certs/site.pem, key: certs/site.key }] }
admin:
  listen: 127.0.0.1:0
log:
  level: info
  access: off
  events: stderr
pools:
  - name: obs
    health_check: { type: http, path: /healthz, interval: 200ms, timeout: 200ms, rise: 1, fall: 2 }
    outlier_detection: { consecutive_failures: 5, base_ejection: 30s }
    retries: { attempts: 1, on: [connect_failure, reset] }
    backends:
      - { address: $BACKEND }
# Routes with allow/deny and a rate limit, so promtool sees the route
# families too (the limit is far above this test's traffic).
routes:
  - { name: guarded, match: { path_prefix: /guarded }, deny: [192.0.2.0/24], pool: obs }
  - { name: all, rate_limit: { requests_per_second: 1000, burst: 1000 }, pool: obs }
EOF
start_ballast

address_of admin
ADMIN=$ADDRESS
address_of proxy
PROXY=$ADDRESS
echo "demo-backend $BACKEND, ballast proxy $PROXY, admin $ADMIN"

# --- wait until /metrics answers and the backend passed its probes ----------
deadline=$(($(now_us) + 15 * 1000000))
until scrape >"$tmp/m0.txt" 2>/dev/null &&
  grep -qE "^ballast_backend_up\{.*backend=\"$BACKEND\".*\} 1$" "$tmp/m0.txt"; do
  kill -0 "$ballast_pid" 2>/dev/null || { ballast_tail; fail "ballast exited"; }
  if (($(now_us) > deadline)); then
    ballast_tail
    fail "within 15 s, GET http://$ADMIN/metrics did not answer with ballast_backend_up 1 for $BACKEND" \
      "(last answer: $(grep -E '^ballast_backend_up' "$tmp/m0.txt" 2>/dev/null || echo none))"
  fi
  sleep 0.05
done

# A little traffic, so the histograms and counters have data.
for i in 1 2 3; do
  curl -fsS --max-time 5 -o /dev/null "http://$PROXY/warmup/$i" || fail "GET http://$PROXY/warmup/$i failed"
done

# --- 1. every metric name used by the dashboard and the alerts exists -------
scrape >"$tmp/m1.txt" || fail "GET http://$ADMIN/metrics failed"
# Every ballast_* or process_* name the two files mention (queries, variable
# definitions, descriptions). `up` is Prometheus' own and not checked.
grep -ohE '\b(ballast|process)_[A-Za-z0-9_]+' "$DASHBOARD" "$ALERTS" | sort -u >"$tmp/names"
[[ -s "$tmp/names" ]] || fail "no metric names found in $DASHBOARD and $ALERTS"
missing=()
while IFS= read -r name; do
  # Present as a sample line "name{...} v" or "name v", or as a histogram
  # whose name_bucket / name_sum / name_count samples are there.
  if ! grep -qE "^${name}(_bucket|_sum|_count)?[{ ]" "$tmp/m1.txt"; then
    missing+=("$name")
  fi
done <"$tmp/names"
echo "checked $(wc -l <"$tmp/names") metric names from $DASHBOARD and $ALERTS"
if ((${#missing[@]} > 0)); then
  printf '  missing from /metrics: %s\n' "${missing[@]}" >&2
  fail "${#missing[@]} metric name(s) used by the dashboard or alerts are not in ballast's /metrics"
fi

# --- 2. promtool check metrics ----------------------------------------------
if ! promtool check metrics <"$tmp/m1.txt" >"$tmp/lint.txt" 2>&1; then
  cat "$tmp/lint.txt" >&2
  fail "promtool check metrics rejects ballast's /metrics (see above)"
fi
grep -q '^ballast_route_rate_limited_total{route="all"} 0$' "$tmp/m1.txt" ||
  fail "ballast_route_rate_limited_total{route=\"all\"} 0 is not in /metrics"
echo "promtool check metrics: OK"

# --- 3. 10 requests add exactly 10 to ballast_requests_total ----------------
before=$(scrape | requests_sum) || fail "GET http://$ADMIN/metrics failed"
for i in $(seq 1 10); do
  code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://$PROXY/count/$i") ||
    fail "GET http://$PROXY/count/$i failed"
  [[ "$code" == 200 ]] || fail "GET http://$PROXY/count/$i answered $code, expected 200"
done
# The counter is bumped when ballast finishes the response, which may be a
# moment after curl has read it: poll until it reaches before+10.
want=$((before + 10))
deadline=$(($(now_us) + 5 * 1000000))
while :; do
  after=$(scrape | requests_sum) || fail "GET http://$ADMIN/metrics failed"
  ((after > want)) && fail "10 GETs raised sum(ballast_requests_total) from $before to $after (expected $want)"
  ((after == want)) && break
  (($(now_us) > deadline)) &&
    fail "10 GETs raised sum(ballast_requests_total) from $before to only $after within 5 s (expected $want)"
  sleep 0.02
done
# And scraping does not count as a request: the sum stays put.
again=$(scrape | requests_sum)
[[ "$again" == "$want" ]] || fail "sum(ballast_requests_total) moved from $want to $again with no proxy traffic"
echo "10 GETs: sum(ballast_requests_total) $before -> $after"

kill -0 "$ballast_pid" 2>/dev/null || { ballast_tail; fail "ballast exited during the test"; }
echo "dashboard_metrics: OK"
