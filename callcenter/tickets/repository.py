"""The ticket tables (`tickets`, `ticket_calls`, `ticket_events`, `ticket_callbacks`):
every SQL statement about them, and the reads of `calls` that ticket operations need.

A ticket command reads, decides and writes inside one store transaction, so two
operators (or an operator and the callback runner) never interleave: the service hands
`TicketRepository.write` a function that works on `TicketTables`, the tables as that
transaction sees them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlite_utils import Database

from callcenter.store import Row, Store
from callcenter.vocabulary import COMPLETED, IN_PROGRESS, TicketState, sql_among

T = TypeVar("T")

_IN_PROGRESS = sql_among(tuple(sorted(IN_PROGRESS)))
_COMPLETED = sql_among(tuple(sorted(COMPLETED)))


def _rows(db: Database, sql: str, params: Sequence[object] = ()) -> list[Row]:
    return list(db.query(sql, list(params)))


def _one(db: Database, sql: str, params: Sequence[object]) -> Row | None:
    rows = _rows(db, sql, params)
    return rows[0] if rows else None


def _whole(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _decoded(rows: list[Row]) -> list[Row]:
    for row in rows:
        if isinstance(row["data"], str):
            row["data"] = json.loads(row["data"])
    return rows


def _insert_rows(db: Database, table: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Rows that all carry the same columns, in one executemany. sqlite-utils'
    `insert_all` does the same in chunks of 999 variables and inspects every value,
    which made a demo year's write several times slower."""
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    db.conn.executemany(sql, ([row[c] for c in columns] for row in rows))


@dataclass
class TicketDetail:
    """A ticket with everything about it: its calls, its history and its callbacks."""

    ticket: Row
    calls: list[Row]
    events: list[Row]
    callbacks: list[Row]


class TicketTables:
    """The ticket tables inside one transaction, on the store thread (never keep one)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ticket(self, ticket_id: int) -> Row | None:
        return _one(self.db, "SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id])

    def call(self, call_id: str) -> Row | None:
        """What deciding whether a call may join a ticket needs: the call's outcome,
        answer, caller, seat and arrival, and the ticket it is on already (or None)."""
        return _one(self.db, "SELECT c.call_id, c.outcome, c.seat_answered, c.caller_number, c.seat,"
                    " c.arrived_epoch, tc.ticket_id FROM calls c LEFT JOIN ticket_calls tc ON tc.call_id = c.call_id"
                    " WHERE c.call_id = ?", [call_id])

    def add_ticket(self, fields: Mapping[str, object]) -> int:
        """A new ticket; its number."""
        ticket_id = self.db.table("tickets").insert(dict(fields)).last_pk
        assert isinstance(ticket_id, int)
        return ticket_id

    def update(self, ticket_id: int, changes: Mapping[str, object]) -> None:
        self.db.table("tickets").update(ticket_id, dict(changes))

    def link(self, ticket_id: int, call_ids: Iterable[object], at: str, at_epoch: float) -> None:
        self.db.table("ticket_calls").insert_all(
            {"call_id": call_id, "ticket_id": ticket_id, "linked": at, "linked_epoch": at_epoch}
            for call_id in call_ids
        )

    def call_ids(self, ticket_id: int) -> list[object]:
        return [r["call_id"] for r in self.db.query("SELECT call_id FROM ticket_calls WHERE ticket_id = ?",
                                                    [ticket_id])]

    def move_calls(self, source: int, target: int) -> None:
        self.db.execute("UPDATE ticket_calls SET ticket_id = ? WHERE ticket_id = ?", [target, source])

    def add_event(self, ticket_id: int, at: str, at_epoch: float, kind: str, state: str, actor: str | None,
                  data: Mapping[str, object] | None = None) -> None:
        """One line of the ticket's history; `data` (if any) stored as JSON."""
        self.db.table("ticket_events").insert({
            "ticket_id": ticket_id, "at": at, "at_epoch": at_epoch, "kind": kind, "state": state,
            "actor": actor, "data": None if not data else json.dumps(dict(data), ensure_ascii=False),
        })

    def add_callback(self, ticket_id: int, at: str, at_epoch: float, result: str, satisfaction: str | None,
                     call_id: str | None, actor: str | None, note: str | None) -> None:
        self.db.table("ticket_callbacks").insert({
            "ticket_id": ticket_id, "at": at, "at_epoch": at_epoch, "result": result, "satisfaction": satisfaction,
            "call_id": call_id, "actor": actor, "note": note,
        })


class TicketRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def write(self, work: Callable[[TicketTables], T]) -> T:
        """Run `work` on the ticket tables in one BEGIN IMMEDIATE transaction, committed
        before this returns; an exception rolls it all back."""
        return await self.store.transaction(lambda db: work(TicketTables(db)))

    async def detail(self, ticket_id: int) -> TicketDetail | None:
        """The ticket with its calls, history (`data` decoded) and callbacks, read
        together; None when there is no such ticket."""

        def read(db: Database) -> TicketDetail | None:
            row = _one(db, "SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id])
            if row is None:
                return None
            calls = _rows(db, "SELECT c.call_id, c.arrived, c.caller_number, c.caller_name, c.seat, c.category,"
                          " c.talk_seconds, c.recording_path, tc.linked FROM ticket_calls tc"
                          " LEFT JOIN calls c ON c.call_id = tc.call_id"
                          " WHERE tc.ticket_id = ? ORDER BY c.arrived_epoch, tc.call_id", [ticket_id])
            events = _decoded(_rows(db, "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", [ticket_id]))
            callbacks = _rows(db, "SELECT * FROM ticket_callbacks WHERE ticket_id = ? ORDER BY id", [ticket_id])
            return TicketDetail(row, calls, events, callbacks)

        return await self.store.snapshot(read)

    async def listing(
        self,
        *,
        now: float,
        states: Collection[TicketState] | None = None,
        unit: str | None = None,
        overdue_only: bool = False,
        since_epoch: float | None = None,
        until_epoch: float | None = None,
        limit: int = 100,
    ) -> list[Row]:
        """Tickets (merged ones left out), overdue first, then those in progress, then by
        deadline; each row has `calls` (how many) and `overdue` (0/1)."""
        where = ["t.merged_into IS NULL"]
        params: list[object] = [now]
        if states is not None:
            where.append(f"t.state IN ({', '.join('?' for _ in states)})")
            params.extend(str(s) for s in states)
        if unit is not None:
            where.append("t.unit = ?")
            params.append(unit)
        if since_epoch is not None:
            where.append("t.created_epoch >= ?")
            params.append(since_epoch)
        if until_epoch is not None:
            where.append("t.created_epoch < ?")
            params.append(until_epoch)
        sql = (
            f"SELECT * FROM (SELECT t.*, (t.state IN ({_IN_PROGRESS}) AND t.deadline_epoch <= ?) AS overdue,"
            " (SELECT count(*) FROM ticket_calls tc WHERE tc.ticket_id = t.ticket_id) AS calls"
            f" FROM tickets t WHERE {' AND '.join(where)})"
            + (" WHERE overdue" if overdue_only else "")
            + f" ORDER BY overdue DESC, state IN ({_COMPLETED}), deadline_epoch, ticket_id LIMIT ?"
        )
        params.append(limit)
        return await self.store.snapshot(lambda db: _rows(db, sql, params))

    # --- for the callback runner ---------------------------------------------------------

    async def awaiting_callback(self, max_attempts: int) -> list[Row]:
        """Replied tickets whose citizen has given no satisfaction yet, with fewer than
        `max_attempts` callbacks; `last_try` is the epoch of the latest (or None)."""
        return await self.store.reading(lambda db: _rows(
            db,
            "SELECT t.*, (SELECT max(at_epoch) FROM ticket_callbacks c WHERE c.ticket_id = t.ticket_id) AS last_try"
            " FROM tickets t WHERE t.state = ? AND t.satisfaction IS NULL AND t.callback_attempts < ?",
            [str(TicketState.REPLIED), max_attempts],
        ))

    async def callback_attempts(self, ticket_id: int) -> int | None:
        """How many callbacks the ticket has had; None when there is no such ticket."""
        row = await self.store.reading(lambda db: _one(
            db, "SELECT callback_attempts FROM tickets WHERE ticket_id = ?", [ticket_id]))
        return None if row is None else _whole(row["callback_attempts"])

    # --- bulk -----------------------------------------------------------------------------

    async def insert_many(
        self,
        tickets: Sequence[Mapping[str, object]],
        links: Sequence[Mapping[str, object]],
        events: Sequence[Mapping[str, object]],
        callbacks: Sequence[Mapping[str, object]],
    ) -> int:
        """Bulk rows written as they are, in one transaction (the demo seeder's months).
        Their `ticket_id`s count from 1 within the rows given and are numbered on from
        the store's last ticket; the number the rows' ticket 1 got."""

        def write(db: Database) -> int:
            last = db.execute("SELECT coalesce(max(ticket_id), 0) FROM tickets").fetchone()[0]
            assert isinstance(last, int)

            def numbered(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
                return [{**row, "ticket_id": _whole(row["ticket_id"]) + last} for row in rows]

            _insert_rows(db, "tickets", numbered(tickets))
            _insert_rows(db, "ticket_calls", numbered(links))
            _insert_rows(db, "ticket_events", numbered(events))
            _insert_rows(db, "ticket_callbacks", numbered(callbacks))
            return last + 1

        return await self.store.transaction(write)
