#!/usr/bin/env bash
# One short libFuzzer run of one target on a copy of its seed corpus (what
# ctest runs; tests/fuzz/CMakeLists.txt). Fails on any finding and prints
# the reproducer's path.
#   tests/fuzz/smoke.sh FUZZ_BUILD_DIR TARGET SECONDS
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$1" TARGET="$2" SECONDS_="$3"
BIN="$BUILD/bin/${TARGET}_fuzzer"
WORK="$BUILD/smoke/$TARGET"
rm -rf "$WORK"
mkdir -p "$WORK/corpus" "$WORK/artifacts"
set +e
nice "$BIN" -max_total_time="$SECONDS_" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" "$ROOT/tests/fuzz/corpus/$TARGET" >"$WORK/log" 2>&1
rc=$?
set -e
grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units" "$WORK/log" || true
if [[ $rc -ne 0 ]] || compgen -G "$WORK/artifacts/*" >/dev/null; then
  grep -A40 -E "INVARIANT VIOLATED|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer|LeakSanitizer)|runtime error" "$WORK/log" | head -80
  echo "fuzz-$TARGET: finding (exit $rc); reproducer(s): $(ls "$WORK/artifacts")"
  echo "replay: $BIN $WORK/artifacts/<file>"
  exit 1
fi
echo "fuzz-$TARGET: no finding in ${SECONDS_} s"
