"""Working days in mainland China, for ticket deadlines ("7 个工作日").

A working day is what the State Council's yearly holiday notice makes it: weekends and
official holidays are off, and the adjusted working days (调休, a Saturday or Sunday
worked to bridge a holiday) are on. The dates come from the maintained `chinesecalendar`
package (import name `chinese_calendar`), never from a list kept here.

The package knows only the years whose notice has been published (it raises
NotImplementedError outside them). For such a day we fall back to Monday-Friday and say
so: every answer carries `estimated`, and a ticket stores it so that an estimated
deadline can be recomputed once the package is upgraded.

Counting follows Chinese administrative practice (期间开始之日不计算在内): the day a
ticket is created is day 0, and the first working day after it is day 1. A deadline is
the end of its last working day. The seed's example: a call on 2009-02-17 (Tuesday)
answered on 2009-02-24 took 5 working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar  # type: ignore[import-untyped]  # ships no type information


@dataclass(frozen=True, slots=True)
class WorkingDay:
    """Whether `day` is worked; `estimated` when the holiday calendar does not cover it."""

    day: date
    working: bool
    estimated: bool


@dataclass(frozen=True, slots=True)
class Deadline:
    """The last working day of a period, and whether any day counted was estimated."""

    day: date
    estimated: bool


@lru_cache(maxsize=8192)
def working_day(day: date) -> WorkingDay:
    try:
        return WorkingDay(day, bool(chinese_calendar.is_workday(day)), False)
    except NotImplementedError:  # a year the installed calendar has no notice for
        return WorkingDay(day, day.weekday() < 5, True)


def is_working_day(day: date) -> bool:
    return working_day(day).working


def calendar_covers(day: date) -> bool:
    """True when the holiday calendar knows `day`'s year (no estimate needed)."""
    return not working_day(day).estimated


def add_working_days(start: date, count: int) -> Deadline:
    """The `count`-th working day after `start` (start itself is day 0, whatever it is)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    day, found, estimated = start, 0, False
    while found < count:
        day += timedelta(days=1)
        info = working_day(day)
        estimated = estimated or info.estimated
        if info.working:
            found += 1
    return Deadline(day, estimated)


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many working days a reply on `end` took for a
    ticket created on `start`; 0 when `end` is not after `start`."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if working_day(day).working:
            count += 1
    return count
