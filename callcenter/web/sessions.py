"""Console sessions and the log-in throttle.

Sessions are kept in memory and written through to the store (`SessionRepository`), so a
restart of `hotline up` keeps people logged in; the store holds only a hash of each
session's token, so a copy of the database opens no session. Each session carries its
own CSRF token, and ends when idle too long, too old, or when its account is disabled or
its password changed. The log-in throttle's failures are written through the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from callcenter.users import ConsoleUser

IDLE_SECONDS = 9 * 3600  # a shift is 8 hours
ABSOLUTE_SECONDS = 24 * 3600
# How often a session's last use is written to the store (it is kept in memory at once).
SEEN_WRITE_SECONDS = 60.0


def token_key(token: str) -> str:
    """What the store keeps of a session token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Session:
    token: str
    csrf: str
    user: str
    role: str
    seat: str | None
    created: float
    seen: float
    unit: str | None = None  # a unit account's unit code
    credential: str = ""  # the password hash it was opened with: a new password ends it
    key: str = ""  # token_key(token): how the session is found and stored
    seen_written: float = 0.0


class SessionStore(Protocol):
    """Where sessions are written through (`callcenter.web.repository.SessionRepository`)."""

    def save(self, session: Session) -> None: ...

    def seen(self, key: str, at: float) -> None: ...

    def end(self, key: str, at: float) -> None: ...


def session_of_row(row: Mapping[str, object]) -> Session:
    def text(name: str) -> str:
        return str(row.get(name) or "")

    def number(name: str) -> float:
        value = row.get(name)
        return float(value) if isinstance(value, int | float) else 0.0

    return Session("", text("csrf"), text("user"), text("role"), text("seat") or None, number("created"),
                   number("seen"), unit=text("unit") or None, credential=text("credential"), key=text("token_hash"),
                   seen_written=number("seen"))


class Sessions:
    def __init__(self, clock: Callable[[], float], idle: float = IDLE_SECONDS,
                 absolute: float = ABSOLUTE_SECONDS, valid: Callable[[Session], bool] = lambda session: True,
                 store: SessionStore | None = None) -> None:
        self.clock = clock
        self.idle = idle
        self.absolute = absolute
        # Whether the account behind a session may still use it (not disabled, same
        # password): asked on every use, so `hotline users disable` ends a session at once.
        self.valid = valid
        self.store = store
        self._by_key: dict[str, Session] = {}

    def restore(self, sessions: list[Session]) -> None:
        """The sessions the store kept (after a restart); the expired ones stay out."""
        now = self.clock()
        for session in sessions:
            if not self._expired(session, now):
                self._by_key[session.key] = session

    def create(self, user: ConsoleUser) -> Session:
        self._prune()
        now = self.clock()
        token = secrets.token_urlsafe(32)
        session = Session(token, secrets.token_urlsafe(32), user.name, user.role, user.seat, now, now,
                          unit=user.unit, credential=user.password_hash, key=token_key(token), seen_written=now)
        self._by_key[session.key] = session
        if self.store is not None:
            self.store.save(session)
        return session

    def get(self, token: str, touch: bool = True) -> Session | None:
        key = token_key(token) if token else ""
        session = self._by_key.get(key) if key else None
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now) or not self.valid(session):
            self._end(session, now)
            return None
        session.token = session.token or token  # a session restored from the store learns its token again
        if touch:
            session.seen = now
            if self.store is not None and now - session.seen_written >= SEEN_WRITE_SECONDS:
                session.seen_written = now
                self.store.seen(session.key, now)
        return session

    def drop(self, session: Session) -> None:
        self._end(session, self.clock())

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle or now - session.created > self.absolute

    def _end(self, session: Session, now: float) -> None:
        if self._by_key.pop(session.key, None) is not None and self.store is not None:
            self.store.end(session.key, now)

    def _prune(self) -> None:
        now = self.clock()
        for session in [s for s in self._by_key.values() if self._expired(s, now)]:
            self._end(session, now)


# What the throttle counts failures by: ("address", the address) or ("user", a hash of
# the address and the user name typed).
FailureKey = tuple[str, str]


def failure_keys(address: str, user: str) -> tuple[FailureKey, FailureKey]:
    """The two counts a log-in attempt falls in: its address, and its user name at that
    address. The name is kept only as a hash: a password typed into the name box by
    mistake must not be written to the store."""
    typed = f"{address}\n{user}".encode("utf-8", "surrogatepass")
    return ("address", address), ("user", hashlib.sha256(typed).hexdigest())


class FailureStore(Protocol):
    """Where the throttle's failures are written through
    (`callcenter.web.repository.LoginFailureRepository`)."""

    def save(self, key: FailureKey, times: list[float]) -> None: ...


class LoginThrottle:
    """Slows down guessing: after `free_failures` failed log-ins within `window` seconds
    from one address, or for one user name from one address, each further attempt must
    wait twice as long as the last (1, 2, 4 ... up to `max_wait` seconds). Never for a
    user name alone: then anyone could lock the supervisor out by failing as them. A
    success clears that user's count at that address, not the address's: one right
    password does not buy more guesses at others.

    The failures are counted in memory and written through to `store`, and `restore`
    takes them back after a restart: restarting the hotline does not reset a guesser's
    wait."""

    def __init__(self, clock: Callable[[], float], free_failures: int = 5, window: float = 900.0,
                 max_wait: float = 300.0, max_keys: int = 10000, store: FailureStore | None = None) -> None:
        self.clock = clock
        self.free_failures = free_failures
        self.window = window
        self.max_wait = max_wait
        self.max_keys = max_keys
        self.store = store
        self._failures: dict[FailureKey, list[float]] = {}

    def restore(self, failures: Mapping[FailureKey, list[float]]) -> None:
        """The failures the store kept (after a restart); those past the window stay out,
        and at most `max_keys` of them, the most recent."""
        now = self.clock()
        recent = {key: kept for key, times in failures.items()
                  if (kept := sorted(t for t in times if now - t < self.window))}
        for key in sorted(recent, key=lambda k: recent[k][-1], reverse=True)[:self.max_keys]:
            self._failures[key] = recent[key]

    def retry_after(self, address: str, user: str) -> float:
        """Seconds before another attempt is allowed (0: now)."""
        now = self.clock()
        return max(self._wait(key, now) for key in failure_keys(address, user))

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget_old(now)
        for key in failure_keys(address, user):
            self._set(key, [t for t in self._failures.get(key, []) if now - t < self.window] + [now])

    def succeeded(self, address: str, user: str) -> None:
        by_address, by_user = failure_keys(address, user)
        if self._failures.pop(by_user, None) is not None:
            self._write(by_user, [])
        times = self._failures.get(by_address)
        if times:
            self._set(by_address, times[:-1])  # the attempt was counted up front; it was not a failure

    def _set(self, key: FailureKey, times: list[float]) -> None:
        self._failures[key] = times
        self._write(key, times)

    def _write(self, key: FailureKey, times: list[float]) -> None:
        if self.store is not None:
            self.store.save(key, times)

    def _wait(self, key: FailureKey, now: float) -> float:
        recent = [t for t in self._failures.get(key, []) if now - t < self.window]
        over = len(recent) - self.free_failures
        if over < 0 or not recent:
            return 0.0
        wait = min(self.max_wait, 2.0 ** over)
        return max(0.0, recent[-1] + wait - now)

    def _forget_old(self, now: float) -> None:
        # Only memory forgets here: the store's copy is pruned by age (`LoginFailureRepository.prune`).
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self.window]:
            del self._failures[key]
        while len(self._failures) >= self.max_keys:  # still full: drop the stalest
            del self._failures[min(self._failures, key=lambda k: self._failures[k][-1])]
