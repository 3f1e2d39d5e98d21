#!/usr/bin/env bash
# Builds ballast (Release, build/) and runs the demo: three demo backends on
# 127.0.0.1:9001, :9002 and :9003 behind ballast on 127.0.0.1:8080, with
# active health checks, configured by examples/demo.yaml; prints a one-minute
# walk-through (kill a backend and watch it fail over on the status page,
# bring it back, drain one with a reason). Ctrl-C (or SIGTERM) stops everything.
set -euo pipefail

cd "$(dirname "$0")"

BUILD_DIR=build
CONFIG=examples/demo.yaml
HOST=127.0.0.1
PROXY_PORT=8080
ADMIN_PORT=9100
BACKEND_PORTS=(9001 9002 9003)

pids=()

# Stops every child we started: SIGTERM, then SIGKILL for any that has not
# exited after 5 seconds. Runs once, on any exit path.
# shellcheck disable=SC2317  # invoked from the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#pids[@]} > 0)); then
    echo "run.sh: stopping..." >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local waited=0
    while ((waited < 50)); do
      local alive=0
      for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive=1; fi
      done
      ((alive)) || break
      sleep 0.1
      waited=$((waited + 1))
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do
      wait "$pid" 2>/dev/null || true
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True if something accepts TCP connections on HOST:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

check_ports_free() {
  local port
  for port in "$PROXY_PORT" "$ADMIN_PORT" "${BACKEND_PORTS[@]}"; do
    if port_in_use "$port"; then
      echo "run.sh: port $port on $HOST is already in use (another run.sh or ballast still running?)." >&2
      echo "run.sh: the demo needs ports $PROXY_PORT, $ADMIN_PORT and ${BACKEND_PORTS[*]}; free them and retry." >&2
      exit 1
    fi
  done
}

# Waits until HOST:$1 accepts connections, or fails if process $2 exits or
# 10 seconds pass.
wait_for_port() {
  local port=$1 pid=$2 name=$3 tries=0
  until port_in_use "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $name exited before listening on $HOST:$port" >&2
      exit 1
    fi
    if ((tries >= 100)); then
      echo "run.sh: $name is not listening on $HOST:$port after 10s" >&2
      exit 1
    fi
    sleep 0.1
    tries=$((tries + 1))
  done
}

check_ports_free

scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" --target ballast demo-backend

check_ports_free

backend_pids=()
for i in "${!BACKEND_PORTS[@]}"; do
  port=${BACKEND_PORTS[$i]}
  name="demo-$((i + 1))"
  "$BUILD_DIR/bin/demo-backend" --listen "$HOST:$port" --name "$name" >/dev/null &
  pids+=("$!")
  backend_pids+=("$!")
  wait_for_port "$port" "$!" "$name"
done

# ballast runs in the background of this script but in the foreground of the
# terminal (same output); waiting on it lets the traps run as soon as a signal
# arrives.
"$BUILD_DIR/bin/ballast" --config "$CONFIG" &
ballast_pid=$!
pids+=("$ballast_pid")
wait_for_port "$PROXY_PORT" "$ballast_pid" ballast

cat <<EOF

ballast is up: curl http://$HOST:$PROXY_PORT/   (X-Backend says which demo backend answered)

A one-minute walk-through, in a second terminal:
  1. Open the status page: http://$HOST:$ADMIN_PORT/  (three green backends, probed every second)
  2. Keep a client running:
       while sleep 0.2; do curl -s -o /dev/null -w '%{http_code} ' http://$HOST:$PROXY_PORT/; done
  3. Kill a backend:  kill -9 ${backend_pids[1]}
     Within about 2 s demo-2 turns red on the page; the client keeps printing 200.
  4. Bring it back:   $BUILD_DIR/bin/demo-backend --listen $HOST:${BACKEND_PORTS[1]} --name demo-2 &
     Two passing probes later it is green and takes traffic again.
  5. Drain one for maintenance, with a reason and an expiry:
       curl -s -X POST "http://$HOST:$ADMIN_PORT/pools/web/backends/$HOST:${BACKEND_PORTS[2]}/drain?for=2m&reason=demo"
     The page shows it draining, why and until when; it comes back by itself after 2 minutes.
  6. Run a drill (demo-2's probes fail on purpose for 20 s; it ends by itself):
       $BUILD_DIR/bin/ballast drill --admin $HOST:$ADMIN_PORT --pool web --backend $HOST:${BACKEND_PORTS[1]} --duration 20s
     Once its incident has closed (about 30 s after the drill), its postmortem draft:
       $BUILD_DIR/bin/ballast postmortem --journal $BUILD_DIR/demo-journal.jsonl
  Events (state changes with their reasons) print below as JSON lines.

Press Ctrl-C to stop.
EOF

set +e
wait "$ballast_pid"
status=$?
set -e
echo "run.sh: ballast exited with status $status" >&2
exit "$status"
