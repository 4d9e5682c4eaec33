"""A demo period made and written: `make_demo` makes the rows (nothing written), and
`write_demo` writes them through the calls' and the tickets' repositories, each table in
one bulk statement inside a transaction on the store thread."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from callcenter.calls.repository import CallRepository
from callcenter.demo.calls import DemoData, RowMaker
from callcenter.demo.targets import TICKET_CATEGORIES, DemoError, month_targets
from callcenter.demo.tickets import make_tickets
from callcenter.reports.periods import Period
from callcenter.store import Store
from callcenter.tickets.directory import Directory
from callcenter.tickets.repository import TicketRepository


def make_demo(period: Period, *, calls: int, completed: int, tickets: Sequence[int], zone: ZoneInfo,
              directory: Directory, seed: int = 12345, abandon_rate: float = 0.03) -> DemoData:
    """The rows of a demo period (nothing written). DemoError when the targets cannot be met."""
    if calls < 0 or completed < 0 or any(n < 0 for n in tickets):
        raise DemoError("counts cannot be negative")
    if completed > calls:
        raise DemoError(f"--completed {completed} is more than --calls {calls}")
    if len(tickets) != len(TICKET_CATEGORIES):
        raise DemoError("--tickets takes five counts: help, complaint, consultation, suggestion, other")
    if not 0 <= abandon_rate < 0.9:
        raise DemoError(f"--abandon-rate must be from 0 to 0.9, got {abandon_rate}")
    maker = RowMaker(random.Random(seed), zone, directory)
    for target in month_targets(period, calls, completed, tickets):
        rows = maker.month_calls(target, abandon_rate)
        maker.data.calls.extend(rows)
        make_tickets(maker, rows, target, len(maker.data.tickets) + 1)
    return maker.data


@dataclass(frozen=True)
class Written:
    calls: int
    tickets: int
    first_ticket: int


async def write_demo(store: Store, period: Period, data: DemoData) -> Written:
    """Write the rows: the calls, then the tickets numbered on from the store's last one.
    DemoError if the period already has calls (nothing is written then)."""
    calls = CallRepository(store)
    existing = int((await calls.figures(period.start_epoch, period.end_epoch, 0))["calls"])
    if existing:
        raise DemoError(f"{store.name} already holds {existing} calls in {period.label}: "
                        "seed another period or another database (--database)")
    await calls.insert_many(data.calls, ())
    first = await TicketRepository(store).insert_many(data.tickets, data.links, data.events, data.callbacks)
    return Written(len(data.calls), len(data.tickets), first)
