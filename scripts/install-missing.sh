#!/usr/bin/env bash
# Installs, from Debian's packages, what a script needs and the machine lacks:
#   bash scripts/install-missing.sh COMMAND:PACKAGE [COMMAND:PACKAGE ...]
# A package is installed when its command is not on the PATH (each package
# once, whatever the number of its commands). Uses sudo unless run as root.
set -euo pipefail
missing=()
for pair in "$@"; do
  command="${pair%%:*}"
  package="${pair#*:}"
  if ! command -v "$command" >/dev/null 2>&1; then
    case " ${missing[*]-} " in
      *" $package "*) ;;
      *) missing+=("$package") ;;
    esac
  fi
done
[ "${#missing[@]}" -gt 0 ] || exit 0
echo "==> installing ${missing[*]} (Debian packages)"
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
