#!/usr/bin/env bash
# The nightly conformance job: every available backend on every suite with
# the default plans and each backend's expectations file; then the reports
# made from the night's JSON report, and the history kept beside them.
#
#   scripts/nightly.sh            everything available (installs the engines
#                                 first, idempotently)
#   NIGHTLY_BACKENDS="reference node" NIGHTLY_SUITES="webapi" scripts/nightly.sh
#                                 a smaller night (for trying it out)
#   NIGHTLY_RELEASES="node@22 node@26" scripts/nightly.sh
#                                 other releases beside the machine's engines
#                                 (default: node's current and previous major
#                                 lines, node@26 node@24; pinned in
#                                 engines/versions.lock, installed on first
#                                 use); "" for none
#
#   NIGHTLY_BACKENDS_AT_ONCE=2 scripts/nightly.sh
#                                 two backends side by side (default 1;
#                                 the reports are the same either way)
#
# Writes under ${NIGHTLY_OUT:-reports}:
#   nightly/<date>/report.json    the run's JSON report (reports/SCHEMA.md)
#   nightly/<date>/junit.xml, wptreport.json, summary.md
#   history/                      every night's report, by date and commit
#   site/index.html               the HTML site, with the history
# Extra arguments go to `streamconform run` (e.g. --shard 1/3, --quiet).
# Exit status: the run's (0 nothing unexpected, 1 unexpected results,
# 2 bad input or no backend could run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${NIGHTLY_OUT:-reports}
night=$(date -u +%F)

if [ -z "${NIGHTLY_BACKENDS:-}" ]; then
  # A machine without sudo gets the JS engines; the browsers' absence is
  # then reported by `backends` below, not hidden.
  scripts/install-engines.sh all || scripts/install-engines.sh js || true
fi
cargo build --release -q -p streamconform-cli
bin=target/release/streamconform

if [ -n "${NIGHTLY_BACKENDS:-}" ]; then
  read -r -a backends <<<"$NIGHTLY_BACKENDS"
else
  # Pinned releases are listed too (as "pinned:"); NIGHTLY_RELEASES picks.
  mapfile -t backends < <("$bin" backends | awk '$2 != "unavailable:" && $2 != "pinned:" { print $1 }')
  "$bin" backends | grep "unavailable:" | sed 's/^/nightly: skipped, /' >&2 || true
  read -r -a releases <<<"${NIGHTLY_RELEASES-node@24 node@26}"
  backends+=("${releases[@]}")
fi
read -r -a suites <<<"${NIGHTLY_SUITES:-spec streaming webapi}"
[ "${#backends[@]}" -gt 0 ] || { echo "nightly: no backend available" >&2; exit 2; }

args=()
for b in "${backends[@]}"; do
  args+=(--backend "$b")
  [ -f "expectations/$b.toml" ] && args+=(--expectations "expectations/$b.toml")
done
for s in "${suites[@]}"; do args+=(--suite "$s"); done

dir="$out/nightly/$night"
mkdir -p "$dir"
status=0
# A case that fails unexpectedly runs again on fresh workers (twice, or
# NIGHTLY_RETRIES times): one that then passes is flaky (its own status;
# it still fails the night).
"$bin" run "${args[@]}" --plans default --retries "${NIGHTLY_RETRIES:-2}" \
  --backends-at-once "${NIGHTLY_BACKENDS_AT_ONCE:-1}" --report "$dir/report.json" \
  --junit "$dir/junit.xml" --wptreport "$dir/wptreport.json" --markdown "$dir/summary.md" \
  --history "$out/history" --html "$out/site" "$@" || status=$?
echo "nightly: $dir, site $out/site/index.html (exit $status)"
exit "$status"
