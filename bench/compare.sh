#!/usr/bin/env bash
# One command, one table (issue 15, "The benchmark"): ballast vs HAProxy vs
# nginx (Debian's), one proxy thread / worker each, each pinned to one core,
# in front of the same demo backend, for every scenario below; medians and
# spread (min-max) over interleaved rounds, and the ratios ballast/HAProxy
# and ballast/nginx.
#
# Scenarios (wrk -t1 -c$CONNS --latency unless said otherwise):
#   get        GET /, keep-alive, tiny response, access logs off
#   1k         GET /?size=1024, a 1 KiB response
#   64k        GET /?size=65536, a 64 KiB response
#   post10k    POST / with a 10 KiB body (bench/wrk-post.lua)
#   close      GET / with "Connection: close": a new client connection per
#              request (the backend side stays kept alive)
#   pipeline   16 GETs per write on each connection (bench/wrk-pipeline.lua);
#              no p99: wrk does not time pipelined requests one by one
#   log        get with the access log on, a JSON line per request to a file
#              (HAProxy and nginx: the same fields in JSON, lib.sh)
#   tls        get over kept-alive TLS 1.3 connections (EC P-256, as tls.sh)
#   scale1     get with one worker each (ballast workers: 1, HAProxy
#              nbthread 1, nginx worker_processes 1), allowed on every CPU
#   scale      the same with two: ballast workers: 2, HAProxy nbthread 2,
#              nginx worker_processes 2 (the 1-vs-2 scaling figure; wrk and
#              the backend share the two cores with them)
#   idle       RSS per idle keep-alive client: IDLE_CONNS connections, one
#              GET each, then idle (as tls_rss.sh); a fresh proxy each
#   idle-tls   the same over TLS
# Columns: requests/s; proxy CPU per request (us: utime+stime of the proxy's
# processes from /proc over the run, divided by the requests wrk counted);
# p99 (wrk); proxy CPU % of one core (under ~90% something else set the
# pace: wrk, the backend or other load); errors (non-2xx + socket errors).
#
# Each round runs every proxy for a scenario before the next scenario (the
# proxy order rotates from round to round), so slow phases of a shared
# machine hit all three alike.
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DURATION [10s]  WARMUP [1] (s)  CONNS [50]
#   SCENARIOS ["get 1k 64k post10k close pipeline log tls scale1 scale idle idle-tls"]
#   TARGETS ["ballast haproxy nginx"]  IDLE_CONNS [2000]  PIPELINE_DEPTH [16]
#   POST_BYTES [10240]  PROXY_CPU [0]  CLIENT_CPU [1]  BALLAST_BUILD [build]
#   BENCH_KEEP [0]
# Not part of ctest: timings depend on the machine and what else runs on it.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
[[ "$DURATION" =~ ^[0-9]+$ ]] && DURATION=${DURATION}s
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
ALL_SCENARIOS="get 1k 64k post10k close pipeline log tls scale1 scale idle idle-tls"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
TARGETS=${TARGETS:-"ballast haproxy nginx"}
IDLE_CONNS=${IDLE_CONNS:-2000}
PIPELINE_DEPTH=${PIPELINE_DEPTH:-16}
POST_BYTES=${POST_BYTES:-10240}

for s in $SCENARIOS; do
  [[ " $ALL_SCENARIOS " == *" $s "* ]] || bench_die "unknown scenario $s (one of: $ALL_SCENARIOS)"
done
for t in $TARGETS; do
  [[ "$t" == ballast || "$t" == haproxy || "$t" == nginx ]] || bench_die "unknown target $t"
done

bench_require_tools wrk haproxy nginx python3 openssl curl
bench_require_binaries
HAPROXY=$(bench_which haproxy)
NGINX=$(bench_which nginx)
bench_pin_setup
PIN_DEFAULT=("${PIN_PROXY[@]}")
ALL_CPUS="0-$((NCPU - 1))"

if [[ " $SCENARIOS " == *" tls "* || " $SCENARIOS " == *" idle-tls "* ]]; then
  bench_make_certs ec
fi

# scenario_setup NAME TARGET: sets START (bench_start_proxy options), SCHEME,
# URLPATH, WRK_EXTRA (wrk options before the URL), WRK_TAIL (after it),
# LABEL (the proxy as shown in the table), and PIN_PROXY.
scenario_setup() {
  local name=$1 target=$2
  START=()
  SCHEME=http
  URLPATH=/
  WRK_EXTRA=()
  WRK_TAIL=()
  LABEL=$target
  PIN_PROXY=("${PIN_DEFAULT[@]}")
  case "$name" in
    get) ;;
    1k) URLPATH="/?size=1024" ;;
    64k) URLPATH="/?size=65536" ;;
    post10k)
      WRK_EXTRA=(-s "$BENCH_DIR/wrk-post.lua")
      WRK_TAIL=(-- "$POST_BYTES")
      ;;
    close) WRK_EXTRA=(-H "Connection: close") ;;
    pipeline)
      WRK_EXTRA=(-s "$BENCH_DIR/wrk-pipeline.lua")
      WRK_TAIL=(-- "$PIPELINE_DEPTH")
      ;;
    log) START=(log=on) ;;
    tls | idle-tls)
      START=(tls=1)
      SCHEME=https
      ;;
    scale1 | scale)
      ((NCPU >= 2)) && PIN_PROXY=(taskset -c "$ALL_CPUS")
      local n=1
      [[ "$name" == scale ]] && n=2
      START=(workers=$n)
      case "$target" in
        ballast) LABEL="ballast (workers: $n)" ;;
        haproxy) LABEL="haproxy (nbthread $n)" ;;
        nginx) LABEL="nginx (worker_processes $n)" ;;
      esac
      ;;
  esac
  [[ "$name" == idle* ]] && START+=(idle=300)
  return 0
}

# wrk_command PORT: the measured wrk command line of the current scenario.
wrk_command() {
  WRK_CMD=("${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${WRK_EXTRA[@]}"
    "$SCHEME://127.0.0.1:$1$URLPATH" "${WRK_TAIL[@]}")
}

RESULTS=$BENCH_TMP/results.tsv
: >"$RESULTS"

# run_one SCENARIO TARGET ROUND: start the proxy, warm up, measure, stop it;
# appends a line to RESULTS.
run_one() {
  local scenario=$1 target=$2 round=$3
  local dir="$BENCH_TMP/$scenario/$target/round$round"
  scenario_setup "$scenario" "$target"
  bench_start_proxy "$target" "$dir" "${START[@]}"
  bench_wait_http "$SCHEME://127.0.0.1:$PROXY_PORT/" || bench_die "$target does not answer on $PROXY_PORT: $(cat "$dir"/*.log 2>/dev/null | tail -5)"
  if [[ "$scenario" == idle* ]]; then
    local tls=0 before after kib
    [[ "$scenario" == idle-tls ]] && tls=1
    # shellcheck disable=SC2046 # one PID per word
    read -r before after < <(bench_idle_rss "$PROXY_PORT" "$tls" "$IDLE_CONNS" $(bench_pids_with_children "$PROXY_PID"))
    kib=$(awk -v a="$before" -v b="$after" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (b - a) / n }')
    printf '%s\t%s\t%s\t%s\n' "$scenario" "$LABEL" "$round" "$kib" >>"$RESULTS"
    bench_log "$scenario $LABEL: RSS $before -> $after KiB with $IDLE_CONNS idle connections: $kib KiB each"
  else
    wrk_command "$PROXY_PORT"
    if ((WARMUP > 0)); then
      "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${WRK_EXTRA[@]}" "$SCHEME://127.0.0.1:$PROXY_PORT$URLPATH" "${WRK_TAIL[@]}" >/dev/null 2>&1 || true
    fi
    local c0 c1 t0 t1 requests non2xx sockerr rps p50 p99 us cpu
    c0=$(bench_cpu_ticks "$PROXY_PID")
    t0=$(bench_now_ms)
    "${WRK_CMD[@]}" >"$dir/wrk.out" 2>&1 || bench_die "$scenario $target: wrk failed: $(cat "$dir/wrk.out")"
    t1=$(bench_now_ms)
    c1=$(bench_cpu_ticks "$PROXY_PID")
    # shellcheck disable=SC2034 # p50 is not in this table
    read -r requests non2xx sockerr rps p50 p99 < <(bench_wrk_parse "$dir/wrk.out")
    # wrk times a pipelined batch, not each request, and its percentiles of
    # pipelined runs are not meaningful (90% and 99% print as 0).
    [[ "$scenario" == pipeline ]] && p99=-
    us=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print "-" }')
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", d / hz * 1000 / ms * 100 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$LABEL" "$round" "$rps" "$us" "$p99" "$cpu" "$((non2xx + sockerr))" >>"$RESULTS"
    bench_log "$scenario $LABEL: $rps req/s, $us us CPU/req, p99 $p99 ms, CPU $cpu%, errors $((non2xx + sockerr))"
    if ((non2xx + sockerr > 0)); then
      # Which kind (connect, read, write, timeout; or a status): the wrk
      # output itself is removed with the scratch directory.
      bench_log "  $(grep -E 'Socket errors|Non-2xx' "$dir/wrk.out" | tr -s ' \n' ' ')"
    fi
  fi
  bench_stop "$PROXY_PID"
  bench_untrack "$PROXY_PID"
}

START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "$PIN_NOTE; load average $LOAD_START"
bench_start_demo backend 0 "$BACKEND_CPU"
# shellcheck disable=SC2034 # read by bench_start_proxy
BACKEND_PORT=$DEMO_PORT

read -r -a TARGET_LIST <<<"$TARGETS"
for round in $(seq "$ROUNDS"); do
  bench_log "round $round of $ROUNDS"
  # Rotate the order of the proxies each round.
  order=()
  n=${#TARGET_LIST[@]}
  for i in $(seq 0 $((n - 1))); do order+=("${TARGET_LIST[$(((i + round - 1) % n))]}"); done
  for scenario in $SCENARIOS; do
    for target in "${order[@]}"; do
      run_one "$scenario" "$target" "$round"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------
echo
echo "# ballast vs HAProxy vs nginx: bench/compare.sh"
echo
echo "date: $START_DATE"
echo "machine: $NCPU CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
echo "load average: $LOAD_START at start, $LOAD_END at end (the machine is shared with other jobs: compare ratios, not absolute numbers)"
echo "versions: $("$BALLAST_BIN" --version 2>&1 | head -1) ($(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown));" \
  "$("$HAPROXY" -v 2>&1 | head -1 | cut -d' ' -f1-3);" \
  "$("$NGINX" -v 2>&1 | head -1 | sed 's/^nginx version: //');" \
  "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "command: ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS IDLE_CONNS=$IDLE_CONNS SCENARIOS=\"$SCENARIOS\" bench/compare.sh"
echo "pinning: $PIN_NOTE (scale: the proxies on CPUs $ALL_CPUS, wrk and the backend still on CPU ${CLIENT_CPU})"
echo "backend: $DEMO_BIN --listen 127.0.0.1:0 --name backend (one process, one loop)"
echo "rounds: $ROUNDS, interleaved (every proxy per scenario, then the next scenario; proxy order rotated each round)"
echo "figures: median [min-max] over the rounds; ratios are of the medians"
echo "proxy CPU % below ~90: the proxy was not the limit (wrk and the backend share one core, and other jobs run), so"
echo "  requests/s and p99 partly measure the client side; CPU us/req is the figure that compares the proxies"
echo
echo "wrk commands (PORT = the proxy's; $WARMUP s warm-up with the same options before each):"
for scenario in $SCENARIOS; do
  [[ "$scenario" == idle* ]] && continue
  scenario_setup "$scenario" ballast
  wrk_command PORT
  printf '  %s: %s\n' "$scenario" "$(printf '%q ' "${WRK_CMD[@]}")"
done
for scenario in $SCENARIOS; do
  [[ "$scenario" == idle* ]] || continue
  echo "  $scenario: python client (lib.sh bench_idle_rss): $IDLE_CONNS connections, one GET each, then idle; summed VmRSS of the proxy's processes before and 1 s after"
done
echo "proxies: ${PIN_DEFAULT[*]} $BALLAST_BIN --config ballast.yaml | ${PIN_DEFAULT[*]} $HAPROXY -db -f haproxy.cfg | ${PIN_DEFAULT[*]} $NGINX -p DIR -c nginx.conf"
echo "  (configs: bench/lib.sh bench_start_proxy; keep-alive both sides, http-reuse safe, nginx upstream keepalive 64 and keepalive_requests 1000000)"
echo

python3 - "$RESULTS" "$SCENARIOS" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
scenarios = sys.argv[2].split()

def num(v):
    try:
        return float(v)
    except ValueError:
        return None

def agg(values):
    vals = [v for v in (num(x) for x in values) if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)

def fmt(v, digits):
    if v is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, digits)

def cell(values, digits):
    med, lo, hi = agg(values)
    if med is None:
        return "-"
    if len(values) == 1 or lo == hi:
        return fmt(med, digits)
    return "%s [%s-%s]" % (fmt(med, digits), fmt(lo, digits), fmt(hi, digits))

def ratio(a, b):
    return "-" if a is None or b in (None, 0) else "%.2f" % (a / b)

def table(header, lines):
    widths = [max(len(str(r[i])) for r in [header] + lines) for i in range(len(header))]
    out = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in lines:
        out.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    print("\n".join(out))

traffic = [s for s in scenarios if not s.startswith("idle")]
idle = [s for s in scenarios if s.startswith("idle")]
medians = {}
if traffic:
    lines = []
    for s in traffic:
        labels = []
        for r in rows:
            if r[0] == s and r[1] not in labels:
                labels.append(r[1])
        for label in sorted(labels, key=lambda l: ["ballast", "haproxy", "nginx"].index(l.split()[0])):
            rs = [r for r in rows if r[0] == s and r[1] == label]
            col = lambda i: [r[i] for r in rs]
            medians[(s, label.split()[0])] = tuple(agg(col(i))[0] for i in (3, 4, 5))
            errors = sum(int(r[7]) for r in rs)
            lines.append([s, label, cell(col(3), 0), cell(col(4), 2), cell(col(5), 2), cell(col(6), 0), errors])
    table(["scenario", "proxy", "requests/s", "CPU us/req", "p99 ms", "proxy CPU %", "errors"], lines)
    print()
    lines = []
    for s in traffic:
        b = medians.get((s, "ballast"), (None,) * 3)
        h = medians.get((s, "haproxy"), (None,) * 3)
        n = medians.get((s, "nginx"), (None,) * 3)
        lines.append([s, ratio(b[0], h[0]), ratio(b[0], n[0]), ratio(b[1], h[1]), ratio(b[1], n[1]), ratio(b[2], h[2]), ratio(b[2], n[2])])
    print("ballast / other (medians): requests/s above 1 = ballast faster; CPU/req and p99 below 1 = ballast cheaper / quicker")
    table(["scenario", "req/s vs HAProxy", "req/s vs nginx", "CPU/req vs HAProxy", "CPU/req vs nginx", "p99 vs HAProxy", "p99 vs nginx"], lines)
    if "log" in traffic and "get" in traffic:
        print()
        print("access log cost: CPU per request with the log on / off (medians)")
        for p in ("ballast", "haproxy", "nginx"):
            on, off = medians.get(("log", p), (None,) * 3), medians.get(("get", p), (None,) * 3)
            if on[1] and off[1]:
                print("  %-8s %.2f (%.2f -> %.2f us)" % (p, on[1] / off[1], off[1], on[1]))
    if "scale" in traffic and "scale1" in traffic:
        print()
        print("scaling, 1 -> 2 workers (threads for HAProxy), every proxy allowed on both CPUs, which wrk and the backend share:")
        for p in ("ballast", "haproxy", "nginx"):
            one, two = medians.get(("scale1", p), (None,) * 3), medians.get(("scale", p), (None,) * 3)
            if one[0] and two[0]:
                print("  %-8s requests/s x%.2f (%.0f -> %.0f), CPU/req %.2f -> %.2f us" % (p, two[0] / one[0], one[0], two[0], one[1] or 0, two[1] or 0))
if idle:
    print()
    lines = []
    for s in idle:
        med = {}
        for p in ("ballast", "haproxy", "nginx"):
            vals = [r[3] for r in rows if r[0] == s and r[1] == p]
            if vals:
                med[p] = agg(vals)[0]
                lines.append([s, p, cell(vals, 2), "", ""])
        if "ballast" in med:
            lines[-len(med)][3] = ratio(med["ballast"], med.get("haproxy"))
            lines[-len(med)][4] = ratio(med["ballast"], med.get("nginx"))
    table(["scenario", "proxy", "RSS KiB per idle client", "ballast/HAProxy", "ballast/nginx"], lines)
PY
