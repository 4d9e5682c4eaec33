"""The hotline's own PostgreSQL server: started on a free loopback port, databases made
on it, stopped by its process id."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import psycopg
import pytest

from callcenter.postgres import server as pg
from tests.conftest import PostgresServer
from tests.harness import free_port


def test_a_fresh_database_takes_writes_and_is_refused_a_wrong_password(postgres: PostgresServer) -> None:
    url = postgres.fresh_database()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE t (n integer)")
        conn.execute("INSERT INTO t VALUES (42)")
        conn.commit()
        row = conn.execute("SELECT n FROM t").fetchone()
    assert row == (42,)
    wrong = url.replace(postgres.server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_a_server_stopped_by_pid_is_gone_and_keeps_its_data_for_the_next_start() -> None:
    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    os.chmod(folder, 0o755)
    server = pg.Server(folder / "data", free_port(), secrets.token_hex(8))
    try:
        pid = server.start()
        url = server.create_database("kept")
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (word text)")
            conn.execute("INSERT INTO kept VALUES ('留单')")
        pg.stop(pid)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert not server.ready()
        pid = server.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT word FROM kept").fetchone() == ("留单",)
        pg.stop(pid)
    finally:
        server.remove()
        os.rmdir(folder)


def test_a_port_taken_is_a_clear_error_not_a_hang() -> None:
    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    os.chmod(folder, 0o755)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = pg.Server(folder / "data", taken.getsockname()[1], "pw")
        try:
            with pytest.raises(pg.PostgresError, match="exited at start-up"):
                server.start()
        finally:
            server.remove()
            os.rmdir(folder)
