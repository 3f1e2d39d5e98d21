# Shared helpers for bench/*.sh. Source it; do not run it.
#
# Everything here stays on 127.0.0.1. Every process started through
# bench_spawn is recorded and killed (by pid) when the script exits, and the
# scratch directory is removed unless BENCH_KEEP=1.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)

# BALLAST_BUILD: build directory, relative to the repo root (default build)
# or absolute.
BALLAST_BUILD=${BALLAST_BUILD:-build}
case "$BALLAST_BUILD" in
  /*) BUILD_DIR=$BALLAST_BUILD ;;
  *) BUILD_DIR=$REPO_ROOT/$BALLAST_BUILD ;;
esac
BALLAST_BIN=$BUILD_DIR/bin/ballast
DEMO_BIN=$BUILD_DIR/bin/demo-backend

BENCH_PIDS=()
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ballast-bench.XXXXXX")

bench_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    # Give each process up to ~2 s to exit, then SIGKILL it.
    local i
    for i in $(seq 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  BENCH_PIDS=()
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "bench: scratch files kept in $BENCH_TMP" >&2
  else
    rm -rf "$BENCH_TMP"
  fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_track PID: kill PID on exit.
bench_track() { BENCH_PIDS+=("$1"); }

# bench_untrack PID: forget PID (it was reaped): cleanup must not signal a
# process that may since have been given the same pid.
bench_untrack() {
  local keep=() p
  for p in "${BENCH_PIDS[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# bench_alive PID: the process is running. (kill -0 also succeeds on a
# zombie: a child that died and has not been waited for.)
bench_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

# bench_stop PID: stop one tracked process now (SIGTERM, then SIGKILL).
bench_stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench_now_ms() { date +%s%3N; }

# bench_have TOOL: the tool is on PATH or in /usr/sbin (haproxy and nginx
# live there, which is not on a non-root PATH).
bench_have() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }
bench_which() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else echo "/usr/sbin/$1"; fi
}

# bench_require_tools TOOL...: install missing tools (Debian package names
# equal the tool names: wrk, haproxy, nginx). Tries scripts/install-deps.sh
# first, then apt-get for whatever is still missing.
bench_require_tools() {
  local missing=() t
  for t in "$@"; do bench_have "$t" || missing+=("$t"); done
  ((${#missing[@]} == 0)) && return 0
  bench_log "missing: ${missing[*]}"
  if [[ -x "$REPO_ROOT/scripts/install-deps.sh" ]]; then
    "$REPO_ROOT/scripts/install-deps.sh" >&2 || true
    local still=()
    for t in "${missing[@]}"; do bench_have "$t" || still+=("$t"); done
    missing=("${still[@]}")
    ((${#missing[@]} == 0)) && return 0
  fi
  local sudo_cmd=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 || bench_die "need ${missing[*]}; not root and no sudo"
    sudo_cmd=(sudo)
  fi
  bench_log "apt-get install -y ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update >&2
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
  for t in "${missing[@]}"; do bench_have "$t" || bench_die "$t still missing after apt-get"; done
}

bench_require_binaries() {
  [[ -x "$BALLAST_BIN" ]] || bench_die "no $BALLAST_BIN (build first, or set BALLAST_BUILD)"
  [[ -x "$DEMO_BIN" ]] || bench_die "no $DEMO_BIN (build the demo-backend target, or set BALLAST_BUILD)"
}

# bench_free_port: print a TCP port that was free a moment ago on 127.0.0.1.
bench_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# bench_wait_for FILE REGEX TIMEOUT_S: wait until FILE has a line matching REGEX.
bench_wait_for() {
  local file=$1 re=$2 timeout=$3 deadline
  deadline=$(($(bench_now_ms) + timeout * 1000))
  while (($(bench_now_ms) < deadline)); do
    if [[ -f "$file" ]] && grep -Eq -- "$re" "$file"; then return 0; fi
    sleep 0.05
  done
  return 1
}

# bench_start_stamper FIFO OUT: lines written to FIFO land in OUT prefixed
# with the wall-clock time (ms since the epoch) they arrived. Sets STAMPER_PID.
# Used for every log whose timing we measure, so ballast and HAProxy are
# timed the same way.
bench_start_stamper() {
  local fifo=$1 out=$2
  mkfifo "$fifo"
  python3 -u -c '
import sys, time
out = open(sys.argv[2], "w", buffering=1)
with open(sys.argv[1], "r", errors="replace") as f:
    for line in iter(f.readline, ""):
        out.write("%d %s" % (time.time() * 1000, line))
' "$fifo" "$out" &
  STAMPER_PID=$!
  bench_track "$STAMPER_PID"
}

# bench_start_demo NAME PORT [CPU]: start a demo backend (PORT 0 = any).
# Sets DEMO_PID and DEMO_PORT.
bench_start_demo() {
  local name=$1 port=$2 cpu=${3:-} out="$BENCH_TMP/demo-$1.out"
  local pin=()
  [[ -n "$cpu" ]] && pin=(taskset -c "$cpu")
  : >"$out"
  "${pin[@]}" "$DEMO_BIN" --listen "127.0.0.1:$port" --name "$name" >"$out" 2>&1 &
  DEMO_PID=$!
  bench_track "$DEMO_PID"
  bench_wait_for "$out" '^listening 127\.0\.0\.1:[0-9]+' 5 || bench_die "demo backend $name did not start: $(cat "$out")"
  DEMO_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
}

# bench_wrk_parse FILE: print "requests non2xx sockerr rps p50_ms p99_ms"
# from a wrk output file (--latency for the percentiles; "-" when absent).
bench_wrk_parse() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def num(pattern, default=0):
    m = re.search(pattern, text)
    return m.group(1) if m else default
def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return "-"
    x = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]
    return "%.2f" % x
requests = num(r"(\d+) requests in")
non2xx = num(r"Non-2xx or 3xx responses: (\d+)")
sock = 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if m:
    sock = sum(int(g) for g in m.groups())
rps = num(r"Requests/sec:\s+([\d.]+)", "0")
def pct(p):
    mm = re.search(r"(?m)^\s+%s%%\s+(\S+)" % p, text)
    return to_ms(mm.group(1)) if mm else "-"
p50, p99 = pct(50), pct(99)
print(requests, non2xx, sock, "%.0f" % float(rps), p50, p99)
PY
}

# bench_nginx_conf DIR PROXY_PORT ACCESS_LOG ERROR_LOG BACKEND_PORT...:
# prints a one-worker nginx reverse-proxy config listening on
# 127.0.0.1:PROXY_PORT with upstream keepalive to the backends (ACCESS_LOG:
# "off" or a file path; ERROR_LOG: "FILE LEVEL"). Shared by proxy.sh and reload.sh so both measure
# the same nginx.
bench_nginx_conf() {
  local dir=$1 proxy_port=$2 access=$3 error_log=$4 p user=""
  shift 4
  ((EUID == 0)) && user="user root;"
  if [[ "$access" == off ]]; then access="access_log off;"; else access="access_log $access;"; fi
  cat <<EOF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $error_log;
events { worker_connections 4096; }
http {
  $access
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream backend {
EOF
  for p in "$@"; do echo "    server 127.0.0.1:$p;"; done
  cat <<EOF
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

# bench_keepalive_client PORT N: sends N GETs over one keep-alive connection
# and prints how many were answered 200.
bench_keepalive_client() {
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

# bench_callgrind_instructions BIN CONFIG N: total instructions BIN executed
# under callgrind, from start to exit, serving N keep-alive GETs.
bench_callgrind_instructions() {
  local bin=$1 config=$2 n=$3 out="$BENCH_TMP/cg.$$.$RANDOM"
  valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin" --config "$config" \
    >"$out.stdout" 2>"$out.stderr" &
  local pid=$!
  bench_track "$pid"
  bench_wait_for "$out.stderr" '"event":"listening","kind":"proxy"' 60 || bench_die "ballast under callgrind did not start"
  local port
  port=$(sed -n 's/.*"kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$out.stderr" | head -1)
  local ok
  ok=$(bench_keepalive_client "$port" "$n")
  [[ "$ok" == "$n" ]] || bench_die "only $ok of $n requests answered 200"
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^summary: //p' "$out.cg"
}
