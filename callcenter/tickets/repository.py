"""The ticket tables (`tickets`, `ticket_calls`, `ticket_events`, `ticket_callbacks`,
`ticket_search`): every SQL statement about them, and the reads of `calls` that ticket
operations need.

A ticket command reads, decides and writes inside one store transaction, so two
operators (or an operator and the callback runner) never interleave: the service hands
`TicketRepository.write` a function that works on `TicketTables`, the tables as that
transaction sees them.

`ticket_search` (FTS5) holds the words of each live ticket's summary, and of the
summaries merged into it (`search` cuts them with jieba); it is kept here, on create and
merge, so no other module has to remember it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from callcenter.store import Database, Row, Store
from callcenter.tickets.search import index_text
from callcenter.vocabulary import COMPLETED, IN_PROGRESS, Category, Channel, TicketState, sql_among
from callcenter.words import match_any, ts_match_any

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


def _index_bulk(db: Database, after: int) -> None:
    """The words of the tickets numbered after `after`, written in bulk."""
    summaries: dict[int, list[str]] = {}
    for row in db.query("SELECT ticket_id, merged_into, summary FROM tickets WHERE ticket_id > ? ORDER BY ticket_id",
                        [after]):
        key = row["merged_into"] if row["merged_into"] is not None else row["ticket_id"]
        summaries.setdefault(_whole(key), []).append(str(row["summary"]))
    db.conn.executemany("INSERT INTO ticket_search (ticket_id, tokens) VALUES (?, ?)",
                        ((ticket_id, index_text(texts)) for ticket_id, texts in summaries.items()))


@dataclass(frozen=True)
class TicketQuery:
    """The filters of the ticket list; None (or False) leaves a filter out. The epochs
    bound `created_epoch` (since: included, until: excluded)."""

    states: Collection[TicketState] | None = None
    unit: str | None = None
    category: Category | None = None
    channel: Channel | None = None
    since_epoch: float | None = None
    until_epoch: float | None = None
    overdue_only: bool = False
    returned_to: str | None = None
    operator: str | None = None  # the seat (or user) that wrote it
    limit: int = 100
    offset: int = 0

    def where(self, now: float) -> tuple[str, list[object]]:
        """The WHERE clause over `tickets t`, and its parameters."""
        where = ["t.merged_into IS NULL"]
        params: list[object] = []
        if self.states is not None:
            where.append(f"t.state IN ({', '.join('?' for _ in self.states) or 'NULL'})")
            params.extend(str(s) for s in self.states)
        for column, value in (("unit", self.unit), ("category", self.category), ("channel", self.channel),
                              ("returned_to", self.returned_to), ("operator", self.operator)):
            if value is not None:
                where.append(f"t.{column} = ?")
                params.append(str(value))
        if self.since_epoch is not None:
            where.append("t.created_epoch >= ?")
            params.append(self.since_epoch)
        if self.until_epoch is not None:
            where.append("t.created_epoch < ?")
            params.append(self.until_epoch)
        if self.overdue_only:
            where.append(f"t.state IN ({_IN_PROGRESS}) AND t.deadline_epoch <= ?")
            params.append(now)
        return " AND ".join(where), params


def _page_sql(where: str, params: Sequence[object], query: TicketQuery, now: float) -> tuple[str, list[object]]:
    """The page's query: the filter and order over the tickets' numbers and sort keys
    alone (the sorter then carries four values a row, not every column: with 12,000
    tickets in progress that halves the time), then the page's rows read by number and
    their calls counted."""
    order = "p.overdue DESC, p.completed, p.deadline_epoch, p.ticket_id"
    # The flags are cast to 0/1: PostgreSQL would give a comparison as a boolean.
    sql = (
        "SELECT t.*, p.overdue, (SELECT count(*) FROM ticket_calls tc WHERE tc.ticket_id = t.ticket_id) AS calls"
        f" FROM (SELECT t.ticket_id, CAST(t.state IN ({_IN_PROGRESS}) AND t.deadline_epoch <= ? AS INTEGER) AS overdue,"
        f" CAST(t.state IN ({_COMPLETED}) AS INTEGER) AS completed, t.deadline_epoch FROM tickets t"
        f" WHERE {where} ORDER BY overdue DESC, completed, t.deadline_epoch, t.ticket_id LIMIT ? OFFSET ?) p"
        f" JOIN tickets t ON t.ticket_id = p.ticket_id ORDER BY {order}"
    )
    return sql, [now, *params, max(0, query.limit), max(0, query.offset)]


_MATCHING_SQL = {
    "sqlite": "SELECT t.*, s.tokens AS search_tokens FROM ticket_search s JOIN tickets t ON t.ticket_id = s.ticket_id"
              f" WHERE ticket_search MATCH ? AND t.merged_into IS NULL AND t.state IN ({_IN_PROGRESS})"
              " ORDER BY bm25(ticket_search), t.ticket_id LIMIT ?",
    "postgresql": "SELECT t.*, s.tokens AS search_tokens FROM ticket_search s"
                  " JOIN tickets t ON t.ticket_id = s.ticket_id"
                  " WHERE s.document @@ to_tsquery('simple', ?) AND t.merged_into IS NULL"
                  f" AND t.state IN ({_IN_PROGRESS})"
                  " ORDER BY ts_rank(s.document, to_tsquery('simple', ?)) DESC, t.ticket_id LIMIT ?",
}


@dataclass(frozen=True)
class TicketPage:
    rows: list[Row]
    total: int  # tickets matching the filters, all pages


@dataclass
class TicketDetail:
    """A ticket with everything about it: its calls, its history and its callbacks."""

    ticket: Row
    calls: list[Row]
    events: list[Row]
    callbacks: list[Row]
    messages: list[Row] = field(default_factory=list)  # to and from the citizen in writing


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
        """A new ticket, its summary's words in the search table; its number."""
        ticket_id = self.db.table("tickets").insert(dict(fields)).last_pk
        assert isinstance(ticket_id, int)
        self._index(ticket_id)
        return ticket_id

    def _index(self, ticket_id: int) -> None:
        """The ticket's words, from its summary and those of the tickets merged into it."""
        summaries = [str(r["summary"]) for r in self.db.query(
            "SELECT summary FROM tickets WHERE ticket_id = ? OR merged_into = ? ORDER BY ticket_id",
            [ticket_id, ticket_id])]
        self.db.execute("DELETE FROM ticket_search WHERE ticket_id = ?", [ticket_id])
        self.db.execute("INSERT INTO ticket_search (ticket_id, tokens) VALUES (?, ?)",
                        [ticket_id, index_text(summaries)])

    def reindex(self, ticket_id: int) -> None:
        """The ticket's summary changed: its words again."""
        self._index(ticket_id)

    def merged(self, source: int, target: int) -> None:
        """`source` was merged into `target`: its words now find `target`, never itself."""
        self.db.execute("DELETE FROM ticket_search WHERE ticket_id = ?", [source])
        self._index(target)

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

    def add_message(self, fields: Mapping[str, object]) -> int:
        """A line of `ticket_messages` (to or from the citizen in writing); its id."""
        message_id = self.db.table("ticket_messages").insert(dict(fields)).last_pk
        assert isinstance(message_id, int)
        return message_id

    def message_seen(self, channel: str, external_id: str) -> bool:
        """Whether a citizen's message with this id at its source is stored already."""
        return _one(self.db, "SELECT 1 FROM ticket_messages WHERE channel = ? AND direction = 'in'"
                    " AND external_id = ?", [channel, external_id]) is not None

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

    async def tickets_of_calls(self, call_ids: Sequence[str]) -> dict[str, int]:
        """The ticket each of these calls is on (calls on none are left out)."""
        ids = list(call_ids)
        if not ids:
            return {}

        def read(db: Database) -> dict[str, int]:
            marks = ", ".join("?" for _ in ids)
            rows = _rows(db, f"SELECT call_id, ticket_id FROM ticket_calls WHERE call_id IN ({marks})", ids)
            return {str(row["call_id"]): _whole(row["ticket_id"]) for row in rows}

        return await self.store.reading(read)

    async def confidential_call_ids(self) -> set[str]:
        """The calls on confidential tickets (their caller is the citizen who asked for secrecy)."""
        rows = await self.store.reading(lambda db: _rows(
            db, "SELECT tc.call_id FROM ticket_calls tc JOIN tickets t ON t.ticket_id = tc.ticket_id"
            " WHERE t.confidential = 1"))
        return {str(row["call_id"]) for row in rows}

    async def detail(self, ticket_id: int) -> TicketDetail | None:
        """The ticket with its calls, history (`data` decoded) and callbacks, read
        together; None when there is no such ticket."""

        def read(db: Database) -> TicketDetail | None:
            row = _one(db, "SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id])
            if row is None:
                return None
            # Every column of the call (the console shows its times, outcome and recording).
            calls = _rows(db, "SELECT c.*, tc.call_id AS call_id, tc.linked FROM ticket_calls tc"
                          " LEFT JOIN calls c ON c.call_id = tc.call_id"
                          " WHERE tc.ticket_id = ? ORDER BY c.arrived_epoch, tc.call_id", [ticket_id])
            events = _decoded(_rows(db, "SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", [ticket_id]))
            callbacks = _rows(db, "SELECT * FROM ticket_callbacks WHERE ticket_id = ? ORDER BY id", [ticket_id])
            messages = _rows(db, "SELECT * FROM ticket_messages WHERE ticket_id = ? ORDER BY id", [ticket_id])
            return TicketDetail(row, calls, events, callbacks, messages)

        return await self.store.snapshot(read)

    async def listing(self, query: TicketQuery, now: float) -> TicketPage:
        """One page of tickets (merged ones left out), overdue first, then those in
        progress, then by deadline; each row has `calls` (how many) and `overdue` (0/1);
        and how many tickets match in all."""
        where, params = query.where(now)
        rows_sql, rows_params = _page_sql(where, params, query, now)
        count_sql = f"SELECT count(*) AS n FROM tickets t WHERE {where}"

        def read(db: Database) -> TicketPage:
            total = _one(db, count_sql, params)
            return TicketPage(_rows(db, rows_sql, rows_params), _whole(total["n"]) if total else 0)

        return await self.store.snapshot(read)

    async def listing_plan(self, query: TicketQuery, now: float) -> list[str]:
        """The database's plan for the page of `listing` (SQLite's EXPLAIN QUERY PLAN,
        PostgreSQL's EXPLAIN), one line a step: to check that a filter walks an index
        rather than the whole table."""
        where, params = query.where(now)
        sql, all_params = _page_sql(where, params, query, now)
        explain = "EXPLAIN QUERY PLAN" if self.store.dialect == "sqlite" else "EXPLAIN"
        return await self.store.reading(lambda db: [
            str(row[-1]) for row in db.execute(f"{explain} {sql}", all_params).fetchall()])

    async def same_number(self, number: str, since_epoch: float, limit: int) -> list[Row]:
        """Tickets in progress of `number` (as caller or contact) created since then,
        newest first."""
        sql = (f"SELECT * FROM tickets WHERE ticket_id IN ("
               " SELECT ticket_id FROM tickets WHERE caller_number = ? AND created_epoch >= ?"
               " UNION SELECT ticket_id FROM tickets WHERE contact_number = ? AND created_epoch >= ?)"
               f" AND merged_into IS NULL AND state IN ({_IN_PROGRESS}) ORDER BY created_epoch DESC LIMIT ?")
        return await self.store.reading(lambda db: _rows(db, sql, [number, since_epoch, number, since_epoch, limit]))

    async def matching(self, words: Sequence[str], limit: int) -> list[Row]:
        """Tickets in progress whose summaries share any of `words`, best first: SQLite's
        FTS5 ranked by bm25, or PostgreSQL's tsvector ranked by ts_rank."""

        def read(db: Database) -> list[Row]:
            if db.dialect == "sqlite":
                return _rows(db, _MATCHING_SQL[db.dialect], [match_any(words), limit])
            expression = ts_match_any(words)
            return _rows(db, _MATCHING_SQL[db.dialect], [expression, expression, limit])

        return await self.store.reading(read) if words else []

    async def awaiting_response(self, limit: int) -> list[Row]:
        """Written tickets no person has answered yet (a response is due), soonest due
        first: the desk's list of messages nearing their limit."""
        return await self.store.reading(lambda db: _rows(
            db,
            "SELECT ticket_id, channel, summary, state, unit, unit_name, received, received_epoch,"
            " acknowledged_epoch, response_due_epoch FROM tickets"
            " WHERE responded_epoch IS NULL AND response_due_epoch IS NOT NULL AND merged_into IS NULL"
            " ORDER BY response_due_epoch, ticket_id LIMIT ?",
            [limit],
        ))

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

    async def callbacks_since(self, since_epoch: float) -> int:
        """Callback attempts recorded since `since_epoch` (the daily cap counts them)."""
        row = await self.store.reading(lambda db: _one(
            db, "SELECT count(*) AS n FROM ticket_callbacks WHERE at_epoch >= ? AND call_id IS NOT NULL",
            [since_epoch]))
        return 0 if row is None else _whole(row["n"])

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
            if db.dialect == "postgresql" and tickets:
                # The numbers were given: the identity must number on past them.
                db.execute("SELECT setval(pg_get_serial_sequence('tickets', 'ticket_id'),"
                           " (SELECT max(ticket_id) FROM tickets))")
            _index_bulk(db, last)
            return last + 1

        return await self.store.transaction(write)


# ----------------------------------------------------------------------------- attachments
# `ticket_attachments`: the files a unit attached to its reply (`callcenter.tickets.attachments`
# checks and stores them; only their rows are here).


class AttachmentTables(TicketTables):
    """The ticket tables and the attachments inside one transaction."""

    def attachments_since(self, ticket_id: int, since_epoch: float) -> int:
        """How many files the ticket got since then (the files of the reply being prepared)."""
        row = _one(self.db, "SELECT count(*) AS n FROM ticket_attachments WHERE ticket_id = ? AND uploaded_epoch >= ?",
                   [ticket_id, since_epoch])
        return _whole(row["n"]) if row else 0

    def add_attachment(self, fields: Mapping[str, object]) -> int:
        attachment_id = self.db.table("ticket_attachments").insert(dict(fields)).last_pk
        assert isinstance(attachment_id, int)
        return attachment_id

    def attachments(self, ticket_id: int) -> list[Row]:
        return _rows(self.db, "SELECT * FROM ticket_attachments WHERE ticket_id = ? ORDER BY id", [ticket_id])


class AttachmentRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def write(self, work: Callable[[AttachmentTables], T]) -> T:
        """Run `work` in one BEGIN IMMEDIATE transaction (as `TicketRepository.write`)."""
        return await self.store.transaction(lambda db: work(AttachmentTables(db)))

    async def ticket(self, ticket_id: int) -> Row | None:
        """What deciding on an upload needs of the ticket."""
        return await self.store.reading(lambda db: _one(
            db, "SELECT ticket_id, unit, state, state_since_epoch, merged_into FROM tickets WHERE ticket_id = ?",
            [ticket_id]))

    async def of_ticket(self, ticket_id: int) -> list[Row]:
        return await self.store.reading(lambda db: AttachmentTables(db).attachments(ticket_id))

    async def one(self, ticket_id: int, attachment_id: int) -> Row | None:
        """The attachment, with the unit its ticket is with now (`ticket_unit`)."""
        return await self.store.reading(lambda db: _one(
            db, "SELECT a.*, t.unit AS ticket_unit FROM ticket_attachments a JOIN tickets t"
            " ON t.ticket_id = a.ticket_id WHERE a.id = ? AND a.ticket_id = ?", [attachment_id, ticket_id]))
