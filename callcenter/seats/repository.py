"""The `seats` table: each seat's state as the controller last wrote it, and the admin
fields (logged in, paused) that supervisors set from the console or `hotline seats`.
It is shared with short-lived CLI processes: an admin write is committed at once under
BEGIN IMMEDIATE (the store's `transaction`) and the controller polls the table; the
controller's own state writes go with the store's batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from callcenter.store import Columns, Database, Kind, Row, Store, checked, clean_text

SEAT_COLUMNS: Columns = {
    "logged_in": Kind.INT,
    "paused": Kind.INT,
    "pause_reason": Kind.TEXT,
    "state": Kind.TEXT,
    "state_since": Kind.TIME,
    "state_since_epoch": Kind.REAL,
    "last_call_end_epoch": Kind.REAL,
    "registered": Kind.INT,
    "operator": Kind.TEXT,
}


class SeatRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def rows(self) -> dict[str, Row]:
        rows = await self.store.reading(lambda db: list(db.query("SELECT * FROM seats ORDER BY seat")))
        return {str(row["seat"]): row for row in rows}

    def save_state(self, seat: str, **fields: object) -> None:
        """The controller's record of what a seat is doing, committed with the store's next
        batch (several times a call: one transaction each would cost more than the call)."""
        self.store.queue_upsert("seats", "seat", {"seat": clean_text(seat), **checked("seats", SEAT_COLUMNS, fields)})

    async def update(self, seat: str, **fields: object) -> None:
        """Create or update a seat row and commit it now (admin commands must not wait)."""
        record = {"seat": clean_text(seat), **checked("seats", SEAT_COLUMNS, fields)}

        def write(db: Database) -> None:
            db.table("seats").upsert(record, pk="seat")

        await self.store.transaction(write)

    async def change_logins(self, decide: Callable[[dict[str, str | None]], Mapping[str, str | None]],
                            seats: tuple[str, ...]) -> dict[str, str | None]:
        """Read who is logged in where, let `decide` (the log-in rules) say which seat rows
        change, and write them, in one transaction: two log-ins never interleave, whether
        from the console or `hotline operators`. Returns the changes written."""

        def change(db: Database) -> dict[str, str | None]:
            rows = {str(r["seat"]): r["operator"] for r in db.query("SELECT seat, operator FROM seats")}
            logins = {seat: None if rows.get(seat) is None else str(rows[seat]) for seat in seats}
            changes = dict(decide(logins))
            for seat, badge in changes.items():
                db.table("seats").upsert({"seat": clean_text(seat), "operator": badge}, pk="seat")
            return changes

        return await self.store.transaction(change)
