# shellcheck shell=bash
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
    local _
    for _ in $(seq 20); do
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
  local pid=$1 _
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 30); do
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
  # shellcheck disable=SC2034 # read by the caller
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
# prints an nginx reverse-proxy config listening on 127.0.0.1:PROXY_PORT
# with upstream keepalive to the backends (ACCESS_LOG: "off" or a file path,
# optionally followed by "bench_json" for the JSON line above; ERROR_LOG:
# "FILE LEVEL"). Shared by proxy.sh, reload.sh, tls.sh and compare.sh so all
# measure the same nginx. Optional environment: BENCH_NGINX_WORKERS
# (worker_processes, default 1), BENCH_NGINX_TLS=1 (listen ssl with
# $CERTS/site.pem, tickets and session cache off), BENCH_NGINX_IDLE
# (keepalive_timeout in seconds; when set, keepalive_requests is raised to
# 1000000 so nginx does not close a busy client connection every 1000
# requests, which ballast and HAProxy never do).
bench_nginx_conf() {
  local dir=$1 proxy_port=$2 access=$3 error_log=$4 p user="" ssl="" ssl_lines="" keepalive=""
  shift 4
  ((EUID == 0)) && user="user root;"
  if [[ "$access" == off ]]; then access="access_log off;"; else access="access_log $access;"; fi
  if [[ "${BENCH_NGINX_TLS:-0}" == 1 ]]; then
    ssl=" ssl"
    ssl_lines="ssl_certificate $CERTS/site.pem;
    ssl_certificate_key $CERTS/site.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;"
  fi
  if [[ -n "${BENCH_NGINX_IDLE:-}" ]]; then
    keepalive="keepalive_requests 1000000;
    keepalive_timeout ${BENCH_NGINX_IDLE}s;"
  fi
  cat <<EOF
$user
worker_processes ${BENCH_NGINX_WORKERS:-1};
daemon off;
pid $dir/nginx.pid;
error_log $error_log;
events { worker_connections 4096; }
http {
  log_format bench_json escape=json '$BENCH_NGINX_LOG_FORMAT';
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
    listen 127.0.0.1:$proxy_port$ssl;
    $ssl_lines
    $keepalive
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

# --- shared by proxy.sh, tls.sh, tls_rss.sh and compare.sh -------------------

# shellcheck disable=SC2034 # used by the sourcing scripts
CLK_TCK=$(getconf CLK_TCK)

# bench_pin_setup: with 2+ CPUs, proxies run on PROXY_CPU (default 0), wrk
# and the demo backend on CLIENT_CPU (default 1). Sets NCPU, PIN_PROXY and
# PIN_CLIENT (command prefixes; empty with 1 CPU), BACKEND_CPU and PIN_NOTE.
# shellcheck disable=SC2034 # the variables are the sourcing script's
bench_pin_setup() {
  PROXY_CPU=${PROXY_CPU:-0}
  CLIENT_CPU=${CLIENT_CPU:-1}
  NCPU=$(nproc)
  PIN_PROXY=()
  PIN_CLIENT=()
  BACKEND_CPU=""
  if ((NCPU >= 2)); then
    PIN_PROXY=(taskset -c "$PROXY_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
    BACKEND_CPU=$CLIENT_CPU
    PIN_NOTE="proxy pinned to CPU $PROXY_CPU; wrk and the demo backend share CPU $CLIENT_CPU"
  else
    PIN_NOTE="only 1 CPU: nothing pinned, wrk, backend and proxy share it (ratios only)"
  fi
}

# bench_pids_with_children PID...: the PIDs and their direct children (an
# nginx master and its workers), one a line.
bench_pids_with_children() {
  local p
  for p in "$@"; do
    echo "$p"
    pgrep -P "$p" 2>/dev/null || true
  done
}

# bench_cpu_ticks PID...: utime + stime, in clock ticks (CLK_TCK a second),
# of the processes and their direct children.
bench_cpu_ticks() {
  local p total=0 rest f
  for p in $(bench_pids_with_children "$@"); do
    rest=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    read -r -a f <<<"$rest"
    # Counting from the state after the ")" of the command name, utime is
    # the 12th field and stime the 13th.
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# bench_make_certs [KIND]: test certificates (ec or rsa) into $BENCH_TMP/certs;
# sets CERTS. site-with-key.pem is the certificate and key in one file
# (HAProxy's format).
bench_make_certs() {
  CERTS=$BENCH_TMP/certs
  sh "$REPO_ROOT/tests/support/make_test_certs.sh" "$CERTS" "${1:-ec}"
  cat "$CERTS/site.pem" "$CERTS/site.key" >"$CERTS/site-with-key.pem"
}

# bench_wait_http URL: wait up to 5 s for a 2xx from URL (certificate not
# checked).
bench_wait_http() {
  local _
  for _ in $(seq 100); do
    curl -fsSk -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# The access-log line of HAProxy and nginx in the benchmarks: JSON with the
# fields of ballast's line that they have (request id, client, method, path,
# status, backend, duration, bytes in and out; HAProxy's termination state),
# so "access log on" costs each proxy a comparable line per request.
BENCH_HAPROXY_LOG_FORMAT='{"time":"%tr","request_id":"%ID","client":"%ci:%cp","method":"%HM","path":"%HU","status":%ST,"backend":"%si:%sp","duration_ms":%Ta,"bytes_in":%U,"bytes_out":%B,"termination":"%ts"}'
# shellcheck disable=SC2016 # nginx variables, not shell ones
BENCH_NGINX_LOG_FORMAT='{"time":"$time_iso8601","request_id":"$request_id","client":"$remote_addr:$remote_port","method":"$request_method","path":"$request_uri","status":$status,"backend":"$upstream_addr","duration_ms":$request_time,"bytes_in":$request_length,"bytes_out":$bytes_sent}'

# bench_start_proxy TARGET DIR [log=off|on] [tls=0|1] [workers=N] [idle=S]:
# starts ballast, haproxy or nginx as a reverse proxy on 127.0.0.1 (a free
# port) in front of 127.0.0.1:$BACKEND_PORT, config and logs in DIR, under
# the command prefix in PIN_PROXY (taskset; may be empty). Sets PROXY_PID and
# PROXY_PORT; the process is tracked (killed on exit).
#   log=on   one JSON line per request to DIR/access.log (default off)
#   tls=1    terminate TLS with $CERTS/site.pem (bench_make_certs); session
#            tickets and caches off in all three
#   workers  ballast workers / HAProxy nbthread / nginx worker_processes
#            (default 1)
#   idle     client keep-alive idle timeout in seconds (default 60)
# All three: keep-alive to the backend, no per-connection request limit
# (nginx's keepalive_requests raised from its default 1000).
bench_start_proxy() {
  local target=$1 dir=$2 log=off tls=0 workers=1 idle=60 kv
  shift 2
  for kv in "$@"; do
    case "$kv" in
      log=*) log=${kv#log=} ;;
      tls=*) tls=${kv#tls=} ;;
      workers=*) workers=${kv#workers=} ;;
      idle=*) idle=${kv#idle=} ;;
      *) bench_die "bench_start_proxy: unknown option $kv" ;;
    esac
  done
  mkdir -p "$dir"
  case "$target" in
    ballast) _bench_start_ballast ;;
    haproxy) _bench_start_haproxy ;;
    nginx) _bench_start_nginx ;;
    *) bench_die "unknown target $target (ballast, haproxy, nginx)" ;;
  esac
  bench_track "$PROXY_PID"
}

# The three starters below read bench_start_proxy's locals (dir, log, tls,
# workers, idle).
_bench_start_ballast() {
  local access=off listen="127.0.0.1:0"
  [[ "$log" == on ]] && access="$dir/access.log"
  if ((tls)); then
    listen="
  - address: 127.0.0.1:0
    tls:
      certificates: [{ cert: $CERTS/site.pem, key: $CERTS/site.key }]
      session_tickets: false"
  fi
  cat >"$dir/ballast.yaml" <<YAML
listen: $listen
admin: { listen: 127.0.0.1:0 }
log: { level: info, access: $access, events: $dir/events.log }
limits: { max_connections: 20000 }
timeouts: { client_idle: ${idle}s }
workers: $workers
pools:
  - name: web
    backends:
      - { address: 127.0.0.1:$BACKEND_PORT }
YAML
  "$BALLAST_BIN" --check --config "$dir/ballast.yaml" >/dev/null
  "${PIN_PROXY[@]}" "$BALLAST_BIN" --config "$dir/ballast.yaml" >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
  bench_wait_for "$dir/events.log" '"event":"listening","kind":"proxy"' 5 || {
    bench_track "$PROXY_PID"
    bench_die "ballast did not start: $(cat "$dir/stdout.log")"
  }
  PROXY_PORT=$(sed -n 's/.*"event":"listening","kind":"proxy","address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$dir/events.log" | head -1)
  if ((workers > 1)); then
    bench_wait_for "$dir/events.log" '"event":"workers_ready"' 10 || bench_die "ballast workers not ready: $(tail -5 "$dir/events.log")"
  fi
}

_bench_start_haproxy() {
  local log_lines="  no log" ssl_global="" ssl_bind=""
  if [[ "$log" == on ]]; then
    log_lines="  log global
  unique-id-format %[uuid()]
  log-format '$BENCH_HAPROXY_LOG_FORMAT'"
  fi
  if ((tls)); then
    ssl_global="  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
  tune.ssl.cachesize 0"
    ssl_bind=" ssl crt $CERTS/site-with-key.pem alpn http/1.1"
  fi
  : "${HAPROXY:=$(bench_which haproxy)}"
  PROXY_PORT=$(bench_free_port)
  cat >"$dir/haproxy.cfg" <<CFG
global
  log stdout format raw local0
  nbthread $workers
  maxconn 4096
$ssl_global

defaults
  mode http
$log_lines
  timeout connect 2s
  timeout client ${idle}s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive ${idle}s

frontend fe
  bind 127.0.0.1:$PROXY_PORT$ssl_bind
  default_backend be

backend be
  http-reuse safe
  server b1 127.0.0.1:$BACKEND_PORT
CFG
  "$HAPROXY" -c -q -f "$dir/haproxy.cfg"
  # The access log goes to stdout, i.e. to a file, like the others'.
  "${PIN_PROXY[@]}" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/access.log" 2>"$dir/stderr.log" &
  PROXY_PID=$!
}

_bench_start_nginx() {
  local access=off
  [[ "$log" == on ]] && access="$dir/access.log bench_json"
  : "${NGINX:=$(bench_which nginx)}"
  PROXY_PORT=$(bench_free_port)
  BENCH_NGINX_WORKERS=$workers BENCH_NGINX_TLS=$tls BENCH_NGINX_IDLE=$idle \
    bench_nginx_conf "$dir" "$PROXY_PORT" "$access" "$dir/error.log warn" "$BACKEND_PORT" >"$dir/nginx.conf"
  "$NGINX" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  "${PIN_PROXY[@]}" "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  PROXY_PID=$!
}

# bench_idle_rss PORT TLS N PID...: opens N connections to 127.0.0.1:PORT
# (TLS 1 = over TLS, nothing resumed), makes one keep-alive GET on each and
# leaves them idle; prints "before after": the summed VmRSS (KiB) of the PIDs
# before the first connection and one second after the last.
bench_idle_rss() {
  python3 - "$@" <<'PY'
import socket, ssl, sys, time
port, use_tls, n, pids = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4:]
def rss():
    total = 0
    for pid in pids:
        try:
            for line in open("/proc/%s/status" % pid):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
time.sleep(0.5)
before = rss()
conns = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    # Without it the request waits for the ACK of the TLS Finished (Nagle
    # against a delayed ACK: ~40 ms a connection when no ticket follows).
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if use_tls:
        s = ctx.wrap_socket(s, server_hostname="site.test")
    s.sendall(b"GET / HTTP/1.1\r\nHost: rss\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed before the response head")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += s.recv(65536)
    conns.append(s)
time.sleep(1.0)
after = rss()
print(before, after)
for s in conns:
    s.close()
PY
}
