#!/usr/bin/env bash
# Acts from the status page in headless Chromium, the way an operator does:
#   1. two demo backends (a, b) behind one pool with fast health checks and
#      an admin token; the page is opened, asks for the token (401), gets it;
#   2. reason "INC-42" and "15 minutes" are chosen, b's "disable" button is
#      clicked: the page shows the result, /status shows b disabled with
#      that reason, by "status page", expiring in about 15 minutes, and 20
#      requests through ballast all go to a (the traffic moved);
#   3. b's "enable" button is clicked: b takes traffic again.
# The browser is driven by playwright-core (npm, installed by this script
# into BUILD/npm when missing) on Debian's chromium; nothing but 127.0.0.1
# is contacted by the page.
#
# usage: tests/observability/status_page_actions.sh [BUILD_DIR]   (default: build)
set -euo pipefail

SCRIPT=status_page_actions
# shellcheck source=tests/observability/lib.sh
source "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || fail "node not found (Debian package nodejs)"
command -v npm >/dev/null 2>&1 || fail "npm not found (Debian package npm)"
CHROME=$(command -v chromium || command -v chromium-browser) || {
  scripts/install-deps.sh --test >&2 || fail "scripts/install-deps.sh --test failed (could not install chromium)"
  CHROME=$(command -v chromium) || fail "chromium not found"
}
NPM_DIR="$BUILD/npm"
if [[ ! -f "$NPM_DIR/node_modules/playwright-core/package.json" ]]; then
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent playwright-core@1.65.1 >&2) ||
    fail "npm install playwright-core failed"
fi

start_demo a
A=$DEMO_ADDR
start_demo b
B=$DEMO_ADDR
TOKEN=page-test-token
cat >"$tmp/ballast.yaml" <<YAML
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0, token: $TOKEN, protect_reads: true }
log: { level: info, access: off, events: stderr }
pools:
  - name: web
    health_check: { interval: 200ms, timeout: 100ms, rise: 1, fall: 1, jitter: 0% }
    backends:
      - { address: $A }
      - { address: $B }
YAML
start_ballast
address_of admin
ADMIN=$ADDRESS
address_of proxy
PROXY=$ADDRESS
wait_match "$tmp/ballast.err" "\"backend\":\"$B\".*\"new\":\"healthy\"" 10 "$ballast_pid" || fail "b never healthy"

# Which backends answer 20 GETs through ballast (sorted, unique).
served_by() {
  for _ in $(seq 20); do
    curl -fsS --noproxy '*' --max-time 5 -D - -o /dev/null "http://$PROXY/" | tr -d '\r' | sed -n 's/^X-Backend: //Ip'
  done | sort -u | tr '\n' ' '
}
[[ "$(served_by)" == "a b " ]] || fail "before: traffic not on both backends: $(served_by)"

NODE_PATH="$NPM_DIR/node_modules" CHROME="$CHROME" ADMIN="$ADMIN" TOKEN="$TOKEN" B="$B" \
  node "$(dirname "$0")/status_page_actions.cjs" disable >"$tmp/page1.out" 2>&1 ||
  { cat "$tmp/page1.out" >&2; ballast_tail; fail "clicking disable on the page failed"; }
cat "$tmp/page1.out"
status=$(curl -fsS --noproxy '*' -H "Authorization: Bearer $TOKEN" "http://$ADMIN/status")
python3 - "$B" <<PY || fail "/status does not show the override made from the page: $status"
import json, sys
st = json.loads('''$status''')
b = [x for p in st["pools"] for x in p["backends"] if x["address"] == sys.argv[1]][0]
o = b.get("override") or {}
assert b["admin"] == "disabled", b
assert o.get("reason") == "INC-42" and o.get("by") == "status page", o
assert 850 <= o.get("expires_in_seconds", 0) <= 900, o
PY
[[ "$(served_by)" == "a " ]] || fail "after disable from the page, traffic still reaches b: $(served_by)"

NODE_PATH="$NPM_DIR/node_modules" CHROME="$CHROME" ADMIN="$ADMIN" TOKEN="$TOKEN" B="$B" \
  node "$(dirname "$0")/status_page_actions.cjs" enable >"$tmp/page2.out" 2>&1 ||
  { cat "$tmp/page2.out" >&2; ballast_tail; fail "clicking enable on the page failed"; }
cat "$tmp/page2.out"
[[ "$(served_by)" == "a b " ]] || fail "after enable from the page, traffic not back on both: $(served_by)"
grep -q '"event":"admin_action".*"action":"disable".*"reason":"INC-42".*"by":"status page"' "$tmp/ballast.err" ||
  fail "no admin_action event for the page's disable"

# 4. Both backends disabled through the API: the pool has none left, an
#    incident opens; its acknowledge button on the page acknowledges it.
for x in "$A" "$B"; do
  curl -fsS --noproxy '*' -X POST -H "Authorization: Bearer $TOKEN" -o /dev/null \
    "http://$ADMIN/pools/web/backends/$x/disable?reason=page-test" || fail "disable $x through the API failed"
done
wait_match "$tmp/ballast.err" '"event":"incident_opened"' 10 "$ballast_pid" || fail "no incident opened"
INCIDENT=$(grep '"event":"incident_opened"' "$tmp/ballast.err" | head -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
NODE_PATH="$NPM_DIR/node_modules" CHROME="$CHROME" ADMIN="$ADMIN" TOKEN="$TOKEN" B="$B" INCIDENT="$INCIDENT" \
  node "$(dirname "$0")/status_page_actions.cjs" ack >"$tmp/page3.out" 2>&1 ||
  { cat "$tmp/page3.out" >&2; ballast_tail; fail "acknowledging the incident on the page failed"; }
cat "$tmp/page3.out"
one=$(curl -fsS --noproxy '*' -H "Authorization: Bearer $TOKEN" "http://$ADMIN/incidents/$INCIDENT")
python3 - <<PY || fail "GET /incidents/$INCIDENT does not show the page's acknowledgement: $one"
import json
inc = json.loads('''$one''')
assert inc["acked_by"] == "status page", inc
assert inc["note"] == "INC-43 looking", inc
assert inc["acked_at"], inc
PY
grep -q '"event":"incident_acked".*"by":"status page"' "$tmp/ballast.err" || fail "no incident_acked event for the page's ack"
echo "$SCRIPT: OK (disable with a reason and enable from the page; traffic moved both ways; an incident acknowledged from the page)"
