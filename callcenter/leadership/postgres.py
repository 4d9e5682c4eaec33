"""The leadership as a PostgreSQL advisory lock (controllers on several machines).

A session-level advisory lock lives as long as the connection that took it: the server
drops it when the holder's connection ends, which a killed process's kernel does at
once (its socket is closed), and a dead machine's within the server's TCP keep-alive
(the hotline's own server: about 8 s, `callcenter.postgres.server`).

The holder checks its connection every `CHECK_SECONDS`. When the connection is gone (the
server restarted, the network) it connects again and takes the lock again: while the
server is down nobody can take it, so the holder drives on, its store keeping the writes
for later. It steps down (LeadershipLost) when another controller holds the lock once
the server answers again, or when it cannot reach the server for `GRACE_SECONDS`: less
than the server needs to notice a vanished peer, so that a holder cut off from the
database stops before a standby that can reach it may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

import psycopg
from psycopg import conninfo

from callcenter.leadership import repository
from callcenter.leadership.lease import Holder, LeadershipLost
from callcenter.leadership.repository import LOCK_KEY

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5
CONNECT_TIMEOUT = 2
GRACE_SECONDS = 5.0
APPLICATION = "hotline-controller"


class PostgresLeadership:
    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._held = False

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            # application_name carries who we are, so the standby can say who holds the lock.
            self._conn = await psycopg.AsyncConnection.connect(
                conninfo.make_conninfo(self.url, connect_timeout=CONNECT_TIMEOUT,
                                       application_name=f"{APPLICATION} {os.getpid()} {socket.gethostname()}"[:63],
                                       # TCP keep-alive: a server gone without a word is noticed in seconds.
                                       keepalives=1, keepalives_idle=2, keepalives_interval=1, keepalives_count=2),
                autocommit=True)
        return self._conn

    async def try_acquire(self) -> bool:
        if self._held:
            return True
        try:
            conn = await self._connection()
            held = await repository.try_lock(conn)
        except psycopg.OperationalError as exc:
            log.warning("leadership: PostgreSQL unreachable (%s); trying again", str(exc).strip()[:200])
            await self._drop()
            return False
        self._held = held
        if self._held:
            log.info("leadership: holding PostgreSQL advisory lock %d", LOCK_KEY)
        return self._held

    async def holder(self) -> Holder | None:
        try:
            conn = await self._connection()
            name = await repository.holder_application(conn)
        except psycopg.Error:
            return None
        if not name or not name.startswith(APPLICATION):
            return None
        parts = name.split()
        try:
            return Holder(int(parts[1]), parts[2])
        except (IndexError, ValueError):
            return None

    async def keep(self) -> None:
        cut_off_since: float | None = None
        while self._held:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                if self._conn is None or self._conn.closed:  # the session holding the lock ended
                    conn = await self._connection()
                    if not await repository.try_lock(conn):
                        self._held = False
                        raise LeadershipLost("another controller took the leadership while this one's connection "
                                             "to PostgreSQL was away")
                    log.warning("leadership: connection to PostgreSQL back, advisory lock %d held again", LOCK_KEY)
                else:
                    await asyncio.wait_for(repository.ping(self._conn), CONNECT_TIMEOUT)
                cut_off_since = None
            except (psycopg.Error, OSError, TimeoutError) as exc:
                await self._drop()
                now = time.monotonic()
                if cut_off_since is None:
                    cut_off_since = now
                    log.error("leadership: connection to PostgreSQL lost (%s); holding on for %.0f s",
                              str(exc).strip()[:200], GRACE_SECONDS)
                if now - cut_off_since >= GRACE_SECONDS:
                    self._held = False
                    raise LeadershipLost(f"PostgreSQL unreachable for {GRACE_SECONDS:.0f} s ({exc}); another "
                                         "controller may be active now") from exc

    async def release(self) -> None:
        self._held = False
        await self._drop()  # closing the session releases its advisory locks

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(psycopg.Error):
                await conn.close()
