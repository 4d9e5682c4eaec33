"""`hotline pbx provision|start|stop|status|cli`: the Asterisk runtime."""

from __future__ import annotations

import argparse

from callcenter import pbx
from callcenter.cli.common import Commands
from callcenter.prompts import build_prompts
from callcenter.settings import Settings


def _provision(settings: Settings, args: argparse.Namespace) -> int:
    pbx.provision(settings)
    return 0


def _start(settings: Settings, args: argparse.Namespace) -> int:
    # The same Asterisk as `hotline up` starts: with the hotline's prompts mounted (built
    # or taken from the cache), else every greeting and announcement fails to play.
    pbx.start(settings, prompts_dir=build_prompts(settings))
    return 0


def _stop(settings: Settings, args: argparse.Namespace) -> int:
    pbx.stop(settings)
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    for line in pbx.status_lines(settings):
        print(line)
    return 0


def _cli(settings: Settings, args: argparse.Namespace) -> int:
    print(pbx.cli_command(settings, " ".join(args.command)).rstrip())
    return 0


def register(commands: Commands) -> None:
    parser = commands.add_parser("pbx", help="the Asterisk runtime: provision, start, stop, status, cli")
    actions = parser.add_subparsers(dest="pbx_command", required=True, metavar="ACTION")
    actions.add_parser("provision", help="build the Debian sid root with Asterisk 22 (once)").set_defaults(
        handler=_provision)
    actions.add_parser("start", help="render the configuration and start Asterisk").set_defaults(handler=_start)
    actions.add_parser("stop", help="stop Asterisk cleanly").set_defaults(handler=_stop)
    actions.add_parser("status", help="version, uptime, ports, ARI and AMI").set_defaults(handler=_status)
    cli = actions.add_parser("cli", help='run an Asterisk CLI command, e.g. "core show channels"')
    cli.add_argument("command", nargs="+")
    cli.set_defaults(handler=_cli)
