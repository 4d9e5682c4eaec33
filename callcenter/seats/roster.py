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
from callcenter.settings import SEAT_NAMES


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


SHIFT_NAME = re.compile(r"[\w-]{1,32}")
HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")


def roster_json(roster: Roster) -> list[dict[str, object]]:
    return [{"name": shift.name, "start": _hhmm(shift.start_minute), "end": _hhmm(shift.end_minute),
             "seats": list(shift.seats)} for shift in roster.shifts]


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
        if not isinstance(seats, list) or not seats or not all(isinstance(s, str) and s in known for s in seats):
            raise ConfigError(f"shift {name!r}: choose one or more of the seats {', '.join(sorted(known))}")
        lines += ["[[shift]]", f"name = {json.dumps(name, ensure_ascii=False)}", f'start = "{start}"',
                  f'end = "{end}"', f"seats = [{', '.join(json.dumps(s) for s in dict.fromkeys(seats))}]", ""]
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
