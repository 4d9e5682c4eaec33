"""`hotline store migrate`: an SQLite store copied into an empty PostgreSQL database."""

from __future__ import annotations

import argparse
from pathlib import Path

from callcenter.cli.common import Commands
from callcenter.errors import HotlineError
from callcenter.settings import Settings
from callcenter.store.url import StoreUrlError, parse_store_url, redacted


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.store.migration import migrate  # psycopg only for this command

    source = Path(args.source or settings.paths.database)
    url = str(args.to or settings.store.url).strip()
    if not url:
        raise HotlineError("store migrate: name the PostgreSQL database with --to postgresql://user@host:port/db "
                           "(or HOTLINE_STORE_URL, which keeps the password off the command line)")
    try:
        parse_store_url(url)
    except StoreUrlError as exc:
        raise HotlineError(f"store migrate: --to {exc}") from None
    print(f"copying {source} into {redacted(url)}", flush=True)
    migrate(source, url, lambda line: print(f"  {line}", flush=True))
    return 0


def register(commands: Commands) -> None:
    store = commands.add_parser("store", help="the store: copy an SQLite store into PostgreSQL")
    actions = store.add_subparsers(dest="store_action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate", help="copy the SQLite store into an empty PostgreSQL database (schema, rows, search, counts)")
    migrate.add_argument("--to", metavar="URL",
                         help="postgresql://user:password@host:port/database (default: store.url, for example "
                              "from HOTLINE_STORE_URL, which keeps the password off the command line)")
    migrate.add_argument("--from", dest="source", type=Path, metavar="FILE",
                         help="the SQLite store to copy (default: the settings' paths.database)")
    migrate.set_defaults(handler=_migrate)
