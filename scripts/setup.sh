#!/usr/bin/env bash
# Sets up the hotline on Debian 12, as root, idempotently: apt packages, the virtualenv,
# the Asterisk root. `scripts/setup.sh run` for running it, `scripts/setup.sh test` adds
# what the tests need. Each step says what it does; a step already done takes a moment.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

step() { printf '==> %s\n' "$*"; }

packages=(python3 python3-venv python3-pip debootstrap util-linux ffmpeg espeak-ng sox)
if [ "$mode" = test ]; then
  # chromium for the console's browser tests (Playwright drives Debian's, never downloads one);
  # a CJK font so Chinese pages render in it.
  packages+=(sip-tester baresip chromium fonts-wqy-zenhei logrotate fail2ban)
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run this as root (apt-get, and Asterisk runs in a chroot)" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "apt packages present (${#packages[@]})"
fi

python=python3
if [ ! -x .venv/bin/python ]; then
  step "creating the virtualenv .venv"
  "$python" -m venv .venv
fi
extras=""
[ "$mode" = test ] && extras="[test]"
stamp=".venv/.installed-${mode}"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  step "pip install -e .${extras}"
  .venv/bin/pip install -q --disable-pip-version-check -e ".${extras}"
  touch "$stamp"
else
  step "python packages installed (.venv)"
fi

step "Asterisk root (hotline pbx provision)"
.venv/bin/hotline pbx provision
