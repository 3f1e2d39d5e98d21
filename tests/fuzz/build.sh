#!/usr/bin/env bash
# Builds the libFuzzer targets with clang 14 (coverage + ASan + UBSan on
# every ballast library) into BUILD_DIR (default: build/fuzz).
#   tests/fuzz/build.sh [BUILD_DIR]
# Binaries: BUILD_DIR/bin/{request,response,chunked,config,admin}_fuzzer.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${1:-$ROOT/build/fuzz}"
CC="${FUZZ_CC:-clang-14}"
CXX="${FUZZ_CXX:-clang++-14}"
if [[ ! -f "$OUT/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" -DBALLAST_FUZZ=ON >/dev/null
fi
nice cmake --build "$OUT" --target fuzzers
