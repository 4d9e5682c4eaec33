"""`hotline service unit|logrotate`: the files a city's IT installs to run the hotline
as a system service (systemd, logs to the journal) with Asterisk's logs rotated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from callcenter import pbx
from callcenter.cli.common import Commands
from callcenter.settings import Settings


def systemd_unit(settings: Settings) -> str:
    home = settings.home
    hotline = Path(sys.executable).with_name("hotline")
    return f"""# The 12345 hotline as a systemd service: `hotline service unit > /etc/systemd/system/hotline.service`,
# then `systemctl daemon-reload && systemctl enable --now hotline`. Logs: `journalctl -u hotline`.
[Unit]
Description=12345 citizen hotline (Asterisk 22, the ARI controller, the console)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory={home}
ExecStart={hotline} up
# Settings: config/hotline.toml, or HOTLINE_<SECTION>_<KEY> here, e.g.
# Environment=HOTLINE_ASTERISK_SIP_BIND=192.168.1.20
Environment=PYTHONUNBUFFERED=1
# Root: Asterisk runs chrooted in its own mount namespace (CAP_SYS_CHROOT, CAP_SYS_ADMIN).
User=root
Restart=on-failure
RestartSec=5
# SIGTERM stops the console, the controller and then Asterisk, in that order.
KillSignal=SIGTERM
TimeoutStopSec=60
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=multi-user.target
"""


def logrotate_config(settings: Settings) -> str:
    logs = pbx.Instance.of(settings).output_log.parent
    return f"""# Asterisk's logs of the 12345 hotline: `hotline service logrotate > /etc/logrotate.d/hotline`.
# Asterisk opens its logs for appending, so copytruncate rotates them with no signal and no
# lost line ordering. The engine's own log goes to the journal (systemd).
{logs}/*.log {logs}/asterisk.out {{
    daily
    rotate 30
    maxsize 100M
    missingok
    notifempty
    compress
    delaycompress
    copytruncate
    su root root
}}
"""


def _unit(settings: Settings, args: argparse.Namespace) -> int:
    print(systemd_unit(settings), end="")
    return 0


def _logrotate(settings: Settings, args: argparse.Namespace) -> int:
    print(logrotate_config(settings), end="")
    return 0


def register(commands: Commands) -> None:
    service = commands.add_parser("service", help="files to run the hotline as a system service")
    actions = service.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    actions.add_parser("unit", help="the systemd unit for this checkout").set_defaults(handler=_unit)
    actions.add_parser("logrotate", help="the logrotate rules for Asterisk's logs").set_defaults(handler=_logrotate)
