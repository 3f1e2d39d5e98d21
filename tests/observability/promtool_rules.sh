#!/usr/bin/env bash
# Static checks of the monitoring examples, no ballast process needed:
#   - examples/prometheus/alerts.yml parses (promtool check rules) and its
#     unit tests pass (promtool test rules alerts_test.yml);
#   - examples/prometheus/prometheus.yml is a valid Prometheus config;
#   - every PromQL query of examples/grafana/ballast-dashboard.json parses
#     (each is checked as a recording rule, with the Grafana variables
#     replaced by plain values);
#   - every runbook_url anchor in alerts.yml names a "### Runbook: Name"
#     heading (in README.md once it has a "## Runbook" section, else in
#     examples/prometheus/RUNBOOK.md).
#
# usage: tests/observability/promtool_rules.sh     (from anywhere)
# Exits non-zero on the first failure. Needs promtool, from the Debian
# package "prometheus" (scripts/install-deps.sh --test installs it).
set -euo pipefail

cd "$(dirname "$0")/../.."

ALERTS=examples/prometheus/alerts.yml
ALERTS_TEST=examples/prometheus/alerts_test.yml
PROM_CONFIG=examples/prometheus/prometheus.yml
DASHBOARD=examples/grafana/ballast-dashboard.json

fail() {
  echo "promtool_rules: FAIL: $*" >&2
  exit 1
}

if ! command -v promtool >/dev/null 2>&1; then
  fail "promtool not found. It comes with the Debian package 'prometheus':" \
    "run scripts/install-deps.sh --test (or apt-get install prometheus)."
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules $ALERTS"
promtool check rules "$ALERTS" || fail "$ALERTS does not pass promtool check rules"

echo "== promtool test rules $ALERTS_TEST"
promtool test rules "$ALERTS_TEST" || fail "unit tests in $ALERTS_TEST failed"

echo "== promtool check config $PROM_CONFIG"
promtool check config "$PROM_CONFIG" || fail "$PROM_CONFIG does not pass promtool check config"

# Dashboard queries. The generator writes each "expr" on one line as a JSON
# string; undo the JSON escapes that occur in PromQL (\" and \\).
echo "== PromQL of $DASHBOARD"
grep -oE '"expr": "([^"\\]|\\.)*"' "$DASHBOARD" |
  sed -E 's/^"expr": "//; s/"$//; s/\\"/"/g; s/\\\\/\\/g' >"$tmp/exprs"
n=$(wc -l <"$tmp/exprs")
((n > 0)) || fail "no \"expr\" found in $DASHBOARD"
{
  echo "groups:"
  echo "  - name: dashboard"
  echo "    rules:"
  i=0
  while IFS= read -r expr; do
    i=$((i + 1))
    # Grafana variables: a range for $__rate_interval and friends, a regex
    # for the template variables ($pool, $instance).
    expr=${expr//\$__rate_interval/5m}
    expr=${expr//\$__interval/1m}
    expr=${expr//\$__range/1h}
    expr=${expr//\$instance/.*}
    expr=${expr//\$pool/.*}
    if [[ "$expr" == *'$'* ]]; then
      fail "dashboard query $i uses a variable this test does not know: $expr"
    fi
    echo "      - record: dashboard:query_$i"
    echo "        expr: |"
    echo "          $expr"
  done <"$tmp/exprs"
} >"$tmp/dashboard_rules.yml"
promtool check rules "$tmp/dashboard_rules.yml" >/dev/null ||
  { promtool check rules "$tmp/dashboard_rules.yml" || true; fail "a query of $DASHBOARD does not parse (see above)"; }
echo "  $n queries parse"

# Runbook anchors: "### Runbook: BackendDown" -> #runbook-backenddown
# (GitHub's rule: lower case, drop punctuation but '-', spaces to '-').
echo "== runbook anchors"
if grep -q '^## Runbook' README.md; then
  runbook=README.md
else
  runbook=examples/prometheus/RUNBOOK.md
fi
grep -E '^#+ ' "$runbook" |
  sed -E 's/^#+ +//' | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g' >"$tmp/anchors"
alerts=$(grep -cE '^ *- alert:' "$ALERTS")
urls=$(grep -oE 'runbook_url: *[^ ]+' "$ALERTS" | sed -E 's/runbook_url: *//')
[[ $(echo "$urls" | grep -c .) -eq "$alerts" ]] || fail "each of the $alerts alerts needs one runbook_url"
while IFS= read -r url; do
  anchor=${url##*#}
  [[ "$url" == *README.md#* ]] || fail "runbook_url does not point into README.md: $url"
  grep -qxF "$anchor" "$tmp/anchors" || fail "runbook_url $url: no heading for #$anchor in $runbook"
done <<<"$urls"
echo "  $alerts runbook_url anchors found in $runbook"

echo "promtool_rules: OK"
