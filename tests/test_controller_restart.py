"""A controller killed with SIGKILL mid-queue and started again completes the call."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RunningAsterisk
from tests.harness import HOME, SeatPhone, caller_argv, settings_for

pytestmark = pytest.mark.asterisk


def _start_controller(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    out = open(log, "ab")  # noqa: SIM115 - handed to the child, closed by the caller
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "controller"], env=full_env, cwd=HOME,
                            stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "controller connected" in log.read_text(errors="replace").split("KILLED")[-1]:
            return proc
        if proc.poll() is not None:
            raise AssertionError(f"controller exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"controller did not connect: {log.read_text()[-2000:]}")


def _rows(database: Path, number: str) -> list[dict[str, object]]:
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM calls WHERE caller_number = ?", (number,))]


def _events(database: Path, call_id: str) -> list[str]:
    with sqlite3.connect(database) as db:
        return [r[0] for r in db.execute("SELECT kind FROM call_events WHERE call_id = ? ORDER BY id", (call_id,))]


async def _until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_controller_killed_mid_queue_and_restarted_completes_the_call_with_one_row(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[[shift]]\nname = "all-day"\nstart = "00:00"\nend = "24:00"\n'
                      'seats = ["seat1", "seat2", "seat3", "seat4", "seat5", "seat6"]\n')
    database = tmp_path / "hotline.db"
    env = asterisk.env | {"HOTLINE_PATHS_DATABASE": str(database), "HOTLINE_PATHS_ROSTER": str(roster),
                          "HOTLINE_CALLFLOW_WRAPUP_SECONDS": "1"}
    settings = settings_for(env)
    log = tmp_path / "controller.log"
    number = "13800001111"
    first = _start_controller(env, log)
    argv, _ = caller_argv(settings, tmp_path, number, 0, "citizen_caller_waits.xml", digit="0",
                          digit_after_ms=600)
    caller = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second: subprocess.Popen[bytes] | None = None
    try:
        # No seat is registered: the caller waits in the queue.
        await _until(lambda: [r for r in _rows(database, number) if r["state"] == "queued"], 30, "the caller queued")
        await asyncio.sleep(1.0)  # a second in line (its position announced), then the controller dies
        first.send_signal(signal.SIGKILL)
        first.wait()
        with open(log, "a") as out:
            out.write("\nKILLED\n")
        await asyncio.sleep(1.0)  # the controller stays away a second; the caller waits on
        assert caller.poll() is None, "the caller must still be on the line"
        second = _start_controller(env, log)
        with SeatPhone(settings, "seat1", tmp_path, answer_after_ms=200, hangs_up_after_ms=2000):
            code = await asyncio.to_thread(caller.wait, 60)
        assert code == 0
        await _until(lambda: _rows(database, number) and _rows(database, number)[0]["state"] == "done", 15,
                     "the row completed")
    finally:
        for proc in (caller, first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    if second is not None:
        second.wait()
    rows = _rows(database, number)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["outcome"] == "answered" and row["seat"] == "seat1", row
    for key in ("arrived", "answered", "queued", "seat_answered", "ended"):
        assert row[key], (key, row)
    kinds = _events(database, str(row["call_id"]))
    assert kinds.count("ARRIVED") == 1 and "READOPTED" in kinds and kinds.count("HANGUP") == 1, kinds
