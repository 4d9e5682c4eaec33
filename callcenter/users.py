"""Console users: one supervisor, one operator account per seat, and the accounts of the
responsible units (added by the admin, `hotline users add`), in their own file.

The accounts live in `<state_dir>/console-users.json` (mode 0600), never in the store:
the database is shared with the call flow and `hotline` commands, the password hashes
are not. Passwords are generated on first run (and for a seat added later) and written
once, in clear, to `<state_dir>/console-credentials.txt` (mode 0600) for the admin to
read and hand out; the users file keeps only scrypt hashes. Each change of the file is
a read-modify-write under a lock file, so `hotline users` and `hotline up` never lose
each other's accounts; the running console re-reads the file when it changes.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.errors import ConfigError, HotlineError
from callcenter.seats.operators import BADGE, Operator, default_badge

if TYPE_CHECKING:
    from callcenter.tickets.directory import Directory

log = logging.getLogger(__name__)

SUPERVISOR = "supervisor"
OPERATOR = "operator"
UNIT = "unit"  # a responsible unit's account: sees only its own unit's tickets
ROLES = (SUPERVISOR, OPERATOR, UNIT)
ROLE_LABELS = {SUPERVISOR: "主管", OPERATOR: "话务员", UNIT: "责任单位"}

USERS_FILE = "console-users.json"
CREDENTIALS_FILE = "console-credentials.txt"
LOCK_FILE = ".console-users.lock"
# Names an admin may give an account: no spaces (the credentials file is split on them),
# nothing a shell or a log line would mangle.
USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")


class UserError(HotlineError):
    """A console account cannot be added or changed as asked (the message says why)."""

# scrypt at n=2**14, r=8: 16 MiB and ~50 ms a check on this machine; the bounds refuse a
# tampered users file that would make a single log-in cost gigabytes.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAX_N, _MAX_R, _MAX_P = 2**17, 16, 4


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r), dklen=32)
    return "$".join(["scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches; False for a wrong password or a malformed hash."""
    try:
        scheme, n_text, r_text, p_text, salt_text, digest_text = encoded.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    if scheme != "scrypt" or not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return False
    try:
        actual = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                                maxmem=_maxmem(n, r), dklen=len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def _maxmem(n: int, r: int) -> int:
    return 128 * r * n * 2 + 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from None


# Checked against when the user name is unknown, so that a wrong name costs as long as a
# wrong password and timing does not tell which names exist.
_UNKNOWN_USER_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    seat: str | None  # the operator's seat; None for the others
    password_hash: str
    unit: str | None = None  # the unit's code (config/units.toml) for role unit; None for the others
    disabled: bool = False  # `hotline users disable`: no log-in, and its sessions end
    # An operator's 工号 and 姓名; `seat` is then their default seat. Accounts written
    # before operators had badges get their seat's (seat3: 1003) when read.
    badge: str | None = None
    full_name: str = ""

    @property
    def operator(self) -> Operator | None:
        if self.role != OPERATOR or not self.badge or self.seat is None:
            return None
        return Operator(self.badge, self.full_name, self.seat)


class ConsoleUsers:
    """The accounts, as read from `source` (when given): re-read whenever the file changes,
    so an account added or a password reset with `hotline users` counts in a running
    console at the next log-in."""

    def __init__(self, users: Iterable[ConsoleUser], source: Path | None = None) -> None:
        self._users = {user.name: user for user in users}
        self._source = source
        self._seen = _file_stamp(source) if source is not None else None
        self._reload = threading.Lock()  # check() runs in worker threads

    def get(self, name: str) -> ConsoleUser | None:
        self._refresh()
        return self._users.get(name)

    def all(self) -> list[ConsoleUser]:
        self._refresh()
        return list(self._users.values())

    def check(self, name: str, password: str) -> ConsoleUser | None:
        """The user if the password is right (slow on purpose: run it off the event loop)."""
        user = self.get(name)
        ok = verify_password(password, user.password_hash if user else _UNKNOWN_USER_HASH)
        return user if ok and user is not None and not user.disabled else None

    def _refresh(self) -> None:
        if self._source is None:
            return
        with self._reload:
            stamp = _file_stamp(self._source)
            if stamp == self._seen:
                return
            try:
                users = _read_users(self._source)
            except ConfigError as exc:
                # Keep serving the accounts already known rather than locking everyone out.
                log.error("console: %s; keeping the accounts read before", exc)
                return
            self._users, self._seen = users, stamp


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def operators_of(users: Iterable[ConsoleUser]) -> dict[str, Operator]:
    """The operators by 工号 (disabled accounts included: they still sit where they sat)."""
    return {op.badge: op for op in (user.operator for user in users) if op is not None}


def users_path(state_dir: Path) -> Path:
    return state_dir / USERS_FILE


def credentials_path(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_FILE


def wanted_accounts(seat_names: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """(name, role, seat): the supervisor and one operator per seat, named after it."""
    return [("supervisor", SUPERVISOR, None), *((seat, OPERATOR, seat) for seat in seat_names)]


def load_or_create_users(state_dir: Path, seat_names: Iterable[str]) -> ConsoleUsers:
    """Read the console users, creating the missing accounts (and their passwords)."""
    path = users_path(state_dir)
    with _locked(state_dir):
        users = _read_users(path)
        created: list[tuple[ConsoleUser, str]] = []
        for name, role, seat in wanted_accounts(seat_names):
            if name not in users:
                password = secrets.token_urlsafe(12)
                badge = default_badge(seat) if seat is not None else None
                users[name] = ConsoleUser(name, role, seat, hash_password(password), badge=badge or None)
                created.append((users[name], password))
        if created:
            _write_users(path, users.values())
            _append_credentials(credentials_path(state_dir), created)
    return ConsoleUsers(users.values(), source=path)


def list_users(state_dir: Path) -> list[ConsoleUser]:
    """Every account in the users file (none before the first `hotline up` or `users add`)."""
    return list(_read_users(users_path(state_dir)).values())


def add_unit_user(state_dir: Path, name: str, unit_code: str, directory: Directory,
                  reserved: Iterable[str] = ()) -> str:
    """Add the account `name` for the active unit `unit_code`; returns its generated
    password (also appended to the credentials file). `reserved`: names kept for the
    generated accounts (the seats), refused even before their account exists."""
    if not USER_NAME.fullmatch(name):
        raise UserError(f"bad user name {name!r}: 2-32 characters, lower-case letters, digits and . _ -, "
                        "starting with a letter or digit")
    unit = directory.get(unit_code)
    if unit is None or not unit.active:
        known = ", ".join(u.code for u in directory.units if u.active)
        why = "is retired" if unit is not None else "is not a unit"
        raise UserError(f"{unit_code!r} {why} in {directory.source} (known codes: {known})")
    path = users_path(state_dir)
    with _locked(state_dir):
        users = _read_users(path)
        if name in users or name in {SUPERVISOR, *reserved}:
            raise UserError(f"user name {name!r} is taken: choose another (`hotline users list` shows them)")
        password = secrets.token_urlsafe(12)
        users[name] = ConsoleUser(name, UNIT, None, hash_password(password), unit=unit.code)
        _write_users(path, users.values())
        _append_credentials(credentials_path(state_dir), [(users[name], password)])
    return password


def reset_password(state_dir: Path, name: str) -> str:
    """Give an existing account a new generated password; returns it (also appended to
    the credentials file). The account's open sessions end (their password is gone)."""
    password = secrets.token_urlsafe(12)
    user = _change(state_dir, name, lambda old: replace(old, password_hash=hash_password(password)))
    _append_credentials(credentials_path(state_dir), [(user, password)])
    return password


MIN_PASSWORD = 10


def set_password(state_dir: Path, name: str, password: str) -> None:
    """The password the admin chose (at least MIN_PASSWORD characters); open sessions end."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    _change(state_dir, name, lambda old: replace(old, password_hash=hash_password(password)))


def set_disabled(state_dir: Path, name: str, disabled: bool) -> None:
    """Disable (no log-in; open sessions end at their next request) or enable an account."""
    _change(state_dir, name, lambda old: replace(old, disabled=disabled))


def set_operator_name(state_dir: Path, badge: str, full_name: str) -> ConsoleUser:
    """Give the operator with 工号 `badge` their name (姓名) as the console shows it."""
    full_name = full_name.strip()
    if not full_name or len(full_name) > 32 or not full_name.isprintable():
        raise UserError("the name must be 1-32 printable characters")
    accounts = {user.badge: user.name for user in list_users(state_dir) if user.badge}
    if badge not in accounts:
        raise UserError(f"no operator with 工号 {badge!r} (`hotline operators list` shows them)")
    return _change(state_dir, accounts[badge], lambda old: replace(old, full_name=full_name))


def _change(state_dir: Path, name: str, change: Callable[[ConsoleUser], ConsoleUser]) -> ConsoleUser:
    path = users_path(state_dir)
    with _locked(state_dir):
        users = _read_users(path)
        if name not in users:
            known = ", ".join(users) or "none yet: `hotline up` generates them"
            raise UserError(f"{path}: no console user {name!r} (known: {known})")
        users[name] = change(users[name])
        _write_users(path, users.values())
    return users[name]


def read_generated_passwords(state_dir: Path) -> dict[str, str]:
    """The passwords in the credentials file, the latest per user (for the admin and tests)."""
    passwords: dict[str, str] = {}
    path = credentials_path(state_dir)
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        fields = line.split()
        if len(fields) == 3 and not line.startswith("#"):
            passwords[fields[0]] = fields[2]
    return passwords


def _read_users(path: Path) -> dict[str, ConsoleUser]:
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = raw["users"]
        users = {}
        badges: set[str] = set()
        for entry in entries:
            # "unit" came with the unit accounts, "badge" and "full_name" with operators:
            # files written before have no such keys.
            seat = entry.get("seat")
            badge = entry.get("badge") or (default_badge(seat) if entry["role"] == OPERATOR
                                           and isinstance(seat, str) else None)
            user = ConsoleUser(str(entry["name"]), str(entry["role"]), seat, str(entry["hash"]),
                               unit=entry.get("unit"), disabled=entry.get("disabled") is True,
                               badge=badge or None, full_name=str(entry.get("full_name") or ""))
            if user.badge is not None and (not BADGE.fullmatch(user.badge) or user.badge in badges):
                raise ValueError(f"user {user.name!r}: 工号 {user.badge!r} is not digits or is taken twice")
            if user.badge is not None:
                badges.add(user.badge)
            if user.role not in ROLES or (user.role == OPERATOR and not isinstance(user.seat, str)):
                raise ValueError(f"user {user.name!r}: bad role or seat")
            if (user.role == UNIT) != isinstance(user.unit, str) or (user.role == UNIT and user.seat is not None):
                raise ValueError(f"user {user.name!r}: a unit account needs its unit code, and only it")
            users[user.name] = user
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: console users file is damaged ({exc}); move it away to regenerate") from None
    return users


def _write_users(path: Path, users: Iterable[ConsoleUser]) -> None:
    records = [{"name": u.name, "role": u.role, "seat": u.seat, **({"unit": u.unit} if u.unit else {}),
                **({"badge": u.badge} if u.badge else {}), **({"full_name": u.full_name} if u.full_name else {}),
                **({"disabled": True} if u.disabled else {}), "hash": u.password_hash} for u in users]
    _write_private(path, json.dumps({"users": records}, ensure_ascii=False, indent=2) + "\n")


def _append_credentials(path: Path, created: Iterable[tuple[ConsoleUser, str]]) -> None:
    existing = path.read_text(encoding="utf-8") if path.exists() else (
        "# 12345 热线控制台账号 / console accounts. Keep this file private (mode 0600).\n"
        "# Hand each password to its user, then you may delete this file: only hashes are kept.\n"
        "# user  role  password\n")
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    lines = [f"# generated {stamp}"]
    lines += [f"{user.name}  {_role_text(user)}  {password}" for user, password in created]
    _write_private(path, existing + "\n".join(lines) + "\n")


def _role_text(user: ConsoleUser) -> str:
    """`operator:seat1`, `unit:zezhou`, `supervisor`: one word (the credentials file is split on spaces)."""
    tied = user.seat or user.unit
    return f"{user.role}:{tied}" if tied else user.role


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Hold the users file's lock for one read-modify-write (between processes)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

