#!/usr/bin/env bash
# examples/systemd/ballast.service passes `systemd-analyze verify` (with
# ExecStart pointing at this build's binary), and a deliberately broken
# copy does not (so the check can fail). Exits 77 (skipped) when
# systemd-analyze is missing or cannot run here.
#
# usage: tests/deploy/systemd_unit.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "$1" && pwd)
unit=examples/systemd/ballast.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd_unit: SKIP: systemd-analyze not found (Debian package 'systemd')"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Can it run at all here? A trivial unit must verify.
printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$tmp/probe.service"
if ! out=$(timeout 60 systemd-analyze verify --man=no "$tmp/probe.service" 2>&1); then
  echo "systemd_unit: SKIP: systemd-analyze cannot run in this environment: $out"
  exit 77
fi

# The unit as shipped, with the paths of this build.
sed "s#/usr/bin/ballast#$build/bin/ballast#g" "$unit" >"$tmp/ballast.service"
echo "== systemd-analyze verify $unit"
if ! out=$(timeout 60 systemd-analyze verify --man=no "$tmp/ballast.service" 2>&1) || [ -n "$out" ]; then
  echo "systemd_unit: FAIL: $unit: $out" >&2
  exit 1
fi

# What the unit must say (issue 14's list).
for line in 'Type=notify' 'ExecStartPre=/usr/bin/ballast --check --config ' 'ExecReload=/bin/kill -HUP $MAINPID' \
  'Restart=on-failure' 'WatchdogSec=' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'StateDirectory=ballast'; do
  grep -qF -- "$line" "$unit" || {
    echo "systemd_unit: FAIL: $unit lacks '$line'" >&2
    exit 1
  }
done

# The checker catches a broken unit.
sed 's/^Type=notify/Type=notifyy/' "$tmp/ballast.service" >"$tmp/broken.service"
if out=$(timeout 60 systemd-analyze verify --man=no "$tmp/broken.service" 2>&1) && [ -z "$out" ]; then
  echo "systemd_unit: FAIL: a unit with Type=notifyy passed systemd-analyze verify" >&2
  exit 1
fi
echo "systemd_unit: ok"
