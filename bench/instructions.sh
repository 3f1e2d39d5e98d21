#!/usr/bin/env bash
# Instructions per request under callgrind: repeatable on a busy machine (it
# counts instructions, not time). Serves N1 and then N2 keep-alive GETs over
# one connection through ballast in front of one demo backend and reports
# (I(N2) - I(N1)) / (N2 - N1), so start-up and shutdown cancel out.
#   bench/instructions.sh                       build/bin/ballast, access log off and on
#   BALLAST_BIN_UNDER_TEST=/path/ballast bench/instructions.sh
#   N1=2000 N2=6000 bench/instructions.sh
#   ACCESS_LOG=off EXTRA_YAML='explain: { buffer: 0 }' bench/instructions.sh   (one variant, extra config)
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
${EXTRA_YAML:-}
YAML
}


variants=(off "$BENCH_TMP/access.log")
[[ "${ACCESS_LOG:-both}" == off ]] && variants=(off)
for access in "${variants[@]}"; do
  write_config "$access"
  i1=$(bench_callgrind_instructions "$BIN" "$BENCH_TMP/instructions.yaml" "$N1")
  i2=$(bench_callgrind_instructions "$BIN" "$BENCH_TMP/instructions.yaml" "$N2")
  label=off
  [[ "$access" != off ]] && label=file
  echo "access_log=$label instructions_per_request=$(( (i2 - i1) / (N2 - N1) ))"
done
