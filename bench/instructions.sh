#!/usr/bin/env bash
# Instructions per request under callgrind: repeatable on a busy machine (it
# counts instructions, not time). Serves N1 and then N2 keep-alive GETs over
# one connection through ballast in front of one demo backend and reports
# (I(N2) - I(N1)) / (N2 - N1), so start-up and shutdown cancel out.
#   bench/instructions.sh                       build/bin/ballast, access log off and on
#   BALLAST_BIN_UNDER_TEST=/path/ballast bench/instructions.sh
#   N1=2000 N2=6000 bench/instructions.sh
#   ACCESS_LOG=off EXTRA_YAML='explain: { buffer: 0 }' bench/instructions.sh   (one variant, extra config)
# Prints one line per variant: "access_log=off instructions_per_request=13297
# baseline=13297 change=+0.0%", the change against bench/instructions.baseline
# (committed; refresh it with UPDATE_BASELINE=1 after a deliberate change,
# so a regression shows in the diff).
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


BASELINE="$(dirname "$0")/instructions.baseline"
results=()
variants=(off "$BENCH_TMP/access.log")
[[ "${ACCESS_LOG:-both}" == off ]] && variants=(off)
for access in "${variants[@]}"; do
  write_config "$access"
  i1=$(bench_callgrind_instructions "$BIN" "$BENCH_TMP/instructions.yaml" "$N1")
  i2=$(bench_callgrind_instructions "$BIN" "$BENCH_TMP/instructions.yaml" "$N2")
  label=off
  [[ "$access" != off ]] && label=file
  ipr=$(( (i2 - i1) / (N2 - N1) ))
  base=$(awk -v k="access_log=$label" '$1 == k { print $2 }' "$BASELINE" 2>/dev/null || true)
  change=$(awk -v n="$ipr" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%+.1f%%", (n - b) * 100 / b; else print "n/a" }')
  echo "access_log=$label instructions_per_request=$ipr baseline=${base:-none} change=$change"
  results+=("access_log=$label $ipr")
done
if [[ "${UPDATE_BASELINE:-0}" == 1 && -z "${EXTRA_YAML:-}" ]]; then
  {
    echo "# bench/instructions.sh: instructions per request (callgrind, N1=$N1 N2=$N2), $(date -u +%F) at $(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo unknown)"
    printf '%s\n' "${results[@]}"
  } >"$BASELINE"
  echo "baseline written: $BASELINE"
fi
