"""`hotline up` (everything) and `hotline controller` (only the ARI controller)."""

from __future__ import annotations

import argparse
import asyncio

from callcenter.cli.common import Commands
from callcenter.settings import Settings


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import serve

    asyncio.run(serve(settings))
    return 0


def _controller(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import serve_controller

    asyncio.run(serve_controller(settings))
    return 0


def register(commands: Commands) -> None:
    commands.add_parser("up", help="provision if needed, start Asterisk and the controller; Ctrl-C stops").set_defaults(
        handler=_up)
    commands.add_parser("controller", help="run only the ARI controller against a running Asterisk").set_defaults(
        handler=_controller)
