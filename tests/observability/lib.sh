# shellcheck shell=bash
# Shared by the observability test scripts. Source it after setting SCRIPT
# (the name in failure messages); $1 of the script is the build directory.
# Sets ROOT, BUILD, BALLAST, DEMO and a scratch dir $tmp; every process
# started through start_demo/start_ballast is stopped on exit (SIGTERM, up to
# 5 s, then SIGKILL) and $tmp is removed. Everything runs on 127.0.0.1 with
# ports chosen by the kernel.

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD

BUILD=${1:-build}
[[ "$BUILD" == /* ]] || BUILD="$ROOT/$BUILD"
BALLAST="$BUILD/bin/ballast"
DEMO="$BUILD/bin/demo-backend"

fail() {
  echo "$SCRIPT: FAIL: $*" >&2
  exit 1
}

[[ -x "$BALLAST" ]] || fail "$BALLAST not found (build first, or pass the build dir as \$1)"
[[ -x "$DEMO" ]] || fail "$DEMO not found (build first, or pass the build dir as \$1)"
command -v curl >/dev/null 2>&1 || fail "curl not found (scripts/install-deps.sh installs it)"

tmp=$(mktemp -d)
pids=()

cleanup() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() { echo "${EPOCHREALTIME/./}"; }

# Shows what ballast said, for a failure's context.
ballast_tail() {
  echo "--- ballast stderr (last 20 lines):" >&2
  tail -n 20 "$tmp/ballast.err" >&2 || true
}

# wait_match FILE REGEX SECONDS PID: polls FILE until a line matches the
# extended REGEX and leaves that line in MATCH; fails after SECONDS, or as
# soon as process PID (the one writing FILE) has exited. (It runs in this
# shell, not in a $(...) subshell, so a SIGTERM is handled within a poll.)
MATCH=
wait_match() {
  local file=$1 re=$2 deadline=$(($(now_us) + $3 * 1000000)) pid=$4
  while (($(now_us) < deadline)); do
    if MATCH=$(grep -m1 -E "$re" "$file" 2>/dev/null); then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

# start_demo NAME: starts a demo backend on an ephemeral port; sets
# DEMO_ADDR (127.0.0.1:PORT) and DEMO_PID.
start_demo() {
  "$DEMO" --listen 127.0.0.1:0 --name "$1" >"$tmp/demo-$1.out" 2>"$tmp/demo-$1.err" &
  DEMO_PID=$!
  pids+=("$DEMO_PID")
  wait_match "$tmp/demo-$1.out" '^listening 127\.0\.0\.1:[0-9]+' 10 "$DEMO_PID" ||
    fail "demo-backend $1 did not print 'listening 127.0.0.1:PORT' within 10 s: $(cat "$tmp/demo-$1.err")"
  DEMO_ADDR=${MATCH#listening }
  DEMO_ADDR=${DEMO_ADDR%%[[:space:]]*}
}

# start_ballast: runs ballast with $tmp/ballast.yaml; sets ballast_pid.
start_ballast() {
  "$BALLAST" --config "$tmp/ballast.yaml" >"$tmp/ballast.out" 2>"$tmp/ballast.err" &
  ballast_pid=$!
  pids+=("$ballast_pid")
}

# address_of KIND: waits for ballast's {"event":"listening","kind":KIND,...}
# line and sets ADDRESS to its address.
address_of() {
  wait_match "$tmp/ballast.err" "\"event\":\"listening\".*\"kind\":\"$1\"|\"kind\":\"$1\".*\"event\":\"listening\"" 10 "$ballast_pid" ||
    { ballast_tail; fail "ballast logged no listening event for its $1 listener within 10 s (or exited)"; }
  ADDRESS=$(sed -E 's/.*"address":"([^"]+)".*/\1/' <<<"$MATCH")
  [[ "$ADDRESS" == 127.0.0.1:* ]] || fail "unexpected $1 address '$ADDRESS'"
}
