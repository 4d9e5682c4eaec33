"""The store's runtime: the database (SQLite, or PostgreSQL when `store.url` names it) on
one dedicated thread.

sqlite-utils and psycopg are synchronous and an SQLite connection is bound to the thread
that opened it, so one thread ("hotline-store") opens the database and runs every
statement; the event loop
only puts messages on that thread's queue. Queued writes (`queue_upsert`, `queue_insert`)
return at once and are committed in batches, one transaction a batch: a crash loses at
most the last uncommitted batch, and WAL never leaves a half-written transaction behind.
Reads, `flush` and transactions travel the same queue, so they see every write queued
before them, as long as commits succeed. A plain read (`reading`) does not end the batch:
it runs inside the batch's open transaction, after the writes held so far (see `_gather`).

When the database refuses a commit (disk full, locked too long by another process; for
PostgreSQL also a server shut down, restarting or unreachable, connected to again at the
retry) the
writes are kept and retried every `RETRY_SECONDS` or so, and at once before a `flush`
or a transaction; reads then see only what was committed. What waits is bounded however long that lasts
(`callcenter.store.pending`): writes to one row are merged, and past a limit the oldest
call events are dropped and counted (`dropped_writes`, a health problem).

The backends (`callcenter.store.sqlite`, `callcenter.store.postgres`) open, migrate and
begin transactions; this module is the same for both. The store knows no table: each
noun's repository (`callcenter.calls.repository`,
`callcenter.seats.repository`, ...) brings its SQL and runs it here through `reading`,
`transaction` or `snapshot`. The schema is built by `callcenter.store.schema`; a
database newer than this code is refused rather than guessed at. Tables shared with
short-lived `hotline ...` processes are written under BEGIN IMMEDIATE, waiting up to
`BUSY_TIMEOUT` for the lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from callcenter.store.backend import Backend, Database, backend_for
from callcenter.store.errors import StoreError
from callcenter.store.pending import MAX_PENDING_WRITES, Insert, PendingWrites, Upsert, Write

log = logging.getLogger(__name__)

THREAD_NAME = "hotline-store"
BUSY_TIMEOUT = 5.0
# How long writes queued on the event loop gather there before they go to the store thread.
SHIP_SECONDS = 0.05
# A commit every quarter second at most while writes come in: each commit writes every
# page it dirtied to the WAL (the calls table's indexes make that dozens), so fewer,
# larger commits cost the hotline fewer writes a call. A crash loses at most that much.
BATCH_SECONDS = 0.25
# While commits fail, how often they are tried again: often enough that the store catches
# up within a second or two of space returning. Each try is a transaction of everything
# waiting, which a long fault makes costly: the next waits at least this many times the
# processor time the last one took, so retrying takes at most a tenth of a core.
RETRY_SECONDS = 1.0
RETRY_COST_FACTOR = 10.0
# While commits fail, how often the log says so again (the first failure is logged at once).
FAILING_LOG_SECONDS = 60.0

__all__ = ["BUSY_TIMEOUT", "THREAD_NAME", "Row", "Store", "StoreError"]

T = TypeVar("T")
Row = dict[str, object]


def _names(columns: Iterable[str]) -> str:
    # Table and column names come from the repositories' column lists, never from input.
    return ", ".join(f'"{column}"' for column in columns)


def _marks(columns: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in columns)


@dataclass(frozen=True, slots=True)
class _Request:
    fn: Callable[[], Any] | None  # None: only commit what is queued (flush)
    future: concurrent.futures.Future[Any]
    stop: bool = False
    # Commit what is queued first even while commits fail (flush, stop, a transaction:
    # its writes must not overtake the writes queued before it).
    commits_first: bool = False
    # A plain read (`reading`): served inside the batch's open transaction, after the
    # writes held so far, without ending the batch (see `_gather`).
    in_batch: bool = False


class Store:
    """The engine's store. Use as `async with Store(path_or_url) as store:`: a path is an
    SQLite file, a `postgresql://` URL a PostgreSQL database (`store_target` picks the
    configured one)."""

    def __init__(
        self,
        target: Path | str,
        batch_interval: float = BATCH_SECONDS,
        batch_size: int = 500,
        trace: Callable[[str], None] | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        max_pending: int = MAX_PENDING_WRITES,
    ) -> None:
        if batch_size < 1 or batch_interval < 0:
            raise ValueError("batch_size must be >= 1 and batch_interval >= 0")
        self._backend: Backend = backend_for(target, busy_timeout, trace)
        self.name = self._backend.name  # the file, or the URL without its password
        self.batch_interval = batch_interval
        self.batch_size = batch_size
        self.busy_timeout = busy_timeout
        self._queue: queue.SimpleQueue[Write | list[Write] | _Request] = queue.SimpleQueue()
        # Writes queued on the event loop, handed to the store thread together every
        # SHIP_SECONDS: one wake-up of that thread (and one GIL hand-over) for dozens of
        # writes, not one for each. A read, a transaction, a flush or stop ships first.
        self._outbox: list[Write] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = -1
        self._thread: threading.Thread | None = None
        self._accepting = False
        # Only the store thread touches these.
        self._db: Database | None = None
        self._pending = PendingWrites(max_pending)
        # Writes already applied in the batch's open transaction, not yet committed (a read
        # came meanwhile); they go back to `_pending` if the commit is refused.
        self._applied: list[Write] = []
        self._retry_at: float | None = None  # monotonic; None while commits succeed
        self._failing_since = 0.0
        self._failing_logged_at = 0.0
        self._dropped_at_fault = 0  # dropped_writes when the fault began
        # Health: since when a queued write waits to be committed (monotonic; None: none
        # waits), the last commit's refusal, commits refused so far, and when a write was
        # last dropped (monotonic). Plain attributes, written by one side each.
        self._waiting_since: float | None = None
        self.commit_error: str | None = None
        self.failed_commits = 0
        self._last_dropped_at: float | None = None

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql": the SQL the repositories' statements must speak."""
        return self._backend.dialect

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL store has none: StoreError)."""
        path = getattr(self._backend, "path", None)
        if not isinstance(path, Path):
            raise StoreError(f"{self.name}: a PostgreSQL store has no file")
        return path

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("store already started")
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
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
        self._ship()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Request(None, future, stop=True, commits_first=True))
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

    def queue_upsert(self, table: str, key: str, fields: Mapping[str, object]) -> None:
        """Create or update the row of `table` whose `key` column is `fields[key]`; only
        the given columns change. Returns at once; committed with the next batch. The
        repository that owns the table has checked the values."""
        if key not in fields:
            raise ValueError(f"{table}: the row's key {key!r} is missing")
        self._put(Upsert(table, key, dict(fields)))

    def queue_insert(self, table: str, row: Mapping[str, object]) -> None:
        """Append a row to `table` with the next batch (a log line: call_events)."""
        self._put(Insert(table, dict(row)))

    async def flush(self) -> None:
        """Return when every write queued so far is committed; StoreError if it cannot be."""
        await self._send(None, commits_first=True)

    # --- for repositories: their SQL, run on the store thread ---------------------------

    async def reading(self, fn: Callable[[Database], T]) -> T:
        """Run `fn(db)` on the store thread after the queued writes (it sees them), outside
        any transaction: one query, or reads that need not agree with each other."""
        result: T = await self._send(lambda: fn(self._database), in_batch=True)
        return result

    # --- event-loop side plumbing -----------------------------------------------------

    @property
    def write_lag(self) -> float:
        """Seconds the oldest write not yet committed has waited (0 when none waits)."""
        since = self._waiting_since
        return 0.0 if since is None else max(0.0, time.monotonic() - since)

    @property
    def pending_writes(self) -> int:
        """Writes taken off the queue and not yet committed (merged per row while failing)."""
        return len(self._pending) + len(self._applied)

    @property
    def dropped_writes(self) -> int:
        """Writes dropped, over the limit of what waits, while commits failed."""
        return self._pending.dropped

    @property
    def dropped_age(self) -> float | None:
        """Seconds since a write was last dropped (None: never)."""
        at = self._last_dropped_at
        return None if at is None else max(0.0, time.monotonic() - at)

    def _put(self, item: Write) -> None:
        if not self._accepting:
            raise RuntimeError("the store is not running (start() it; after stop() writes would be lost)")
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        # The thread's id, not asyncio.get_running_loop(): that one makes a getpid() system
        # call each time (to tell a forked child), dozens of them a call.
        if threading.get_ident() != self._loop_thread:  # another thread: straight to the queue
            self._ship()
            self._queue.put(item)
            return
        self._outbox.append(item)
        if len(self._outbox) == 1:
            cast(asyncio.AbstractEventLoop, self._loop).call_later(SHIP_SECONDS, self._ship)

    def _ship(self) -> None:
        """Hand the writes of this turn of the event loop to the store thread, in order."""
        if self._outbox:
            writes, self._outbox = self._outbox, []
            self._queue.put(writes)

    async def _submit(self, fn: Callable[[], T], commits_first: bool = False) -> T:
        result: T = await self._send(fn, commits_first)
        return result

    async def _send(self, fn: Callable[[], Any] | None, commits_first: bool = False, in_batch: bool = False) -> Any:
        if not self._accepting:
            raise RuntimeError("the store is not running")
        self._ship()  # a read or a transaction comes after every write queued before it
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Request(fn, future, commits_first=commits_first, in_batch=in_batch))
        return await asyncio.wrap_future(future)

    # --- the store thread -------------------------------------------------------------

    def _run(self) -> None:
        error: StoreError | None = None
        while True:
            request: _Request | None = None
            try:
                try:
                    # With writes held back by a failed commit, wake up to retry.
                    retry_in = None if self._retry_at is None else max(0.0, self._retry_at - time.monotonic())
                    msg = self._queue.get(timeout=retry_in)
                except queue.Empty:
                    error = self._commit_pending()
                    continue
                if isinstance(msg, _Request):
                    request = msg
                else:
                    self._hold(msg)
                    if self._retry_at is None:
                        request = self._gather()
                # While commits fail, a write or a read waits for the retry (reads see what
                # is committed); flush, stop and transactions try at once.
                if self._retry_at is None or time.monotonic() >= self._retry_at or \
                        (request is not None and request.commits_first):
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
                log.exception("%s: store thread error", self.name)
                if request is not None and not request.future.done():
                    request.future.set_exception(exc)
                if request is not None and request.stop:
                    self._close(None)
                    return

    def _gather(self) -> _Request | None:
        """Collect writes until the batch is full or batch_interval has passed; return a
        request that arrived meanwhile (it runs after this batch commits).

        A plain read does not end the batch: the writes held so far are applied in the
        batch's open transaction (BEGIN IMMEDIATE at the first such read), the read runs
        in it and sees them, and the batch goes on to its commit. The controller reads a
        few times a call (the nuisance checks); committing before each read made some
        hundred commits a second at 40 calls/s, each writing its pages to the WAL (109
        pwrite() calls a call), which a commit every batch_interval does not."""
        deadline = time.monotonic() + self.batch_interval
        while len(self._pending) + len(self._applied) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                msg = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                return None
            if isinstance(msg, _Request):
                if not msg.in_batch or self._retry_at is not None:
                    return msg
                count, started = len(self._pending) + len(self._applied), time.thread_time()
                try:
                    self._apply_open()
                except Exception as exc:
                    # Refused (another process holds the lock too long, the disk...): the
                    # writes wait for the retry, and the read sees what is committed.
                    self._roll_back_open()
                    self._serve(msg, self._refused_commit(count, exc, time.thread_time() - started))
                    return None
                self._serve(msg, None)
                continue
            self._hold(msg)
        return None

    def _hold(self, writes: Write | list[Write]) -> None:
        for write in writes if isinstance(writes, list) else (writes,):
            self._hold_one(write)

    def _hold_one(self, write: Write) -> None:
        if self._pending.add(write):
            self._last_dropped_at = time.monotonic()
            if self._pending.dropped == self._dropped_at_fault + 1:  # once a fault, not once a write
                log.error("%s: %d writes wait for a commit; dropping the oldest (call events first) to keep "
                          "within that, counted in the health report", self.name, self._pending.limit)

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
        except self._backend.errors as exc:
            # e.g. a seat update while another process held the lock past BUSY_TIMEOUT
            # One line: PostgreSQL's messages come with a hint and the statement on lines of their own.
            request.future.set_exception(StoreError(f"{self.name}: {' '.join(str(exc).split())}"))
        except Exception as exc:  # handed to the awaiting caller
            request.future.set_exception(exc)

    @property
    def _database(self) -> Database:
        if self._db is None:
            raise StoreError(f"{self.name}: the database is not open")
        return self._db

    def _open(self) -> None:
        self._db = self._backend.open()

    def _commit_pending(self) -> StoreError | None:
        """Commit the held writes in one transaction. A bad write is logged and dropped
        without losing the others; if the database itself refuses (locked too long, disk
        full) the writes are kept for the next attempt and the error returned."""
        if not len(self._pending) and not self._applied:
            return None
        count = len(self._pending) + len(self._applied)
        started = time.thread_time()
        try:
            self._apply_open()
            self._database.conn.execute("COMMIT")
        except BaseException as exc:
            self._roll_back_open()
            if not isinstance(exc, Exception):
                raise
            return self._refused_commit(count, exc, time.thread_time() - started)  # the writes are kept
        self._applied = []
        if self._retry_at is not None:
            lost = self._pending.dropped - self._dropped_at_fault
            log.warning("%s: commits succeed again after %.0f s; %d writes committed%s", self.name,
                        time.monotonic() - self._failing_since, count,
                        f", {lost} dropped meanwhile" if lost else "")
            self._retry_at = None
        self.commit_error = None
        if self._queue.empty():
            self._waiting_since = None
        return None

    def _refused_commit(self, count: int, exc: Exception, cost: float) -> StoreError:
        """A commit failed: hold everything for a retry, merged, and say so (once a minute)."""
        now = time.monotonic()
        if self._retry_at is None:
            self._failing_since = self._failing_logged_at = now
            self._dropped_at_fault = self._pending.dropped
            log.error("%s: cannot commit %d writes, keeping them to retry: %s", self.name, count, exc)
        elif now - self._failing_logged_at >= FAILING_LOG_SECONDS:
            self._failing_logged_at = now
            log.error("%s: still cannot commit after %.0f s (%d writes wait): %s", self.name,
                      now - self._failing_since, len(self._pending), exc)
        self._pending.merge()
        self._retry_at = now + max(RETRY_SECONDS, RETRY_COST_FACTOR * cost)
        self.failed_commits += 1
        self.commit_error = str(exc)[:200]
        return StoreError(f"{self.name}: cannot commit {count} writes: {exc}")

    def _apply_open(self) -> None:
        """Apply the writes held to the batch's transaction, opening it if need be (BEGIN
        IMMEDIATE). A bad write is logged and dropped without losing the others; a refusal
        (the database's, not a write's fault) is raised with nothing moved: the caller
        rolls back with `_roll_back_open`."""
        if not len(self._pending):
            return
        items = list(self._pending.writes())
        db = self._database
        if not db.conn.in_transaction:
            self._backend.begin_batch(db)
        db.conn.execute("SAVEPOINT batch_part")
        try:
            self._apply(db, items)
        except Exception as exc:  # some item is bad: find it
            if self._backend.refused(exc) or not db.conn.in_transaction:
                raise
            log.warning("%s: batch of %d writes failed (%s); retrying one by one", self.name, len(items), exc)
            db.conn.execute("ROLLBACK TO batch_part")
            self._apply_each(db, items)
        db.conn.execute("RELEASE batch_part")
        self._applied.extend(items)
        self._pending.clear()

    def _roll_back_open(self) -> None:
        """The batch's transaction is refused: roll it back, and hold its applied writes
        again, before the newer ones, for the retry."""
        db = self._db
        if db is not None and db.conn.in_transaction:
            try:
                db.conn.execute("ROLLBACK")
            except self._backend.errors as exc:
                log.error("%s: rolling back a refused batch: %s", self.name, exc)
        if not self._applied:
            return
        newer = self._pending
        self._pending = PendingWrites(newer.limit)
        self._pending.dropped, self._pending.merging = newer.dropped, newer.merging
        for write in [*self._applied, *newer.writes()]:
            self._pending.add(write)
        self._applied = []

    @staticmethod
    def _apply(db: Database, items: Iterable[Write]) -> None:
        # Several writes to one row in a batch become one upsert carrying them all.
        upserts: dict[tuple[str, str, object], dict[str, object]] = {}
        inserts: dict[tuple[str, tuple[str, ...]], list[dict[str, object]]] = {}
        for item in items:
            if isinstance(item, Upsert):
                upserts.setdefault(item.target, {}).update(item.fields)
            else:
                inserts.setdefault((item.table, tuple(item.row)), []).append(item.row)
        # Rows that carry the same columns share one statement, which touches only those
        # columns (a column a write did not name keeps its value). Plain SQLite UPSERT rather
        # than sqlite-utils' upsert_all, which reads the table's schema again on every batch.
        groups: dict[tuple[str, str, tuple[str, ...]], list[dict[str, object]]] = {}
        for (table, key, _), row in upserts.items():
            groups.setdefault((table, key, tuple(row)), []).append(row)
        for (table, key, columns), rows in groups.items():
            updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != key)
            conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
            db.conn.executemany(
                f'INSERT INTO "{table}" ({_names(columns)}) VALUES ({_marks(columns)}) ON CONFLICT("{key}") {conflict}',
                [[row[c] for c in columns] for row in rows])
        for (table, columns), rows in inserts.items():
            db.conn.executemany(f'INSERT INTO "{table}" ({_names(columns)}) VALUES ({_marks(columns)})',
                                [[row[c] for c in columns] for row in rows])

    def _apply_each(self, db: Database, items: Iterable[Write]) -> None:
        for item in items:
            db.conn.execute("SAVEPOINT one_write")
            try:
                self._apply(db, [item])
            except Exception as exc:  # one bad write must not sink the batch
                if self._backend.refused(exc) or not db.conn.in_transaction:
                    raise  # the database refused, or the error ended the transaction: keep them all
                db.conn.execute("ROLLBACK TO one_write")
                log.error("%s: dropped write %r: %s", self.name, item, exc)
            db.conn.execute("RELEASE one_write")

    def _close(self, commit_error: StoreError | None) -> None:
        if commit_error is not None:
            log.error("%s: store stopped with %d writes not committed", self.name, len(self._pending))
        if self._db is not None:
            try:
                self._backend.close(self._db)
            except self._backend.errors as exc:
                log.error("%s: closing the database: %s", self.name, exc)
            self._db = None

    async def transaction(self, fn: Callable[[Database], T]) -> T:
        """Run `fn(db)` on the store thread in one transaction that no other process's
        interleaves (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), committed
        before this returns; any exception rolls it all back and reaches the caller as is
        (the database's errors as StoreError). `fn` runs on the store thread: it must not block on
        the event loop nor keep `db`. Used for read-check-write steps (a ticket's state
        change) that must not interleave with another process."""

        def run() -> T:
            db = self._database
            self._backend.begin_transaction(db)
            try:
                result = fn(db)
                db.conn.execute("COMMIT")
            except BaseException:
                if db.conn.in_transaction:
                    db.conn.execute("ROLLBACK")
                raise
            return result

        return await self._submit(run, commits_first=True)

    async def snapshot(self, fn: Callable[[Database], T]) -> T:
        """Run the reads of `fn(db)` on the store thread in one read transaction, so every
        query sees the same database (a report's figures add up), after the queued writes.
        The transaction is read-only: any write in `fn` fails."""

        def run() -> T:
            db = self._database
            with self._backend.read_only(db):
                return fn(db)

        return await self._submit(run)


