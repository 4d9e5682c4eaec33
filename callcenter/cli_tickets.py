"""The `tickets`, `report` and `demo` subcommands of `hotline`.

`cli.build_parser` calls `add_commands(commands)` with its subparsers object; each
command sets `handler=`, which `cli.main` calls with the settings (domain errors become
one line on stderr and exit code 2 there). Handlers import their module when run, so
`hotline --help` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from callcenter.settings import Settings


def _tickets(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.tickets import cli_tickets

    return cli_tickets(settings, args)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.reports import cli_report

    return cli_report(settings, args)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.demo import cli_demo

    return cli_demo(settings, args)


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="PATH", help="the SQLite store (default: paths.database)")


def _ticket_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ticket number")
    return int(text)


CATEGORIES = "help (求助), complaint (投诉举报), consultation (咨询), suggestion (建议), other (其他)"
SHAPES = ("jan-seed", "year-2008")


def add_commands(commands: Any) -> None:
    """Register `tickets`, `report` and `demo` on `hotline`'s subparsers."""
    # --- tickets ---------------------------------------------------------------------
    tickets = commands.add_parser("tickets", help="tickets (留单): new, list, show, forward, reply, close, ...")
    tickets.set_defaults(handler=_tickets, tickets_action=None, state="active", unit=None, overdue=False,
                         month=None, limit=100, json=False, database=None)
    actions = tickets.add_subparsers(dest="tickets_action", metavar="ACTION")

    new = actions.add_parser("new", help="turn answered call(s) into a ticket")
    new.add_argument("--call", action="append", required=True, metavar="CALL_ID",
                     help="a call about the problem (repeat for several calls)")
    new.add_argument("--category", required=True, help=CATEGORIES)
    new.add_argument("--unit", required=True, help="the responsible unit: code, name or alias (`tickets units`)")
    new.add_argument("--summary", required=True, help="the operator's summary of the problem")
    new.add_argument("--operator", help="the seat that made it (default: the seat that took the first call)")
    _database(new)

    listing = actions.add_parser("list", help="tickets, overdue first (default: those in progress)")
    listing.add_argument("--state", default="active",
                         choices=("active", "all", "open", "forwarded", "replied", "closed", "reopened"),
                         help="active = open, forwarded or reopened (default)")
    listing.add_argument("--overdue", action="store_true", help="only those past their deadline")
    listing.add_argument("--unit", help="only this unit's")
    listing.add_argument("--month", metavar="YYYY-MM", help="only those created in this month")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    _database(listing)

    show = actions.add_parser("show", help="one ticket: calls, reply, history, callbacks")
    show.add_argument("ticket", type=_ticket_number)
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    _database(show)

    link = actions.add_parser("link", help="add more calls about the same problem to a ticket")
    link.add_argument("ticket", type=_ticket_number)
    link.add_argument("call", nargs="+", metavar="CALL_ID")
    link.add_argument("--by", help="who did it")
    _database(link)

    merge = actions.add_parser("merge", help="merge duplicate tickets into the first (their calls move)")
    merge.add_argument("ticket", type=_ticket_number)
    merge.add_argument("other", nargs="+", type=_ticket_number, metavar="OTHER")
    merge.add_argument("--by", help="who did it")
    _database(merge)

    forward = actions.add_parser("forward", help="forward (转办) to the unit, or to another --unit")
    forward.add_argument("ticket", type=_ticket_number)
    forward.add_argument("--unit", help="reassign to this unit")
    forward.add_argument("--note", help="a note for the history")
    forward.add_argument("--by", help="who did it")
    _database(forward)

    reply = actions.add_parser("reply", help="store the unit's reply (答复)")
    reply.add_argument("ticket", type=_ticket_number)
    reply.add_argument("--text", required=True, help="the reply")
    reply.add_argument("--by", help="who replied (default: the unit)")
    _database(reply)

    close = actions.add_parser("close", help="close a replied ticket (办结)")
    close.add_argument("ticket", type=_ticket_number)
    close.add_argument("--note", help="a note for the history")
    close.add_argument("--by", help="who did it")
    _database(close)

    reopen = actions.add_parser("reopen", help="reopen a replied or closed ticket (a new deadline)")
    reopen.add_argument("ticket", type=_ticket_number)
    reopen.add_argument("--reason", required=True, help="why")
    reopen.add_argument("--by", help="who did it")
    _database(reopen)

    callback = actions.add_parser("callback", help="record a callback to the citizen (回访)")
    callback.add_argument("ticket", type=_ticket_number)
    callback.add_argument("--satisfaction", choices=("satisfied", "basically_satisfied", "dissatisfied"),
                          help="the citizen's answer (closes the ticket, or reopens it when dissatisfied)")
    callback.add_argument("--result", choices=("reached", "no_answer", "busy", "failed"),
                          help="default: reached with --satisfaction, no_answer without")
    callback.add_argument("--note", help="a note")
    callback.add_argument("--by", help="who called")
    _database(callback)

    actions.add_parser("units", help="the directory of responsible units (config/units.toml)")

    # --- report ----------------------------------------------------------------------
    report = commands.add_parser("report", help="the monthly briefing (简报) and the yearly summary")
    kinds = report.add_subparsers(dest="report_kind", required=True, metavar="KIND")
    monthly = kinds.add_parser("monthly", help="the briefing of one month, as the seed's")
    monthly.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2009-01")
    yearly = kinds.add_parser("yearly", help="the figures of one year, month by month")
    yearly.add_argument("--year", required=True, metavar="YYYY", help="e.g. 2008")
    for sub in (monthly, yearly):
        sub.add_argument("--json", action="store_true", help="print the figures as JSON (docs/report-keys.md)")
        sub.add_argument("--html", metavar="FILE", help="write a page with charts (inline SVG, no scripts)")
        _database(sub)
        sub.set_defaults(handler=_report)

    # --- demo ------------------------------------------------------------------------
    demo = commands.add_parser("demo", help="demo data: a realistic month or year of calls and tickets")
    demo_actions = demo.add_subparsers(dest="demo_action", required=True, metavar="ACTION")
    seed = demo_actions.add_parser("seed", help="write a month (or year) of calls and tickets into a store")
    period = seed.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", metavar="YYYY-MM", help="the month to fill, e.g. 2009-01")
    period.add_argument("--year", metavar="YYYY", help="the year to fill, e.g. 2008")
    seed.add_argument("--shape", choices=SHAPES,
                      help="jan-seed: the seed's January (5734 calls, 5704 completed, tickets 19,21,6,7,8); "
                           "year-2008: the seed's 2008 (45291 calls, 44551 completed, 1758 tickets)")
    seed.add_argument("--calls", type=int, help="accepted (answered) calls; default 150 a day")
    seed.add_argument("--completed", type=int, help="of which completed; the rest are on tickets in progress")
    seed.add_argument("--tickets", metavar="H,C,Q,S,O",
                      help="tickets per category: help,complaint,consultation,suggestion,other (or one total)")
    seed.add_argument("--abandon-rate", type=float, default=0.03,
                      help="share of offered calls abandoned, on top of the accepted ones (default 0.03)")
    seed.add_argument("--seed", type=int, default=12345, help="random seed: the same seed writes the same rows")
    _database(seed)
    seed.set_defaults(handler=_demo)
