"""The `hotline` command. Domain errors become one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from callcenter import pbx
from callcenter.errors import HotlineError
from callcenter.settings import Settings, load_settings

Handler = Callable[[Settings, argparse.Namespace], int]


def _pbx_provision(settings: Settings, args: argparse.Namespace) -> int:
    pbx.provision(settings)
    return 0


def _pbx_start(settings: Settings, args: argparse.Namespace) -> int:
    pbx.start(settings)
    return 0


def _pbx_stop(settings: Settings, args: argparse.Namespace) -> int:
    pbx.stop(settings)
    return 0


def _pbx_status(settings: Settings, args: argparse.Namespace) -> int:
    for line in pbx.status_lines(settings):
        print(line)
    return 0


def _pbx_cli(settings: Settings, args: argparse.Namespace) -> int:
    print(pbx.cli_command(settings, " ".join(args.command)).rstrip())
    return 0


def _up(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from callcenter.app import serve

    asyncio.run(serve(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="The 12345 citizen hotline call-centre engine on Asterisk."
    )
    parser.add_argument("--config", help="settings file (default config/hotline.toml, or $HOTLINE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("up", help="provision if needed, start Asterisk and the controller; Ctrl-C stops").set_defaults(
        handler=_up)

    pbx_parser = commands.add_parser("pbx", help="the Asterisk runtime: provision, start, stop, status, cli")
    pbx_commands = pbx_parser.add_subparsers(dest="pbx_command", required=True, metavar="ACTION")
    pbx_commands.add_parser("provision", help="build the Debian sid root with Asterisk 22 (once)").set_defaults(
        handler=_pbx_provision)
    pbx_commands.add_parser("start", help="render the configuration and start Asterisk").set_defaults(
        handler=_pbx_start)
    pbx_commands.add_parser("stop", help="stop Asterisk cleanly").set_defaults(handler=_pbx_stop)
    pbx_commands.add_parser("status", help="version, uptime, ports, ARI and AMI").set_defaults(
        handler=_pbx_status)
    cli = pbx_commands.add_parser("cli", help='run an Asterisk CLI command, e.g. "core show channels"')
    cli.add_argument("command", nargs="+")
    cli.set_defaults(handler=_pbx_cli)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from pathlib import Path

        settings = load_settings(Path(args.config) if args.config else None)
        handler: Handler = args.handler
        return handler(settings, args)
    except HotlineError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
