#!/usr/bin/env bash
# Builds ballast and runs the whole test suite (unit, loop and end-to-end).
#   ./test.sh                     Release build in build/, ctest there
#   BALLAST_SANITIZE=1 ./test.sh  ASan+UBSan Debug build in build-asan/, ctest there
# Exits non-zero if the build or any test fails.
set -euo pipefail

cd "$(dirname "$0")"

scripts/install-deps.sh --test

CTEST_ARGS=(--output-on-failure -j2 --timeout 300)

if [[ "${BALLAST_SANITIZE:-0}" == "1" ]]; then
  BUILD_DIR=build-asan
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBALLAST_SANITIZE=ON
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
else
  BUILD_DIR=build
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi

cmake --build "$BUILD_DIR"
ctest --test-dir "$BUILD_DIR" "${CTEST_ARGS[@]}"
