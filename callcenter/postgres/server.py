"""A PostgreSQL server of the hotline's own: Debian's PostgreSQL 15 binaries run on a
data folder of ours, on loopback and a port we choose, stopped by its process id.

Used by the tests (a throw-away server per session) and by `hotline cluster up` (the
cluster's store and Kamailio's locations). A production city points `store.url` at the
PostgreSQL its operations team runs instead; nothing here is needed then.

PostgreSQL refuses to run as root, so when the hotline runs as root the server runs as
Debian's `postgres` user, and its folders belong to that user.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from callcenter import processes
from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

PACKAGES = ("postgresql-15", "postgresql-client-15")
BIN_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "hotline"
START_TIMEOUT = 30.0

# The servers this process started, by pid: kept so that they are reaped (never zombies)
# and their Popen objects do not warn of a child still running when dropped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class PostgresError(HotlineError):
    """PostgreSQL is missing, or its server cannot be initialised, started or stopped."""


def binaries() -> Path:
    """The newest installed server's bin folder (Debian keeps each major version apart)."""
    versions = sorted((p for p in BIN_ROOT.glob("*/bin") if (p / "postgres").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise PostgresError(f"PostgreSQL is not installed (no {BIN_ROOT}/*/bin/postgres): "
                            f"apt-get install {' '.join(PACKAGES)}")
    return versions[-1]


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as: Debian's `postgres` user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresError("running as root, but there is no `postgres` user to run PostgreSQL as "
                            f"(apt-get install {' '.join(PACKAGES)} creates it)") from exc
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True, slots=True)
class Server:
    """One server: its data folder, where it listens, and its superuser's password."""

    data_dir: Path
    port: int
    password: str
    host: str = "127.0.0.1"

    @property
    def socket_dir(self) -> Path:
        # Beside the data, not /var/run/postgresql: ours must not meet the system's server.
        return self.data_dir.parent / f"{self.data_dir.name}-socket"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@{self.host}:{self.port}/{database}"

    # --- life cycle ---------------------------------------------------------------------

    def initialise(self) -> None:
        """initdb the data folder (once: an initialised folder is left as it is)."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        owner = _run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
        pwfile.write_text(self.password + "\n")
        try:
            if owner is not None:
                for path in (self.data_dir, pwfile):
                    os.chown(path, *owner)
            os.chmod(pwfile, 0o600)
            self._check_call([str(binaries() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                              "--pwfile", str(pwfile), "--auth=scram-sha-256", "--encoding=UTF8",
                              "--locale=C.UTF-8"], "initdb")
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> int:
        """Start the server and return its process id once it accepts connections."""
        binaries()
        self.initialise()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        owner = _run_as()
        if owner is not None:
            os.chown(self.socket_dir, *owner)
        with open(self.log_file, "ab") as output:
            if owner is not None:
                os.chown(self.log_file, *owner)
            proc = subprocess.Popen(
                [str(binaries() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", f"listen_addresses={self.host}", "-c", f"unix_socket_directories={self.socket_dir}",
                 # The hotline's own server: a few controllers, Kamailio and the tests.
                 "-c", "max_connections=100", "-c", "shared_buffers=64MB", "-c", "fsync=on",
                 # A client gone without a word (its machine died, the network split) is
                 # noticed in about 8 s, and its session ended: its advisory lock (the
                 # controller's leadership) passes to the standby then, not hours later.
                 "-c", "tcp_keepalives_idle=5", "-c", "tcp_keepalives_interval=1",
                 "-c", "tcp_keepalives_count=3"],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                user=owner[0] if owner else None, group=owner[1] if owner else None,
                start_new_session=True)
        _CHILDREN[proc.pid] = proc
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PostgresError(f"PostgreSQL on port {self.port} exited at start-up "
                                    f"({proc.returncode}): {self._tail()}")
            if self.ready():
                log.info("PostgreSQL %s listening on %s:%d (pid %d)", self.data_dir, self.host, self.port, proc.pid)
                return proc.pid
            time.sleep(0.1)
        stop(proc.pid)
        raise PostgresError(f"PostgreSQL on port {self.port} did not accept connections within "
                            f"{START_TIMEOUT:.0f} s: {self._tail()}")

    def ready(self) -> bool:
        result = subprocess.run([str(binaries() / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port)],
                                capture_output=True)
        return result.returncode == 0

    def create_database(self, name: str, owner: str = SUPERUSER, password: str | None = None) -> str:
        """Create the role (if not the superuser) and the database if missing; its URL."""
        import psycopg

        from callcenter.postgres import repository

        with psycopg.connect(self.url(), autocommit=True) as conn:
            if owner != SUPERUSER:
                repository.ensure_role(conn, owner, password or self.password)
            repository.ensure_database(conn, name, owner)
        return self.url(name, owner, password)

    def remove(self) -> None:
        """Delete the data folder and what lies beside it (the server must be stopped)."""
        for path in (self.data_dir, self.socket_dir):
            shutil.rmtree(path, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)

    def _check_call(self, argv: list[str], what: str) -> None:
        owner = _run_as()
        result = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                user=owner[0] if owner else None, group=owner[1] if owner else None)
        if result.returncode != 0:
            raise PostgresError(f"{what} {self.data_dir} failed ({result.returncode}): "
                                f"{(result.stdout + result.stderr).strip()[-500:]}")

    def _tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-3:])
        except OSError:
            return "(no log)"


def stop(pid: int, timeout: float = 15.0) -> None:
    """Stop a server by its process id: SIGINT is PostgreSQL's fast shutdown (sessions are
    ended, everything committed stays); SIGKILL only if it does not end in time."""
    processes.end(pid, _CHILDREN.pop(pid, None), "PostgreSQL", signal.SIGINT, timeout)
