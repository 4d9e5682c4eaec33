"""`hotline seats [login|logout|roster|pause|unpause SEAT]`: the seats table, and the
supervisor's commands (the controller applies them on its next poll of the table)."""

from __future__ import annotations

import argparse
from datetime import datetime

from callcenter.cli.common import Commands, with_store
from callcenter.seats.formatting import format_seats_table
from callcenter.seats.roster import coverage_warning
from callcenter.seats.service import DEFAULT_PAUSE_REASON
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Row, Store, store_target


def _seats(settings: Settings, args: argparse.Namespace) -> int:
    command = args.seat_action or "list"

    async def run(store: Store) -> tuple[Services, dict[str, object], dict[str, Row], dict[str, int]]:
        services = Services.on(settings, store)
        changes: dict[str, object] = {}
        if command != "list":
            changes = await services.seats.command(args.seat, command, getattr(args, "reason", "") or "")
        return services, changes, await services.seats.rows(), await services.seats.answered_today()

    services, changes, rows, today = with_store(store_target(settings), run)
    if command != "list":
        print(f"{args.seat}: {command}" + (f" ({changes.get('pause_reason')})" if command == "pause" else ""))
    print(format_seats_table(services.seats.roster, rows, today, datetime.now(settings.zone), settings.seat_names))
    warning = coverage_warning(services.seats.roster)
    if warning:
        print(warning)
    return 0


def register(commands: Commands) -> None:
    seats = commands.add_parser("seats", help="the six seats: table, login, logout, pause, unpause")
    seats.set_defaults(handler=_seats, seat_action=None)
    actions = seats.add_subparsers(dest="seat_action", metavar="ACTION")
    for name, text in (("login", "take calls even off shift"), ("logout", "take no calls, even on shift"),
                       ("roster", "follow the roster again"), ("unpause", "take calls again")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("seat")
    pause = actions.add_parser("pause", help="stop offering calls to a seat")
    pause.add_argument("seat")
    pause.add_argument("--reason", default=DEFAULT_PAUSE_REASON, help=f"why (default: {DEFAULT_PAUSE_REASON})")
    actions.add_parser("list", help="the table (default)")
