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

bash scripts/install-missing.sh redis-server:redis-server wrk:wrk perf:linux-perf
if ! python3 -c "import matplotlib" >/dev/null 2>&1; then
  echo "==> installing matplotlib (for the chart)"
  python3 -m pip install -q matplotlib
fi

echo "==> building (release)"
cargo build --release --example conformance --example conformance-actix
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
