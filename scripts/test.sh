#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs redis-server, chromium
# and chromium-driver when they are missing, then checks formatting and lints
# (all features, and the library with none) and runs every test of the
# workspace with all features: unit tests, the plugins' tests, doc tests, and
# the integration suite against real redis-server processes (which also builds
# and loads the plugin libraries) and real headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "==> installing redis-server (Debian package)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
  # The package starts a system service on port 6379; the tests never use it.
fi
redis-server --version

# The browser test drives headless Chromium through chromedriver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "==> installing chromium and chromium-driver (Debian packages)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi
chromedriver --version

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (workspace, all targets, all features) -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "==> cargo clippy (library, no default features) -D warnings"
cargo clippy --lib --no-default-features -- -D warnings

echo "==> cargo test --lib --no-default-features"
cargo test --lib --no-default-features --quiet

echo "==> cargo test (workspace: library, plugins, integration, doc tests)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --all-features 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed from cargo's own result lines.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;/) p += $i; if ($(i+1) ~ /^failed;/) f += $i } }
     END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
