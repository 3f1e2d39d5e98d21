#!/usr/bin/env bash
# examples/docker/Dockerfile (the image cannot be built here: no registry):
#   - the runtime stage copies exactly the shared libraries that
#     `ldd BUILD/bin/ballast` lists, from the paths ldd resolves;
#   - it runs as a non-root user, stops with SIGTERM, and its HEALTHCHECK
#     asks the admin listener of the baked-in config for /healthz: the
#     command is run against a live ballast with that config (ports
#     replaced by free ones) and must pass, and fail once ballast is gone;
#   - the baked-in config passes `ballast --check`.
#
# usage: tests/deploy/docker_libs.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "$1" && pwd)
df=examples/docker/Dockerfile
cfg=examples/docker/ballast.yaml
fail() {
  echo "docker_libs: FAIL: $*" >&2
  exit 1
}
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# A sanitizer build links the sanitizer runtimes, which the image (built
# from a Release build) does not carry: nothing to compare.
# (ldd's output first: grep -q would end the pipe early, and with pipefail
# ldd's SIGPIPE would make the test false.)
linked=$(ldd "$build/bin/ballast")
if grep -qE 'libasan|libubsan' <<<"$linked"; then
  echo "docker_libs: skipped: $build/bin/ballast is a sanitizer build"
  exit 77
fi

# Libraries: ldd's resolved paths vs the Dockerfile's COPY --from=build
# sources ending in .so or .so.N.
ldd "$build/bin/ballast" | awk '
  $2 == "=>" && $3 ~ /^\// { print $3; next }
  $1 ~ /^\// { print $1 }' | sort >"$tmp/ldd"
awk '/^FROM /{stage++} stage == 2 && $1 == "COPY" && $2 == "--from=build" && $3 ~ /\.so(\.[0-9]+)*$/ { print $3 }' "$df" |
  sort >"$tmp/copied"
[ -s "$tmp/ldd" ] || fail "ldd listed nothing for $build/bin/ballast"
if ! diff -u "$tmp/ldd" "$tmp/copied" >"$tmp/diff"; then
  cat "$tmp/diff" >&2
  fail "$df copies other libraries than ldd lists (- ldd only, + Dockerfile only)"
fi
echo "== $(wc -l <"$tmp/ldd") libraries, the same in ldd and $df"

grep -q '^FROM debian:12 AS build$' "$df" || fail "the build stage is not Debian 12"
grep -q '^FROM debian:12-slim$' "$df" || fail "the runtime stage is not debian:12-slim"
grep -q '^STOPSIGNAL SIGTERM$' "$df" || fail "no STOPSIGNAL SIGTERM"
user=$(awk '$1 == "USER" { u = $2 } END { print u }' "$df")
case "$user" in
  "" | root | 0 | 0:*) fail "the image runs as root (USER '$user')" ;;
esac

"$build/bin/ballast" --check --config "$cfg" >/dev/null || fail "$cfg does not pass ballast --check"

# The HEALTHCHECK command, as the runtime shell would see it.
hc=$(python3 - "$df" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
m = re.search(r'^HEALTHCHECK .*?CMD (\[.*\])$', text, re.M)
print(json.loads(m.group(1))[2] if m else "")
PY
)
[ -n "$hc" ] || fail "no HEALTHCHECK CMD [\"bash\", \"-c\", ...] in $df"
admin_port=$(sed -n 's/^  listen: 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$cfg")
[ -n "$admin_port" ] || fail "no loopback admin listen in $cfg"
case "$hc" in
  *"/dev/tcp/127.0.0.1/$admin_port"*"GET /healthz "*) ;;
  *) fail "the HEALTHCHECK does not ask 127.0.0.1:$admin_port/healthz: $hc" ;;
esac

# Live: the baked-in config on free ports; the healthcheck passes, then
# fails once ballast has stopped.
sed -e 's/^listen: .*/listen: 127.0.0.1:0/' -e "s/^  listen: 127\.0\.0\.1:$admin_port/  listen: 127.0.0.1:0/" \
  -e "s#^state_file: .*#state_file: $tmp/state.jsonl#" -e "s/delay: 5s/delay: 0s/" "$cfg" >"$tmp/live.yaml"
"$build/bin/ballast" --config "$tmp/live.yaml" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '"event":"started"' "$tmp/err" && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/err" >&2; fail "ballast exited"; }
  sleep 0.05
done
live_admin=$(grep '"kind":"admin"' "$tmp/err" | sed -n 's/.*"address":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' | head -1)
[ -n "$live_admin" ] || { cat "$tmp/err" >&2; fail "no admin listening event"; }
live_hc=${hc//\/dev\/tcp\/127.0.0.1\/$admin_port//dev/tcp/127.0.0.1/$live_admin}
bash -c "$live_hc" || fail "the HEALTHCHECK command failed against a live ballast (admin port $live_admin)"
echo "== HEALTHCHECK passes against a live ballast"
kill -TERM "$pid"
wait "$pid" || fail "ballast did not exit 0 on SIGTERM"
pid=
if bash -c "$live_hc" 2>/dev/null; then
  fail "the HEALTHCHECK command passed with ballast stopped"
fi
echo "docker_libs: ok"
