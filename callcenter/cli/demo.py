"""`hotline demo seed --month YYYY-MM | --year YYYY [--shape ...] [--calls N] ...`: a demo
month or year of calls and tickets written into a store."""

from __future__ import annotations

import argparse
import time

from callcenter.cli.common import Commands, add_database_option, database_path, with_store
from callcenter.demo.seeder import Written, make_demo, write_demo
from callcenter.demo.targets import SHAPES, TICKET_CATEGORIES, DemoError, default_targets, parse_tickets
from callcenter.reports.periods import parse_month, parse_year
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.store.url import redacted
from callcenter.tickets.directory import load_directory, units_file


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    zone = settings.zone
    if bool(args.month) == bool(args.year):
        raise DemoError("give either --month YYYY-MM or --year YYYY")
    period = parse_month(args.month, zone) if args.month else parse_year(args.year, zone)
    if period.end_epoch > time.time():
        raise DemoError(f"{period.label} has not ended yet: the demo writes whole past periods")
    calls, completed, tickets = default_targets(period)
    if args.shape:
        shape = SHAPES[args.shape]
        if shape.kind != period.kind:
            other = "--year" if shape.kind == "yearly" else "--month"
            raise DemoError(f"--shape {args.shape} is {shape.about}: use it with {other}")
        calls, completed, tickets = shape.calls, shape.completed, shape.tickets
    if args.calls is not None:
        calls = args.calls
        if args.completed is None and not args.shape:
            completed = calls - round(calls * 0.005)
    if args.completed is not None:
        completed = args.completed
    if args.tickets is not None:
        tickets = parse_tickets(args.tickets)
    directory = load_directory(units_file(settings))
    started = time.perf_counter()
    data = make_demo(period, calls=calls, completed=completed, tickets=tickets, zone=zone, directory=directory,
                     seed=args.seed, abandon_rate=args.abandon_rate)
    path = database_path(settings, args, must_exist=False)

    async def write(store: Store) -> Written:
        return await write_demo(store, period, data)

    written = with_store(path, write)
    took = time.perf_counter() - started
    lost = written.calls - calls
    names = ", ".join(f"{c} {n}" for c, n in zip(TICKET_CATEGORIES, tickets, strict=True))
    print(f"wrote {period.label} into {redacted(str(path))} in {took:.2f} s (seed {args.seed}):")
    print(f"  calls    {written.calls} offered: {calls} accepted ({completed} completed, "
          f"{calls - completed} in progress), {lost} abandoned or failed")
    last = written.first_ticket + written.tickets - 1
    print(f"  tickets  {written.tickets} (numbers {written.first_ticket}-{last}): {names}")
    kind = f"monthly --month {period.label}" if period.kind == "monthly" else f"yearly --year {period.label}"
    print(f"next: hotline report {kind}" + (f" --database {args.database}" if args.database else ""))
    return 0


def register(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="demo data: a realistic month or year of calls and tickets")
    actions = demo.add_subparsers(dest="demo_action", required=True, metavar="ACTION")
    seed = actions.add_parser("seed", help="write a month (or year) of calls and tickets into a store")
    period = seed.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", metavar="YYYY-MM", help="the month to fill, e.g. 2009-01")
    period.add_argument("--year", metavar="YYYY", help="the year to fill, e.g. 2008")
    seed.add_argument("--shape", choices=tuple(SHAPES),
                      help="jan-seed: the seed's January (5734 calls, 5704 completed, tickets 19,21,6,7,8); "
                           "year-2008: the seed's 2008 (45291 calls, 44551 completed, 1758 tickets)")
    seed.add_argument("--calls", type=int, help="accepted (answered) calls; default 150 a day")
    seed.add_argument("--completed", type=int, help="of which completed; the rest are on tickets in progress")
    seed.add_argument("--tickets", metavar="H,C,Q,S,O",
                      help="tickets per category: help,complaint,consultation,suggestion,other (or one total)")
    seed.add_argument("--abandon-rate", type=float, default=0.03,
                      help="share of offered calls abandoned, on top of the accepted ones (default 0.03)")
    seed.add_argument("--seed", type=int, default=12345, help="random seed: the same seed writes the same rows")
    add_database_option(seed)
    seed.set_defaults(handler=_seed)
