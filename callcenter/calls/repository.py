"""The calls and their steps (`calls`, `call_events`): every SQL statement about them.

Writes from the call flow are queued (`save`, `log`) and committed in the store's next
batch; reads run on the store thread after the writes queued before them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

from callcenter.store import Columns, Database, Kind, Row, Store, checked, clean_text, iso_second
from callcenter.vocabulary import ABANDONED, Outcome, sql_among

CALL_COLUMNS: Columns = {
    "caller_number": Kind.TEXT,
    "caller_name": Kind.TEXT,
    "arrived": Kind.TIME,
    "answered": Kind.TIME,
    "queued": Kind.TIME,
    "seat_answered": Kind.TIME,
    "ended": Kind.TIME,
    "arrived_epoch": Kind.REAL,
    "wait_seconds": Kind.INT,
    "answer_seconds": Kind.INT,
    "talk_seconds": Kind.INT,
    "total_seconds": Kind.INT,
    "outcome": Kind.TEXT,
    "hangup_cause": Kind.TEXT,
    "seat": Kind.TEXT,
    "shift": Kind.TEXT,
    "operator": Kind.TEXT,  # the 工号 of the operator who took the call
    "node": Kind.TEXT,  # the Asterisk node the call was on (asterisk.system_name)
    "wrapup_seconds": Kind.INT,  # their wrap-up after it
    "category": Kind.TEXT,
    "nuisance": Kind.INT,
    "nuisance_rule": Kind.TEXT,
    "recording_path": Kind.TEXT,
    "recording_seconds": Kind.REAL,
    "recording_pruned": Kind.TIME,  # when the file was deleted, past recordings.retention_days
    "recording_status": Kind.TEXT,
    "recording_wav_bytes": Kind.INT,  # the WAV's size before it was compressed
    "recording_bytes": Kind.INT,  # the compressed file's size
    "recording_compress_failed": Kind.TEXT,  # why it could not be compressed (left as a WAV)
    "answered_from_base": Kind.TIME,  # when an operator said the call was answered from the knowledge base
    "queue_seq": Kind.INT,
    "priority": Kind.INT,
    "state": Kind.TEXT,
}


@dataclass(frozen=True)
class CallSearch:
    """The call log's filters; `category` "" finds calls without a category."""

    since_epoch: float | None = None
    until_epoch: float | None = None
    number_prefix: str = ""
    seat: str = ""
    outcomes: Sequence[str] = ()
    category: str | None = None
    limit: int = 20
    offset: int = 0

    def where(self, dialect: str) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.since_epoch is not None:
            clauses.append("arrived_epoch >= ?")
            params.append(self.since_epoch)
        if self.until_epoch is not None:
            clauses.append("arrived_epoch < ?")
            params.append(self.until_epoch)
        if self.number_prefix and dialect == "sqlite":
            # GLOB is case-sensitive and so can use the number index; its wildcards are escaped.
            clauses.append("caller_number GLOB ?")
            params.append(re.sub(r"([*?\[\]])", r"[\1]", self.number_prefix) + "*")
        elif self.number_prefix:
            # PostgreSQL's LIKE is case-sensitive already; its wildcards are escaped.
            clauses.append("caller_number LIKE ? ESCAPE '\\'")
            params.append(re.sub(r"([%_\\])", r"\\\1", self.number_prefix) + "%")
        if self.seat:
            clauses.append("seat = ?")
            params.append(self.seat)
        if self.outcomes:
            clauses.append(f"outcome IN ({', '.join('?' for _ in self.outcomes)})")
            params.extend(self.outcomes)
        if self.category is not None:
            clauses.append("coalesce(category, '') = ?")
            params.append(self.category)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _rows(db: Database, sql: str, params: Sequence[object] = ()) -> list[Row]:
    return list(db.query(sql, list(params)))


# Calls of the same arrival moment in the order their rows were made: SQLite's rowid is
# that order; PostgreSQL has no rowid, and the call id (Asterisk's "<epoch>.<n>") comes
# closest to it.
NEWEST_FIRST = {"sqlite": "arrived_epoch DESC, rowid DESC", "postgresql": "arrived_epoch DESC, call_id DESC"}
# The calls not yet done, in queue order (queue_seq, then arrival; not yet queued last).
# SQLite's `IS NOT` is PostgreSQL's `IS DISTINCT FROM`; the SQLite statement is written as
# the partial index calls_open is, so that the index serves it.
OPEN_CALLS_SQL = {
    "sqlite": "SELECT * FROM calls WHERE state IS NOT 'done'"
              " ORDER BY queue_seq IS NULL, queue_seq, arrived_epoch, rowid",
    "postgresql": "SELECT * FROM calls WHERE state IS DISTINCT FROM 'done'"
                  " ORDER BY queue_seq IS NULL, queue_seq, arrived_epoch, call_id",
}


class CallRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- writes, queued -----------------------------------------------------------------

    def save(self, call_id: str, **fields: object) -> None:
        """Create or update the call's row; only the given columns change."""
        row = checked("calls", CALL_COLUMNS, fields)
        row["call_id"] = clean_text(call_id)
        self.store.queue_upsert("calls", "call_id", row)

    def log(
        self,
        call_id: str,
        kind: str,
        at_epoch: float,
        at: str,
        seat: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Append one step of a call (like a queue_log line), timed by Asterisk."""
        self.store.queue_insert("call_events", {
            "call_id": clean_text(call_id),
            "at": iso_second(at),
            "at_epoch": float(at_epoch),
            "kind": clean_text(kind),
            "seat": None if seat is None else clean_text(seat),
            # Serialised now: a bad value fails here, and later changes to `data` do not leak in.
            # orjson: a dozen steps a call, and the standard encoder was the larger part of this.
            "data": None if data is None else clean_text(orjson.dumps(dict(data)).decode()),
        })

    async def flush(self) -> None:
        await self.store.flush()

    async def insert_many(self, calls: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]]) -> None:
        """Bulk rows written as they are, in one transaction (the demo seeder's months)."""
        call_rows, event_rows = [dict(r) for r in calls], [dict(e) for e in events]

        def write(db: Database) -> None:
            # executemany, not sqlite-utils' insert_all: it re-reads the schema per batch and
            # takes twice as long for a demo year.
            for table, rows in (("calls", call_rows), ("call_events", event_rows)):
                columns = sorted({column for row in rows for column in row})
                if not rows:
                    continue
                names = ", ".join(columns)
                marks = ", ".join("?" for _ in columns)
                db.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                    [[row.get(column) for column in columns] for row in rows])

        await self.store.transaction(write)

    # --- reads --------------------------------------------------------------------------

    async def get(self, call_id: str) -> Row | None:
        rows = await self.store.reading(lambda db: _rows(db, "SELECT * FROM calls WHERE call_id = ?", [call_id]))
        return rows[0] if rows else None

    async def recent(
        self,
        since_epoch: float | None = None,
        until_epoch: float | None = None,
        number: str | None = None,
        limit: int = 100,
    ) -> list[Row]:
        """Calls arrived in [since, until), newest first; `number` matches exactly."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        where: list[str] = []
        params: list[object] = []
        if number is not None:
            where.append("caller_number = ?")
            params.append(number)
        if since_epoch is not None:
            where.append("arrived_epoch >= ?")
            params.append(since_epoch)
        if until_epoch is not None:
            where.append("arrived_epoch < ?")
            params.append(until_epoch)
        sql = "SELECT * FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        params.append(limit)
        return await self.store.reading(lambda db: _rows(db, f"{sql} ORDER BY {NEWEST_FIRST[db.dialect]} LIMIT ?",
                                                         params))

    async def events(self, call_id: str) -> list[Row]:
        """The call's events in the order they were put; `data` decoded from JSON."""

        def read(db: Database) -> list[Row]:
            rows = _rows(db, "SELECT * FROM call_events WHERE call_id = ? ORDER BY id", [call_id])
            for row in rows:
                if isinstance(row["data"], str):
                    row["data"] = json.loads(row["data"])
            return rows

        return await self.store.reading(read)

    async def open_calls(self) -> list[Row]:
        """Calls not yet 'done', in queue order (queue_seq, then arrival; not yet queued last)."""
        return await self.store.reading(lambda db: _rows(db, OPEN_CALLS_SQL[db.dialect]))

    async def next_queue_seq(self) -> int:
        rows = await self.store.reading(lambda db: _rows(db, "SELECT coalesce(max(queue_seq), 0) + 1 AS n FROM calls"))
        n = rows[0]["n"]
        assert isinstance(n, int)
        return n

    async def answered_per_seat_since(self, since_epoch: float, seats: Iterable[str]) -> dict[str, int]:
        """Calls each seat answered among those arrived since `since_epoch` (every seat
        named counts, 0 when it answered none)."""
        rows = await self.store.reading(lambda db: _rows(
            db,
            "SELECT seat, count(*) AS n FROM calls WHERE arrived_epoch >= ? "
            "AND seat IS NOT NULL AND seat_answered IS NOT NULL GROUP BY seat",
            [since_epoch],
        ))
        counts = dict.fromkeys(seats, 0)
        for row in rows:
            n = row["n"]
            assert isinstance(n, int)
            counts[str(row["seat"])] = n
        return counts

    async def search(self, search: CallSearch) -> tuple[list[Row], int]:
        """One page of matching calls, newest first, and how many match in all."""
        where, params = search.where(self.store.dialect)

        def read(db: Database) -> tuple[list[Row], int]:
            total = _rows(db, f"SELECT count(*) AS n FROM calls{where}", params)[0]["n"]
            rows = _rows(db, f"SELECT * FROM calls{where} ORDER BY {NEWEST_FIRST[db.dialect]} LIMIT ? OFFSET ?",
                         [*params, search.limit, search.offset])
            return rows, int(total) if isinstance(total, int) else 0

        return await self.store.snapshot(read)

    async def figures(self, since_epoch: float, until_epoch: float, answered_within: float) -> dict[str, float]:
        """Counts over the calls arrived in [since, until): calls; answered (a seat took it,
        ended or not); answered within `answered_within` s of arriving; each outcome; and
        the average wait in line of the answered calls."""
        outcome_sums = "".join(f" count(*) FILTER (WHERE outcome = '{o}') AS {o},"
                               for o in Outcome if o != Outcome.ANSWERED)
        sql = (
            "SELECT count(*) AS calls,"
            " count(*) FILTER (WHERE seat_answered IS NOT NULL) AS answered,"
            " count(*) FILTER (WHERE seat_answered IS NOT NULL AND answer_seconds <= ?) AS answered_within,"
            f"{outcome_sums}"
            " coalesce(avg(CASE WHEN seat_answered IS NOT NULL THEN wait_seconds END), 0) AS average_wait"
            " FROM calls WHERE arrived_epoch >= ? AND arrived_epoch < ?"
        )
        rows = await self.store.reading(lambda db: _rows(db, sql, [answered_within, since_epoch, until_epoch]))
        return {key: float(value) if isinstance(value, int | float) else 0.0 for key, value in rows[0].items()}

    async def figures_by_minute(self, since_epoch: float, until_epoch: float,
                                answered_within: float) -> list[Row]:
        """The calls arrived in [since, until) grouped by local minute of arrival (0-1439):
        answered, abandoned, answered within `answered_within` s of arriving, asked for a
        seat (answered or gave up waiting or ringing), and the answered calls' waits. For
        the wallboard's figures per shift (`reports.shifts`)."""
        sql = (
            "SELECT CAST(substr(arrived, 12, 2) AS INTEGER) * 60 + CAST(substr(arrived, 15, 2) AS INTEGER) AS minute,"
            " count(seat_answered) AS answered,"
            f" count(*) FILTER (WHERE outcome IN ({sql_among(ABANDONED)})) AS abandoned,"
            " count(*) FILTER (WHERE seat_answered IS NOT NULL AND answer_seconds <= ?) AS answered_within,"
            " count(*) FILTER (WHERE seat_answered IS NOT NULL"
            f" OR outcome IN ('{Outcome.ABANDONED_QUEUE}', '{Outcome.ABANDONED_RINGING}')) AS asked_for_seat,"
            " coalesce(sum(CASE WHEN seat_answered IS NOT NULL THEN wait_seconds END), 0) AS wait_sum,"
            " count(CASE WHEN seat_answered IS NOT NULL THEN wait_seconds END) AS wait_n"
            " FROM calls WHERE arrived_epoch >= ? AND arrived_epoch < ? AND arrived IS NOT NULL GROUP BY minute"
        )
        return await self.store.reading(lambda db: _rows(db, sql, [answered_within, since_epoch, until_epoch]))
