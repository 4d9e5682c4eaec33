"""The `hotline` command: one module per noun, each registering its sub-commands.

Domain errors (`HotlineError`) become one line on stderr and exit code 2; a handler
returns the exit code. A noun module exposes `register(commands)`, where `commands` is
the `hotline` parser's sub-parsers, and sets `handler=` on each leaf parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from callcenter.cli import (
    calls,
    cluster,
    demo,
    forum,
    knowledge,
    nuisance,
    operators,
    pbx,
    prompts,
    recordings,
    reports,
    run,
    seats,
    service,
    sms,
    store,
    tickets,
    users,
    web,
)
from callcenter.cli.common import Handler
from callcenter.errors import HotlineError
from callcenter.settings import load_settings

# The order of `hotline --help`.
NOUNS = (run, calls, recordings, seats, operators, nuisance, tickets, sms, forum, knowledge, reports, users, demo,
         store, prompts, pbx, cluster, service, web)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="The 12345 citizen hotline call-centre engine on Asterisk."
    )
    parser.add_argument("--config", help="settings file (default config/hotline.toml, or $HOTLINE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for noun in NOUNS:
        noun.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(Path(args.config) if args.config else None)
        handler: Handler = args.handler
        return handler(settings, args)
    except HotlineError as exc:
        print(f"hotline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hotline calls | head`
        return 0
