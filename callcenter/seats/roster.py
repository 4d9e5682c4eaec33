"""The shift roster: which seats work when (agents/roster.toml), in the hotline's time
zone. Loading refuses an unknown seat or a bad time with the file and the shift named;
the console saves it through `roster_toml` + `save_roster`, replacing the file
atomically so the controller never reads half a file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from callcenter.errors import ConfigError
from callcenter.seats.operators import BADGE
from callcenter.settings import SEAT_NAMES

# Weekdays as the roster file names them, Monday first (datetime.weekday()).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
EVERY_DAY = frozenset(range(7))
WEEK_MINUTES = 7 * 1440


@dataclass(frozen=True)
class Shift:
    name: str
    start_minute: int  # minutes after local midnight, inclusive
    end_minute: int  # exclusive; 1440 is midnight
    seats: tuple[str, ...]
    # The days the shift starts on (Monday 0); a shift crossing midnight goes on into
    # the next morning.
    weekdays: frozenset[int] = EVERY_DAY
    # The operators (工号) who work it, wherever they log in. A shift that names none is
    # worked by the operators whose default seat is among its seats (a roster of seats).
    operators: tuple[str, ...] = ()

    def staffed_by(self, badge: str, home: str) -> bool:
        return badge in self.operators if self.operators else home in self.seats

    def covers(self, moment: datetime) -> bool:
        return self.covers_at(moment.weekday(), moment.hour * 60 + moment.minute)

    def covers_at(self, weekday: int, minute: int) -> bool:
        if self.start_minute <= self.end_minute:
            return weekday in self.weekdays and self.start_minute <= minute < self.end_minute
        if minute >= self.start_minute:  # crosses midnight: the evening part
            return weekday in self.weekdays
        return (weekday - 1) % 7 in self.weekdays and minute < self.end_minute  # the next morning


def coverage_gaps(roster: Roster) -> list[tuple[int, int]]:
    """The stretches of the week, [start, end) in minutes from Monday 00:00, when no shift
    with a seat is on duty: the hotline answers 7 x 24 (GB/T 33358)."""
    gaps: list[tuple[int, int]] = []
    start: int | None = None
    for minute in range(WEEK_MINUTES + 1):
        covered = minute == WEEK_MINUTES or any(
            (shift.seats or shift.operators) and shift.covers_at(minute // 1440, minute % 1440)
            for shift in roster.shifts)
        if not covered and start is None:
            start = minute
        elif covered and start is not None:
            gaps.append((start, minute))
            start = None
    return gaps


def coverage_warning(roster: Roster) -> str | None:
    """One line for start-up when the roster leaves the hotline unanswered some hours."""
    gaps = describe_gaps(coverage_gaps(roster))
    if not gaps:
        return None
    return ("WARNING: the roster leaves hours of the week with no seat on duty (GB/T 33358 asks for 7 x 24): "
            + "; ".join(gaps))


def describe_gaps(gaps: Sequence[tuple[int, int]]) -> list[str]:
    """Gaps in a clerk's words: "周日 22:00-24:00", "周六 20:00 - 周日 08:00"."""
    def at(minute: int) -> tuple[str, str]:
        return WEEKDAY_LABELS[minute // 1440 % 7], _hhmm(minute % 1440)

    out = []
    for start, end in gaps:
        (day, begin), (end_day, finish) = at(start), at(end)
        if end - start <= 1440 and (end_day == day or finish == "00:00"):
            out.append(f"{day} {begin}-{'24:00' if finish == '00:00' else finish}")
        else:
            out.append(f"{day} {begin} - {end_day} {finish}")
    return out


@dataclass(frozen=True)
class Roster:
    shifts: tuple[Shift, ...]

    def shifts_at(self, moment: datetime) -> list[Shift]:
        return [shift for shift in self.shifts if shift.covers(moment)]

    def on_shift(self, seat: str, moment: datetime) -> bool:
        return any(seat in shift.seats for shift in self.shifts_at(moment))

    def operator_on_shift(self, badge: str, home: str, moment: datetime) -> bool:
        """Whether the operator works now (`home`: their default seat)."""
        return any(shift.staffed_by(badge, home) for shift in self.shifts_at(moment))

    def operator_shift(self, badge: str, home: str, moment: datetime) -> str | None:
        """The shift the operator works now, or else the first shift they belong to."""
        for shift in self.shifts_at(moment):
            if shift.staffed_by(badge, home):
                return shift.name
        return next((shift.name for shift in self.shifts if shift.staffed_by(badge, home)), None)

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
        operators = _operators(path, name, entry.get("operators"))
        seats = entry.get("seats", [] if operators else None)
        if not isinstance(seats, list) or not (seats or operators) or not all(isinstance(s, str) for s in seats):
            raise ConfigError(f"{path}: shift {name!r} needs a list of seats or of operators (工号)")
        for seat in seats:
            if seat not in known:
                raise ConfigError(
                    f"{path}: shift {name!r} names unknown seat {seat!r} (known: {', '.join(sorted(known))})"
                )
        start = _minute(path, index, "start", entry.get("start"))
        end = _minute(path, index, "end", entry.get("end"))
        if start == end:
            raise ConfigError(f"{path}: shift {name!r} starts and ends at the same time")
        shifts.append(Shift(name, start, end, tuple(seats), _weekdays(path, name, entry.get("days")), operators))
    return Roster(tuple(shifts))


def _operators(path: Path | str, name: object, badges: object) -> tuple[str, ...]:
    if badges is None:
        return ()
    if not isinstance(badges, list) or not all(isinstance(b, str) and BADGE.fullmatch(b) for b in badges):
        raise ConfigError(f"{path}: shift {name!r} operators must be a list of 工号 like \"1003\", got {badges!r}")
    return tuple(dict.fromkeys(badges))


def _weekdays(path: Path | str, name: object, days: object) -> frozenset[int]:
    if days is None:
        return EVERY_DAY
    if not isinstance(days, list) or not days or not all(isinstance(d, str) and d in WEEKDAYS for d in days):
        raise ConfigError(f"{path}: shift {name!r} days must be a list of {', '.join(WEEKDAYS)}, got {days!r}")
    return frozenset(WEEKDAYS.index(d) for d in days)


SHIFT_NAME = re.compile(r"[\w-]{1,32}")
HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")


def roster_json(roster: Roster) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for shift in roster.shifts:
        entry: dict[str, object] = {"name": shift.name, "start": _hhmm(shift.start_minute),
                                    "end": _hhmm(shift.end_minute), "seats": list(shift.seats)}
        if shift.weekdays != EVERY_DAY:  # "days" only for a shift that does not work every day
            entry["days"] = [WEEKDAYS[d] for d in sorted(shift.weekdays)]
        if shift.operators:
            entry["operators"] = list(shift.operators)
        out.append(entry)
    return out


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def roster_toml(shifts: Sequence[Mapping[str, object]], seat_names: Iterable[str]) -> str:
    """The TOML text for `shifts` ([{name, start, end, seats}]); ConfigError naming the
    first bad field. The full rules are load_roster's, applied before the file is replaced."""
    known = set(seat_names)
    if not shifts:
        raise ConfigError("the roster needs at least one shift")
    if len(shifts) > 24:
        raise ConfigError("the roster has more than 24 shifts")
    lines = ["# The operator roster, saved from the console. Times are in the hotline's time zone;",
             '# "24:00" ends a shift at midnight. See config/hotline.toml for the rules.', ""]
    for index, shift in enumerate(shifts, start=1):
        name, start, end, seats = shift.get("name"), shift.get("start"), shift.get("end"), shift.get("seats")
        if not isinstance(name, str) or not SHIFT_NAME.fullmatch(name):
            raise ConfigError(f"shift {index}: the name must be 1-32 letters, digits, _ or -")
        for key, value in (("start", start), ("end", end)):
            if not isinstance(value, str) or not HHMM.fullmatch(value):
                raise ConfigError(f"shift {name!r}: {key} must be a time like 08:00")
        weekdays = _weekdays("roster", name, shift.get("days"))
        operators = _operators("roster", name, shift.get("operators"))
        if not isinstance(seats, list) or not (seats or operators) or not all(
                isinstance(s, str) and s in known for s in seats):
            raise ConfigError(f"shift {name!r}: choose one or more of the seats {', '.join(sorted(known))}"
                              " or name its operators (工号)")
        lines += ["[[shift]]", f"name = {json.dumps(name, ensure_ascii=False)}", f'start = "{start}"',
                  f'end = "{end}"', f"seats = [{', '.join(json.dumps(s) for s in dict.fromkeys(seats))}]"]
        if weekdays != EVERY_DAY:
            lines.append(f"days = [{', '.join(json.dumps(WEEKDAYS[d]) for d in sorted(weekdays))}]")
        if operators:
            lines.append(f"operators = [{', '.join(json.dumps(b) for b in operators)}]")
        lines.append("")
    return "\n".join(lines)


def save_roster(path: Path, text: str, seat_names: Iterable[str]) -> Roster:
    """Validate `text` as a roster, then put it in place of `path` atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        roster = load_roster(tmp, seat_names)
    except ConfigError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(str(exc).replace(str(tmp), path.name)) from None
    with contextlib.suppress(FileNotFoundError):  # a first roster keeps the new file's mode
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return roster
