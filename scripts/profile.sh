#!/usr/bin/env bash
# Profiles of `/read` and `/incr`: the conformance app (Redis store) and the
# floor run under wrk while `perf record -e cpu-clock` samples the app; the
# samples become µs per request by area (kernel, malloc, our code, the Redis
# client, HTTP, ...) and a top-20 table of functions for each.
# Writes benches/results/profile.md (included in BENCHMARKS.md by
# scripts/bench.py) and benches/results/profile.json. About 1 minute once built.
#
#   scripts/profile.sh                  # 6 s per route
#   scripts/profile.sh --duration 10    # longer runs, steadier figures
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-missing.sh redis-server:redis-server wrk:wrk perf:linux-perf
# perf needs permission to sample another process (root, or a relaxed
# kernel.perf_event_paranoid).
if ! perf stat -e cpu-clock true >/dev/null 2>&1; then
  echo "perf cannot sample here: run as root or set kernel.perf_event_paranoid <= 1" >&2
  exit 1
fi

echo "==> building (release)"
cargo build --release --example conformance
CARGO_TARGET_DIR="$PWD/target" cargo build --release --manifest-path benches/peers/Cargo.toml --bin floor

echo "==> profiles"
exec python3 scripts/bench.py --profile "$@"
