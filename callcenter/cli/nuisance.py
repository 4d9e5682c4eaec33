"""`hotline nuisance list|show|flag|clear`: flagged numbers and their history."""

from __future__ import annotations

import argparse
import time
from datetime import datetime

from callcenter.cli.common import Commands, who, with_store
from callcenter.nuisance import active_flag
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store, store_target
from callcenter.terminal import escape_text


def _nuisance(settings: Settings, args: argparse.Namespace) -> int:
    def when(epoch: object) -> str:
        return datetime.fromtimestamp(float(str(epoch)), settings.zone).strftime("%Y-%m-%d %H:%M:%S")

    async def run(store: Store) -> list[str]:
        service = Services.on(settings, store).nuisance
        action = args.nuisance_action
        if action == "list":
            flags = await service.active_flags()
            if not flags:
                return ["no number is flagged now"]
            lines = [f"{'number':<20} {'rule':<20} {'flagged':<19} {'expires':<19} by / reason"]
            for found in flags:
                lines.append(f"{escape_text(found.number)[:20]:<20} {found.rule:<20} {when(found.flagged_at)} "
                             f"{when(found.expires_at)} {escape_text(found.by)}: {escape_text(found.reason)}")
            return lines
        if action == "show":
            events = await service.history(args.number)
            flag = active_flag(events, time.time())
            lines = [f"{escape_text(args.number)}: " + (f"flagged ({flag.rule}) until {when(flag.expires_at)}"
                                                        if flag else "not flagged")]
            for event in events:
                lines.append(f"  {when(event['at_epoch'])}  {event['action']!s:<5}  {event['rule'] or ''!s:<20} "
                             f"by {escape_text(event['by'])}: {escape_text(event['reason'])}"
                             + (f" (call {event['call_id']})" if event["call_id"] else ""))
            if not events:
                lines.append("  no history")
            return lines
        if action == "flag":
            found = await service.flag(args.number, args.reason, who(args))
            return [f"{escape_text(found.number)} flagged until {when(found.expires_at)} ({found.reason})"]
        if action == "clear":
            cleared = await service.clear(args.number, who(args), args.reason or "")
            return [f"{escape_text(args.number)}: " + ("flag cleared" if cleared else "was not flagged")]
        raise AssertionError(action)

    print("\n".join(with_store(store_target(settings), run)))
    return 0


def register(commands: Commands) -> None:
    nuisance = commands.add_parser("nuisance", help="nuisance numbers: list, show, flag, clear")
    actions = nuisance.add_subparsers(dest="nuisance_action", required=True, metavar="ACTION")
    actions.add_parser("list", help="numbers flagged now").set_defaults(handler=_nuisance)
    show = actions.add_parser("show", help="a number's flag and history")
    show.add_argument("number")
    show.set_defaults(handler=_nuisance)
    flag = actions.add_parser("flag", help="flag a number by hand")
    flag.add_argument("number")
    flag.add_argument("--reason", required=True, help="why (stored with who and when)")
    flag.add_argument("--by", help="who flags it (default: the login name)")
    flag.set_defaults(handler=_nuisance)
    clear = actions.add_parser("clear", help="clear a number's flag (the history stays)")
    clear.add_argument("number")
    clear.add_argument("--reason", help="why")
    clear.add_argument("--by", help="who clears it (default: the login name)")
    clear.set_defaults(handler=_nuisance)
