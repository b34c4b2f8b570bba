#!/usr/bin/env bash
# The fault soak: 64 connections of mixed routes against the conformance app
# while Redis (AOF, appendfsync always) is paused for 3 s and restarted, then
# while the master behind three Sentinels is killed. Writes RELIABILITY.md and
# reliability-timeline.png (into $SOAK_OUT, default: the repository root) and
# fails when an answer other than 503 came during a fault, anything but 200
# outside one, a recovery took over 15 s, or an acknowledged write was lost
# on the standalone run.
#
#   scripts/soak.sh [seconds]     (default 60 seconds per run)
#
# SOAK_PROFILE=debug uses the debug build of the app (already built by the
# test suite, so CI skips a release build); the default is release.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out="${SOAK_OUT:-.}"

for tool in redis-server python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "soak: $tool is missing (scripts/test.sh installs it)" >&2
    exit 1
  fi
done

profile="${SOAK_PROFILE:-release}"
echo "==> building the conformance app ($profile)"
if [ "$profile" = release ]; then
  CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo build --release --quiet --example conformance
  app="target/release/examples/conformance"
else
  cargo build --quiet --example conformance
  app="target/debug/examples/conformance"
fi
export SOAK_PROFILE="$profile"

echo "==> soak: ${seconds} s standalone, ${seconds} s Sentinel"
python3 -B scripts/soak.py "$seconds" "$app" "$out"
