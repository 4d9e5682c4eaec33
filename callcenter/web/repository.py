"""The console's sessions (`console_sessions`) and the log-in throttle's failures
(`login_failures`) in the store: every SQL statement about them. Writes are queued with
the store's batches; what is still in force is read once at start."""

from __future__ import annotations

import json

from callcenter.store import Database, Row, Store
from callcenter.web.sessions import FailureKey, Session


class SessionRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, session: Session) -> None:
        self.store.queue_upsert("console_sessions", "token_hash", {
            "token_hash": session.key, "csrf": session.csrf, "user": session.user, "role": session.role,
            "seat": session.seat, "unit": session.unit, "credential": session.credential,
            "created": session.created, "seen": session.seen, "ended": None,
        })

    def seen(self, key: str, at: float) -> None:
        self.store.queue_upsert("console_sessions", "token_hash", {"token_hash": key, "seen": at})

    def end(self, key: str, at: float) -> None:
        self.store.queue_upsert("console_sessions", "token_hash", {"token_hash": key, "ended": at})

    async def live(self, now: float, idle: float, absolute: float) -> list[Row]:
        """The sessions not ended nor expired; the others are deleted on the way."""
        def read(db: Database) -> list[Row]:
            db.execute("DELETE FROM console_sessions WHERE ended IS NOT NULL OR seen < ? OR created < ?",
                       [now - idle, now - absolute])
            return list(db.query("SELECT * FROM console_sessions"))

        return await self.store.transaction(read)


class LoginFailureRepository:
    """One row a count of the throttle (an address, or a user name at an address), with
    the times of its failures within the window."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, key: FailureKey, times: list[float]) -> None:
        kind, subject = key
        self.store.queue_upsert("login_failures", "key", {
            "key": f"{kind} {subject}", "kind": kind, "times": json.dumps(times), "last": max(times, default=0.0)})

    async def recent(self, since: float) -> dict[FailureKey, list[float]]:
        """The failures after `since`, by count; older rows are deleted on the way."""
        await self.prune(since)
        failures: dict[FailureKey, list[float]] = {}
        for row in await self.store.reading(lambda db: list(db.query("SELECT key, times FROM login_failures"))):
            kind, _, subject = str(row["key"]).partition(" ")
            try:
                times = json.loads(str(row["times"]))
            except ValueError:
                continue  # a damaged row counts nothing
            if isinstance(times, list):
                failures[(kind, subject)] = [float(t) for t in times if isinstance(t, int | float)]
        return failures

    async def prune(self, before: float) -> None:
        """Delete the counts whose last failure is older than `before`."""
        await self.store.transaction(lambda db: db.execute("DELETE FROM login_failures WHERE last < ?", [before]))
