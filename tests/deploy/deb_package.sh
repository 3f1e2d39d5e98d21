#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` from this build, unpacked into a
# temporary root with `dpkg-deb -x`; the binary runs from there
# (`--version`, and `--check` of the config the package installs), the
# unit, the man page and the conffile are where the unit and the man page
# say, and the package depends on the shared libraries the binary links.
#
# usage: tests/deploy/deb_package.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() {
  echo "deb_package: FAIL: $*" >&2
  exit 1
}
for tool in cpack dpkg-deb; do
  command -v "$tool" >/dev/null || fail "$tool not found (packages cmake, dpkg)"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== cpack -G DEB"
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || {
  cat "$tmp/cpack.log" >&2
  fail "cpack -G DEB failed"
}
deb=$(ls "$tmp"/out/ballast_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no ballast_*.deb in $tmp/out: $(ls "$tmp/out")"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

echo "== dpkg-deb -x into a temporary root"
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
for f in usr/bin/ballast usr/lib/systemd/system/ballast.service usr/share/man/man8/ballast.8 \
  etc/ballast/ballast.yaml usr/share/doc/ballast/README.md; do
  [ -e "$root/$f" ] || fail "/$f is not in the package"
done
[ -x "$root/usr/bin/ballast" ] || fail "/usr/bin/ballast is not executable"

out=$("$root/usr/bin/ballast" --version) || fail "ballast --version from the package exited $?"
echo "$out"
want=$("$build/bin/ballast" --version)
[ "$out" = "$want" ] || fail "packaged --version says '$out', the build says '$want'"
"$root/usr/bin/ballast" --check --config "$root/etc/ballast/ballast.yaml" ||
  fail "the packaged /etc/ballast/ballast.yaml does not pass --check"

# The unit runs the paths the package installs.
grep -q '^ExecStart=/usr/bin/ballast --config /etc/ballast/ballast.yaml$' "$root/usr/lib/systemd/system/ballast.service" ||
  fail "the packaged unit does not run /usr/bin/ballast --config /etc/ballast/ballast.yaml"

echo "== control"
control=$(dpkg-deb -f "$deb")
echo "$control"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libuv1 libssl3 libsystemd0 libyaml-cpp; do
  echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -q 'conffiles' || fail "no conffiles in the control archive"
echo "deb_package: ok"
