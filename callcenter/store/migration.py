"""Copying an SQLite store into an empty PostgreSQL database (`hotline store migrate`).

The SQLite file is first brought to this engine's schema version (as opening it would);
then, in one PostgreSQL transaction, the database gets the schema of that version and
every table's rows, copied in batches: a copy cut short (an error, Ctrl-C) leaves the
target empty, and the command can simply be run again. PostgreSQL has no migrations to
run, since SQLite's were run first. The foreign keys are
checked at the commit (they are deferrable), so the order of the tables does not matter
and a ticket merged into a later one is no problem.

The search tables are not copied byte for byte: their words (cut by jieba when the row
was written) are read from SQLite's FTS5 tables and written to PostgreSQL's, which
compute their tsvector and index from them. The identity columns are then set past the
copied ids, and each table's rows counted on both sides.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg

from callcenter.store.errors import StoreError
from callcenter.store.postgres import PgDatabase, PostgresBackend
from callcenter.store.postgres_schema import VERSION_TABLE
from callcenter.store.runtime import Store

BATCH_ROWS = 5_000
# The search tables: SQLite's FTS5 columns, read by name (the knowledge table's rowid is
# PostgreSQL's article_id).
SEARCH_TABLES = {
    "ticket_search": ("SELECT ticket_id, tokens FROM ticket_search", ("ticket_id", "tokens")),
    "knowledge_search": ("SELECT rowid, title, words, chars, tags FROM knowledge_search",
                         ("article_id", "title", "words", "chars", "tags")),
}


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def migrate(source: Path, url: str, progress: Callable[[str], None], batch_rows: int = BATCH_ROWS) -> list[Copied]:
    """Copy the SQLite store `source` into the empty PostgreSQL database `url`; the rows
    of each table. StoreError, with nothing written to the target, when the source is
    missing, the target unreachable or not empty, or a count differs at the end."""
    if not source.is_file():
        raise StoreError(f"{source}: no such SQLite store to copy")
    target = PostgresBackend(url)
    _refuse_a_filled_target(target)
    asyncio.run(_current_schema(source))  # the file at this engine's version, as opening it would make it
    db = PgDatabase(url)
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as sqlite:
            return _copy(sqlite, db, target, progress, batch_rows)
    finally:
        db.close()


async def _current_schema(source: Path) -> None:
    async with Store(source):
        pass


def _refuse_a_filled_target(target: PostgresBackend) -> None:
    try:
        with psycopg.connect(target.url, connect_timeout=10) as conn:
            tables = [str(name) for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]
    except psycopg.Error as exc:
        raise StoreError(f"{target.name}: cannot reach the PostgreSQL database: {_one_line(exc)}") from None
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(f"{target.name}: the database is not empty ({len(tables)} tables: {shown}); "
                         "migrate into a new, empty database (createdb), never over a store that is in use")


def _copy(sqlite: sqlite3.Connection, db: PgDatabase, target: PostgresBackend, progress: Callable[[str], None],
          batch_rows: int) -> list[Copied]:
    started, name = time.monotonic(), target.name
    copied: list[Copied] = []
    db.conn.execute("BEGIN")
    try:
        target.create_schema(db)
        tables = _tables(db)
        for table, columns in tables.items():
            if table in SEARCH_TABLES:
                select, columns = SEARCH_TABLES[table]
            else:
                _check_columns(sqlite, table, columns)
                select = f"SELECT {', '.join(_quoted(c) for c in columns)} FROM {_quoted(table)}"
            rows = _copy_rows(sqlite, db, select, table, columns, batch_rows)
            progress(f"{table}: {rows} rows")
            copied.append(Copied(table, rows))
        _set_identities(db)
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    _verify(sqlite, db, name, copied)
    progress(f"copied {sum(c.rows for c in copied)} rows of {len(copied)} tables into {name} "
             f"in {time.monotonic() - started:.1f} s; every table's count checked")
    return copied


def _tables(db: PgDatabase) -> dict[str, tuple[str, ...]]:
    """Every table of the PostgreSQL schema (but the version) with the columns it is
    written (generated ones left out), in the order of their creation."""
    tables: dict[str, tuple[str, ...]] = {}
    for row in db.conn.rows(
            "SELECT c.relname AS table_name, a.attname AS column_name FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
            " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND a.attgenerated = ''"
            " ORDER BY c.oid, a.attnum"):
        if row["table_name"] != VERSION_TABLE:
            tables.setdefault(str(row["table_name"]), ())
            tables[str(row["table_name"])] += (str(row["column_name"]),)
    return tables


def _check_columns(sqlite: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> None:
    have = {str(row[1]) for row in sqlite.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()}
    if have != set(columns):
        raise StoreError(f"{table}: the SQLite table's columns ({', '.join(sorted(have))}) are not "
                         f"PostgreSQL's ({', '.join(sorted(columns))})")


def _copy_rows(sqlite: sqlite3.Connection, db: PgDatabase, select: str, table: str, columns: tuple[str, ...],
               batch_rows: int) -> int:
    insert = (f"INSERT INTO {_quoted(table)} ({', '.join(_quoted(c) for c in columns)})"
              f" VALUES ({', '.join('?' for _ in columns)})")
    cursor = sqlite.execute(select)
    count = 0
    while batch := cursor.fetchmany(batch_rows):
        try:
            db.conn.executemany(insert, batch)
        except psycopg.Error as exc:
            raise StoreError(f"{table}: a row among {count + 1}-{count + len(batch)} cannot be copied: "
                             f"{_one_line(exc)}") from None
        count += len(batch)
    return count


def _set_identities(db: PgDatabase) -> None:
    """Each identity column numbers on past the largest id copied."""
    for row in db.conn.rows("SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema() AND is_identity = 'YES'"):
        table, column = _quoted(str(row["table_name"])), _quoted(str(row["column_name"]))
        db.conn.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), max({column})) FROM {table}"
                        f" HAVING max({column}) IS NOT NULL", [str(row["table_name"]), str(row["column_name"])])


def _verify(sqlite: sqlite3.Connection, db: PgDatabase, name: str, copied: list[Copied]) -> None:
    for item in copied:
        source = int(sqlite.execute(f"SELECT count(*) FROM {_quoted(item.table)}").fetchone()[0])
        target = int(db.conn.execute(f"SELECT count(*) FROM {_quoted(item.table)}").fetchone()[0])
        if not source == target == item.rows:
            raise StoreError(f"{name}: {item.table} holds {target} rows, the SQLite store {source}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _quoted(name: str) -> str:
    # Table and column names come from the two schemas, never from input.
    return '"' + name.replace('"', '""') + '"'
