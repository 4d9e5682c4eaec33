"""The call store: SQLite through sqlite-utils, on one dedicated thread.

sqlite-utils is synchronous and its connection is bound to the thread that opened it, so
one thread ("hotline-store") opens the database and runs every statement; the event loop
only puts messages on that thread's queue. Writes (`put_call`, `put_event`) return at
once and are committed in batches, one transaction a batch: a crash loses at most the
last uncommitted batch, and WAL never leaves a half-written transaction behind. Reads,
`flush` and `update_seat` travel the same queue, so they see every write queued before
them.

The schema is versioned in `PRAGMA user_version` and built by `_MIGRATIONS`; a database
newer than this code is refused rather than guessed at. The `seats` table is shared with
short-lived `hotline seats ...` processes: writes take the lock up front
(BEGIN IMMEDIATE) and wait up to `BUSY_TIMEOUT` for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlite_utils import Database

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

THREAD_NAME = "hotline-store"
BUSY_TIMEOUT = 5.0
OUTCOMES = ("answered", "abandoned_ivr", "abandoned_queue", "abandoned_ringing", "failed")

# Column kinds drive put-time validation, so a bad value fails in the caller's code,
# not later in a batch on the store thread.
_TEXT, _TIME, _INT, _REAL = "text", "time", "int", "real"

CALL_COLUMNS: dict[str, str] = {
    "caller_number": _TEXT,
    "caller_name": _TEXT,
    "arrived": _TIME,
    "answered": _TIME,
    "queued": _TIME,
    "seat_answered": _TIME,
    "ended": _TIME,
    "arrived_epoch": _REAL,
    "wait_seconds": _INT,
    "talk_seconds": _INT,
    "total_seconds": _INT,
    "outcome": _TEXT,
    "hangup_cause": _TEXT,
    "seat": _TEXT,
    "shift": _TEXT,
    "category": _TEXT,
    "nuisance": _INT,
    "nuisance_rule": _TEXT,
    "recording_path": _TEXT,
    "recording_seconds": _REAL,
    "queue_seq": _INT,
    "priority": _INT,
    "state": _TEXT,
}

SEAT_COLUMNS: dict[str, str] = {
    "logged_in": _INT,
    "paused": _INT,
    "pause_reason": _TEXT,
    "state": _TEXT,
    "state_since": _TIME,
    "state_since_epoch": _REAL,
    "last_call_end_epoch": _REAL,
    "registered": _INT,
}

def _v1(db: Database) -> None:
    outcomes = ", ".join(f"'{o}'" for o in OUTCOMES)
    for sql in (
        f"""CREATE TABLE calls (
            call_id TEXT PRIMARY KEY,
            caller_number TEXT,
            caller_name TEXT,
            arrived TEXT,
            answered TEXT,
            queued TEXT,
            seat_answered TEXT,
            ended TEXT,
            arrived_epoch REAL,
            wait_seconds INTEGER,
            talk_seconds INTEGER,
            total_seconds INTEGER,
            outcome TEXT CHECK (outcome IN ({outcomes})),
            hangup_cause TEXT,
            seat TEXT,
            shift TEXT,
            category TEXT,
            nuisance INTEGER,
            recording_path TEXT,
            recording_seconds REAL,
            queue_seq INTEGER,
            priority INTEGER DEFAULT 0,
            state TEXT
        )""",
        "CREATE INDEX calls_arrived ON calls(arrived_epoch)",
        # Composite indexes serve the filter and the newest-first order in one walk.
        "CREATE INDEX calls_number ON calls(caller_number, arrived_epoch)",
        "CREATE INDEX calls_seat ON calls(seat, arrived_epoch)",
        "CREATE INDEX calls_outcome ON calls(outcome, arrived_epoch)",
        "CREATE INDEX calls_ended ON calls(ended)",
        "CREATE INDEX calls_queue_seq ON calls(queue_seq)",
        "CREATE INDEX calls_open ON calls(queue_seq, arrived_epoch) WHERE state IS NOT 'done'",
        """CREATE TABLE call_events (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            kind TEXT NOT NULL,
            seat TEXT,
            data TEXT
        )""",
        "CREATE INDEX call_events_call ON call_events(call_id, id)",
        "CREATE INDEX call_events_at ON call_events(at_epoch)",
        """CREATE TABLE seats (
            seat TEXT PRIMARY KEY,
            logged_in INTEGER,
            paused INTEGER,
            pause_reason TEXT,
            state TEXT,
            state_since TEXT,
            state_since_epoch REAL,
            last_call_end_epoch REAL,
            registered INTEGER
        )""",
    ):
        db.execute(sql)


def _v2_nuisance(db: Database) -> None:
    """Nuisance numbers (issue 4): every flag, clear and operator mark, with who, when, why."""
    for sql in (
        "ALTER TABLE calls ADD COLUMN nuisance_rule TEXT",
        """CREATE TABLE nuisance_events (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('flag', 'clear', 'mark')),
            rule TEXT,
            reason TEXT,
            by TEXT,
            call_id TEXT,
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            expires_epoch REAL
        )""",
        "CREATE INDEX nuisance_events_number ON nuisance_events(number, at_epoch)",
        "CREATE INDEX nuisance_events_flags ON nuisance_events(expires_epoch) WHERE action = 'flag'",
    ):
        db.execute(sql)


TICKET_CATEGORIES = ("help", "complaint", "consultation", "suggestion", "other")
TICKET_STATES = ("open", "forwarded", "replied", "closed", "reopened")
SATISFACTIONS = ("satisfied", "basically_satisfied", "dissatisfied")
CALLBACK_RESULTS = ("reached", "no_answer", "busy", "failed")


def _v3_tickets(db: Database) -> None:
    """Tickets (留单, issue 6): the ticket, the calls merged into it, its history, and the
    callbacks to the citizen (回访) with their satisfaction."""

    def among(values: tuple[str, ...]) -> str:
        return ", ".join(f"'{v}'" for v in values)

    for sql in (
        f"""CREATE TABLE tickets (
            ticket_id INTEGER PRIMARY KEY,
            created TEXT NOT NULL,
            created_epoch REAL NOT NULL,
            category TEXT NOT NULL CHECK (category IN ({among(TICKET_CATEGORIES)})),
            summary TEXT NOT NULL,
            unit TEXT NOT NULL,
            unit_name TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ({among(TICKET_STATES)})),
            state_since TEXT NOT NULL,
            state_since_epoch REAL NOT NULL,
            operator TEXT,
            caller_number TEXT,
            deadline TEXT NOT NULL,
            deadline_epoch REAL NOT NULL,
            deadline_estimated INTEGER NOT NULL DEFAULT 0,
            forwarded TEXT,
            forwarded_epoch REAL,
            reply TEXT,
            reply_by TEXT,
            replied TEXT,
            replied_epoch REAL,
            closed TEXT,
            closed_epoch REAL,
            reopen_count INTEGER NOT NULL DEFAULT 0,
            satisfaction TEXT CHECK (satisfaction IN ({among(SATISFACTIONS)})),
            callback_attempts INTEGER NOT NULL DEFAULT 0,
            merged_into INTEGER REFERENCES tickets(ticket_id)
        )""",
        "CREATE INDEX tickets_created ON tickets(created_epoch)",
        "CREATE INDEX tickets_state ON tickets(state, deadline_epoch)",
        "CREATE INDEX tickets_unit ON tickets(unit, created_epoch)",
        # A call belongs to at most one ticket: merging moves it, never copies it.
        """CREATE TABLE ticket_calls (
            call_id TEXT PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            linked TEXT NOT NULL,
            linked_epoch REAL NOT NULL
        )""",
        "CREATE INDEX ticket_calls_ticket ON ticket_calls(ticket_id)",
        """CREATE TABLE ticket_events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            actor TEXT,
            data TEXT
        )""",
        "CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id)",
        f"""CREATE TABLE ticket_callbacks (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(ticket_id),
            at TEXT NOT NULL,
            at_epoch REAL NOT NULL,
            result TEXT NOT NULL CHECK (result IN ({among(CALLBACK_RESULTS)})),
            satisfaction TEXT CHECK (satisfaction IN ({among(SATISFACTIONS)})),
            call_id TEXT,
            actor TEXT,
            note TEXT
        )""",
        "CREATE INDEX ticket_callbacks_ticket ON ticket_callbacks(ticket_id, id)",
    ):
        db.execute(sql)


# Index i brings a database from version i to i + 1. Append; never edit a released one.
_MIGRATIONS: tuple[Callable[[Database], None], ...] = (_v1, _v2_nuisance, _v3_tickets)
SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(HotlineError):
    """The database cannot be opened, migrated or written: the message names the file."""


T = TypeVar("T")
Row = dict[str, object]


@dataclass(frozen=True, slots=True)
class _CallWrite:
    call_id: str
    fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class _EventWrite:
    row: dict[str, object]


_Write = _CallWrite | _EventWrite


@dataclass(frozen=True, slots=True)
class _Request:
    fn: Callable[[], Any] | None  # None: only commit what is queued (flush)
    future: concurrent.futures.Future[Any]
    stop: bool = False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(value: str) -> str:
    # A lone surrogate (a JSON "\udcxx" escape) cannot be encoded for SQLite: it would
    # fail the whole batch later, so it becomes U+FFFD like any other undecodable byte.
    return _SURROGATE.sub("\ufffd", value)


def iso_second(value: str) -> str:
    """An ISO-8601 time with offset (Asterisk's "2026-11-28T21:35:12.345+0800" too) as
    "2026-11-28T21:35:12+08:00", cut to the second; ValueError without an offset."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.replace(microsecond=0).isoformat()


def _checked(table: str, columns: Mapping[str, str], fields: Mapping[str, object]) -> dict[str, object]:
    unknown = sorted(set(fields) - set(columns))
    if unknown:
        raise ValueError(f"unknown {table} column(s): {', '.join(unknown)}; known: {', '.join(columns)}")
    out: dict[str, object] = {}
    for name, value in fields.items():
        kind = columns[name]
        if value is None:
            out[name] = None
        elif kind == _TEXT:
            if not isinstance(value, str):
                raise TypeError(f"{table}.{name} must be str or None, not {type(value).__name__}")
            out[name] = _clean_text(value)
        elif kind == _TIME:
            if not isinstance(value, str):
                raise TypeError(f"{table}.{name} must be an ISO-8601 str or None, not {type(value).__name__}")
            out[name] = iso_second(value)
        elif kind == _INT:
            if not isinstance(value, int):
                raise TypeError(f"{table}.{name} must be int or None, not {type(value).__name__}")
            out[name] = int(value)
        else:
            if not isinstance(value, int | float):
                raise TypeError(f"{table}.{name} must be a number or None, not {type(value).__name__}")
            out[name] = float(value)
    return out


class Store:
    """The engine's SQLite store. Use as `async with Store(path) as store:`."""

    def __init__(
        self,
        path: Path,
        batch_interval: float = 0.05,
        batch_size: int = 500,
        trace: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1 or batch_interval < 0:
            raise ValueError("batch_size must be >= 1 and batch_interval >= 0")
        self.path = Path(path)
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self._trace = trace  # sqlite3 trace callback, installed on the store thread
        self._queue: queue.SimpleQueue[_Write | _Request] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._accepting = False
        # Only the store thread touches these.
        self._db: Database | None = None
        self._pending: list[_Write] = []

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("store already started")
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._accepting = True
        try:
            await self._submit(self._open)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Commit everything queued, close the database and end the thread."""
        thread = self._thread
        if thread is None or not self._accepting:
            return
        self._accepting = False
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Request(None, future, stop=True))
        try:
            await asyncio.wrap_future(future)
        finally:
            await asyncio.to_thread(thread.join)

    async def __aenter__(self) -> Store:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- writes: queued, committed in batches -----------------------------------------

    def put_call(self, call_id: str, **fields: object) -> None:
        """Create or update the call's row; only the given columns change."""
        checked = _checked("calls", CALL_COLUMNS, fields)
        self._put(_CallWrite(_clean_text(call_id), checked))

    def put_event(
        self,
        call_id: str,
        kind: str,
        at_epoch: float,
        at: str,
        seat: str | None = None,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Append one step of a call (like a queue_log line), timed by Asterisk."""
        row: dict[str, object] = {
            "call_id": _clean_text(call_id),
            "at": iso_second(at),
            "at_epoch": float(at_epoch),
            "kind": _clean_text(kind),
            "seat": None if seat is None else _clean_text(seat),
            # Serialised now: a bad value fails here, and later changes to `data` do not leak in.
            "data": None if data is None else _clean_text(json.dumps(dict(data), ensure_ascii=False)),
        }
        self._put(_EventWrite(row))

    async def flush(self) -> None:
        """Return when every write queued so far is committed; StoreError if it cannot be."""
        await self._send(None)

    # --- reads and immediate writes ---------------------------------------------------

    async def get_call(self, call_id: str) -> Row | None:
        rows = await self._submit(lambda: self._rows("SELECT * FROM calls WHERE call_id = ?", [call_id]))
        return rows[0] if rows else None

    async def list_calls(
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
        sql += " ORDER BY arrived_epoch DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return await self._submit(lambda: self._rows(sql, params))

    async def call_events(self, call_id: str) -> list[Row]:
        """The call's events in the order they were put; `data` decoded from JSON."""
        def read() -> list[Row]:
            rows = self._rows("SELECT * FROM call_events WHERE call_id = ? ORDER BY id", [call_id])
            for row in rows:
                if isinstance(row["data"], str):
                    row["data"] = json.loads(row["data"])
            return rows

        return await self._submit(read)

    async def open_calls(self) -> list[Row]:
        """Calls not yet 'done', in queue order (queue_seq, then arrival; not yet queued last)."""
        return await self._submit(
            lambda: self._rows(
                "SELECT * FROM calls WHERE state IS NOT 'done' "
                "ORDER BY queue_seq IS NULL, queue_seq, arrived_epoch, rowid"
            )
        )

    async def next_queue_seq(self) -> int:
        rows = await self._submit(lambda: self._rows("SELECT coalesce(max(queue_seq), 0) + 1 AS n FROM calls"))
        n = rows[0]["n"]
        assert isinstance(n, int)
        return n

    async def seat_rows(self) -> dict[str, Row]:
        rows = await self._submit(lambda: self._rows("SELECT * FROM seats ORDER BY seat"))
        return {str(row["seat"]): row for row in rows}

    async def update_seat(self, seat: str, **fields: object) -> None:
        """Create or update a seat row and commit it now (admin commands must not wait)."""
        record = {"seat": _clean_text(seat), **_checked("seats", SEAT_COLUMNS, fields)}
        await self._submit(lambda: self._write_now(lambda db: db.table("seats").upsert(record, pk="seat")))

    async def calls_per_seat_since(self, since_epoch: float) -> dict[str, int]:
        """Calls each seat answered among those arrived since `since_epoch` (known seats
        with none count 0)."""
        rows = await self._submit(
            lambda: self._rows(
                "SELECT seat, count(*) AS n FROM calls WHERE arrived_epoch >= ? "
                "AND seat IS NOT NULL AND seat_answered IS NOT NULL GROUP BY seat "
                "UNION ALL SELECT seat, 0 FROM seats",
                [since_epoch],
            )
        )
        counts: dict[str, int] = {}
        for row in rows:
            seat, n = str(row["seat"]), row["n"]
            assert isinstance(n, int)
            counts[seat] = counts.get(seat, 0) + n
        return counts

    async def query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """A read for a domain module that owns its tables (nuisance, tickets), on the store
        thread, after the queued writes."""
        return await self._submit(lambda: self._rows(sql, params))

    async def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """A write committed now (flags, commands: they must not wait for a batch)."""
        await self._submit(lambda: self._write_now(lambda db: db.execute(sql, list(params))))

    # --- event-loop side plumbing -----------------------------------------------------

    def _put(self, item: _Write) -> None:
        if not self._accepting:
            raise RuntimeError("the store is not running (start() it; after stop() writes would be lost)")
        self._queue.put(item)

    async def _submit(self, fn: Callable[[], T]) -> T:
        result: T = await self._send(fn)
        return result

    async def _send(self, fn: Callable[[], Any] | None) -> Any:
        if not self._accepting:
            raise RuntimeError("the store is not running")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Request(fn, future))
        return await asyncio.wrap_future(future)

    # --- the store thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            request: _Request | None = None
            try:
                try:
                    # With writes held back by a failed commit, wake up now and then to retry.
                    msg = self._queue.get(timeout=1.0 if self._pending else None)
                except queue.Empty:
                    self._commit_pending()
                    continue
                if isinstance(msg, _Request):
                    request = msg
                else:
                    self._pending.append(msg)
                    request = self._gather()
                error = self._commit_pending()
                if request is None:
                    continue
                if request.stop:
                    self._close(error)
                    if not request.future.done():  # stop() itself may have been cancelled
                        request.future.set_result(None)
                    return
                self._serve(request, error)
            except Exception as exc:  # the thread must outlive any bug
                log.exception("%s: store thread error", self.path)
                if request is not None and not request.future.done():
                    request.future.set_exception(exc)
                if request is not None and request.stop:
                    self._close(None)
                    return

    def _gather(self) -> _Request | None:
        """Collect writes until the batch is full or batch_interval has passed; return a
        request that arrived meanwhile (it runs after this batch commits)."""
        deadline = time.monotonic() + self.batch_interval
        while len(self._pending) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                msg = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                return None
            if isinstance(msg, _Request):
                return msg
            self._pending.append(msg)
        return None

    def _serve(self, request: _Request, commit_error: StoreError | None) -> None:
        if not request.future.set_running_or_notify_cancel():
            return
        if request.fn is None:
            if commit_error is not None:
                request.future.set_exception(commit_error)
            else:
                request.future.set_result(None)
            return
        try:
            request.future.set_result(request.fn())
        except sqlite3.Error as exc:
            # e.g. a seat update while another process held the lock past BUSY_TIMEOUT
            request.future.set_exception(StoreError(f"{self.path}: {exc}"))
        except Exception as exc:  # handed to the awaiting caller
            request.future.set_exception(exc)

    @property
    def _database(self) -> Database:
        if self._db is None:
            raise StoreError(f"{self.path}: the database is not open")
        return self._db

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        if self._trace is not None:
            conn.set_trace_callback(self._trace)
        try:
            db = Database(conn, execute_plugins=False)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self._schema_version(db)  # refuse a newer database before changing anything in it
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(db)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
            raise
        self._db = db

    def _schema_version(self, db: Database) -> int:
        value = db.conn.execute("PRAGMA user_version").fetchone()[0]
        assert isinstance(value, int)
        if value > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: database schema version {value} is newer than this engine knows "
                f"({SCHEMA_VERSION}); upgrade the engine or use another database file"
            )
        return value

    def _migrate(self, db: Database) -> None:
        if self._schema_version(db) == SCHEMA_VERSION:
            return
        # IMMEDIATE, then read again: another process may have migrated meanwhile.
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            for number in range(self._schema_version(db), SCHEMA_VERSION):
                _MIGRATIONS[number](db)
                db.conn.execute(f"PRAGMA user_version = {number + 1}")
                log.info("%s: schema migrated to version %d", self.path, number + 1)
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return list(self._database.query(sql, list(params)))

    def _write_now(self, fn: Callable[[Database], object]) -> None:
        db = self._database
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise

    def _commit_pending(self) -> StoreError | None:
        """Commit the held writes in one transaction. A bad write is logged and dropped
        without losing the others; if the database itself refuses (locked too long, disk
        full) the writes are kept for the next attempt and the error returned."""
        items, self._pending = self._pending, []
        if not items:
            return None
        try:
            db = self._database
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                try:
                    self._apply(db, items)
                except Exception as exc:  # some item is bad: find it
                    log.warning("%s: batch of %d writes failed (%s); retrying one by one", self.path, len(items), exc)
                    db.conn.execute("ROLLBACK")
                    db.conn.execute("BEGIN IMMEDIATE")
                    self._apply_each(db, items)
                db.conn.execute("COMMIT")
            except BaseException:
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # the database refused: keep the writes
            self._pending = items + self._pending
            log.error("%s: cannot commit %d writes, keeping them to retry: %s", self.path, len(items), exc)
            return StoreError(f"{self.path}: cannot commit {len(items)} writes: {exc}")
        return None

    @staticmethod
    def _apply(db: Database, items: Iterable[_Write]) -> None:
        calls: dict[str, dict[str, object]] = {}
        events: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, _CallWrite):
                calls.setdefault(item.call_id, {"call_id": item.call_id}).update(item.fields)
            else:
                events.append(item.row)
        # upsert_all would set columns missing from a record to NULL: group rows that
        # carry the same columns so each upsert touches only its own.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in calls.values():
            groups.setdefault(tuple(row), []).append(row)
        for rows in groups.values():
            db.table("calls").upsert_all(rows, pk="call_id")
        if events:
            db.table("call_events").insert_all(events)

    def _apply_each(self, db: Database, items: Iterable[_Write]) -> None:
        for item in items:
            db.conn.execute("SAVEPOINT one_write")
            try:
                self._apply(db, [item])
            except Exception as exc:  # one bad write must not sink the batch
                if not db.conn.in_transaction:
                    raise  # the error ended the transaction: nothing to isolate
                db.conn.execute("ROLLBACK TO one_write")
                log.error("%s: dropped write %r: %s", self.path, item, exc)
            db.conn.execute("RELEASE one_write")

    def _close(self, commit_error: StoreError | None) -> None:
        if commit_error is not None:
            log.error("%s: store stopped with %d writes not committed", self.path, len(self._pending))
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error as exc:
                log.error("%s: closing the database: %s", self.path, exc)
            self._db = None

    # --- tickets and reports (issue 6): transactions and snapshots for domain modules ---

    async def transaction(self, fn: Callable[[Database], T]) -> T:
        """Run `fn(db)` on the store thread in one BEGIN IMMEDIATE transaction, committed
        before this returns; any exception rolls it all back and reaches the caller as is
        (sqlite errors as StoreError). `fn` runs on the store thread: it must not block on
        the event loop nor keep `db`. Used for read-check-write steps (a ticket's state
        change) that must not interleave with another process."""

        def run() -> T:
            db = self._database
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
                db.conn.execute("COMMIT")
            except BaseException:
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                raise
            return result

        return await self._submit(run)

    async def snapshot(self, fn: Callable[[Database], T]) -> T:
        """Run the reads of `fn(db)` on the store thread in one read transaction, so every
        query sees the same database (a report's figures add up), after the queued writes.
        `PRAGMA query_only` makes any write in `fn` fail."""

        def run() -> T:
            db = self._database
            db.conn.execute("PRAGMA query_only = ON")
            try:
                db.conn.execute("BEGIN")
                try:
                    return fn(db)
                finally:
                    if db.conn.in_transaction:
                        db.conn.execute("COMMIT")
            finally:
                db.conn.execute("PRAGMA query_only = OFF")

        return await self._submit(run)


# --- `hotline calls` output ---------------------------------------------------------

_UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _escape_char(ch: str) -> str:
    """One character as the terminal will show it: control, format (bidi overrides,
    zero-width), unassigned and separator characters are spelled out."""
    if ch == "\\":
        return "\\\\"
    if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        code = ord(ch)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns `text` takes (East Asian wide and full-width characters take 2)."""
    return sum(_char_width(ch) for ch in text)


def escape_text(value: object) -> str:
    """A value as one safe line of text: no control characters, no escapes that reach the terminal."""
    return "".join(_escape_char(ch) for ch in ("" if value is None else str(value)))


def fit(value: object, width: int, align_right: bool = False) -> str:
    """Escape `value` and pad or cut it to exactly `width` display columns ("…" marks a cut)."""
    tokens = [_escape_char(ch) for ch in ("" if value is None else str(value))]
    widths = [display_width(t) for t in tokens]
    # Combining marks are 0 wide: cap the count of characters too, or a pile of them
    # could hide a huge field in a narrow column.
    if sum(widths) > width or len(tokens) > 3 * width:
        kept: list[str] = []
        used = 0
        for token, w in zip(tokens, widths, strict=True):
            if used + w > width - 1 or len(kept) >= 3 * width - 1:
                break
            kept.append(token)
            used += w
        text, used = "".join(kept) + "…", used + 1
    else:
        text, used = "".join(tokens), sum(widths)
    pad = " " * (width - used)
    return pad + text if align_right else text + pad


def _seconds(value: object) -> str:
    if isinstance(value, int | float):
        total = int(value)
        return f"{total // 60}:{total % 60:02d}"
    return "-"


def _recording(row: Mapping[str, object]) -> str:
    path = row.get("recording_path")
    if not path:
        return "-"
    return f"{_seconds(row.get('recording_seconds'))} {Path(str(path)).name}"


# (header, width, right-aligned, cell); the last column is cut but not padded.
_TABLE: tuple[tuple[str, int, bool, Callable[[Mapping[str, object]], object]], ...] = (
    ("arrived", 25, False, lambda r: r.get("arrived") or "-"),
    ("number", 16, False, lambda r: r.get("caller_number") or "-"),
    ("name", 16, False, lambda r: r.get("caller_name") or "-"),
    ("outcome", 17, False, lambda r: r.get("outcome") or r.get("state") or "-"),
    ("category", 12, False, lambda r: r.get("category") or "-"),
    ("seat", 6, False, lambda r: r.get("seat") or "-"),
    ("wait", 6, True, lambda r: _seconds(r.get("wait_seconds"))),
    ("talk", 6, True, lambda r: _seconds(r.get("talk_seconds"))),
    ("recording", 48, False, _recording),
)


def format_calls_table(rows: Iterable[Mapping[str, object]]) -> str:
    """Calls as a fixed-width table, one line a call; hostile caller ids are escaped."""

    def line(cells: Iterable[str]) -> str:
        return "  ".join(cells).rstrip()

    header = line(fit(h, w, right) for h, w, right, _ in _TABLE)
    rule = line("-" * w for _, w, _, _ in _TABLE)
    body = [line(fit(cell(row), w, right) for _, w, right, cell in _TABLE) for row in rows]
    return "\n".join([header, rule, *(body or ["(no calls)"])])


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\n" or unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells these as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def calls_json(rows: Iterable[Mapping[str, object]]) -> str:
    """Calls as a JSON array. Chinese stays readable; characters a terminal would act on
    (DEL, C1 controls, bidi and zero-width marks, lone surrogates) are \\u-escaped, which
    json itself does only below U+0020 (so a raw newline left in the text is layout)."""
    text = json.dumps([dict(row) for row in rows], ensure_ascii=False, indent=2, default=str)
    return re.sub("[^\x20-\x7e]", _json_escape, text)
