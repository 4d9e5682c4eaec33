"""What the store's runtime asks of a database (`Backend`), and the object the
repositories are given (`Database`): sqlite-utils' Database on SQLite, its PostgreSQL
counterpart (`callcenter.store.postgres.PgDatabase`) on PostgreSQL. Both say which SQL
they speak in `db.dialect` ("sqlite" or "postgresql"), for the few statements that
differ."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

if TYPE_CHECKING:  # psycopg is imported only when a PostgreSQL store is opened
    from callcenter.store.postgres import PgDatabase
    from callcenter.store.sqlite import SqliteDatabase

Database = Union["SqliteDatabase", "PgDatabase"]


class Backend(Protocol):
    """One database the store runs on, driven from the store thread only."""

    dialect: str
    name: str  # shown in messages: the file, or the URL without its password
    errors: tuple[type[BaseException], ...]  # the driver's errors (reported as StoreError)

    def open(self) -> Any: ...  # the Database, migrated to SCHEMA_VERSION
    def refused(self, exc: BaseException) -> bool: ...  # the database refused: keep the writes
    def begin_batch(self, db: Any) -> None: ...  # the transaction a batch of queued writes is committed in
    def begin_transaction(self, db: Any) -> None: ...  # a read-check-write step no other process interleaves
    def read_only(self, db: Any) -> AbstractContextManager[None]: ...  # a snapshot's read transaction
    def close(self, db: Any) -> None: ...


def backend_for(target: Path | str, busy_timeout: float, trace: Callable[[str], None] | None = None) -> Backend:
    """A path (or an empty URL) is an SQLite file; a postgresql:// URL a PostgreSQL database."""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from callcenter.store.postgres import PostgresBackend

        return PostgresBackend(target)
    from callcenter.store.sqlite import SqliteBackend

    return SqliteBackend(Path(target), busy_timeout, trace)
