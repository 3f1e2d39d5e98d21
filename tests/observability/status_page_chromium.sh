#!/usr/bin/env bash
# Loads ballast's status page (GET ADMIN/) in headless Chromium and checks
# that a backend is drawn red when it dies:
#   1. two demo backends behind one pool with fast health checks; once
#      /status says both are healthy, the page (after its own fetch of
#      /status) draws both backend nodes green and lists them as healthy;
#   2. backend b is SIGKILLed; once /status says it is unhealthy, the page
#      draws b red (and lists it as unhealthy) while a stays green;
#   3. a screenshot of each state is saved as BUILD/status-page-healthy.png
#      and BUILD/status-page-backend-down.png; both must be PNGs, and the
#      second must hold more red pixels than the first (the red is really
#      painted, not only present in the DOM).
#
# The DOM checks read the SVG node of each backend: the <g> whose <title>
# starts with "ADDRESS in pool", its <rect> stroke colour and its state line
# ("HEALTHY since ..."), and the backend table row (address, state).
#
# It starts BUILD/bin/demo-backend (twice) and BUILD/bin/ballast, all on
# 127.0.0.1 with ports chosen by the kernel, and stops everything it started
# on exit. Needs chromium (Debian package "chromium": when it is missing this
# script runs scripts/install-deps.sh --test, which installs it), curl and
# python3 (PNG decoding with zlib, DOM parsing with html.parser).
#
# usage: tests/observability/status_page_chromium.sh [BUILD_DIR]   (default: build)
# BUILD_DIR is relative to the repository root unless absolute. Exits non-zero
# on any failure. CHROMIUM=/path/to/chromium overrides the browser.
set -euo pipefail

SCRIPT=status_page_chromium
# shellcheck source=tests/observability/lib.sh
source "$(dirname "$0")/lib.sh"
SHOT_OK="$BUILD/status-page-healthy.png"
SHOT_DOWN="$BUILD/status-page-backend-down.png"

command -v python3 >/dev/null 2>&1 || fail "python3 not found (apt-get install python3)"

find_chromium() {
  if [[ -n "${CHROMIUM:-}" ]]; then
    command -v "$CHROMIUM"
    return
  fi
  command -v chromium || command -v chromium-browser
}
if ! CHROME=$(find_chromium); then
  echo "status_page_chromium: chromium not found, running scripts/install-deps.sh --test"
  scripts/install-deps.sh --test >&2 || fail "scripts/install-deps.sh --test failed (could not install chromium)"
  CHROME=$(find_chromium) || fail "chromium still not found after scripts/install-deps.sh --test"
fi

# --- two demo backends ------------------------------------------------------
start_demo a
A=$DEMO_ADDR
start_demo b
B=$DEMO_ADDR
B_PID=$DEMO_PID

# --- ballast in front of them -----------------------------------------------
cat >"$tmp/ballast.yaml" <<EOF
listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
log:
  level: info
  access: off
  events: stderr
pools:
  - name: web
    health_check: { type: http, path: /healthz, interval: 200ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0% }
    backends:
      - { address: $A }
      - { address: $B }
  # Only the split below names it: never probed, never sent a request.
  - name: canary
    backends:
      - { address: 127.0.0.1:9 }
routes:
  # Markup in a config value: the page must show it as text, never run it.
  - { match: { path_prefix: "/<img src=x onerror=document.title='pwned'><script>document.title='pwned'</script>" }, pool: web }
  - { match: { path_prefix: /canary }, split: [{ pool: web, weight: 3 }, { pool: canary, weight: 1 }] }
  - { match: { path: /maintenance }, return: { status: 503, body: down } }
  - { pool: web }
EOF
start_ballast
address_of admin
ADMIN=$ADDRESS
echo "backends a=$A b=$B, ballast admin $ADMIN"

# Prints "ADDRESS STATE" for every backend in GET ADMIN/status.
states() {
  curl -fsS --noproxy '*' --max-time 5 "http://$ADMIN/status" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    for b in p["backends"]:
        print(b["address"], b["state"])'
}

# wait_states SECONDS "ADDR STATE"...: polls /status until every given
# backend is in the given state.
wait_states() {
  local deadline=$(($(now_us) + $1 * 1000000)) want got ok
  shift
  while :; do
    got=$(states 2>/dev/null) || got=
    ok=1
    for want in "$@"; do grep -qxF "$want" <<<"$got" || ok=0; done
    ((ok)) && return 0
    kill -0 "$ballast_pid" 2>/dev/null || { ballast_tail; fail "ballast exited"; }
    if (($(now_us) > deadline)); then
      ballast_tail
      fail "within $1 s GET http://$ADMIN/status did not show: $* (last: ${got:-no answer})"
    fi
    sleep 0.05
  done
}

# --- headless chromium ------------------------------------------------------
# The page fetches /status and draws when loaded; --virtual-time-budget lets
# that fetch and the drawing finish before the DOM is dumped or the
# screenshot taken. Own profile, cache and config dirs; nothing but
# 127.0.0.1 is contacted.
mkdir -p "$tmp/xdg-config" "$tmp/xdg-cache"
browse() { # OUT_FILE ARGS...: runs chromium on the status page, stdout to OUT_FILE
  local out=$1 profile rc=0
  shift
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  XDG_CONFIG_HOME="$tmp/xdg-config" XDG_CACHE_HOME="$tmp/xdg-cache" \
    timeout -k 5 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --no-proxy-server --hide-scrollbars \
    --user-data-dir="$profile" --virtual-time-budget=5000 \
    "$@" "http://$ADMIN/" >"$out" 2>"$tmp/chromium.err" &
  pids+=($!)
  wait $! || rc=$?
  if ((rc != 0)); then
    echo "--- chromium stderr (last 20 lines):" >&2
    tail -n 20 "$tmp/chromium.err" >&2 || true
    fail "chromium exited with status $rc"
  fi
}

# check_dom DOM_FILE "ADDR STATE"...: the page drew each backend in STATE.
# healthy must be green and unhealthy red (by hue of the node's outline, so
# a palette tweak does not break the test), the node's state line must name
# the state, and the table row must list it.
check_dom() {
  python3 - "$@" <<'PY'
import sys
from html.parser import HTMLParser

dom_file, wants = sys.argv[1], [w.split(" ", 1) for w in sys.argv[2:]]

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.groups, self.stack = [], []          # svg <g> nodes
        self.rows, self.row, self.cell = [], None, None   # table rows
        self.in_title = self.in_text = False
        self.meta = ""
        self.in_meta = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "g":
            self.stack.append({"title": "", "rect": None, "texts": []})
        elif tag == "title" and self.stack:
            self.in_title = True
        elif tag == "rect" and self.stack and self.stack[-1]["rect"] is None:
            self.stack[-1]["rect"] = a
        elif tag == "text" and self.stack:
            self.in_text = True
            self.stack[-1]["texts"].append("")
        elif tag == "tr":
            self.row = []
        elif tag == "td" and self.row is not None:
            self.row.append("")
            self.cell = True
        elif tag == "span" and a.get("id") == "meta":
            self.in_meta = True
    def handle_endtag(self, tag):
        if tag == "g" and self.stack:
            self.groups.append(self.stack.pop())
        elif tag == "title":
            self.in_title = False
        elif tag == "text":
            self.in_text = False
        elif tag == "td":
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None
        elif tag == "span":
            self.in_meta = False
    def handle_data(self, data):
        if self.in_title and self.stack:
            self.stack[-1]["title"] += data
        if self.in_text and self.stack:
            self.stack[-1]["texts"][-1] += data
        if self.cell and self.row:
            self.row[-1] += data
        if self.in_meta:
            self.meta += data

page = Page()
with open(dom_file, encoding="utf-8") as f:
    page.feed(f.read())

def rgb(c):
    c = (c or "").strip().lower()
    if len(c) == 7 and c[0] == "#":
        return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))
    return None

def hue(c):
    v = rgb(c)
    if v is None:
        return "?"
    r, g, b = v
    if r >= 150 and g < 100 and b < 100:
        return "red"
    if g > r + 40 and g > b + 40:
        return "green"
    return "other"

COLOUR = {"healthy": "green", "unhealthy": "red"}
errors = []
if "loading" in page.meta or not page.meta.strip():
    errors.append("the page never rendered /status (header still says %r)" % page.meta.strip())
for addr, state in wants:
    nodes = [g for g in page.groups if g["title"].startswith(addr + " in pool ") and g["rect"]]
    if len(nodes) != 1:
        errors.append("%s: expected 1 SVG node titled '%s in pool ...', found %d" % (addr, addr, len(nodes)))
    else:
        n = nodes[0]
        stroke, fill = n["rect"].get("stroke"), n["rect"].get("fill")
        line = n["texts"][1] if len(n["texts"]) > 1 else ""
        print("  svg node %s: stroke %s (%s), fill %s, %r" % (addr, stroke, hue(stroke), fill, line))
        if hue(stroke) != COLOUR[state]:
            errors.append("%s: node outline %s is %s, expected %s for %s" % (addr, stroke, hue(stroke), COLOUR[state], state))
        if not line.startswith(state.upper() + " "):
            errors.append("%s: node state line is %r, expected %s ..." % (addr, line, state.upper()))
    rows = [r for r in page.rows if len(r) >= 3 and r[1].strip() == addr]
    if len(rows) != 1:
        errors.append("%s: expected 1 table row, found %d" % (addr, len(rows)))
    elif rows[0][2].strip() != state:
        errors.append("%s: table says %r, expected %r" % (addr, rows[0][2].strip(), state))
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
}

# png_stats FILE: prints "WIDTH HEIGHT RED GREEN": the size and the number of
# clearly red and clearly green pixels of an 8-bit RGB/RGBA PNG.
png_stats() {
  python3 - "$1" <<'PY'
import struct, sys, zlib

data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat, ihdr = 8, [], None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        break
w, h, depth, ctype, _, _, interlace = ihdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(idat))
stride = w * bpp
prev = bytearray(stride)
red = green = 0
i = 0
for _ in range(h):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    if f == 1:
        for x in range(bpp, stride):
            line[x] = (line[x] + line[x - bpp]) & 255
    elif f == 2:
        for x in range(stride):
            line[x] = (line[x] + prev[x]) & 255
    elif f == 3:
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
    elif f == 4:
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[x] = (line[x] + pr) & 255
    elif f != 0:
        sys.exit("bad PNG filter %d" % f)
    for x in range(0, stride, bpp):
        r, g, b = line[x], line[x + 1], line[x + 2]
        if r >= 150 and g < 100 and b < 100:
            red += 1
        elif g > r + 40 and g > b + 40:
            green += 1
    prev = line
print(w, h, red, green)
PY
}

snapshot() { # LABEL PNG "ADDR STATE"...: dump-dom + check, then screenshot
  local label=$1 png=$2
  shift 2
  local t0
  t0=$(now_us)
  browse "$tmp/$label.html" --dump-dom
  echo "page ($label): DOM dumped in $((($(now_us) - t0) / 1000)) ms"
  if ! check_dom "$tmp/$label.html" "$@"; then
    cp "$tmp/$label.html" "$BUILD/status-page-$label.html" 2>/dev/null || true
    fail "the status page does not show $* (DOM saved as $BUILD/status-page-$label.html)"
  fi
  rm -f "$png"
  t0=$(now_us)
  browse "$tmp/$label.shot.out" --screenshot="$png" --window-size=1400,900
  [[ -s "$png" ]] || fail "chromium wrote no screenshot $png"
  STATS=$(png_stats "$png") || fail "$png is not a readable PNG: $STATS"
  read -r W H RED GREEN <<<"$STATS"
  echo "page ($label): screenshot $png (${W}x${H}, $(stat -c %s "$png") bytes," \
    "$RED red / $GREEN green pixels) in $((($(now_us) - t0) / 1000)) ms"
  [[ "$W" == 1400 && "$H" == 900 ]] || fail "$png is ${W}x${H}, expected 1400x900"
}

# --- 1. both healthy ---------------------------------------------------------
wait_states 15 "$A healthy" "$B healthy"
echo "/status: a and b healthy"
snapshot healthy "$SHOT_OK" "$A healthy" "$B healthy"
RED_OK=$RED
# The route with markup in its path prefix is drawn as text: no <img> or
# second <script> element in the DOM, the title untouched.
python3 - "$tmp/healthy.html" <<'PY' || fail "the status page did not escape markup from the config (DOM in $tmp/healthy.html)"
import sys
dom = open(sys.argv[1], encoding="utf-8", errors="replace").read()
assert "pwned" not in dom.split("<title>")[1].split("</title>")[0], "document.title was changed"
assert "<img" not in dom.lower(), "an <img> element was created"
assert dom.count("<script") == 1, "a second <script> element was created"
assert "&lt;img src=x onerror=" in dom, "the markup is not shown as text"
print("status page: markup from the config shown as text, not run")
PY
# Each route says what it does: a split names its pools and weights, a
# return its status.
python3 - "$tmp/healthy.html" <<'PY' || fail "the status page does not describe the split and return routes (DOM in $tmp/healthy.html)"
import sys
dom = open(sys.argv[1], encoding="utf-8", errors="replace").read()
for want in ("route routes[1]: host any host, path /canary -&gt; web 3, canary 1",
             "route routes[2]: host any host, path /maintenance -&gt; return 503"):
    assert want in dom, "missing: " + want
print("status page: split and return routes drawn with their targets")
PY

# --- 2. kill b: it turns red, a stays green ---------------------------------
kill -KILL "$B_PID"
{ wait "$B_PID"; } 2>/dev/null || true # (no "Killed" notice)
t0=$(now_us)
wait_states 10 "$A healthy" "$B unhealthy"
echo "/status: b unhealthy $((($(now_us) - t0) / 1000)) ms after SIGKILL, a healthy"
snapshot backend-down "$SHOT_DOWN" "$A healthy" "$B unhealthy"
RED_DOWN=$RED

# --- 3. the red is painted ----------------------------------------------------
# The legend's red swatch is in both; the down page adds b's red outline,
# state line, dashed edge and table dot.
((RED_DOWN > RED_OK + 200)) ||
  fail "the backend-down screenshot has $RED_DOWN red pixels, the healthy one $RED_OK: b is not drawn red"

kill -0 "$ballast_pid" 2>/dev/null || { ballast_tail; fail "ballast exited during the test"; }
echo "status_page_chromium: OK"
