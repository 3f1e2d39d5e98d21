#!/usr/bin/env bash
# Where a proxy's CPU per request goes: user space against the kernel, and
# the system calls it makes per request. For ballast, HAProxy and nginx in
# the small-GET scenario of compare.sh (one proxy thread, pinned; keep-alive
# both sides), so "what stands in the way of 0.7x HAProxy's CPU per request"
# is a measured answer: callgrind (bench/instructions.sh) sees only user
# space, this script shows how much of the CPU is the kernel's and how many
# system calls of each kind every request costs.
#
# Two runs per proxy:
#   1. wrk -t1 -c$CONNS -d$DURATION: utime and stime of the proxy's processes
#      (from /proc, clock ticks) divided by the requests wrk counted;
#   2. strace -c -f on the proxy during a second wrk run of $STRACE_DURATION
#      (strace slows the proxy; only the counts are used, divided by the
#      requests of that run).
#
# Environment: DURATION [5s]  STRACE_DURATION [3s]  CONNS [50]
#   TARGETS ["ballast haproxy nginx"]  BALLAST_BUILD [build]  BENCH_KEEP [0]
# Not part of ctest: timings depend on the machine.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-5s}
STRACE_DURATION=${STRACE_DURATION:-3s}
CONNS=${CONNS:-50}
TARGETS=${TARGETS:-"ballast haproxy nginx"}

bench_require_tools wrk haproxy nginx python3 strace
bench_require_binaries
bench_pin_setup
bench_start_demo backend 0 "$BACKEND_CPU"
# shellcheck disable=SC2034 # read by bench_start_proxy
BACKEND_PORT=$DEMO_PORT

# ticks PID...: "utime stime" summed over the processes and their children.
ticks() {
  local p u=0 s=0 rest f
  for p in $(bench_pids_with_children "$@"); do
    rest=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"$rest"
    u=$((u + f[11]))
    s=$((s + f[12]))
  done
  echo "$u $s"
}

RESULTS=$BENCH_TMP/split.tsv
: >"$RESULTS"
for target in $TARGETS; do
  dir=$BENCH_TMP/$target
  bench_start_proxy "$target" "$dir"
  bench_wait_http "http://127.0.0.1:$PROXY_PORT/" || bench_die "$target does not answer"
  "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PROXY_PORT/" >/dev/null 2>&1 || true
  read -r u0 s0 < <(ticks "$PROXY_PID")
  "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PROXY_PORT/" >"$dir/wrk.out" 2>&1
  read -r u1 s1 < <(ticks "$PROXY_PID")
  read -r requests _ < <(bench_wrk_parse "$dir/wrk.out")
  # strace every process of the proxy (nginx: the master and its worker).
  strace_args=()
  for p in $(bench_pids_with_children "$PROXY_PID"); do strace_args+=(-p "$p"); done
  strace -c -f -o "$dir/strace.txt" "${strace_args[@]}" 2>/dev/null &
  STRACE_PID=$!
  sleep 0.5 # strace attaches (no readiness signal to wait on; counts are per request)
  "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"$STRACE_DURATION" "http://127.0.0.1:$PROXY_PORT/" >"$dir/wrk-strace.out" 2>&1
  kill -INT "$STRACE_PID" 2>/dev/null || true
  wait "$STRACE_PID" 2>/dev/null || true
  read -r traced_requests _ < <(bench_wrk_parse "$dir/wrk-strace.out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$requests" "$((u1 - u0))" "$((s1 - s0))" "$traced_requests" \
    "$dir/strace.txt" "$CLK_TCK" >>"$RESULTS"
  bench_stop "$PROXY_PID"
  bench_untrack "$PROXY_PID"
done

echo "# CPU per request, user vs kernel, and system calls per request: bench/cpu_split.sh"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$BALLAST_BIN" --version 2>&1 | head -1) ($(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown))"
echo "command: DURATION=$DURATION STRACE_DURATION=$STRACE_DURATION CONNS=$CONNS bench/cpu_split.sh ($PIN_NOTE)"
python3 - "$RESULTS" <<'PY'
import re, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print()
print("| proxy | requests | user us/req | kernel us/req | kernel share | syscalls/req | top calls per request |")
print("|---|---|---|---|---|---|---|")
for target, req, ut, st, treq, path, hz in rows:
    req, ut, st, treq, hz = int(req), int(ut), int(st), int(treq), int(hz)
    calls = {}
    for line in open(path):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1))
    total = sum(calls.values())
    user = ut / hz * 1e6 / req if req else 0
    kern = st / hz * 1e6 / req if req else 0
    top = ", ".join("%s %.2f" % (k, v / treq) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:6]) if treq else "-"
    print("| %s | %d | %.2f | %.2f | %.0f%% | %.2f | %s |" % (target, req, user, kern, 100 * kern / (user + kern) if user + kern else 0,
                                                         total / treq if treq else 0, top))
PY
