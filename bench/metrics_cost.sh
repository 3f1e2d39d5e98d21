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

# Sends N GETs over one keep-alive connection and checks every answer is 200.
client() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
buf = b""
ok = 0
for _ in range(n):
    s.sendall(req)
    while True:
        i = buf.find(b"\r\n\r\n")
        if i >= 0:
            head = buf[:i].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            if len(buf) >= i + 4 + length:
                if head.startswith("HTTP/1.1 200"):
                    ok += 1
                buf = buf[i + 4 + length:]
                break
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        buf += d
print(ok)
PY
}

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

# instructions BIN N: total instructions ballast executed to serve N requests.
instructions() {
  local bin=$1 n=$2 out="$BENCH_TMP/cg.$$.$RANDOM"
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" --config "$BENCH_TMP/metrics-cost.yaml" \
    >"$out.stdout" 2>"$out.stderr" &
  local pid=$!
  bench_track "$pid"
  bench_wait_for "$out.stderr" '"event":"listening","kind":"proxy"' 60 || bench_die "ballast under callgrind did not start"
  local port
  port=$(sed -n 's/.*"kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out.stderr" | head -1)
  local ok
  ok=$(client "$port" "$n")
  [[ "$ok" == "$n" ]] || bench_die "only $ok of $n requests answered 200"
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^summary: //p' "$out.cg"
}

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
w1=$(instructions "$BALLAST_BIN" "$N1")
w2=$(instructions "$BALLAST_BIN" "$N2")
bench_log "callgrind: $N1 and $N2 requests, without metrics"
o1=$(instructions "$NOMETRICS_BUILD/bin/ballast" "$N1")
o2=$(instructions "$NOMETRICS_BUILD/bin/ballast" "$N2")
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
