"""When a unit must have replied: the end of the n-th working day after the ticket was
made (or reopened), in the hotline's zone; and whether a ticket is past it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.vocabulary import IN_PROGRESS
from callcenter.workdays import add_working_days


@dataclass(frozen=True, slots=True)
class TicketDeadline:
    day: date
    end_epoch: float  # the end of that day in the hotline's zone
    estimated: bool


def deadline_from(epoch: float, zone: ZoneInfo, working_days: int) -> TicketDeadline:
    """The deadline of a ticket created (or reopened) at `epoch`: the end of the
    `working_days`-th working day after that day."""
    start = datetime.fromtimestamp(epoch, zone).date()
    found = add_working_days(start, working_days)
    following = found.day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
    return TicketDeadline(found.day, end, found.estimated)


def is_overdue(row: Mapping[str, object], now: float) -> bool:
    """In progress (not merged away) and past its deadline."""
    deadline = row.get("deadline_epoch")
    return (
        str(row.get("state")) in IN_PROGRESS
        and row.get("merged_into") is None
        and isinstance(deadline, int | float)
        and now >= deadline
    )
