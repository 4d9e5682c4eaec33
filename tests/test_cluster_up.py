"""`hotline cluster up` for real: the whole cluster from one command (PostgreSQL, Kamailio,
two Asterisk nodes, two controllers), a call through it, and `hotline cluster down`
stopping every process it started."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from callcenter import processes
from tests.conftest import RunningAsterisk
from tests.harness import HOME, SeatPhone, caller_argv, settings_for

pytestmark = pytest.mark.asterisk


def test_cluster_up_serves_a_call_through_kamailio_and_cluster_down_stops_every_process(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="hotline-cluster-up-"))
    os.chmod(folder, 0o755)
    # The prompts the session built, so the cluster does not speak them all again.
    cache = folder / "controller" / "prompts" / ".cache"
    shutil.copytree(asterisk.settings.paths.state_dir / "prompts" / ".cache", cache)
    base = random.randrange(40000, 60000, 100)  # the command itself refuses ports in use
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | {"HOTLINE_HOME": str(HOME)}
    if "HOTLINE_PATHS_ASTERISK_ROOT" in os.environ:
        env["HOTLINE_PATHS_ASTERISK_ROOT"] = os.environ["HOTLINE_PATHS_ASTERISK_ROOT"]
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "cluster", "up", "--nodes", "2",
                               "--folder", str(folder), "--ports-from", str(base)], env=env, cwd=HOME,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    state: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 120
        while "stops all of it" not in log.read_text(errors="replace"):
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        printed = log.read_text()
        assert f"Kamailio     127.0.0.10:{base}" in printed and "node2        127.0.0.12:" in printed, printed
        state = json.loads((folder / "cluster.json").read_text())
        secrets = json.loads((folder / "secrets.json").read_text())
        store_url = f"postgresql://store:{secrets['hotline']}@127.0.0.20:{base + 1}/hotline"
        controller = settings_for({"HOTLINE_PATHS_STATE_DIR": str(folder / "controller")})

        def active() -> bool:
            return any("controller connected" in (folder / f"controller-{x}.log").read_text(errors="replace")
                       for x in "ab" if (folder / f"controller-{x}.log").exists())

        deadline = time.monotonic() + 60
        while not active():
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        # Every seat's phone at Kamailio (whichever shift the wall clock is in), then a citizen.
        phones = [SeatPhone(controller, f"seat{n}", tmp_path, answer_after_ms=200, hangs_up_after_ms=1000,
                            target=f"127.0.0.10:{base}") for n in range(1, 7)]
        for phone in phones:
            phone.start()
        try:
            time.sleep(8)  # the nodes' qualify (every 5 s) sees the phones through Kamailio
            argv, _ = caller_argv(controller, tmp_path, "13955550000", 0, "citizen_caller_waits.xml",
                                  target=f"127.0.0.10:{base}")
            assert subprocess.run(argv, capture_output=True, timeout=90).returncode == 0
        finally:
            for phone in phones:
                phone.stop()
        deadline = time.monotonic() + 20
        row: tuple[object, ...] | None = None
        while row is None or row[0] != "done":
            assert time.monotonic() < deadline, row
            with psycopg.connect(store_url) as conn:
                row = conn.execute("SELECT state, outcome, node FROM calls WHERE caller_number = '13955550000'"
                                   ).fetchone()
            time.sleep(0.3)
        assert row[1] == "answered" and row[2] in ("node1", "node2"), row
        down = subprocess.run([sys.executable, "-m", "callcenter.cli", "cluster", "down", "--folder", str(folder)],
                              env=env, cwd=HOME, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0 and "cluster down" in down.stdout, down.stdout + down.stderr
        assert up.wait(60) == 0
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(60)
        shutil.rmtree(folder, ignore_errors=True)
    controllers = state.get("controllers")
    pids = [*(controllers if isinstance(controllers, list) else []), state.get("kamailio"), state.get("postgres")]
    assert len([p for p in pids if p]) == 4 and not [p for p in pids if p and processes.alive(int(str(p)))], pids
    # Nothing it started is left: no process names the cluster's folder, no node answers.
    assert not _processes_mentioning(str(folder)), _processes_mentioning(str(folder))
    for index in (1, 2):
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect((f"127.0.0.1{index}", base + 10 * index + 1))


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line and "pytest" not in line:
            found.append(line[:200])
    return found
