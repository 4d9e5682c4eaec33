"""The leadership's SQL: the PostgreSQL advisory lock and who holds it (`postgres`)."""

from __future__ import annotations

import psycopg

# The advisory lock's key: one per hotline database (a fixed number, "12345" and "ctrl").
LOCK_KEY = 12345_0001

Connection = psycopg.AsyncConnection[tuple[object, ...]]


async def try_lock(conn: Connection) -> bool:
    """Take the session-level lock if it is free (or ours already)."""
    row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])).fetchone()
    return bool(row and row[0])


async def holder_application(conn: Connection) -> str | None:
    """The application_name of the session holding the lock (None: nobody)."""
    row = await (await conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.classid = 0",
        [LOCK_KEY])).fetchone()
    return None if row is None else str(row[0])


async def ping(conn: Connection) -> None:
    await conn.execute("SELECT 1")
