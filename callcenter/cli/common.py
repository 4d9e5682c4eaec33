"""What every `hotline` noun module shares: the handler type, who is acting, the
`--database` option, non-negative counts, and running one coroutine against the store."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from callcenter.errors import HotlineError
from callcenter.settings import Settings
from callcenter.store import Store, store_target

Handler = Callable[[Settings, argparse.Namespace], int]
Commands = Any  # argparse's private _SubParsersAction
T = TypeVar("T")


def who(args: argparse.Namespace) -> str:
    """Who acts: --by, else the login name (through sudo too)."""
    return str(getattr(args, "by", None) or os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli")


def count(text: str) -> int:
    """An argparse type: a whole number >= 0 (`--limit -1` is a usage error, not a traceback)."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", type=Path, metavar="PATH",
                        help="an SQLite store to use (default: the settings' store.url, else paths.database)")


def database_path(settings: Settings, args: argparse.Namespace, must_exist: bool = True) -> Path | str:
    """The store a command reads: the file --database, else the configured store; a
    missing file is a clear error for commands that only read (opening would create an
    empty store). A PostgreSQL store is checked when it is opened."""
    target = store_target(settings, getattr(args, "database", None))
    if isinstance(target, str):
        return target
    path = target
    if must_exist and not path.exists():
        raise HotlineError(
            f"{path}: no database yet: the hotline has taken no calls "
            "(`hotline demo seed --month 2009-01 --shape jan-seed` writes a demo month)"
        )
    return path


def with_store(target: Path | str, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store (a file, or a PostgreSQL URL), run `work(store)`, close it."""

    async def run() -> T:
        async with Store(target) as store:
            return await work(store)

    return asyncio.run(run())
