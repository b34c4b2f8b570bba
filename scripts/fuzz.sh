#!/usr/bin/env bash
# Long property-test runs over everything that parses hostile input (cookie
# headers and values, INI files, stored values, Redis replies):
#   scripts/fuzz.sh [minutes]      (default 10)
# Runs the property tests in release mode again and again, each time with a
# fresh random seed and 20,000 cases per property, until the time is up.
# Stops at the first failure and prints it (proptest shrinks it first).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
case "$minutes" in
  ''|*[!0-9]*) echo "fuzz.sh: minutes = \"$minutes\": expected a whole number, e.g. 10" >&2; exit 2 ;;
esac
end=$(( $(date +%s) + minutes * 60 ))
cargo test --release --all-features --test main --no-run --quiet
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  round=$((round + 1))
  echo "==> round $round"
  PROPTEST_CASES=20000 cargo test --release --all-features --test main --quiet -- \
    fuzz::
  PROPTEST_CASES=20000 cargo test --release --all-features --lib --quiet -- proptest
done
echo "fuzz.sh: $round rounds in $minutes minutes, no failure"
