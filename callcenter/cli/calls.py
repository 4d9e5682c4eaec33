"""`hotline calls [--since] [--number] [--limit] [--json]` and `hotline calls mark CALL_ID nuisance`."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from callcenter.calls.formatting import format_calls_table
from callcenter.calls.repository import CallRepository
from callcenter.cli.common import Commands, count, who, with_store
from callcenter.errors import HotlineError
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Row, Store, store_target
from callcenter.terminal import escape_text, safe_json


def parse_since(text: str, settings: Settings, now: datetime | None = None) -> float:
    """`--since`: today, 30m, 12h, 7d, or a date/time (in the hotline's zone unless it has an offset)."""
    now = now or datetime.now(settings.zone)
    if text == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    units = {"m": 60, "h": 3600, "d": 86400}
    amount = text[:-1]
    if amount.isascii() and amount.isdigit() and text[-1:] in units:
        return (now - timedelta(seconds=int(amount) * units[text[-1]])).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HotlineError(f"--since {text!r}: use today, 30m, 12h, 7d, 2026-11-28 or 2026-11-28T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.timestamp()


def _list(settings: Settings, args: argparse.Namespace) -> int:
    since = parse_since(args.since, settings) if args.since else None

    async def read(store: Store) -> list[Row]:
        return await CallRepository(store).recent(since_epoch=since, number=args.number, limit=args.limit)

    rows = with_store(store_target(settings), read)
    print(safe_json([dict(row) for row in rows]) if args.json else format_calls_table(rows))
    return 0


def _mark(settings: Settings, args: argparse.Namespace) -> int:
    if args.what != "nuisance":
        raise HotlineError(f"calls mark: only 'nuisance' can be marked, not {args.what!r}")

    async def mark(store: Store) -> str:
        number, flagged = await Services.on(settings, store).nuisance.mark_call(args.call_id, who(args))
        text = f"call {args.call_id} marked as nuisance (number {escape_text(number)})"
        return text + (f"; the number is now flagged ({flagged.reason})" if flagged else "")

    print(with_store(store_target(settings), mark))
    return 0


def register(commands: Commands) -> None:
    calls = commands.add_parser("calls", help="list calls, newest first")
    calls.add_argument("--since", help="today, 30m, 12h, 7d, or a date/time like 2026-11-28T08:00")
    calls.add_argument("--number", help="only calls from this caller number")
    calls.add_argument("--limit", type=count, default=100, help="at most this many (default 100)")
    calls.add_argument("--json", action="store_true", help="JSON instead of a table")
    calls.set_defaults(handler=_list)
    actions = calls.add_subparsers(dest="calls_action", metavar="ACTION")
    mark = actions.add_parser("mark", help="mark a call: hotline calls mark CALL_ID nuisance")
    mark.add_argument("call_id")
    mark.add_argument("what", help="nuisance")
    mark.add_argument("--by", help="who marks it (default: the login name)")
    mark.set_defaults(handler=_mark)
