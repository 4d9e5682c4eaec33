"""When a unit must have replied: the end of the n-th working day after the ticket was
made (or reopened), in the hotline's zone, moved on by a granted extension; whether a
ticket is past it, and how many working days are left."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.vocabulary import IN_PROGRESS
from callcenter.workdays import add_working_days, working_days_between


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
    return TicketDeadline(found.day, _end_of(found.day, zone), found.estimated)


def _end_of(day: date, zone: ZoneInfo) -> float:
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()


def extended(deadline: TicketDeadline, zone: ZoneInfo, working_days: int) -> TicketDeadline:
    """The deadline moved by `working_days` working days from the current one (a granted
    extension). Still estimated if it was: the days counted before are the same."""
    found = add_working_days(deadline.day, working_days)
    return TicketDeadline(found.day, _end_of(found.day, zone), deadline.estimated or found.estimated)


def working_days_left(deadline: date, today: date) -> int:
    """Working days left before the deadline: 0 on the deadline day itself, then
    negative once it has passed (-1 from the first day after, whatever day that is)."""
    if deadline >= today:
        return working_days_between(today, deadline)
    return -max(1, working_days_between(deadline, today))


def is_overdue(row: Mapping[str, object], now: float) -> bool:
    """In progress (not merged away) and past its deadline."""
    deadline = row.get("deadline_epoch")
    return (
        str(row.get("state")) in IN_PROGRESS
        and row.get("merged_into") is None
        and isinstance(deadline, int | float)
        and now >= deadline
    )
