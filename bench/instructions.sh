#!/usr/bin/env bash
# Instructions per request under callgrind: repeatable on a busy machine (it
# counts instructions, not time). Serves N1 and then N2 keep-alive GETs over
# one connection through ballast in front of one demo backend and reports
# (I(N2) - I(N1)) / (N2 - N1), so start-up and shutdown cancel out.
#   bench/instructions.sh                       build/bin/ballast, access log off and on
#   BALLAST_BIN_UNDER_TEST=/path/ballast bench/instructions.sh
#   N1=2000 N2=6000 bench/instructions.sh
# Prints one line per variant: "access_log=off instructions_per_request=13297".
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N1=${N1:-2000}
N2=${N2:-6000}
BIN=${BALLAST_BIN_UNDER_TEST:-$BALLAST_BIN}

bench_require_tools valgrind
bench_require_binaries
bench_start_demo instructions 0
BACKEND_PORT=$DEMO_PORT

# Sends N GETs over one keep-alive connection; prints how many were 200.
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

# write_config ACCESS: ACCESS is "off" or a file path.
write_config() {
  cat >"$BENCH_TMP/instructions.yaml" <<YAML
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
log: { access: $1 }
pools:
  - name: web
    backends:
      - { address: "127.0.0.1:$BACKEND_PORT" }
YAML
}

# instructions N: total instructions ballast executed to serve N requests.
instructions() {
  local n=$1 out="$BENCH_TMP/cg.$$.$RANDOM"
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$BIN" --config "$BENCH_TMP/instructions.yaml" \
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

for access in off "$BENCH_TMP/access.log"; do
  write_config "$access"
  i1=$(instructions "$N1")
  i2=$(instructions "$N2")
  label=off
  [[ "$access" != off ]] && label=file
  echo "access_log=$label instructions_per_request=$(( (i2 - i1) / (N2 - N1) ))"
done
