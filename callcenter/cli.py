"""The `hotline` command. Domain errors become one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from callcenter import pbx
from callcenter.cli_tickets import add_commands as add_ticket_commands
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


def _controller(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from callcenter.app import serve_controller

    asyncio.run(serve_controller(settings))
    return 0


def _prompts_build(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.prompts import cli_build

    return cli_build(settings, args)


def _parse_since(text: str, settings: Settings) -> float:
    from datetime import datetime, timedelta

    from callcenter.errors import HotlineError

    now = datetime.now(settings.zone)
    if text == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return (now - timedelta(seconds=int(text[:-1]) * units[text[-1]])).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HotlineError(f"--since {text!r}: use today, 30m, 12h, 7d, 2026-11-28 or 2026-11-28T08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.timestamp()


def _calls(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from callcenter.store import Store, calls_json, format_calls_table

    since = _parse_since(args.since, settings) if args.since else None

    async def run() -> list[dict[str, object]]:
        async with Store(settings.paths.database) as store:
            return [dict(r) for r in await store.list_calls(since_epoch=since, number=args.number, limit=args.limit)]

    rows = asyncio.run(run())
    print(calls_json(rows) if args.json else format_calls_table(rows))
    return 0


def _seats(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    from datetime import datetime

    from callcenter.errors import HotlineError
    from callcenter.seats import format_seats_table, load_roster
    from callcenter.store import Store

    roster = load_roster(settings.paths.roster, settings.seat_names)
    action = args.seat_action or "list"
    if action != "list":
        if args.seat not in settings.seat_names:
            raise HotlineError(f"unknown seat {args.seat!r}: the seats are seat1..seat{settings.hotline.seats}")
    actions: dict[str, dict[str, object]] = {
        "login": {"logged_in": 1}, "logout": {"logged_in": 0}, "roster": {"logged_in": None},
        "pause": {"paused": 1, "pause_reason": getattr(args, "reason", "") or "break"},
        "unpause": {"paused": 0, "pause_reason": ""},
    }
    changes = actions.get(action, {})

    async def run() -> tuple[dict[str, dict[str, object]], dict[str, int]]:
        async with Store(settings.paths.database) as store:
            if changes:
                await store.update_seat(args.seat, **changes)
            midnight = datetime.now(settings.zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
            rows = {k: dict(v) for k, v in (await store.seat_rows()).items()}
            return rows, await store.calls_per_seat_since(midnight)

    rows, today = asyncio.run(run())
    if action != "list":
        print(f"{args.seat}: {action}" + (f" ({changes.get('pause_reason')})" if action == "pause" else ""))
    print(format_seats_table(roster, rows, today, settings.zone, settings.seat_names))
    return 0


def _who(args: argparse.Namespace) -> str:
    import os

    return str(getattr(args, "by", None) or os.environ.get("SUDO_USER") or os.environ.get("USER") or "cli")


def _nuisance(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import time
    from datetime import datetime

    from callcenter import nuisance
    from callcenter.store import Store, escape_text

    def when(epoch: object) -> str:
        return datetime.fromtimestamp(float(str(epoch)), settings.zone).strftime("%Y-%m-%d %H:%M:%S")

    async def run() -> list[str]:
        async with Store(settings.paths.database) as store:
            action = args.nuisance_action
            if action == "list":
                flags = await nuisance.active_flags(store)
                if not flags:
                    return ["no number is flagged now"]
                lines = [f"{'number':<20} {'rule':<20} {'flagged':<19} {'expires':<19} by / reason"]
                for f in flags:
                    lines.append(f"{escape_text(f.number)[:20]:<20} {f.rule:<20} {when(f.flagged_at)} "
                                 f"{when(f.expires_at)} {escape_text(f.by)}: {escape_text(f.reason)}")
                return lines
            if action == "show":
                events = await nuisance.history(store, args.number)
                flag = nuisance.active_flag(events, time.time())
                lines = [f"{escape_text(args.number)}: " + (f"flagged ({flag.rule}) until {when(flag.expires_at)}"
                                                            if flag else "not flagged")]
                for e in events:
                    lines.append(f"  {when(e['at_epoch'])}  {str(e['action']):<5}  {str(e['rule'] or ''):<20} "
                                 f"by {escape_text(e['by'])}: {escape_text(e['reason'])}"
                                 + (f" (call {e['call_id']})" if e["call_id"] else ""))
                if not events:
                    lines.append("  no history")
                return lines
            if action == "flag":
                found = await nuisance.flag(store, settings, args.number, args.reason, _who(args))
                return [f"{escape_text(found.number)} flagged until {when(found.expires_at)} ({found.reason})"]
            if action == "clear":
                cleared = await nuisance.clear(store, settings, args.number, _who(args), args.reason or "")
                return [f"{escape_text(args.number)}: " + ("flag cleared" if cleared else "was not flagged")]
            raise AssertionError(action)

    print("\n".join(asyncio.run(run())))
    return 0


def _calls_mark(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from callcenter import nuisance
    from callcenter.errors import HotlineError
    from callcenter.store import Store, escape_text

    if args.what != "nuisance":
        raise HotlineError(f"calls mark: only 'nuisance' can be marked, not {args.what!r}")

    async def run() -> str:
        async with Store(settings.paths.database) as store:
            number, flagged = await nuisance.mark_call(store, settings, args.call_id, _who(args))
        text = f"call {args.call_id} marked as nuisance (number {escape_text(number)})"
        return text + (f"; the number is now flagged ({flagged.reason})" if flagged else "")

    print(asyncio.run(run()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="The 12345 citizen hotline call-centre engine on Asterisk."
    )
    parser.add_argument("--config", help="settings file (default config/hotline.toml, or $HOTLINE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_ticket_commands(commands)

    commands.add_parser("up", help="provision if needed, start Asterisk and the controller; Ctrl-C stops").set_defaults(
        handler=_up)

    commands.add_parser("controller", help="run only the ARI controller against a running Asterisk").set_defaults(
        handler=_controller)

    calls = commands.add_parser("calls", help="list calls, newest first")
    calls.add_argument("--since", help="today, 30m, 12h, 7d, or a date/time like 2026-11-28T08:00")
    calls.add_argument("--number", help="only calls from this caller number")
    calls.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    calls.add_argument("--json", action="store_true", help="JSON instead of a table")
    calls.set_defaults(handler=_calls)
    calls_actions = calls.add_subparsers(dest="calls_action", metavar="ACTION")
    mark = calls_actions.add_parser("mark", help="mark a call: hotline calls mark CALL_ID nuisance")
    mark.add_argument("call_id")
    mark.add_argument("what", help="nuisance")
    mark.add_argument("--by", help="who marks it (default: the login name)")
    mark.set_defaults(handler=_calls_mark)

    nuisance = commands.add_parser("nuisance", help="nuisance numbers: list, show, flag, clear")
    nuisance_actions = nuisance.add_subparsers(dest="nuisance_action", required=True, metavar="ACTION")
    nuisance_actions.add_parser("list", help="numbers flagged now").set_defaults(handler=_nuisance)
    show = nuisance_actions.add_parser("show", help="a number's flag and history")
    show.add_argument("number")
    show.set_defaults(handler=_nuisance)
    flag = nuisance_actions.add_parser("flag", help="flag a number by hand")
    flag.add_argument("number")
    flag.add_argument("--reason", required=True, help="why (stored with who and when)")
    flag.add_argument("--by", help="who flags it (default: the login name)")
    flag.set_defaults(handler=_nuisance)
    clear = nuisance_actions.add_parser("clear", help="clear a number's flag (the history stays)")
    clear.add_argument("number")
    clear.add_argument("--reason", help="why")
    clear.add_argument("--by", help="who clears it (default: the login name)")
    clear.set_defaults(handler=_nuisance)

    seats = commands.add_parser("seats", help="the six seats: table, login, logout, pause, unpause")
    seats.set_defaults(handler=_seats, seat_action=None)
    seat_actions = seats.add_subparsers(dest="seat_action", metavar="ACTION")
    for name, text in (("login", "take calls even off shift"), ("logout", "take no calls, even on shift"),
                       ("roster", "follow the roster again"), ("unpause", "take calls again")):
        sub = seat_actions.add_parser(name, help=text)
        sub.add_argument("seat")
    pause = seat_actions.add_parser("pause", help="stop offering calls to a seat")
    pause.add_argument("seat")
    pause.add_argument("--reason", default="break", help="why (default: break)")
    seat_actions.add_parser("list", help="the table (default)")

    prompts = commands.add_parser("prompts", help="the IVR prompts")
    prompt_actions = prompts.add_subparsers(dest="prompts_action", required=True, metavar="ACTION")
    prompt_actions.add_parser("build", help="build the prompts from ivr/prompts.toml (TTS, cached)").set_defaults(
        handler=_prompts_build)

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
    except BrokenPipeError:  # `hotline calls | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
