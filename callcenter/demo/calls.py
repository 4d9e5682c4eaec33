"""The demo's calls: arrivals on a day curve (quiet at night, peaks in the morning and
afternoon, fewer on holidays and weekends), answered by the two seats of the shift on
duty (seat1-2 00:00-08:00, seat3-4 08:00-16:00, seat5-6 16:00-24:00), with IVR
categories, queue waits, talk times, abandons in the IVR, the queue and while ringing,
repeat callers and nuisance bursts like the seed's child (six calls in five minutes)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.clock import iso_local
from callcenter.demo.targets import MonthTarget, days_in_month
from callcenter.seats.operators import default_badge
from callcenter.tickets.directory import Directory
from callcenter.vocabulary import ABANDONED, Category, Outcome
from callcenter.workdays import is_working_day


def float_or_zero(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def int_or_zero(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


# Calls per hour of the day (relative), 00h..23h: quiet at night, peaks 10h and 15h.
HOUR_WEIGHTS = (0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.8, 1.8, 3.5, 5.5, 6.2, 5.8,
                4.2, 3.8, 5.0, 5.6, 5.4, 4.6, 3.6, 3.4, 3.2, 2.6, 1.8, 1.1)
# The default roster: two seats a shift, three shifts (两人一班，一天三班倒).
SHIFTS = ((0, "night", ("seat1", "seat2")), (8, "day", ("seat3", "seat4")), (16, "evening", ("seat5", "seat6")))
# What callers press in the IVR menu (None: 0 or nothing, straight to an operator).
IVR_CHOICES: tuple[tuple[Category | None, float], ...] = (
    (Category.CONSULTATION, 0.55), (Category.COMPLAINT, 0.14), (Category.HELP, 0.12), (Category.SUGGESTION, 0.05),
    (None, 0.14))
TALK_MEDIAN: dict[str | None, float] = {
    Category.CONSULTATION: 130.0, Category.COMPLAINT: 270.0, Category.HELP: 230.0, Category.SUGGESTION: 180.0,
    None: 160.0,
}
MOBILE = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "130", "131", "132", "189")


@dataclass
class DemoData:
    """The rows of a demo period, as the tables hold them."""

    calls: list[dict[str, object]] = field(default_factory=list)
    tickets: list[dict[str, object]] = field(default_factory=list)  # "ticket_id": 1-based within the data
    links: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    callbacks: list[dict[str, object]] = field(default_factory=list)


class RowMaker:
    """Makes the rows of one run; every random choice comes from one seeded generator."""

    def __init__(self, rng: random.Random, zone: ZoneInfo, directory: Directory) -> None:
        self.rng = rng
        self.zone = zone
        self.directory = directory
        self.data = DemoData()
        self.seq = 0
        self.regulars: list[str] = []  # numbers that call again
        self._offsets: dict[int, tuple[int, str]] = {}
        self._dates: dict[int, str] = {}

    def _local(self, epoch: float) -> tuple[int, str]:
        """Local seconds since the epoch and the offset text; the offset is looked up once
        an hour (zones change offset on the hour), not once a timestamp."""
        whole = int(epoch)
        found = self._offsets.get(whole // 3600)
        if found is None:
            text = iso_local(whole, self.zone)[19:]
            sign = -1 if text[0] == "-" else 1
            found = (sign * (int(text[1:3]) * 3600 + int(text[4:6]) * 60), text)
            self._offsets[whole // 3600] = found
        return whole + found[0], found[1]

    def iso(self, epoch: float) -> str:
        """The same text as `clock.iso_local`, a few times faster (a year is 250,000 stamps)."""
        local, offset = self._local(epoch)
        day, second = divmod(local, 86400)
        prefix = self._dates.get(day)
        if prefix is None:
            prefix = self._dates[day] = date.fromordinal(day + 719163).isoformat()
        hour, rest = divmod(second, 3600)
        return f"{prefix}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}{offset}"

    def hour(self, epoch: float) -> int:
        return self._local(epoch)[0] % 86400 // 3600

    def number(self) -> str:
        rng = self.rng
        if self.regulars and rng.random() < 0.12:
            return rng.choice(self.regulars)
        if rng.random() < 0.3:
            number = "0356" + "".join(rng.choice("23456789") for _ in range(1)) + f"{rng.randrange(10**6):06d}"
        else:
            number = rng.choice(MOBILE) + f"{rng.randrange(10**8):08d}"
        if rng.random() < 0.05:
            self.regulars.append(number)
        return number

    def arrivals(self, year: int, month: int, count: int) -> list[int]:
        """`count` arrival times (epoch seconds) on the day and hour curves, sorted."""
        first = date(year, month, 1)
        days = [first + timedelta(days=n) for n in range(days_in_month(year, month))]
        day_weights = [1.0 if is_working_day(d) else 0.8 for d in days]
        starts = [int(datetime(d.year, d.month, d.day, tzinfo=self.zone).timestamp()) for d in days]
        picked_days = self.rng.choices(range(len(days)), weights=day_weights, k=count)
        hours = self.rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
        return sorted(starts[d] + 3600 * h + self.rng.randrange(3600) for d, h in zip(picked_days, hours, strict=True))

    def shift(self, epoch: float) -> tuple[str, str]:
        hour = self.hour(epoch)
        _, name, seats = max((s for s in SHIFTS if s[0] <= hour), key=lambda s: s[0])
        return name, self.rng.choice(seats)

    def call(self, arrived: int, outcome: str, category: str | None, number: str | None = None,
             nuisance: bool = False, talk: int | None = None) -> dict[str, object]:
        rng = self.rng
        busy = HOUR_WEIGHTS[self.hour(arrived)] / max(HOUR_WEIGHTS)
        row: dict[str, object] = {
            "call_id": "", "caller_number": number or self.number(), "caller_name": None,
            "arrived": self.iso(arrived), "answered": None, "queued": None, "seat_answered": None, "ended": None,
            "arrived_epoch": float(arrived), "wait_seconds": None, "answer_seconds": None, "talk_seconds": None,
            "total_seconds": None,
            "outcome": outcome, "hangup_cause": "16 Normal Clearing", "seat": None, "shift": None,
            "category": category, "nuisance": int(nuisance), "recording_path": None, "recording_seconds": None,
            "queue_seq": None, "priority": 0, "state": "done",
        }
        if outcome == Outcome.FAILED:
            row.update(ended=self.iso(arrived + 1), total_seconds=1, hangup_cause="34 No circuit/channel available")
            return row
        answered = arrived + 1
        row["answered"] = self.iso(answered)
        if outcome == Outcome.ABANDONED_IVR:
            ended = answered + rng.randint(3, 14)
            row.update(ended=self.iso(ended), total_seconds=ended - arrived, category=None)
            return row
        queued = answered + rng.randint(4, 6)  # the greeting (no menu, as GB/T 33358 asks)
        row["queued"] = self.iso(queued)
        shift, seat = self.shift(queued)
        if outcome == Outcome.ABANDONED_QUEUE:
            wait = int(rng.expovariate(1 / 45)) + 5
            row.update(ended=self.iso(queued + wait), wait_seconds=wait, total_seconds=queued + wait - arrived)
            return row
        if outcome == Outcome.ABANDONED_RINGING:
            wait = rng.randint(3, 15)
            row.update(ended=self.iso(queued + wait), wait_seconds=wait, total_seconds=queued + wait - arrived,
                       seat=seat, shift=shift)
            return row
        wait = min(600, int(rng.expovariate(1 / (3 + 14 * busy))))
        if talk is None:
            talk = max(15, int(rng.lognormvariate(math.log(TALK_MEDIAN[category]), 0.55)))
        seat_answered = queued + wait
        ended = seat_answered + talk
        row.update(seat_answered=self.iso(seat_answered), ended=self.iso(ended), wait_seconds=wait,
                   answer_seconds=seat_answered - arrived, talk_seconds=talk, total_seconds=ended - arrived,
                   seat=seat, shift=shift, operator=default_badge(seat),
                   # Not drawn from the generator: the seeded figures stay those of before operators.
                   wrapup_seconds=5 + talk % 21)
        return row

    def month_calls(self, target: MonthTarget, abandon_rate: float) -> list[dict[str, object]]:
        rng = self.rng
        rows: list[dict[str, object]] = []
        # Nuisance bursts: a number that calls again and again within minutes, like the
        # seed's child (11:49 to 11:54, six calls); from the third call on it is flagged.
        bursts = target.calls // 400
        sizes = [6] + [rng.randint(3, 6) for _ in range(bursts - 1)] if bursts else []
        while sum(sizes) > target.calls:
            sizes.pop()
        days = days_in_month(target.year, target.month)
        for n, size in enumerate(sizes):
            day = rng.randrange(days) + 1
            start = datetime(target.year, target.month, day, 11, 49, tzinfo=self.zone) if n == 0 else \
                datetime(target.year, target.month, day, rng.randint(8, 21), rng.randrange(60), tzinfo=self.zone)
            number = "0356" + f"{rng.randrange(2 * 10**6, 10**7):07d}"
            for k in range(size):
                at = int(start.timestamp()) + 60 * k + rng.randrange(30)
                rows.append(self.call(at, Outcome.ANSWERED, None, number, nuisance=k >= 2, talk=rng.randint(8, 40)))
        regular = target.calls - len(rows)
        ivr = self.rng.choices([c for c, _ in IVR_CHOICES], weights=[w for _, w in IVR_CHOICES], k=regular)
        for at, category in zip(self.arrivals(target.year, target.month, regular), ivr, strict=True):
            rows.append(self.call(at, Outcome.ANSWERED, category))
        abandoned = round(target.calls * abandon_rate / (1 - abandon_rate))
        kinds = rng.choices(ABANDONED, weights=(25, 65, 10), k=abandoned)  # the IVR, the queue, ringing
        failed = round(target.calls * 0.0015)
        lost = self.arrivals(target.year, target.month, abandoned + failed)
        for at, kind in zip(lost, [*kinds, *[Outcome.FAILED] * failed], strict=True):
            category = rng.choices([c for c, _ in IVR_CHOICES], weights=[w for _, w in IVR_CHOICES])[0]
            rows.append(self.call(at, kind, category))
        rows.sort(key=lambda r: float_or_zero(r["arrived_epoch"]))
        for row in rows:
            self.seq += 1
            row["call_id"] = f"demo-{int_or_zero(row['arrived_epoch'])}.{self.seq}"
        return rows
