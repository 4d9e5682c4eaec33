"""The roster as the console edits it: JSON in, a validated TOML file out, replaced
atomically so the controller never reads half a file."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from callcenter.errors import ConfigError
from callcenter.seats import Roster, load_roster

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
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777)
    except FileNotFoundError:
        pass
    os.replace(tmp, path)
    return roster
