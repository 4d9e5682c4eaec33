"""The periods a briefing covers: a month or a year, from local midnight to local
midnight in the hotline's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter.errors import HotlineError


class ReportError(HotlineError):
    """A report that cannot be made (a bad month, no calls): the message says why."""


@dataclass(frozen=True)
class Period:
    kind: str  # "monthly" or "yearly"
    label: str  # "2009-01" or "2008"
    start: datetime  # aware, in the hotline's zone
    end: datetime

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    @property
    def end_epoch(self) -> float:
        return self.end.timestamp()

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days

    @property
    def title(self) -> str:
        if self.kind == "monthly":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.year}年"

    def days_counted(self, now: float) -> int:
        """Days the daily average divides by: all of them once the period is over, the
        days begun so far while it runs."""
        if now >= self.end_epoch:
            return self.days
        today = datetime.fromtimestamp(now, self.start.tzinfo).date()
        return max(0, min(self.days, (today - self.start.date()).days + 1))

    def months_counted(self, now: float) -> int:
        """Months the monthly averages of a year divide by: 12, or those begun so far."""
        if self.kind == "monthly":
            return 1
        if now >= self.end_epoch:
            return 12
        if now < self.start_epoch:
            return 0
        return datetime.fromtimestamp(now, self.start.tzinfo).month


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str, zone: ZoneInfo) -> Period:
    """'2009-01' as the month in the hotline's zone; ReportError for a month that does not exist."""
    match = _MONTH.match(text.strip())
    year, month = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not match or not 1 <= month <= 12 or not 1970 <= year <= 9998:
        raise ReportError(f"--month {text!r}: no such month; give YYYY-MM, e.g. 2009-01")
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return Period("monthly", f"{year:04d}-{month:02d}", start, end)


def parse_year(text: str, zone: ZoneInfo) -> Period:
    value = text.strip()
    if not value.isdigit() or len(value) != 4 or not 1970 <= int(value) <= 9998:
        raise ReportError(f"--year {text!r}: no such year; give YYYY, e.g. 2008")
    year = int(value)
    return Period("yearly", value, datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))
