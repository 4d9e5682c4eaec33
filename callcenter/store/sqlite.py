"""The store on SQLite (sqlite-utils over sqlite3): the embedded default backend.

One file, WAL, a busy timeout for the short-lived `hotline ...` processes that write
beside the running hotline, and numbered migrations (`callcenter.store.schema`) run in
one BEGIN IMMEDIATE transaction when the file is opened.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from callcenter.store.errors import StoreError
from callcenter.store.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

DIALECT = "sqlite"
# SQLite's primary result codes that mean the database refused (full, unwritable, locked),
# not that a write is bad: every write is then kept for the retry, none is dropped.
REFUSALS = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                      sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM})


class SqliteDatabase(Database):
    """sqlite-utils' Database, saying which SQL it speaks (`db.dialect`)."""

    dialect = DIALECT


def refused(exc: BaseException) -> bool:
    """The database refused (disk full, locked...): no fault of the writes being committed."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and isinstance(code, int) and code & 0xFF in REFUSALS


class SqliteBackend:
    """The store's backend on one SQLite file."""

    dialect = DIALECT
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: Path, busy_timeout: float, trace: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.busy_timeout = busy_timeout
        self._trace = trace  # sqlite3 trace callback, installed on the store thread

    def open(self) -> SqliteDatabase:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Citizens' numbers and names: readable by the hotline's own user only. SQLite
            # gives the -wal and -shm files the database file's mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
        if self._trace is not None:
            conn.set_trace_callback(self._trace)
        try:
            db = SqliteDatabase(conn, execute_plugins=False)
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self.check_version(db)  # refuse a newer database before changing anything in it
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            # Statement journals (each write in a transaction keeps one, to undo only itself)
            # in memory, not in a temporary file: on disk they were some 110 pwrite() calls a
            # call at 40 calls/s, more than all the rest of the controller's system calls.
            db.execute("PRAGMA temp_store = MEMORY")
            self._migrate(db)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: cannot open the database: {exc}") from exc
            raise
        return db

    def refused(self, exc: BaseException) -> bool:
        return refused(exc)

    def begin_batch(self, db: SqliteDatabase) -> None:
        db.conn.execute("BEGIN IMMEDIATE")

    def begin_transaction(self, db: SqliteDatabase) -> None:
        db.conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def read_only(self, db: SqliteDatabase) -> Iterator[None]:
        # `PRAGMA query_only` makes any write in the snapshot fail.
        db.conn.execute("PRAGMA query_only = ON")
        try:
            db.conn.execute("BEGIN")
            try:
                yield
            finally:
                if db.conn.in_transaction:
                    db.conn.execute("COMMIT")
        finally:
            db.conn.execute("PRAGMA query_only = OFF")

    def close(self, db: SqliteDatabase) -> None:
        db.close()

    def check_version(self, db: SqliteDatabase) -> int:
        value = db.conn.execute("PRAGMA user_version").fetchone()[0]
        assert isinstance(value, int)
        if value > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: database schema version {value} is newer than this engine knows "
                f"({SCHEMA_VERSION}); upgrade the engine or use another database file"
            )
        return value

    def _migrate(self, db: SqliteDatabase) -> None:
        if self.check_version(db) == SCHEMA_VERSION:
            return
        # IMMEDIATE, then read again: another process may have migrated meanwhile.
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            for number in range(self.check_version(db), SCHEMA_VERSION):
                MIGRATIONS[number](db)
                db.conn.execute(f"PRAGMA user_version = {number + 1}")
                log.info("%s: schema migrated to version %d", self.path, number + 1)
            db.conn.execute("COMMIT")
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
