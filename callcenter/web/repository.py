"""The console's sessions in the store (`console_sessions`): every SQL statement about them.
Writes are queued with the store's batches; the live ones are read once at start."""

from __future__ import annotations

from sqlite_utils import Database

from callcenter.store import Row, Store
from callcenter.web.sessions import Session


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
