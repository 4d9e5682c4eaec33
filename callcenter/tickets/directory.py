"""The directory of responsible units (`config/units.toml`), with the ticket deadline and
the briefing's settings kept beside them."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.errors import ConfigError
from callcenter.mail.address import is_mail_address
from callcenter.settings import Settings
from callcenter.tickets.states import TicketError


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    active: bool = True
    email: tuple[str, ...] = ()  # where mail notices go (callcenter.mail); none: no mail
    phone: str = ""  # dialled over the trunk for a three-way call (三方通话); "": cannot be conferenced


@dataclass(frozen=True)
class Directory:
    """`config/units.toml`: the responsible units and the ticket and briefing settings."""

    source: Path
    units: tuple[Unit, ...]
    deadline_working_days: int = 7
    title: str = "12345市长热线"
    service_level_seconds: int = 15
    _index: dict[str, Unit] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            for key in (unit.code.lower(), unit.name, *unit.aliases):
                self._index.setdefault(key, unit)

    def names(self) -> dict[str, str]:
        """Each unit's name by its code."""
        return {unit.code: unit.name for unit in self.units}

    def get(self, code: str) -> Unit | None:
        unit = self._index.get(code.lower())
        return unit if unit is not None and unit.code == code else None

    def find(self, text: str) -> Unit:
        """The unit named by its code, name or an alias; TicketError with suggestions."""
        key = text.strip()
        unit = self._index.get(key) or self._index.get(key.lower())
        if unit is None:
            close = difflib.get_close_matches(key, list(self._index), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise TicketError(
                f"unknown unit {text!r} (not in {self.source}){hint} `hotline tickets units` lists them"
            )
        if not unit.active:
            raise TicketError(f"unit {unit.name} ({unit.code}) is retired in {self.source}: choose another")
        return unit


def units_file(settings: Settings) -> Path:
    return settings.home / "config" / "units.toml"


_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Digits only: the number goes into a dial string (PJSIP/<phone>@trunk), where any other
# character could name another endpoint or break the string.
_PHONE = re.compile(r"^[0-9]{3,20}$")


def load_directory(path: Path) -> Directory:
    """Read and check the directory; ConfigError naming the file and key on any fault."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: the directory of units is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"unit", "tickets", "report"}
    if unknown:
        raise ConfigError(f"{path}: unknown section [{sorted(unknown)[0]}]")

    def number(section: str, key: str, default: int, low: int, high: int) -> int:
        table = raw.get(section, {})
        value = table.get(key, default) if isinstance(table, dict) else default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{path}: {section}.{key} must be a whole number {low}-{high}, got {value!r}")
        return value

    units: list[Unit] = []
    seen: dict[str, str] = {}
    entries = raw.get("unit", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[unit]] entries")
    for n, entry in enumerate(entries, 1):
        where = f"{path}: unit #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table")
        extra = set(entry) - {"code", "name", "kind", "aliases", "active", "email", "phone"}
        if extra:
            raise ConfigError(f"{where}: unknown key {sorted(extra)[0]!r}")
        code, name, kind = entry.get("code"), entry.get("name"), entry.get("kind", "department")
        aliases, active = entry.get("aliases", []), entry.get("active", True)
        if not isinstance(code, str) or not _CODE.match(code):
            raise ConfigError(f"{where}: code must be lower-case letters, digits and -, got {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where} ({code}): name must be text")
        if kind not in ("county", "department", "other"):
            raise ConfigError(f"{where} ({code}): kind must be county, department or other, got {kind!r}")
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise ConfigError(f"{where} ({code}): aliases must be a list of names")
        if not isinstance(active, bool):
            raise ConfigError(f"{where} ({code}): active must be true or false")
        email = entry.get("email", [])
        if not isinstance(email, list) or not all(isinstance(a, str) for a in email):
            raise ConfigError(f"{where} ({code}): email must be a list of mail addresses, got {email!r}")
        for address in email:
            if not is_mail_address(address):
                raise ConfigError(f"{where} ({code}): {address!r} is not a mail address (like office@example.gov.cn)")
        phone = entry.get("phone", "")
        if not isinstance(phone, str) or (phone and not _PHONE.match(phone)):
            raise ConfigError(f"{where} ({code}): phone must be 3-20 digits in quotes, like \"03562021234\","
                              f" got {phone!r}")
        for key in (code, name, *aliases):
            if key in seen and seen[key] != code:
                raise ConfigError(f"{where} ({code}): {key!r} already names unit {seen[key]}")
            seen[key] = code
        units.append(Unit(code, name.strip(), kind, tuple(a.strip() for a in aliases), active,
                          tuple(dict.fromkeys(email)), phone))
    report = raw.get("report", {})
    title = report.get("title", "12345市长热线") if isinstance(report, dict) else None
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"{path}: report.title must be text")
    return Directory(
        source=path,
        units=tuple(units),
        deadline_working_days=number("tickets", "deadline_working_days", 7, 1, 60),
        title=title.strip(),
        service_level_seconds=number("report", "service_level_seconds", 20, 1, 3600),
    )
