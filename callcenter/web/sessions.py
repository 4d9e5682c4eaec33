"""Console sessions and the log-in throttle: in memory, pure apart from the clock.

Sessions live only in this process: a restart of `hotline up` logs everyone out, which
for a console on loopback is the safe side. Each session carries its own CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.users import ConsoleUser

IDLE_SECONDS = 9 * 3600  # a shift is 8 hours
ABSOLUTE_SECONDS = 24 * 3600


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


class Sessions:
    def __init__(self, clock: Callable[[], float], idle: float = IDLE_SECONDS,
                 absolute: float = ABSOLUTE_SECONDS, valid: Callable[[Session], bool] = lambda session: True) -> None:
        self.clock = clock
        self.idle = idle
        self.absolute = absolute
        # Whether the account behind a session may still use it (not disabled, same
        # password): asked on every use, so `hotline users disable` ends a session at once.
        self.valid = valid
        self._by_token: dict[str, Session] = {}

    def create(self, user: ConsoleUser) -> Session:
        self._prune()
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user.name, user.role, user.seat,
                          now, now, unit=user.unit, credential=user.password_hash)
        self._by_token[session.token] = session
        return session

    def get(self, token: str, touch: bool = True) -> Session | None:
        session = self._by_token.get(token) if token else None
        if session is None:
            return None
        now = self.clock()
        if now - session.seen > self.idle or now - session.created > self.absolute or not self.valid(session):
            self._by_token.pop(token, None)
            return None
        if touch:
            session.seen = now
        return session

    def drop(self, token: str) -> None:
        self._by_token.pop(token, None)

    def _prune(self) -> None:
        for token in [t for t, s in self._by_token.items() if self.get(t, touch=False) is None]:
            self._by_token.pop(token, None)


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


class LoginThrottle:
    """Slows down guessing: after `free_failures` failed log-ins within `window` seconds
    from one address, or for one user name from one address, each further attempt must
    wait twice as long as the last (1, 2, 4 ... up to `max_wait` seconds). Never for a
    user name alone: then anyone could lock the supervisor out by failing as them. A
    success clears that user's count at that address, not the address's: one right
    password does not buy more guesses at others."""

    def __init__(self, clock: Callable[[], float], free_failures: int = 5, window: float = 900.0,
                 max_wait: float = 300.0, max_keys: int = 10000) -> None:
        self.clock = clock
        self.free_failures = free_failures
        self.window = window
        self.max_wait = max_wait
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], _Failures] = {}

    def retry_after(self, address: str, user: str) -> float:
        """Seconds before another attempt is allowed (0: now)."""
        now = self.clock()
        return max(self._wait(("address", address), now), self._wait(("user", f"{address} {user}"), now))

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget_old(now)
        for key in (("address", address), ("user", f"{address} {user}")):
            entry = self._failures.setdefault(key, _Failures())
            entry.times = [t for t in entry.times if now - t < self.window] + [now]

    def succeeded(self, address: str, user: str) -> None:
        self._failures.pop(("user", f"{address} {user}"), None)
        entry = self._failures.get(("address", address))
        if entry is not None and entry.times:
            entry.times.pop()  # the attempt was counted up front; it was not a failure

    def _wait(self, key: tuple[str, str], now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        recent = [t for t in entry.times if now - t < self.window]
        over = len(recent) - self.free_failures
        if over < 0:
            return 0.0
        wait = min(self.max_wait, 2.0 ** over)
        return max(0.0, recent[-1] + wait - now)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, e in self._failures.items() if not e.times or now - e.times[-1] >= self.window]:
            del self._failures[key]
        while len(self._failures) >= self.max_keys:  # still full: drop the stalest
            del self._failures[min(self._failures, key=lambda k: self._failures[k].times[-1])]
