#!/usr/bin/env bash
# Benchmarks: builds in release mode, runs the criterion micro-benchmarks,
# runs every contestant against a private redis-server with wrk, profiles
# /read and /incr with perf (as scripts/profile.sh does), and writes
# BENCHMARKS.md and benches/results/ (tables, profile, raw JSON, chart).
# Not part of the test command. About 15 minutes on a fresh 2-core machine
# (6 of them building), about 10 with warm caches.
#
#   scripts/bench.sh            # full run
#   scripts/bench.sh --quick    # 3 s per route, 100k preloaded sessions: a smoke run
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v perf >/dev/null 2>&1 || need_apt+=(linux-perf)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]} (Debian packages)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! python3 -c "import matplotlib" >/dev/null 2>&1; then
  echo "==> installing matplotlib (for the chart)"
  python3 -m pip install -q matplotlib
fi

echo "==> building (release)"
cargo build --release --example conformance
CARGO_TARGET_DIR="$PWD/target" cargo build --release --manifest-path benches/peers/Cargo.toml

echo "==> criterion micro-benchmarks"
cargo bench --bench micro -- --warm-up-time 1 --measurement-time 3 --noplot

echo "==> load runs"
python3 scripts/bench.py "$@"

# The profiles run last, so that their perf runs never disturb a load run.
if [ "${1:-}" = "--quick" ]; then
  echo "==> profiles skipped (--quick); the report keeps benches/results/profile.md as it is"
elif perf stat -e cpu-clock true >/dev/null 2>&1; then
  echo "==> profiles"
  python3 scripts/bench.py --profile
else
  echo "==> perf cannot sample here (needs root or kernel.perf_event_paranoid <= 1): no profile in the report"
  rm -f benches/results/profile.md benches/results/profile.json
fi
python3 scripts/bench.py --rewrite
