"""Kamailio in front of the Asterisk nodes: its configuration rendered from ours, its
tables in PostgreSQL, the process started and stopped by its id.

Debian 12's `kamailio` 5.6 with `kamailio-postgres-modules`. Kamailio keeps the seats'
and supervisors' locations (usrloc, written through to PostgreSQL), checks their digest
passwords (auth_db: the `subscriber` table, HA1 hashes of the hotline's credentials), and
spreads citizens' calls over the nodes (dispatcher: OPTIONS probes, failover). See
config/kamailio/kamailio.cfg.j2 for the routing.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from callcenter import processes
from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

PACKAGES = ("kamailio", "kamailio-postgres-modules")
SQL_DIR = Path("/usr/share/kamailio/postgres")
# The tables the configuration uses, from the SQL files Debian ships (in this order).
SQL_FILES = ("standard-create.sql", "usrloc-create.sql", "auth_db-create.sql")
START_TIMEOUT = 15.0
# The digest realm of every phone account (the HA1 hashes in `subscriber` are made with it).
REALM = "hotline"

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# More requests than this from one address in pike's 2 s unit: a flood, refused a while.
FLOOD_LIMIT = 400


class KamailioError(HotlineError):
    """Kamailio is missing, or cannot be configured, started or asked."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """One Kamailio: where it listens, its database, the nodes it sends citizens to."""

    address: str
    port: int
    db_url: str  # postgresql://user:password@host:port/database (written as Kamailio spells it)
    nodes: Sequence[tuple[str, str]]  # (node name, "address:port" of its SIP)
    runtime_dir: Path
    number: str = "12345"
    probe_seconds: int = 2
    give_up_ms: int = 2000
    children: int = 2
    flood_limit: int = FLOOD_LIMIT

    @property
    def config_file(self) -> Path:
        return self.runtime_dir / "kamailio.cfg"

    @property
    def dispatcher_list(self) -> Path:
        return self.runtime_dir / "dispatcher.list"

    @property
    def log_file(self) -> Path:
        return self.runtime_dir / "kamailio.log"

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "kamailio_ctl"


def module_path() -> Path:
    found = sorted(Path("/usr/lib").glob("*/kamailio/modules/dispatcher.so"))
    if not found:
        raise KamailioError(f"Kamailio is not installed (no dispatcher module): apt-get install {' '.join(PACKAGES)}")
    return found[0].parent


def render(proxy: Proxy, home: Path) -> Path:
    """Write kamailio.cfg and the dispatcher list into the proxy's runtime folder."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(home / "config" / "kamailio")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    for name, value in [("address", proxy.address), ("number", proxy.number), ("db_url", proxy.db_url),
                        *[(f"node {n}", a) for n, a in proxy.nodes]]:
        # Everything rendered into the configuration is checked: no quote or line break.
        if any(ch in str(value) for ch in '"\n\r\\'):
            raise KamailioError(f"kamailio: {name} {value!r} cannot be written into the configuration")
    proxy.runtime_dir.mkdir(parents=True, exist_ok=True)
    text = env.get_template("kamailio.cfg.j2").render(
        # db_postgres knows the scheme only as "postgres://".
        address=proxy.address, port=proxy.port, db_url=proxy.db_url.replace("postgresql://", "postgres://", 1),
        number=proxy.number,
        runtime_dir=proxy.runtime_dir, module_path=module_path(), dispatcher_list=proxy.dispatcher_list,
        probe_seconds=proxy.probe_seconds, give_up_ms=proxy.give_up_ms, children=proxy.children,
        flood_limit=proxy.flood_limit, realm=REALM)
    proxy.config_file.write_text(text)
    proxy.dispatcher_list.write_text(
        "# set destination flags priority attributes: the Asterisk nodes\n"
        + "".join(f"1 sip:{address} 0 0 name={name}\n" for name, address in proxy.nodes))
    return proxy.config_file


def _run_as() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("kamailio")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def check(proxy: Proxy) -> None:
    """Kamailio's own check of the rendered configuration (-c): a clear error, not a crash."""
    result = subprocess.run(["kamailio", "-c", "-f", str(proxy.config_file)], capture_output=True, text=True,
                            errors="replace")
    if result.returncode != 0:
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "ERROR" in line or "error" in line]
        raise KamailioError(f"kamailio: {proxy.config_file} is refused: {' | '.join(lines[-3:])}")


def start(proxy: Proxy, home: Path) -> int:
    """Render, check and start Kamailio in the foreground of its own process group;
    its pid once it answers on its control socket."""
    if shutil.which("kamailio") is None:
        raise KamailioError(f"Kamailio is not installed: apt-get install {' '.join(PACKAGES)}")
    render(proxy, home)
    check(proxy)
    owner = _run_as()
    if owner is not None:  # Kamailio drops to its own user; its runtime folder is its own
        os.chown(proxy.runtime_dir, *owner)
    proxy.control_socket.unlink(missing_ok=True)
    argv = ["kamailio", "-DD", "-E", "-f", str(proxy.config_file), "-Y", str(proxy.runtime_dir),
            "-m", "64", "-M", "8"]
    if owner is not None:
        argv += ["-u", "kamailio", "-g", "kamailio"]
    with open(proxy.log_file, "ab") as output:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise KamailioError(f"kamailio exited at start-up ({proc.returncode}): {_tail(proxy.log_file)}")
        if proxy.control_socket.exists():
            try:
                rpc(proxy, "core.version")
            except KamailioError:
                pass
            else:
                log.info("Kamailio on %s:%d (pid %d)", proxy.address, proxy.port, proc.pid)
                return proc.pid
        time.sleep(0.1)
    stop(proc.pid)
    raise KamailioError(f"kamailio did not answer within {START_TIMEOUT:.0f} s: {_tail(proxy.log_file)}")


def stop(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM to Kamailio's process group (its children with it); SIGKILL if it lingers."""
    processes.end(pid, _CHILDREN.pop(pid, None), "Kamailio", signal.SIGTERM, timeout, group=True)


def rpc(proxy: Proxy, *command: str) -> object:
    """A JSON-RPC command over the control socket (kamcmd), its result."""
    result = subprocess.run(["kamcmd", "-s", f"unix:{proxy.control_socket}", *command], capture_output=True,
                            text=True, errors="replace", timeout=10)
    # kamcmd exits 0 when the command itself fails: its answer then starts with "error:".
    if result.returncode != 0 or result.stdout.startswith("error:"):
        raise KamailioError(f"kamcmd {' '.join(command)}: {(result.stdout + result.stderr).strip()[-300:]}")
    return result.stdout


def node_states(proxy: Proxy) -> dict[str, str]:
    """Each node's state as the dispatcher sees it: "AP" active, "IP" inactive and probed..."""
    text = str(rpc(proxy, "dispatcher.list"))
    states: dict[str, str] = {}
    uri = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("URI:"):
            uri = line.split(":", 1)[1].strip()
        elif line.startswith("FLAGS:") and uri:
            states[uri.removeprefix("sip:")] = line.split(":", 1)[1].strip()
    names = {address: name for name, address in proxy.nodes}
    return {names.get(address, address): state for address, state in states.items()}


def prepare_database(url: str, accounts: Mapping[str, str]) -> None:
    """Kamailio's tables (once) and its subscribers: every phone account with its password."""
    from callcenter.cluster import repository

    sql = [(SQL_DIR / name).read_text() for name in SQL_FILES] if SQL_DIR.exists() else []
    if not sql:
        raise KamailioError(f"Kamailio's PostgreSQL tables are missing ({SQL_DIR}): "
                            f"apt-get install {' '.join(PACKAGES)}")
    repository.prepare(url, sql, accounts, REALM)


def _tail(path: Path) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-4:])
    except OSError:
        return "(no log)"

