"""Console users: one supervisor and one operator account per seat, in their own file.

The accounts live in `<state_dir>/console-users.json` (mode 0600), never in the store:
the database is shared with the call flow and `hotline` commands, the password hashes
are not. Passwords are generated on first run (and for a seat added later) and written
once, in clear, to `<state_dir>/console-credentials.txt` (mode 0600) for the admin to
read and hand out; the users file keeps only scrypt hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from callcenter.errors import ConfigError

SUPERVISOR = "supervisor"
OPERATOR = "operator"
ROLES = (SUPERVISOR, OPERATOR)

USERS_FILE = "console-users.json"
CREDENTIALS_FILE = "console-credentials.txt"

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
    seat: str | None  # the operator's seat; None for a supervisor
    password_hash: str


class ConsoleUsers:
    def __init__(self, users: Iterable[ConsoleUser]) -> None:
        self._users = {user.name: user for user in users}

    def get(self, name: str) -> ConsoleUser | None:
        return self._users.get(name)

    def all(self) -> list[ConsoleUser]:
        return list(self._users.values())

    def check(self, name: str, password: str) -> ConsoleUser | None:
        """The user if the password is right (slow on purpose: run it off the event loop)."""
        user = self._users.get(name)
        ok = verify_password(password, user.password_hash if user else _UNKNOWN_USER_HASH)
        return user if ok and user is not None else None


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
    users = _read_users(path)
    created: list[tuple[ConsoleUser, str]] = []
    for name, role, seat in wanted_accounts(seat_names):
        if name not in users:
            password = secrets.token_urlsafe(12)
            users[name] = ConsoleUser(name, role, seat, hash_password(password))
            created.append((users[name], password))
    if created:
        _write_users(path, users.values())
        _append_credentials(credentials_path(state_dir), created)
    return ConsoleUsers(users.values())


def reset_password(state_dir: Path, name: str) -> str:
    """Give an existing account a new generated password; returns it (also appended to
    the credentials file)."""
    path = users_path(state_dir)
    users = _read_users(path)
    if name not in users:
        raise ConfigError(f"{path}: no console user {name!r} (known: {', '.join(users)})")
    password = secrets.token_urlsafe(12)
    old = users[name]
    users[name] = ConsoleUser(old.name, old.role, old.seat, hash_password(password))
    _write_users(path, users.values())
    _append_credentials(credentials_path(state_dir), [(users[name], password)])
    return password


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
        for entry in entries:
            user = ConsoleUser(str(entry["name"]), str(entry["role"]), entry.get("seat"), str(entry["hash"]))
            if user.role not in ROLES or (user.role == OPERATOR and not isinstance(user.seat, str)):
                raise ValueError(f"user {user.name!r}: bad role or seat")
            users[user.name] = user
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: console users file is damaged ({exc}); move it away to regenerate") from None
    return users


def _write_users(path: Path, users: Iterable[ConsoleUser]) -> None:
    records = [{"name": u.name, "role": u.role, "seat": u.seat, "hash": u.password_hash} for u in users]
    _write_private(path, json.dumps({"users": records}, ensure_ascii=False, indent=2) + "\n")


def _append_credentials(path: Path, created: Iterable[tuple[ConsoleUser, str]]) -> None:
    existing = path.read_text(encoding="utf-8") if path.exists() else (
        "# 12345 热线控制台账号 / console accounts. Keep this file private (mode 0600).\n"
        "# Hand each password to its user, then you may delete this file: only hashes are kept.\n"
        "# user  role  password\n")
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    lines = [f"# generated {stamp}"]
    lines += [f"{user.name}  {user.role if user.seat is None else f'{user.role}:{user.seat}'}  {password}"
              for user, password in created]
    _write_private(path, existing + "\n".join(lines) + "\n")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

