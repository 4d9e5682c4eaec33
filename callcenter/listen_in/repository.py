"""The log of live supervision (`listen_in_log`): every SQL statement about it."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.store import Columns, Database, Kind, Row, Store, checked, clean_text
from callcenter.store.filters import epoch_range

LOG_COLUMNS: Columns = {
    "session_id": Kind.TEXT,
    "supervisor": Kind.TEXT,
    "call_id": Kind.TEXT,
    "seat": Kind.TEXT,
    "mode": Kind.TEXT,
    "requested": Kind.TIME,
    "requested_epoch": Kind.REAL,
    "started": Kind.TIME,
    "started_epoch": Kind.REAL,
    "ended": Kind.TIME,
    "ended_epoch": Kind.REAL,
    "end_reason": Kind.TEXT,
}


@dataclass(frozen=True)
class LogSearch:
    """The log's filters: one supervisor (exact name), one call, a time range; newest first."""

    supervisor: str = ""
    call_id: str = ""
    since_epoch: float | None = None
    until_epoch: float | None = None
    limit: int = 20
    offset: int = 0

    def where(self) -> tuple[str, list[object]]:
        clauses, params = epoch_range("requested_epoch", self.since_epoch, self.until_epoch)
        for column, value in (("supervisor", self.supervisor), ("call_id", self.call_id)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class ListenInRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, period_id: str, **fields: object) -> None:
        """Create or update one line of the log; only the given columns change."""
        row = checked("listen_in_log", LOG_COLUMNS, fields)
        row["period_id"] = clean_text(period_id)
        self.store.queue_upsert("listen_in_log", "period_id", row)

    async def flush(self) -> None:
        await self.store.flush()

    async def log(self, search: LogSearch) -> tuple[list[Row], int]:
        """A page of the log, newest first, and how many lines match."""
        where, params = search.where()

        def read(db: Database) -> tuple[list[Row], int]:
            total = db.execute(f"SELECT count(*) FROM listen_in_log{where}", params).fetchone()[0]
            rows = list(db.query(
                "SELECT period_id, session_id, supervisor, call_id, seat, mode, requested, started, ended,"
                f" end_reason FROM listen_in_log{where} ORDER BY requested_epoch DESC, period_id DESC"
                " LIMIT ? OFFSET ?", [*params, search.limit, search.offset]))
            return rows, int(total)

        return await self.store.snapshot(read)
