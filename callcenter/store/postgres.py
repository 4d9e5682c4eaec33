"""The store on PostgreSQL (psycopg 3): the backend, and the object the repositories get.

The repositories were written against sqlite-utils' `Database`; `PgDatabase` gives them
the part of its API they use, over one psycopg connection on the store thread:
`execute` and `query` (dict rows; no `lastrowid`: an INSERT says RETURNING on both
databases), `conn.execute` / `conn.executemany` /
`conn.in_transaction`, and `table(name)` with `insert(...).last_pk`, `update`, `upsert`
and `insert_all`. The translation is kept small and explicit:

- placeholders: `?` becomes `%s` and `:name` becomes `%(name)s` outside quotes (`::`
  casts are left alone), and every literal `%` is doubled;
- `numeric` results (sum() of a BIGINT, avg()) come back as int when whole, else float,
  as SQLite gives them;
- a NUL character, which PostgreSQL's text cannot hold, is stored as U+FFFD;
- nothing else. Where the SQL differs (full-text search, json_each, GLOB, strftime,
  rowid, INSERT OR IGNORE), the repository writes it for `db.dialect == "postgresql"`.

The connection is in autocommit mode and the store's runtime says BEGIN and COMMIT, as
it does with SQLite. When the server goes away (restarted, shut down, the network) the
statement fails with an OperationalError, which the runtime takes as a refused commit:
the writes are kept, and the next statement outside a transaction connects again.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Loader
from psycopg.rows import dict_row

from callcenter.store import postgres_schema
from callcenter.store.schema import SCHEMA_VERSION
from callcenter.store.url import redacted

log = logging.getLogger(__name__)

DIALECT = "postgresql"
CONNECT_TIMEOUT = 5  # seconds: a server that does not answer is a refused commit, not a hang
# Every `transaction` takes this transaction-level advisory lock first: read-check-write
# steps (a ticket's state change) then never interleave with another process's, as
# BEGIN IMMEDIATE guarantees with SQLite. The batches of queued writes do not need it.
WRITE_LOCK_KEY = 0x12345_0002
# SQLSTATE classes that mean the server refused or went away, not that a write is bad:
# connection exceptions, insufficient resources (disk full), operator intervention
# (shutdown), system errors, a serialisation failure or deadlock, a lock not available,
# a read-only transaction (a standby).
REFUSED_CLASSES = ("08", "53", "57", "58", "40")
REFUSED_STATES = frozenset({"55P03", "25006"})

_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|(?<!:):([A-Za-z_]\w*)|%")
_INSERT_INTO = re.compile(r"\s*INSERT\s+INTO\s+\"?(\w+)\"?", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def translated(sql: str) -> str:
    """`sql` with sqlite3's placeholders (`?`, `:name`) as psycopg's (`%s`, `%(name)s`)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        # A quoted string or name keeps its ? and :words, but psycopg reads % everywhere.
        return token.replace("%", "%%")

    return _PLACEHOLDER.sub(one, sql)


def refused(exc: BaseException) -> bool:
    """The server refused or is gone (shut down, restarting, unreachable, full)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, psycopg.Error) and isinstance(state, str) and \
        (state[:2] in REFUSED_CLASSES or state in REFUSED_STATES)


class _NumberLoader(Loader):
    """numeric as SQLite gives it: an int when whole (sum of BIGINTs), else a float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


class PgCursor:
    """What the repositories read of a sqlite3 cursor."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        # No lastrowid: a new row's id is read with RETURNING, on both databases.

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """One psycopg connection, made again when it was lost (outside a transaction only:
    a transaction the server lost is reported, never silently continued)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._raw: psycopg.Connection[Any] | None = None

    def connect(self) -> psycopg.Connection[Any]:
        raw = self._raw
        if raw is not None and not raw.closed and not raw.broken:
            return raw
        if raw is not None:
            raw.close()
            self._raw = None
            log.warning("%s: connecting again to PostgreSQL", redacted(self.url))
        raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                              application_name="hotline")
        raw.adapters.register_loader("numeric", _NumberLoader)
        self._raw = raw
        return raw

    @property
    def in_transaction(self) -> bool:
        raw = self._raw
        if raw is None or raw.closed or raw.broken:
            return False
        return raw.info.transaction_status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)

    def execute(self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()) -> PgCursor:
        cursor = self.connect().cursor()
        cursor.execute(translated(sql), _params(parameters))
        return PgCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[object] | Mapping[str, object]]) -> PgCursor:
        cursor = self.connect().cursor()
        cursor.executemany(translated(sql), [_params(row) for row in rows])
        return PgCursor(cursor)

    def rows(self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()) -> list[dict[str, Any]]:
        with self.connect().cursor(row_factory=dict_row) as cursor:
            cursor.execute(translated(sql), _params(parameters))
            return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _params(parameters: Sequence[object] | Mapping[str, object] | None) -> Sequence[object] | Mapping[str, object]:
    if parameters is None:
        return ()
    if isinstance(parameters, Mapping):
        return {key: _storable(value) for key, value in parameters.items()}
    return [_storable(value) for value in parameters]


def _storable(value: object) -> object:
    # PostgreSQL's text cannot hold NUL (U+0000), which SQLite keeps: a caller's name
    # with one would fail its whole batch, so it is kept as U+FFFD, like a lone surrogate.
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


class PgTable:
    """sqlite-utils' Table, as far as the repositories use it."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.last_pk: Any = None

    @property
    def pk(self) -> str:
        return self.db.primary_key(self.name)

    def insert(self, record: Mapping[str, object]) -> PgTable:
        columns = list(record)
        cursor = self.db.conn.execute(
            f'INSERT INTO "{self.name}" ({_names(columns)}) VALUES ({_marks(columns)}) RETURNING "{self.pk}"',
            [record[c] for c in columns])
        self.last_pk = cursor.fetchone()[0]
        return self

    def insert_all(self, records: Iterable[Mapping[str, object]]) -> PgTable:
        rows = [dict(r) for r in records]
        if rows:
            columns = list(rows[0])
            self.db.conn.executemany(f'INSERT INTO "{self.name}" ({_names(columns)}) VALUES ({_marks(columns)})',
                                     [[row.get(c) for c in columns] for row in rows])
        return self

    def update(self, pk_value: object, updates: Mapping[str, object] | None = None) -> PgTable:
        changes = dict(updates or {})
        if changes:
            sets = ", ".join(f'"{c}" = ?' for c in changes)
            self.db.conn.execute(f'UPDATE "{self.name}" SET {sets} WHERE "{self.pk}" = ?',
                                 [*changes.values(), pk_value])
        self.last_pk = pk_value
        return self

    def upsert(self, record: Mapping[str, object], pk: str) -> PgTable:
        columns = list(record)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != pk)
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        self.db.conn.execute(f'INSERT INTO "{self.name}" ({_names(columns)}) VALUES ({_marks(columns)})'
                             f' ON CONFLICT ("{pk}") {conflict}', [record[c] for c in columns])
        self.last_pk = record[pk]
        return self


def _names(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _marks(columns: Sequence[str]) -> str:
    return ", ".join("?" for _ in columns)


class PgDatabase:
    """What the repositories are given on PostgreSQL (see the module's docstring)."""

    dialect = DIALECT

    def __init__(self, url: str) -> None:
        self.conn = PgConnection(url)
        self._primary_keys: dict[str, str] = {}

    def execute(self, sql: str, parameters: Sequence[object] | Mapping[str, object] | None = None) -> PgCursor:
        return self.conn.execute(sql, _params(parameters))

    def query(self, sql: str, params: Sequence[object] | Mapping[str, object] | None = None,
              ) -> Iterator[dict[str, Any]]:
        yield from self.conn.rows(sql, _params(params))

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def primary_key(self, table: str) -> str:
        if table not in self._primary_keys:
            rows = self.conn.rows(
                "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = ?::regclass AND i.indisprimary", [table])
            if len(rows) != 1:
                raise ValueError(f"{table}: no single-column primary key")
            self._primary_keys[table] = str(rows[0]["name"])
        return self._primary_keys[table]

    def close(self) -> None:
        self.conn.close()


class PostgresBackend:
    """The store's backend on a PostgreSQL database named by its URL."""

    dialect = DIALECT
    errors: tuple[type[BaseException], ...] = (psycopg.Error,)

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = redacted(url)

    def open(self) -> PgDatabase:
        db = PgDatabase(self.url)
        try:
            db.conn.connect()
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def refused(self, exc: BaseException) -> bool:
        return refused(exc)

    def begin_batch(self, db: PgDatabase) -> None:
        db.conn.execute("BEGIN")

    def begin_transaction(self, db: PgDatabase) -> None:
        db.conn.execute("BEGIN")
        db.conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])

    @contextmanager
    def read_only(self, db: PgDatabase) -> Iterator[None]:
        # Repeatable read: every query of the snapshot sees the same database.
        db.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if db.conn.in_transaction:
                db.conn.execute("COMMIT")

    def close(self, db: PgDatabase) -> None:
        db.close()

    def schema_version(self, db: PgDatabase) -> int:
        exists = db.conn.execute("SELECT to_regclass(?)", [postgres_schema.VERSION_TABLE]).fetchone()[0]
        if exists is None:
            return 0
        row = db.conn.execute(f"SELECT max(version) FROM {postgres_schema.VERSION_TABLE}").fetchone()
        return int(row[0] or 0)

    def _migrate(self, db: PgDatabase) -> None:
        version = self.check_version(db)
        if version == SCHEMA_VERSION:
            return
        db.conn.execute("BEGIN")
        try:
            # One migrator at a time; then read again: another may have finished meanwhile.
            db.conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])
            version = self.check_version(db)
            if version == 0:
                if db.conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                                   ).fetchone()[0]:
                    raise psycopg.ProgrammingError(
                        "the database holds tables but no hotline schema version: not a hotline store")
                self.create_schema(db)
            else:
                self._upgrade(db, version)
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise

    def create_schema(self, db: PgDatabase) -> None:
        """Make an empty database the store's schema at SCHEMA_VERSION, inside the caller's
        transaction."""
        for statement in postgres_schema.baseline():
            db.conn.execute(statement)
        db.conn.execute(f"INSERT INTO {postgres_schema.VERSION_TABLE} (version) VALUES (?)",
                        [postgres_schema.BASELINE_VERSION])
        log.info("%s: schema created at version %d", self.name, postgres_schema.BASELINE_VERSION)
        self._upgrade(db, postgres_schema.BASELINE_VERSION)

    def _upgrade(self, db: PgDatabase, version: int) -> None:
        while version < SCHEMA_VERSION:
            for statement in postgres_schema.MIGRATIONS[version - postgres_schema.BASELINE_VERSION]():
                db.conn.execute(statement)
            version += 1
            db.conn.execute(f"UPDATE {postgres_schema.VERSION_TABLE} SET version = ?", [version])
            log.info("%s: schema migrated to version %d", self.name, version)

    def check_version(self, db: PgDatabase) -> int:
        from callcenter.store.runtime import StoreError

        version = self.schema_version(db)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.name}: database schema version {version} is newer than this engine knows "
                             f"({SCHEMA_VERSION}); upgrade the engine or use another database")
        return version
