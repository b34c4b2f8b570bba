#!/usr/bin/env bash
# Creates (once) the Python environment the compatibility tests run against:
# the original pyramid_redis_sessions 1.0.1 with Pyramid 1.10 (the last
# Pyramid with signed_serialize) and redis-py. Prints the interpreter's path.
# The environment lives in target/python-compat and is rebuilt when this
# file changes.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${REDIS_SESSIONS_PYTHON_ENV:-$PWD/target/python-compat}"
stamp="$venv/.stamp"
want=$(sha256sum "$0" | cut -c1-16)

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

python=$(command -v python3 || true)
if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "==> installing python3 and python3-venv (Debian packages)" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3 python3-venv >&2
  python=$(command -v python3)
fi

echo "==> creating the Python environment in $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  'pyramid_redis_sessions==1.0.1' 'pyramid==1.10.8' 'redis==5.2.1' \
  'setuptools<81' 'webob<2' 'legacy-cgi; python_version >= "3.13"' >&2
# Pyramid 1.10 needs pkg_resources (setuptools < 81) and WebOb 1.8 the cgi
# module (gone from Python 3.13: legacy-cgi brings it back).
# The original's own connection path passes charset=/errors= to redis-py;
# the test app hands it a client through client_callable instead.
"$venv/bin/python" -c 'import pyramid_redis_sessions, pyramid.session, redis' >&2
echo "$want" > "$stamp"
echo "$venv/bin/python"
