"""The store on PostgreSQL: what only that backend has to show (the rest of the store's
tests run on both backends, `store_location`). A server restarted under load loses no
row and no event; a newer schema is refused; the URL never shows its password."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from callcenter.calls.repository import CallRepository
from callcenter.postgres import server as pg
from callcenter.store import SCHEMA_VERSION, THREAD_NAME, Store, StoreError
from callcenter.store.postgres import translated
from tests.conftest import PostgresServer
from tests.harness import free_port

T0 = "2026-11-28T21:35:12+08:00"
E0 = 1795872912.0


@pytest.fixture
def own_server() -> Iterator[pg.Server]:
    """A PostgreSQL server of this test's own, which it may stop and start again."""
    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-restart-"))
    os.chmod(folder, 0o755)
    server = pg.Server(folder / "data", free_port(), secrets.token_hex(12))
    server.start()
    try:
        yield server
    finally:
        if (server.data_dir / "postmaster.pid").exists():
            pg.stop(_pid_of(server))
        shutil.rmtree(folder, ignore_errors=True)


async def test_postgres_restarted_while_writes_are_queued_loses_no_row_or_event(
        own_server: pg.Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="callcenter.store")
    url = own_server.create_database("hotline")
    async with Store(url, batch_interval=0.05) as store:
        calls = CallRepository(store)
        for n in range(50):
            calls.save(f"before.{n}", caller_number="13800138000", arrived=T0, arrived_epoch=E0 + n, state="ivr")
            calls.log(f"before.{n}", "ARRIVED", E0 + n, T0, data={"n": n})
        await store.flush()
        await asyncio.to_thread(pg.stop, _pid_of(own_server))  # a fast shutdown: every session is ended
        # The hotline keeps taking calls meanwhile: each row changed several times, each step logged.
        for n in range(50):
            calls.save(f"before.{n}", state="queued", queue_seq=n)
            calls.save(f"during.{n}", caller_number="13900139000", arrived=T0, arrived_epoch=E0 + 100 + n,
                       state="ivr")
            calls.log(f"during.{n}", "ARRIVED", E0 + 100 + n, T0, data={"n": n})
            calls.save(f"during.{n}", state="done", outcome="answered")
        with pytest.raises(StoreError, match="cannot commit"):
            await store.flush()
        # Health shows the fault: the refusal, and writes waiting.
        assert store.commit_error is not None and store.failed_commits >= 1
        assert store.pending_writes > 0 and store.write_lag > 0
        await asyncio.to_thread(own_server.start)  # the same folder and port
        await store.flush()  # connects again and commits everything that waited
        assert _health(store) == (None, 0, 0)
        during = await calls.recent(number="13900139000", limit=100)
        before = await calls.recent(number="13800138000", limit=100)
        events = [e for n in range(50) for e in await calls.events(f"during.{n}")]
    assert len(during) == 50 and {(r["state"], r["outcome"]) for r in during} == {("done", "answered")}
    assert len(before) == 50 and {r["state"] for r in before} == {"queued"}
    assert sorted(int(str(e["data"]["n"])) for e in events) == list(range(50))  # type: ignore[index]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM call_events").fetchone() == (100,)
    assert any("connecting again" in r.getMessage() for r in caplog.records)


def _health(store: Store) -> tuple[str | None, int, int]:
    return store.commit_error, store.pending_writes, store.dropped_writes


def _pid_of(server: pg.Server) -> int:
    """The server's postmaster pid, from its data folder (as another process would find it)."""
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


async def test_a_postgres_database_newer_than_the_code_is_refused_clearly(postgres: PostgresServer) -> None:
    url = postgres.fresh_database()
    async with Store(url):
        pass
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match=rf"database schema version 99 is newer .*\({SCHEMA_VERSION}\)") as refused:
        await Store(url).start()
    assert postgres.server.password not in str(refused.value)
    assert [t for t in threading.enumerate() if t.name == THREAD_NAME] == []


async def test_a_postgres_database_of_something_else_is_not_taken_for_a_store(postgres: PostgresServer) -> None:
    url = postgres.fresh_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE payroll (id int)")
    with pytest.raises(StoreError, match="not a hotline store"):
        await Store(url).start()


async def test_an_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    url = f"postgresql://hotline:s3cret@127.0.0.1:{free_port()}/hotline"
    with pytest.raises(StoreError, match=r"postgresql://hotline:\*\*\*@127\.0\.0\.1") as refused:
        await Store(url).start()
    assert "s3cret" not in str(refused.value)


def test_placeholders_become_psycopg_ones_outside_quotes_and_casts() -> None:
    assert translated("SELECT * FROM t WHERE a = ? AND b = :name AND c LIKE '50%?' AND d::text = '?'") == (
        "SELECT * FROM t WHERE a = %s AND b = %(name)s AND c LIKE '50%%?' AND d::text = '?'")
    assert translated("SELECT a % 7 FROM t WHERE b = ?") == "SELECT a %% 7 FROM t WHERE b = %s"


async def test_a_postgres_store_of_an_older_version_is_brought_to_this_one(postgres: PostgresServer) -> None:
    url = postgres.fresh_database()
    async with Store(url):
        pass
    with psycopg.connect(url, autocommit=True) as conn:  # as the baseline left it, before calls.node
        conn.execute("ALTER TABLE calls DROP COLUMN node")
        conn.execute("UPDATE schema_version SET version = 16")
    async with Store(url) as store:
        CallRepository(store).save("1.1", node="node2", state="done")
        await store.flush()
        assert (await CallRepository(store).get("1.1") or {}).get("node") == "node2"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
