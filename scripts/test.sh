#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs redis-server, chromium
# and chromium-driver when they are missing, then checks formatting, lints
# (all features, and the library with none) and the API docs (no rustdoc
# warnings), and runs every test of the workspace with all features: unit
# tests, the plugins' tests, doc tests, and the integration suite against real
# redis-server processes (which also builds and loads the plugin libraries)
# and real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server (its `--sentinel` mode runs the Sentinels), redis-cli (creates
# the test Cluster), openssl (makes the test certificates), python3 (the soak).
bash scripts/install-missing.sh redis-server:redis-server redis-cli:redis-tools \
  openssl:openssl python3:python3
# The redis-server package starts a system service on port 6379; the tests never use it.
redis-server --version
bash scripts/python-env.sh >/dev/null  # the original Python package, for the compat tests

# The browser test drives headless Chromium through chromedriver.
bash scripts/install-missing.sh chromium:chromium chromedriver:chromium-driver
chromedriver --version

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (workspace, all targets, all features) -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "==> cargo clippy (library, no default features) -D warnings"
cargo clippy --lib --no-default-features -- -D warnings

for feature in tls cluster sentinel actix; do
  echo "==> cargo clippy (library, only the $feature feature) -D warnings"
  cargo clippy --lib --no-default-features --features "$feature" -- -D warnings
done

# Compat mode is a cargo feature: a build without it must refuse its
# settings at start-up, naming the feature (the test suite always has it,
# through the examples' dev-dependency).
echo "==> check: a build without the compat feature refuses compat settings"
compat_ini=$(mktemp --suffix=.ini)
printf '[app:main]\nredis.sessions.secret = a-development-secret-of-enough-length-0123\nredis.sessions.compat = pyramid_redis_sessions\n' >"$compat_ini"
compat_out=$(cargo run --quiet --bin redis-sessions --no-default-features --features plugins -- check "$compat_ini" 2>&1) && compat_status=0 || compat_status=$?
rm -f "$compat_ini"
if [ "$compat_status" -ne 1 ] || ! grep -q 'need the `compat` Cargo feature' <<<"$compat_out"; then
  echo "expected exit 1 naming the compat feature, got $compat_status: $compat_out" >&2
  exit 1
fi

# A new user's first build resolves the newest compatible dependencies, not
# our lock file's: a deprecation or lint they would meet fails here first.
echo "==> cargo clippy against the newest compatible dependencies (scratch copy, cargo update) -D warnings"
root=$PWD
fresh=$(mktemp -d)
git ls-files -z | xargs -0 cp --parents -t "$fresh"
fresh_status=0
(cd "$fresh" && cargo update --quiet && \
  CARGO_TARGET_DIR="$root/target" cargo clippy --quiet --workspace --all-targets --all-features -- -D warnings) \
  || fresh_status=$?
rm -rf "$fresh"
[ "$fresh_status" -eq 0 ] || exit "$fresh_status"

echo "==> cargo doc (default features, then all features) -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet

# Every test run's result lines are kept, for the closing count.
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "==> cargo test --lib --no-default-features"
cargo test --lib --no-default-features --quiet 2>&1 | tee "$log"

echo "==> cargo test (workspace: library, plugins, integration, doc tests)"
set +e
cargo test --workspace --all-features 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
soak_status=0
if [ "$status" -eq 0 ]; then
  echo "==> fault soak, short (scripts/soak.sh 10)"
  soak_out=$(mktemp -d)
  SOAK_OUT="$soak_out" SOAK_PROFILE=debug bash scripts/soak.sh 10 || soak_status=$?
  rm -rf "$soak_out"
fi
# One closing line for every test run above, summed from cargo's own result
# lines.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
if [ "$status" -eq 0 ]; then status=$soak_status; fi
exit "$status"
