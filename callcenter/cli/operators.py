"""`hotline operators [list|login BADGE --seat SEAT|logout BADGE|defaults|name BADGE NAME]`:
the operators (工号, 姓名), where each sits, and the supervisor's log-ins (the controller
applies them at its next poll of the seats table, within a second)."""

from __future__ import annotations

import argparse
from datetime import datetime

from callcenter.cli.common import Commands, with_store
from callcenter.seats.service import SeatService
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store, store_target
from callcenter.terminal import escape_text
from callcenter.users import set_operator_name


def _operators(settings: Settings, args: argparse.Namespace) -> int:
    action = args.operator_action or "list"
    if action == "name":
        user = set_operator_name(settings.paths.state_dir, args.badge, args.name)
        print(f"{args.badge}: {escape_text(user.full_name)}")
        return 0

    async def run(store: Store) -> tuple[SeatService, dict[str, str | None], dict[str, str | None]]:
        seats = Services.on(settings, store).seats
        changes: dict[str, str | None] = {}
        if action == "login":
            changes = await seats.log_in(args.badge, args.seat)
        elif action == "logout":
            changes = await seats.log_out(args.badge)
        elif action == "defaults":
            changes = await seats.back_to_defaults()
        return seats, changes, await seats.occupants()

    seats, changes, sitting = with_store(store_target(settings), run)
    if action == "login":
        print(f"{args.badge}: logged in at {args.seat}" + ("" if changes else " (already there)"))
    elif action == "logout":
        print(f"{args.badge}: logged out of {', '.join(changes)}")
    elif action == "defaults":
        print("every seat back to its default operator")
    print(format_operators(seats, sitting, datetime.now(settings.zone)))
    return 0


def format_operators(seats: SeatService, sitting: dict[str, str | None], moment: datetime) -> str:
    """工号, name, default seat, the seat they sit at now, on shift now."""
    where = {badge: seat for seat, badge in sitting.items() if badge}
    lines = [f"{'badge':<8} {'name':<12} {'default':<8} {'at seat':<8} on shift"]
    for badge, operator in sorted(seats.operators().items()):
        on_shift = seats.roster.operator_on_shift(badge, operator.home, moment)
        lines.append(f"{badge:<8} {escape_text(operator.name) or '-':<12} {operator.home:<8} "
                     f"{where.get(badge, '-'):<8} {'yes' if on_shift else 'no'}")
    empty = [seat for seat, badge in sitting.items() if badge == ""]
    if empty:
        lines.append(f"seats with nobody logged in (offered no calls): {', '.join(empty)}")
    return "\n".join(lines)


def register(commands: Commands) -> None:
    operators = commands.add_parser("operators", help="operators (工号): list, log in at a seat, log out")
    operators.set_defaults(handler=_operators, operator_action=None)
    actions = operators.add_subparsers(dest="operator_action", metavar="ACTION")
    actions.add_parser("list", help="who sits where (default)")
    login = actions.add_parser("login", help="the operator takes calls at SEAT (moving from any other seat)")
    login.add_argument("badge", help="工号, e.g. 1003")
    login.add_argument("--seat", required=True)
    logout = actions.add_parser("logout", help="the operator leaves their seat: it takes no calls")
    logout.add_argument("badge", help="工号")
    actions.add_parser("defaults", help="every seat back to its default operator")
    name = actions.add_parser("name", help="set an operator's name (姓名)")
    name.add_argument("badge", help="工号")
    name.add_argument("name")
