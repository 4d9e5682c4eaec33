"""GB/T 33358-2016's telephone figures: the connection rate (接通率) and the share of
calls an operator answered within 15 seconds (15秒接通率), per window, day, shift and
seat; pure (the store's groups come from `reports.repository`).

- *Offered* (呼入): every call that arrived in the window and is settled: ended, or
  being talked now. A caller still in the greeting, in line or ringing is not counted
  until the call is settled one way or the other.
- *Connected* (接通): an operator answered it.
- *Answered within 15 s*: an operator answered it at most `answer_seconds` (15) after
  it arrived (`calls.answer_seconds`, greeting and line included: what the caller lives).
- Connection rate = connected / offered; 15-second rate = answered within 15 s / offered.
  The standard asks for a connection rate of at least 95 % over any 24 hours.
- A seat's figures: rung = the calls it answered, those abandoned while it rang and the
  rings it let go unanswered; its connection rate = connected / rung.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Protocol

ANSWER_SECONDS = 15  # GB/T 33358: a call is answered within 15 seconds
TARGET_PCT = 95.0  # GB/T 33358: connection rate over any 24 hours at least 95 %
DAY_SECONDS = 24 * 3600


def percent(part: int | float, whole: int | float, decimals: int = 2) -> float | None:
    """A standalone rate, rounded half up; None when `whole` is 0."""
    if not whole:
        return None
    exact = Fraction(part) * 100 / Fraction(whole)
    value = Decimal(exact.numerator) / Decimal(exact.denominator)
    return float(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Reach:
    """Calls offered, connected and answered within the threshold, over some slice."""

    offered: int = 0
    connected: int = 0
    answered_within: int = 0

    def __add__(self, other: Reach) -> Reach:
        return Reach(self.offered + other.offered, self.connected + other.connected,
                     self.answered_within + other.answered_within)

    @property
    def connection_pct(self) -> float | None:
        return percent(self.connected, self.offered)

    @property
    def answer_rate_pct(self) -> float | None:
        return percent(self.answered_within, self.offered)

    def to_json(self) -> dict[str, object]:
        return {"offered": self.offered, "connected": self.connected, "answered_within": self.answered_within,
                "connection_pct": self.connection_pct, "answer_rate_pct": self.answer_rate_pct}


@dataclass(frozen=True)
class SeatReach:
    seat: str
    rung: int
    connected: int
    answered_within: int

    def to_json(self) -> dict[str, object]:
        return {"seat": self.seat, "rung": self.rung, "connected": self.connected,
                "answered_within": self.answered_within, "connection_pct": percent(self.connected, self.rung),
                "answer_rate_pct": percent(self.answered_within, self.connected)}


@dataclass(frozen=True)
class Window:
    """The 24 hours with the lowest connection rate, [start, end) in epoch seconds."""

    start: float
    end: float
    reach: Reach


class ShiftLike(Protocol):
    """A shift of the roster (`seats.roster.Shift`), as the figures need it."""

    @property
    def name(self) -> str: ...

    def covers_at(self, weekday: int, minute: int) -> bool: ...


@dataclass(frozen=True)
class ReachGroups:
    """What the store returns for a window: calls by local weekday and minute of
    arrival, seats' answers and missed rings, and (for the worst 24 hours) every settled
    arrival with whether it was connected."""

    by_minute: Mapping[tuple[int, int], Reach]  # (weekday Monday 0, minute of day) -> reach
    seats: Sequence[SeatReach]
    arrivals: Sequence[tuple[float, bool, bool]] = ()  # (time, connected, within), sorted by time


def total(groups: ReachGroups) -> Reach:
    return sum(groups.by_minute.values(), Reach())


def by_shift(groups: ReachGroups, shifts: Sequence[ShiftLike]) -> list[tuple[str, Reach]]:
    """Calls by the shift on duty when they arrived (the first shift that covers the
    moment; calls at an hour no shift covers are under "-")."""
    out: dict[str, Reach] = {shift.name: Reach() for shift in shifts}
    for (weekday, minute), reach in groups.by_minute.items():
        name = next((s.name for s in shifts if s.covers_at(weekday, minute)), "-")
        out[name] = out.get(name, Reach()) + reach
    return [(name, reach) for name, reach in out.items() if reach.offered or name != "-"]


def worst_window(arrivals: Sequence[tuple[float, bool, bool]], start: float, end: float,
                 length: float = DAY_SECONDS) -> Window | None:
    """The `length`-long window inside [start, end) with the lowest connection rate.

    The set of calls in a sliding window changes only when its start passes an arrival
    or its end reaches one, so the windows that start at an arrival and those that end
    just after one are every distinct window. A range shorter than `length` is one
    window. None when no call arrived."""
    times = [at for at, _, _ in arrivals]
    if not times:
        return None
    connected_before, within_before = [0], [0]
    for _, connected, within in arrivals:
        connected_before.append(connected_before[-1] + int(connected))
        within_before.append(within_before[-1] + int(within))

    def window(lo: float) -> Window:
        hi = lo + length
        first, last = bisect.bisect_left(times, lo), bisect.bisect_left(times, hi)
        reach = Reach(last - first, connected_before[last] - connected_before[first],
                      within_before[last] - within_before[first])
        return Window(lo, hi, reach)

    if end - start <= length:
        only = window(start)
        return Window(start, end, only.reach)
    candidates = [window(at) for at in times if at + length <= end]
    # Ending just after an arrival: the window (at - length, at], i.e. starting a hair later.
    candidates += [window(at - length + 1e-6) for at in times if at - length + 1e-6 >= start]
    candidates = [c for c in candidates if c.reach.offered]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (Fraction(c.reach.connected, c.reach.offered), c.start))


def seats_json(seats: Iterable[SeatReach]) -> list[dict[str, object]]:
    return [seat.to_json() for seat in sorted(seats, key=lambda s: (len(s.seat), s.seat))]
