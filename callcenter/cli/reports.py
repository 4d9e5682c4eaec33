"""`hotline report monthly --month YYYY-MM` and `hotline report yearly --year YYYY`: the
briefing (简报) as text, JSON or an HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

from callcenter.cli.common import Commands, add_database_option, database_path, with_store
from callcenter.reports.figures import Briefing, build_briefing
from callcenter.reports.html import format_html
from callcenter.reports.periods import ReportError, parse_month, parse_year
from callcenter.reports.text import format_text
from callcenter.seats.roster import load_roster
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.terminal import safe_json
from callcenter.tickets.directory import load_directory, units_file
from callcenter.tickets.response import ResponseLimits


def _report(settings: Settings, args: argparse.Namespace) -> int:
    directory = load_directory(units_file(settings))
    zone = settings.zone
    period = parse_month(args.month, zone) if args.report_kind == "monthly" else parse_year(args.year, zone)
    path = database_path(settings, args)

    async def build(store: Store) -> Briefing:
        seats = Services.on(settings, store).seats
        return await build_briefing(store, period, zone=zone, service_level_seconds=directory.service_level_seconds,
                                    deadline_working_days=directory.deadline_working_days, shifts=roster.shifts,
                                    operator_names=seats.operator_names(),
                                    response_limits=ResponseLimits.of(settings.channels))

    # The figures per shift follow the roster as it is now (calls by the hour they arrived).
    roster = load_roster(settings.paths.roster, settings.seat_names)

    briefing = with_store(path, build)
    if args.html:
        target = Path(args.html)
        try:
            target.write_text(format_html(briefing, directory.title, directory.names()), encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{target}: cannot write the page: {exc.strerror or exc}") from None
    if args.json:
        print(safe_json(briefing.to_json()))
    elif args.html:
        print(f"wrote {args.html}")
    else:
        print(format_text(briefing, directory.title))
    return 0


def register(commands: Commands) -> None:
    report = commands.add_parser("report", help="the monthly briefing (简报) and the yearly summary")
    kinds = report.add_subparsers(dest="report_kind", required=True, metavar="KIND")
    monthly = kinds.add_parser("monthly", help="the briefing of one month, as the seed's")
    monthly.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2009-01")
    yearly = kinds.add_parser("yearly", help="the figures of one year, month by month")
    yearly.add_argument("--year", required=True, metavar="YYYY", help="e.g. 2008")
    for kind in (monthly, yearly):
        kind.add_argument("--json", action="store_true",
                          help="print the figures as JSON (keys documented in the README)")
        kind.add_argument("--html", metavar="FILE", help="write a page with charts (inline SVG, no scripts)")
        add_database_option(kind)
        kind.set_defaults(handler=_report)
