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


def _controller_env(asterisk: RunningAsterisk, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A controller's settings on the session's Asterisk: its own database, every seat on
    duty all day, a wrap-up of a second."""
    roster = tmp_path / "roster.toml"
    roster.write_text('[[shift]]\nname = "all-day"\nstart = "00:00"\nend = "24:00"\n'
                      'seats = ["seat1", "seat2", "seat3", "seat4", "seat5", "seat6"]\n')
    database = tmp_path / "hotline.db"
    return asterisk.env | {"HOTLINE_PATHS_DATABASE": str(database), "HOTLINE_PATHS_ROSTER": str(roster),
                           "HOTLINE_CALLFLOW_WRAPUP_SECONDS": "1"}, database


async def test_a_controller_killed_mid_queue_and_restarted_completes_the_call_with_one_row(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    env, database = _controller_env(asterisk, tmp_path)
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


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"controller exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {log}: {log.read_text()[-2000:]}")


async def test_a_standby_takes_over_within_5_s_of_the_active_being_killed_and_serves_the_line_in_order(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    env, database = _controller_env(asterisk, tmp_path)
    settings = settings_for(env)
    active_log, standby_log = tmp_path / "active.log", tmp_path / "standby.log"
    active = _start_controller(env, active_log)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    with open(standby_log, "ab") as out:
        standby = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "controller"], env=full_env, cwd=HOME,
                                   stdout=out, stderr=subprocess.STDOUT)
    numbers = ["13800002221", "13800002222", "13800002223"]
    callers: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(_wait_for_line, standby_log, "standby: another controller is active", standby, 20)
        for number in numbers:  # no seat yet: they wait in line, in this order
            argv, _ = caller_argv(settings, tmp_path, number, 0, "citizen_caller_waits.xml", digit="0",
                                  digit_after_ms=600)
            callers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            await _until(lambda n=number: [r for r in _rows(database, n) if r["state"] == "queued"], 30,
                         f"{number} queued")
        killed_at = time.monotonic()
        active.send_signal(signal.SIGKILL)
        active.wait()

        def all_readopted() -> bool:
            rows = [r for n in numbers for r in _rows(database, n)]
            return len(rows) == 3 and all("READOPTED" in _events(database, str(r["call_id"])) for r in rows)

        await _until(all_readopted, 10, "the standby to re-adopt the three callers")
        takeover = time.monotonic() - killed_at
        assert takeover < 5.0, f"the standby took {takeover:.1f} s"
        assert "standby: the active controller is gone; taking over" in standby_log.read_text()
        assert all(caller.poll() is None for caller in callers), "every caller must still be on the line"
        with SeatPhone(settings, "seat1", tmp_path, answer_after_ms=200, hangs_up_after_ms=1500):
            codes = await asyncio.to_thread(lambda: [caller.wait(60) for caller in callers])
        assert codes == [0, 0, 0]
        await _until(lambda: all(r["state"] == "done" for n in numbers for r in _rows(database, n)), 15,
                     "the rows completed")
    finally:
        for proc in (*callers, active, standby):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    rows = [row for number in numbers for row in _rows(database, number)]
    assert [r["caller_number"] for r in rows] == numbers, rows  # one row each, nothing doubled
    assert all(r["outcome"] == "answered" and r["seat"] == "seat1" for r in rows), rows
    # Served in the order they joined the line, across the takeover.
    assert [str(r["seat_answered"]) for r in rows] == sorted(str(r["seat_answered"]) for r in rows), rows
    for row in rows:
        kinds = _events(database, str(row["call_id"]))
        assert kinds.count("ARRIVED") == 1 and kinds.count("READOPTED") == 1 and kinds.count("HANGUP") == 1, kinds
    print(f"standby took over (all three re-adopted) {takeover:.2f} s after the active was killed")
