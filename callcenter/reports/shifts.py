"""Today's figures per shift of the roster, for the wallboard: answered, abandoned,
service level and average wait, with the wallboard's own meanings (`web.live.today_figures`);
pure (the store's groups by minute of arrival come from `calls.repository`).

A call belongs to the shift on duty when it arrived (the first shift that covers the
minute); calls at a minute no shift covers are under "-"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from callcenter.reports.connection import ShiftLike

UNCOVERED = "-"


@dataclass
class ShiftToday:
    shift: str
    answered: int = 0
    abandoned: int = 0
    answered_within: int = 0
    asked_for_seat: int = 0  # answered, or gave up waiting or ringing (the service level's whole)
    wait_sum: int = 0
    wait_n: int = 0

    def to_json(self) -> dict[str, object]:
        figures = asdict(self)
        figures["service_level"] = (round(self.answered_within / self.asked_for_seat, 3)
                                    if self.asked_for_seat else None)
        figures["average_wait"] = round(self.wait_sum / self.wait_n, 1) if self.wait_n else None
        for internal in ("answered_within", "asked_for_seat", "wait_sum", "wait_n"):
            del figures[internal]
        return figures


def works_on(shift: ShiftLike, weekday: int) -> bool:
    """Whether the shift is on duty at some time of the day `weekday` (Monday 0)."""
    return any(shift.covers_at(weekday, minute) for minute in range(0, 1440, 15))


def per_shift(by_minute: Sequence[Mapping[str, object]], shifts: Sequence[ShiftLike], weekday: int) -> list[ShiftToday]:
    """The day's rows by minute of arrival (minute, answered, abandoned, answered_within,
    asked_for_seat, wait_sum, wait_n) added up per shift of that day."""
    out = {shift.name: ShiftToday(shift.name) for shift in shifts if works_on(shift, weekday)}
    for row in by_minute:
        minute = _int(row, "minute")
        name = next((s.name for s in shifts if s.covers_at(weekday, minute)), UNCOVERED)
        figures = out.setdefault(name, ShiftToday(name))
        figures.answered += _int(row, "answered")
        figures.abandoned += _int(row, "abandoned")
        figures.answered_within += _int(row, "answered_within")
        figures.asked_for_seat += _int(row, "asked_for_seat")
        figures.wait_sum += _int(row, "wait_sum")
        figures.wait_n += _int(row, "wait_n")
    return list(out.values())


def _int(row: Mapping[str, object], key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0
