"""`hotline cluster up --nodes N`: the whole cluster on this machine, each piece on its
own loopback address, started in order and stopped in reverse, by process id.

    PostgreSQL     127.0.0.20:5432   the store (database hotline) and Kamailio's tables
    Kamailio       127.0.0.10:5060   the hotline's one SIP address: phones register here
    node1..nodeN   127.0.0.11..      Asterisk 22, SIP 5060, ARI 8088 on its own address
    controllers    two `hotline controller --console` processes: one active (console on
                   127.0.0.1:8080), the other its standby; a controller that exits is
                   started again (as the standby)

Everything lives in one folder (`--folder`, by default /var/lib/hotline-cluster: the
servers run as their own users, which must reach it). The pids are written to
`cluster.json` there, so `hotline cluster down` (or Ctrl-C) stops what `up` started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from callcenter import pbx, processes
from callcenter.cluster import kamailio
from callcenter.cluster import nodes as cluster_nodes
from callcenter.errors import HotlineError
from callcenter.postgres import server as pg
from callcenter.settings import Settings, load_settings

DEFAULT_FOLDER = Path("/var/lib/hotline-cluster")
PROXY_ADDRESS = "127.0.0.10"
DATABASE_ADDRESS = "127.0.0.20"
STATE_FILE = "cluster.json"
Say = Callable[[str], None]


class ClusterError(HotlineError):
    """The cluster cannot be started (ports taken, a piece missing) or is not running."""


@dataclass(frozen=True)
class Layout:
    """Where each piece of a cluster of `nodes` Asterisk nodes lives."""

    folder: Path
    nodes: int
    # 0: the standard ports (SIP 5060, ARI 8088, AMI 5038, PostgreSQL 5432, console 8080);
    # else every port counted from this one (a second cluster beside the first, the tests).
    ports_from: int = 0

    def _port(self, standard: int, offset: int) -> int:
        return standard if not self.ports_from else self.ports_from + offset

    @property
    def proxy(self) -> tuple[str, int]:
        return PROXY_ADDRESS, self._port(5060, 0)

    @property
    def database(self) -> tuple[str, int]:
        return DATABASE_ADDRESS, self._port(5432, 1)

    @property
    def console_port(self) -> int:
        return self._port(8080, 2)

    def node_ports(self, index: int) -> tuple[int, int, int]:
        """A node's SIP, ARI (HTTP) and AMI ports."""
        return self._port(5060, 10 * index), self._port(8088, 10 * index + 1), self._port(5038, 10 * index + 2)

    def node_name(self, index: int) -> str:
        return f"node{index}"

    def node_address(self, index: int) -> str:
        return f"127.0.0.{10 + index}"

    def node_env(self, index: int) -> dict[str, str]:
        """A node's settings: its own address, state and RTP range; phones through Kamailio."""
        rtp = 10000 + (index - 1) * 4000
        sip, http, ami = self.node_ports(index)
        address = self.node_address(index)
        node = cluster_nodes.Node(self.node_name(index), address)
        return node.overrides(f"{self.proxy[0]}:{self.proxy[1]}", self.folder / node.name, self.recordings) | {
            "HOTLINE_ASTERISK_SIP_PORT": str(sip),
            "HOTLINE_ASTERISK_HTTP_BIND": address, "HOTLINE_ASTERISK_HTTP_PORT": str(http),
            "HOTLINE_ASTERISK_AMI_BIND": address, "HOTLINE_ASTERISK_AMI_PORT": str(ami),
            "HOTLINE_ASTERISK_RTP_START": str(rtp), "HOTLINE_ASTERISK_RTP_END": str(rtp + 3998),
            "HOTLINE_ASTERISK_QUALIFY_SECONDS": "5",
        }

    @property
    def recordings(self) -> Path:
        """One folder every node records into and the console serves (a shared filesystem
        in production: NFS or the like, mounted at the same path everywhere)."""
        return self.folder / "recordings"

    def controller_env(self, store_url: str) -> dict[str, str]:
        nodes = " ".join(f"{self.node_name(i)}=http://{self.node_address(i)}:{self.node_ports(i)[1]}/ari"
                         for i in range(1, self.nodes + 1))
        return {
            "HOTLINE_ASTERISK_MODE": "external", "HOTLINE_ASTERISK_NODES": nodes,
            "HOTLINE_ASTERISK_SYSTEM_NAME": self.node_name(1),
            "HOTLINE_ASTERISK_HTTP_BIND": self.node_address(1),
            "HOTLINE_ASTERISK_AMI_BIND": self.node_address(1),
            "HOTLINE_ASTERISK_SIP_BIND": self.proxy[0], "HOTLINE_ASTERISK_SIP_PORT": str(self.proxy[1]),
            "HOTLINE_WEB_PORT": str(self.console_port),
            "HOTLINE_STORE_URL": store_url,
            "HOTLINE_PATHS_STATE_DIR": str(self.folder / "controller"),
            "HOTLINE_PATHS_RECORDINGS_DIR": str(self.recordings),
        }


def _settings(env: dict[str, str]) -> Settings:
    return load_settings(env={k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env)


def _check_free(layout: Layout) -> None:
    import socket

    wanted = [(*layout.proxy, socket.SOCK_DGRAM, "Kamailio (SIP/UDP)"),
              (*layout.database, socket.SOCK_STREAM, "PostgreSQL"),
              ("127.0.0.1", layout.console_port, socket.SOCK_STREAM, "the console")]
    wanted += [(layout.node_address(i), port, kind, f"{layout.node_name(i)} {what}") for i in range(1, layout.nodes + 1)
               for port, kind, what in ((layout.node_ports(i)[0], socket.SOCK_DGRAM, "SIP"),
                                        (layout.node_ports(i)[1], socket.SOCK_STREAM, "ARI"))]
    for address, port, kind, what in wanted:
        with socket.socket(socket.AF_INET, kind) as probe:
            if kind == socket.SOCK_STREAM:  # as the servers do: a port in TIME_WAIT is free to listen on
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                raise ClusterError(f"{what}: {address}:{port} is taken ({exc.strerror}); is a cluster running? "
                                   "(`hotline cluster down`)") from None


def _ensure_installed(home: Path, say: Say) -> None:
    """Install Kamailio and PostgreSQL from Debian's packages if missing (as make run does)."""
    missing = [name for name in ("kamailio", "kamcmd") if shutil.which(name) is None]
    try:
        pg.binaries()
    except pg.PostgresError:
        missing.append("postgres")
    if missing:
        say(f"installing what the cluster needs ({', '.join(missing)} missing): scripts/setup.sh cluster")
        result = subprocess.run([str(home / "scripts" / "setup.sh"), "cluster"])
        if result.returncode != 0:
            raise ClusterError("scripts/setup.sh cluster failed; see above")


@dataclass
class Running:
    """What `up` started, by process id (and each node's settings, to stop it by)."""

    postgres: int = 0
    kamailio: int = 0
    nodes: list[dict[str, str]] = field(default_factory=list)
    controllers: list[int] = field(default_factory=list)

    def save(self, path: Path) -> None:
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(self)))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Running:
        data = json.loads(path.read_text())
        return cls(int(data.get("postgres") or 0), int(data.get("kamailio") or 0),
                   [dict(env) for env in data.get("nodes") or []], [int(p) for p in data.get("controllers") or []])

    def pids(self) -> list[int]:
        return [pid for pid in (*self.controllers, self.kamailio, self.postgres) if pid]


def _stop_all(state: Running, say: Say) -> None:
    """Stop what `up` started, in reverse: controllers, nodes, Kamailio, PostgreSQL."""
    for pid in state.controllers:
        processes.end(pid, _CONTROLLERS.pop(pid, None), "controller", signal.SIGTERM, 20)
    for env in reversed(state.nodes):
        pbx.stop(_settings(env), progress=lambda line: None)
    if state.kamailio:
        kamailio.stop(state.kamailio)
    if state.postgres:
        pg.stop(state.postgres)
    say("cluster stopped")


_CONTROLLERS: dict[int, subprocess.Popen[bytes]] = {}


def _controller(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    with open(log, "ab") as output:
        proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "controller", "--console"], env=full,
                                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    _CONTROLLERS[proc.pid] = proc
    return proc


def up(settings: Settings, nodes: int, folder: Path, say: Say = print, ports_from: int = 0) -> None:
    """Start the cluster and run until Ctrl-C (or SIGTERM), then stop all of it."""
    if not 1 <= nodes <= 8:
        raise ClusterError(f"--nodes must be 1 to 8, got {nodes}")
    if ports_from and not 1024 <= ports_from <= 65535 - 10 * nodes - 3:
        raise ClusterError(f"--ports-from must leave room for {10 * nodes + 3} ports above 1023, got {ports_from}")
    layout = Layout(folder, nodes, ports_from)
    state_file = folder / STATE_FILE
    if state_file.exists():
        raise ClusterError(f"a cluster seems to run already ({state_file}); `hotline cluster down` first")
    _ensure_installed(settings.home, say)
    _check_free(layout)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    layout.recordings.mkdir(exist_ok=True)
    state = Running()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # PostgreSQL: the store and Kamailio's tables, each its own database and role.
        secrets_file = folder / "secrets.json"
        if secrets_file.exists():
            passwords = json.loads(secrets_file.read_text())
        else:
            passwords = {"postgres": secrets.token_hex(16), "hotline": secrets.token_hex(16),
                         "kamailio": secrets.token_hex(16)}
            secrets_file.write_text(json.dumps(passwords))
            os.chmod(secrets_file, 0o600)
        database = pg.Server(folder / "postgres", layout.database[1], passwords["postgres"], host=layout.database[0])
        say(f"PostgreSQL   {layout.database[0]}:{layout.database[1]}  (data {database.data_dir})")
        state.postgres = database.start()
        state.save(state_file)
        store_url = database.create_database("hotline", "store", passwords["hotline"])
        kamailio_url = database.create_database("kamailio", "kamailio", passwords["kamailio"])
        # The phones' accounts: the nodes and Kamailio share the hotline's credentials.
        controller_env = layout.controller_env(store_url)
        controller_settings = _settings(controller_env)
        kamailio.prepare_database(kamailio_url, cluster_nodes.phone_accounts(controller_settings))
        node_settings = {layout.node_name(i): _settings(layout.node_env(i)) for i in range(1, nodes + 1)}
        cluster_nodes.share_credentials([controller_settings, *node_settings.values()])
        proxy = kamailio.Proxy(*layout.proxy, kamailio_url, cluster_nodes.dispatcher_targets(node_settings),
                               folder / "kamailio")
        where = f"{layout.proxy[0]}:{layout.proxy[1]}"
        say(f"Kamailio     {where}  (phones register here; citizens dial sip:{settings.hotline.number}@{where})")
        state.kamailio = kamailio.start(proxy, settings.home)
        state.save(state_file)
        from callcenter.prompts import build_prompts

        prompts = build_prompts(controller_settings, progress=say)
        pbx.provision(controller_settings, progress=say)
        for index, (name, node) in enumerate(node_settings.items(), start=1):
            say(f"{name:12} {node.asterisk.sip_bind}:{node.asterisk.sip_port}  (ARI :{node.asterisk.http_port})")
            pbx.start(node, prompts_dir=prompts, progress=lambda line: None)
            state.nodes.append(layout.node_env(index))
            state.save(state_file)
        logs = [folder / "controller-a.log", folder / "controller-b.log"]
        running = [_controller(controller_env, log) for log in logs]
        state.controllers = [proc.pid for proc in running]
        state.save(state_file)
        say(f"controllers  pids {running[0].pid} and {running[1].pid}: one active, one standby "
            f"(logs {logs[0]}, {logs[1]}); console at http://127.0.0.1:{layout.console_port}")
        say(f"store        {store_url.split('@')[-1]}  (hotline store migrate copies an SQLite store in)")
        say("Ctrl-C or `hotline cluster down` stops all of it.")
        while not stopping and state_file.exists():
            time.sleep(0.5)
            for slot, proc in enumerate(running):
                if proc.poll() is not None:  # supervised: a controller that ended comes back as the standby
                    _CONTROLLERS.pop(proc.pid, None)
                    say(f"controller {proc.pid} exited ({proc.returncode}); starting it again")
                    running[slot] = _controller(controller_env, logs[slot])
                    state.controllers = [p.pid for p in running]
                    state.save(state_file)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopping the cluster...")
        _stop_all(state, say)
        state_file.unlink(missing_ok=True)


def down(folder: Path, say: Say = print) -> None:
    """Stop a cluster that `up` runs (from another terminal): ask it, then make sure."""
    state_file = folder / STATE_FILE
    if not state_file.exists():
        raise ClusterError(f"no cluster runs from {folder} (no {STATE_FILE})")
    state = Running.load(state_file)
    state_file.unlink()  # `up` sees it gone and stops everything itself
    deadline = time.monotonic() + 60
    pids = state.pids()
    while time.monotonic() < deadline and any(processes.alive(pid) for pid in pids):
        time.sleep(0.5)
    if any(processes.alive(pid) for pid in pids):  # `up` is gone (killed): stop the pieces here
        _stop_all(state, say)
    say("cluster down")

