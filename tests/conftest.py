from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.postgres.server import Server as PgServer
from callcenter.settings import Settings
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import free_port, instance_env, settings_for


def pytest_configure(config: pytest.Config) -> None:
    # A run ended with SIGTERM (a CI's time-out, `kill`) unwinds as Ctrl-C does, so the
    # session's fixtures stop the Asterisk and PostgreSQL they started; by default the
    # signal ends the process with them still running.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)


@dataclass
class RunningAsterisk:
    settings: Settings
    env: dict[str, str]
    pid: int


def _prompts(settings: Settings) -> Path:
    """The IVR prompts, built once per machine into a shared cache, copied per instance."""
    from callcenter.prompts import build_prompts

    return build_prompts(settings, progress=lambda line: None)


def _require_asterisk_prerequisites() -> None:
    if os.geteuid() != 0:
        pytest.skip("the real Asterisk needs root (chroot, mount namespace)")
    if shutil.which("sipp") is None:
        pytest.fail("SIPp is missing: run the README's test command, which installs sip-tester")


@pytest.fixture(scope="session")
def asterisk_root() -> Path:
    """The provisioned Asterisk root (built now if missing: about a minute)."""
    _require_asterisk_prerequisites()
    settings = settings_for(instance_env(Path("/nonexistent")))
    return pbx.provision(settings, progress=lambda line: None).path


@pytest.fixture(scope="session")
def asterisk(asterisk_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAsterisk]:
    """A real Asterisk 22 on free loopback ports for the whole test session."""
    state = tmp_path_factory.mktemp("asterisk-session")
    # Callbacks to citizens go out over a trunk: in tests, a SIPp UAS on this port (test_callbacks).
    env = instance_env(state, HOTLINE_CALLBACKS_TRUNK=f"127.0.0.1:{free_port()}")
    settings = settings_for(env)
    prompts = _prompts(settings)
    pid = pbx.start(settings, prompts_dir=prompts, progress=lambda line: None)
    try:
        yield RunningAsterisk(settings, env, pid)
    finally:
        pbx.stop(settings, progress=lambda line: None)
        assert pid not in pbx._CHILDREN, "the session's Asterisk was not reaped"


@pytest.fixture
async def hotline(asterisk: RunningAsterisk, tmp_path: Path) -> AsyncIterator[Hotline]:
    """The controller in-process against the session's Asterisk, with quick timings and
    the shift clock at 03:00 (the night shift: seat1 and seat2)."""
    async with hotline_for(asterisk.env | FAST, tmp_path) as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL 15 server for the session, on loopback and a free port
    (a folder directly under /tmp: under root, its server runs as `postgres`, which must
    be able to reach it). Tests take a database each (`fresh_database`)."""
    import secrets
    import tempfile

    from callcenter.postgres import server as pg

    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    os.chmod(folder, 0o755)
    running = pg.Server(folder / "data", free_port(), secrets.token_hex(12))
    pid = running.start()
    try:
        yield PostgresServer(running, pid)
    finally:
        pg.stop(pid)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's store is, once on each backend: an SQLite file, or a new database on
    the session's PostgreSQL server (its URL)."""
    if request.param == "sqlite":
        return tmp_path / "state" / "hotline.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_database()


@dataclass
class PostgresServer:
    server: PgServer
    pid: int
    databases: int = 0

    def fresh_database(self) -> str:
        """A new empty database on the session's server; its URL."""
        self.databases += 1
        return self.server.create_database(f"test{self.databases}_{os.getpid()}")
