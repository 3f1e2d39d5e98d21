#!/usr/bin/env bash
# Installs the Debian packages ballast needs to build and test, and nothing
# else. Idempotent: packages already installed are left alone, and when all
# of them are present it prints one line and does not touch apt at all.
#
# usage: scripts/install-deps.sh [--test]
#   --test   also install the packages only the test suite needs
set -euo pipefail

# Build and run: compilers, build tools, libraries (llhttp comes as C sources
# in node-llhttp), and the tools run.sh uses.
BUILD_PACKAGES=(
  build-essential
  cmake
  ninja-build
  pkg-config
  g++
  clang-14
  libclang-rt-14-dev
  libuv1-dev
  node-llhttp
  libyaml-cpp-dev
  prometheus-cpp-dev
  libspdlog-dev
  libfmt-dev
  catch2
  libssl-dev      # TLS termination and TLS to backends (OpenSSL 3)
  openssl         # the CLI: test certificates are generated at test time
  libre2-dev      # route regexes (linear time)
  libsystemd-dev  # sd_notify: Type=notify units and the watchdog
  libc-ares-dev   # DNS discovery of backends (c-ares on the libuv loop)
  libbenchmark-dev # bench/balancer_bench.cc (Google Benchmark)
  curl
  procps
)

# Test-only packages (added with --test). Keep additions here, e.g.
# varnish or prometheus once a test needs them.
TEST_PACKAGES=(
  prometheus # promtool: tests/observability (alert rule tests, /metrics lint)
  chromium   # headless browser: tests/observability/status_page_chromium.sh
  python3    # helpers inside the observability test scripts and bench/
  python3-yaml # PyYAML: tests/deploy/kubernetes.py
  systemd    # systemd-analyze: tests/deploy/systemd_unit.sh (already there on most systems)
  wrk        # bench/ load generator
  haproxy    # bench/ peer
  nginx      # bench/ peer
)

usage() {
  echo "usage: $0 [--test]" >&2
}

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "$0: unknown argument: $arg" >&2
      usage
      exit 2
      ;;
  esac
done

packages=("${BUILD_PACKAGES[@]}")
if ((want_test)); then
  packages+=("${TEST_PACKAGES[@]}")
fi

is_installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ "$status" == "install ok installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  if ! is_installed "$pkg"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages (${missing[*]}) and not root, and sudo is not available" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
