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
  # PostgreSQL 15: the store's second backend and the cluster's database; the tests run
  # servers of their own on free ports.
  packages+=(postgresql-15 postgresql-client-15)
  # Kamailio 5.6 with its PostgreSQL module: the cluster's SIP proxy (tests/test_cluster.py,
  # `hotline cluster up`); the hotline runs its own, never the package's service.
  packages+=(kamailio kamailio-postgres-modules)
elif [ "$mode" = cluster ]; then
  # `hotline cluster up`: PostgreSQL and Kamailio beside the embedded engine's packages.
  packages+=(postgresql-15 postgresql-client-15 kamailio kamailio-postgres-modules)
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
  # Debian's postgresql packages create and start a system-wide server on port 5432; the
  # hotline runs its own, so ask them not to (an existing installation is left alone).
  mkdir -p /etc/postgresql-common/createcluster.d
  [ -f /etc/postgresql-common/createcluster.d/hotline.conf ] || \
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/hotline.conf
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "apt packages present (${#packages[@]})"
fi
if { [ "$mode" = test ] || [ "$mode" = cluster ]; } && [ -d /run/systemd/system ] \
    && systemctl is-enabled --quiet kamailio 2>/dev/null; then
  # Debian's kamailio package enables and starts its own service with the stock
  # configuration (SIP on every address, port 5060: where the hotline's Asterisk and the
  # cluster's Kamailio listen). The hotline runs its own; keep the package's off, also
  # after upgrades.
  step "systemctl disable --now kamailio (the package's own service)"
  systemctl disable --now kamailio
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
