"""Every SQL statement of the SMS platform: the number's recent SMS ticket, and the
outbox (the `ticket_messages` rows queued for the gateway)."""

from __future__ import annotations

from callcenter.store import Database, Row, Store
from callcenter.vocabulary import IN_PROGRESS, sql_among

_IN_PROGRESS = sql_among(tuple(sorted(IN_PROGRESS)))


class SmsRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def open_ticket_of(self, number: str, since_epoch: float) -> int | None:
        """The newest SMS ticket of this number created since `since_epoch` and still in
        progress (not merged away), or None."""

        def read(db: Database) -> int | None:
            rows = list(db.query(
                "SELECT ticket_id FROM tickets WHERE channel = 'sms' AND contact_number = ? AND created_epoch >= ?"
                f" AND merged_into IS NULL AND state IN ({_IN_PROGRESS}) ORDER BY created_epoch DESC LIMIT 1",
                [number, since_epoch]))
            return int(rows[0]["ticket_id"]) if rows else None

        return await self.store.reading(read)

    async def queued(self, limit: int = 50) -> list[Row]:
        """Replies waiting for the gateway, oldest first."""
        return await self.store.reading(lambda db: list(db.query(
            "SELECT id, ticket_id, address, body, attempts FROM ticket_messages WHERE status = 'queued'"
            " ORDER BY id LIMIT ?", [limit])))

    async def outbox(self) -> list[Row]:
        """Replies queued or failed for good, oldest first (for `hotline sms outbox`)."""
        return await self.store.reading(lambda db: list(db.query(
            "SELECT id, ticket_id, address, at, body, status, attempts, error FROM ticket_messages"
            " WHERE direction = 'out' AND channel = 'sms' AND status IN ('queued', 'failed') ORDER BY id")))

    async def sent(self, message_id: int, gateway_id: str | None) -> None:
        await self.store.transaction(lambda db: db.execute(
            "UPDATE ticket_messages SET status = 'sent', external_id = ?, attempts = attempts + 1, error = NULL"
            " WHERE id = ?", [gateway_id, message_id]))

    async def attempt_failed(self, message_id: int, error: str, give_up: bool) -> None:
        await self.store.transaction(lambda db: db.execute(
            "UPDATE ticket_messages SET attempts = attempts + 1, error = ?, status = ? WHERE id = ?",
            [error[:500], "failed" if give_up else "queued", message_id]))
