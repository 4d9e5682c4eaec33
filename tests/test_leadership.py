"""The controller's leadership: one holder at a time, the standby told who holds it, and
the lease free the moment its holder dies (file lock) or its connection ends (PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from callcenter.errors import HotlineError
from callcenter.leadership import LeadershipLost, file_leadership, leadership_for
from callcenter.leadership.lease import FileLeadership, acquire
from callcenter.leadership.postgres import PostgresLeadership
from callcenter.leadership.repository import LOCK_KEY
from tests.conftest import PostgresServer


async def test_a_second_file_lease_waits_and_names_the_holder_until_the_first_is_released(tmp_path: Path) -> None:
    first, second = file_leadership(tmp_path), file_leadership(tmp_path)
    assert await first.try_acquire()
    assert not await second.try_acquire()
    holder = await second.holder()
    assert holder is not None and holder.pid == os.getpid()
    with pytest.raises(HotlineError, match=f"another controller is active \\(pid {os.getpid()}"):
        await acquire(second, wait=False)
    await first.release()
    assert await second.try_acquire()
    await second.release()


async def test_a_file_lease_is_free_the_moment_its_holder_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / "controller.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        standby = FileLeadership(lock)
        said: list[str] = []
        waiting = asyncio.create_task(acquire(standby, said.append))
        await asyncio.sleep(0.7)
        assert not waiting.done() and said and said[0].startswith("standby:"), said
        killed_at = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - killed_at < 1.5  # one poll (0.5 s) after the death
        assert said[-1] == "standby: the active controller is gone; taking over"
        await standby.release()
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


async def test_keep_returns_when_a_file_lease_is_released(tmp_path: Path) -> None:
    lease = file_leadership(tmp_path)
    assert await lease.try_acquire()
    keeping = asyncio.create_task(lease.keep())
    await asyncio.sleep(0.1)
    assert not keeping.done()
    await lease.release()
    await asyncio.wait_for(keeping, 1)


def test_the_lease_follows_the_store(tmp_path: Path) -> None:
    assert isinstance(leadership_for(tmp_path, ""), FileLeadership)
    assert isinstance(leadership_for(tmp_path, "postgresql://h:pw@127.0.0.1:5432/hotline"), PostgresLeadership)


async def test_a_postgres_lease_has_one_holder_and_passes_when_its_session_ends(postgres: PostgresServer) -> None:
    url = postgres.fresh_database()
    first, second = PostgresLeadership(url), PostgresLeadership(url)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        holder = await second.holder()
        assert holder is not None and holder.pid == os.getpid(), holder
        keeping = asyncio.create_task(first.keep())
        # The holder's session ends (as when its process is killed), and the standby,
        # polling, takes the lock before the old holder is back.
        with psycopg.connect(url, autocommit=True) as admin:
            def lock_holders() -> list[int]:
                return [int(row[0]) for row in admin.execute(
                    "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s",
                    [LOCK_KEY]).fetchall()]

            old_session = lock_holders()
            ended = admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid",
                                  [old_session]).fetchall()
            assert ended == [(True,)]
            # pg_terminate_backend only signals: the lock is free once that backend is gone.
            deadline = time.monotonic() + 10
            while old_session[0] in lock_holders() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert old_session[0] not in lock_holders()
            # Whoever asks first after the session ended gets the lock; never both.
            if await second.try_acquire():
                with pytest.raises(LeadershipLost, match="another controller took the leadership"):
                    await asyncio.wait_for(keeping, 10)
            else:  # the old holder was back first (a loaded machine): it holds on, the standby waits
                assert len(lock_holders()) == 1 and not keeping.done()
                await asyncio.sleep(1.0)
                assert not keeping.done() and not await second.try_acquire()
                keeping.cancel()
    finally:
        await first.release()
        await second.release()


async def test_a_postgres_lease_survives_a_restart_of_its_server_and_is_lost_past_the_grace() -> None:
    import secrets
    import tempfile

    from callcenter.leadership import postgres as lease_module
    from callcenter.postgres import server as pg
    from tests.harness import free_port

    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    os.chmod(folder, 0o755)
    server = pg.Server(folder / "data", free_port(), secrets.token_hex(8))
    pid = server.start()
    holder, standby = PostgresLeadership(server.url()), PostgresLeadership(server.url())
    try:
        assert await holder.try_acquire()
        keeping = asyncio.create_task(holder.keep())
        pg.stop(pid)  # a fast shutdown ends every session: the lock is nobody's until it is back
        await asyncio.sleep(1.0)
        pid = server.start()
        await asyncio.sleep(2 * lease_module.CHECK_SECONDS + 1.0)
        assert not keeping.done()
        assert not await standby.try_acquire()  # the holder took it again
        pg.stop(pid)
        started = time.monotonic()
        with pytest.raises(LeadershipLost, match="PostgreSQL unreachable for 5 s"):
            await asyncio.wait_for(keeping, lease_module.GRACE_SECONDS + 5)
        assert time.monotonic() - started >= lease_module.GRACE_SECONDS - 0.5
    finally:
        await holder.release()
        await standby.release()
        pg.stop(pid)
        server.remove()
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_postgres_lease_on_a_server_that_is_down_is_not_taken(tmp_path: Path) -> None:
    from tests.harness import free_port

    lease = PostgresLeadership(f"postgresql://hotline:pw@127.0.0.1:{free_port()}/hotline")
    assert not await lease.try_acquire()
    assert await lease.holder() is None
    await lease.release()
