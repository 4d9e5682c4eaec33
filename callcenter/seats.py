"""Seats and shifts: the roster, and which seat takes the next caller.

Pure: the controller feeds in the seats' live state and the time, and gets decisions.
A seat is available when it is on shift (or logged in by a supervisor, and not logged
out), registered, not paused, and idle (not ringing, talking or in wrap-up).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path

from callcenter.errors import ConfigError
from callcenter.settings import SEAT_NAMES


class SeatState(StrEnum):
    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAPUP = "wrapup"


@dataclass(frozen=True)
class Shift:
    name: str
    start_minute: int  # minutes after local midnight, inclusive
    end_minute: int  # exclusive; 1440 is midnight
    seats: tuple[str, ...]

    def covers(self, moment: datetime) -> bool:
        minute = moment.hour * 60 + moment.minute
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute  # crosses midnight


@dataclass(frozen=True)
class Roster:
    shifts: tuple[Shift, ...]

    def shifts_at(self, moment: datetime) -> list[Shift]:
        return [shift for shift in self.shifts if shift.covers(moment)]

    def on_shift(self, seat: str, moment: datetime) -> bool:
        return any(seat in shift.seats for shift in self.shifts_at(moment))

    def shift_of(self, seat: str, moment: datetime) -> str | None:
        """The shift the seat works now, or else the first shift it belongs to."""
        for shift in self.shifts_at(moment):
            if seat in shift.seats:
                return shift.name
        return next((shift.name for shift in self.shifts if seat in shift.seats), None)


def _minute(path: Path, index: int, key: str, value: object) -> int:
    where = f"{path}: shift {index + 1} {key}"
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a time like \"08:00\", got {value!r}")
    if value == "24:00":
        return 1440
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where} must be a time like \"08:00\", got {value!r}") from None
    return parsed.hour * 60 + parsed.minute


def load_roster(path: Path, known_seats: Iterable[str] = SEAT_NAMES) -> Roster:
    known = set(known_seats)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: roster file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    entries = raw.get("shift")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[shift]] tables")
    shifts: list[Shift] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: shift {index + 1} must be a table")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}: shift {index + 1} needs a name")
        seats = entry.get("seats")
        if not isinstance(seats, list) or not seats or not all(isinstance(s, str) for s in seats):
            raise ConfigError(f"{path}: shift {name!r} needs a list of seats")
        for seat in seats:
            if seat not in known:
                raise ConfigError(
                    f"{path}: shift {name!r} names unknown seat {seat!r} (known: {', '.join(sorted(known))})"
                )
        start = _minute(path, index, "start", entry.get("start"))
        end = _minute(path, index, "end", entry.get("end"))
        if start == end:
            raise ConfigError(f"{path}: shift {name!r} starts and ends at the same time")
        shifts.append(Shift(name, start, end, tuple(seats)))
    return Roster(tuple(shifts))


@dataclass(frozen=True)
class Seat:
    """A seat's live state, as the controller knows it."""

    name: str
    registered: bool = False
    logged_in: bool | None = None  # None: follow the roster
    paused: bool = False
    pause_reason: str = ""
    state: SeatState = SeatState.IDLE
    since: float = 0.0  # epoch of the last state change
    idle_since: float = 0.0  # end of its last call (or wrap-up), for longest-idle

    def working(self, roster: Roster, moment: datetime) -> bool:
        if self.logged_in is not None:
            return self.logged_in
        return roster.on_shift(self.name, moment)

    def available(self, roster: Roster, moment: datetime) -> bool:
        return self.registered and not self.paused and self.state is SeatState.IDLE and self.working(roster, moment)

    def moved(self, state: SeatState, at: float) -> Seat:
        idle_since = at if state is SeatState.IDLE else self.idle_since
        return replace(self, state=state, since=at, idle_since=idle_since)


def longest_idle(seats: Mapping[str, Seat], roster: Roster, moment: datetime) -> list[str]:
    """Available seats, the one idle longest first (ties by seat name, for determinism)."""
    free = [seat for seat in seats.values() if seat.available(roster, moment)]
    # Ties (every seat idle since start-up) go in seat order: seat2 before seat10.
    return [seat.name for seat in sorted(free, key=lambda s: (s.idle_since, len(s.name), s.name))]


def format_seats_table(
    roster: Roster,
    rows: Mapping[str, Mapping[str, object]],
    calls_today: Mapping[str, int],
    zone: object,
    names: Iterable[str] = SEAT_NAMES,
    now: datetime | None = None,
) -> str:
    """`hotline seats`: seat, shift, registered, state, since, calls today."""
    from zoneinfo import ZoneInfo

    assert isinstance(zone, ZoneInfo)
    moment = now or datetime.now(zone)
    lines = [f"{'seat':<7} {'shift':<8} {'on shift':<8} {'registered':<10} {'state':<22} {'since':<19} calls today"]
    for name in names:
        row = rows.get(name, {})
        state = str(row.get("state") or "offline")
        if row.get("paused"):
            state = f"paused ({row.get('pause_reason') or 'no reason'})"
        logged = row.get("logged_in")
        on_shift = roster.on_shift(name, moment)
        working = "login" if logged == 1 else "logout" if logged == 0 else ("yes" if on_shift else "no")
        since = str(row.get("state_since") or "")[:19].replace("T", " ")
        lines.append(
            f"{name:<7} {roster.shift_of(name, moment) or '-':<8} {working:<8} "
            f"{'yes' if row.get('registered') else 'no':<10} {state[:22]:<22} {since:<19} {calls_today.get(name, 0)}"
        )
    return "\n".join(lines)
