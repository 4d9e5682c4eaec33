"""Record the replay captures against the real Asterisk, all in one go:

    .venv/bin/python -m tests.replay.record              # as root: every scenario
    .venv/bin/python -m tests.replay.record answered     # some of them

Needs what the real-Asterisk tests need (root, the provisioned root, SIPp). Each scenario
runs the controller in-process (`tests.flow.hotline_for`, the quick call-flow timings,
the shift clock at 03:00: seat1 and seat2 on duty) with `HOTLINE_ARI_CAPTURE` set, drives
SIPp citizens and seat phones as `tests/test_call_flow.py` does, and writes beside the
capture `<name>.jsonl` a `<name>.json`: the settings it ran with and what the real run
stored (call rows, event kinds), which the replay must reproduce. Re-record after a
change in what Asterisk sends or answers; review the diff of the .json files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter import pbx
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, call_hotline, caller_argv, instance_env, settings_for
from tests.replay.fake_ari import ROW_FIELDS

CAPTURES = Path(__file__).resolve().parent / "captures"
CAPTURE_ENV = "HOTLINE_ARI_CAPTURE"
SHIFT_TIME = "03:00"


@dataclass(frozen=True)
class Scenario:
    summary: str
    run: Callable[[Path, dict[str, str]], Awaitable[None]]


# ----------------------------------------------------------------------------- scenarios


async def _waiting_caller(hotline: Hotline, number: str) -> subprocess.Popen[bytes]:
    """A citizen who presses 0 and waits until the hotline hangs up (the seat ended it)."""
    argv, _ = caller_argv(hotline.settings, hotline.workdir, number, 0, "citizen_caller_waits.xml", digit="0",
                          digit_after_ms=1000)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _ended(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    code = await asyncio.to_thread(proc.wait, timeout)
    if code != 0:
        raise RuntimeError(f"a SIPp citizen ended with {code}")


async def _caller(hotline: Hotline, number: str, hold_ms: int, digit: str | None) -> None:
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, number, hold_ms,
                                        digit=digit, digit_after_ms=800)
    if result.returncode != 0:
        raise RuntimeError(f"SIPp citizen {number}: {result.output}")


async def answered(workdir: Path, env: dict[str, str]) -> None:
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        with SeatPhone(hotline.settings, "seat1", workdir, answer_after_ms=500, hangs_up_after_ms=2000):
            await hotline.seat_registered("seat1")
            await _ended(await _waiting_caller(hotline, "13900000001"))
            await hotline.rows()


async def abandoned_in_ivr(workdir: Path, env: dict[str, str]) -> None:
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        await _caller(hotline, "13600000001", 1500, None)
        await hotline.rows()


async def abandoned_in_queue(workdir: Path, env: dict[str, str]) -> None:
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        await _caller(hotline, "13600000002", 3000, "0")  # no seat is registered
        await hotline.rows()


async def abandoned_while_ringing(workdir: Path, env: dict[str, str]) -> None:
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        with SeatPhone(hotline.settings, "seat1", workdir, answers=False):
            await hotline.seat_registered("seat1")
            await _caller(hotline, "13600000003", 2500, "0")  # hangs up before the 4 s ring time-out
            await hotline.rows()


async def seat_no_answer(workdir: Path, env: dict[str, str]) -> None:
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        with SeatPhone(hotline.settings, "seat1", workdir, answers=False), \
                SeatPhone(hotline.settings, "seat2", workdir, answer_after_ms=200):
            await hotline.seat_registered("seat1")
            await hotline.seat_registered("seat2")
            await _caller(hotline, "13700000001", 9000, "0")
            await hotline.rows()


async def readoption(workdir: Path, env: dict[str, str]) -> None:
    database = workdir / "hotline.db"
    async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
        caller = await _waiting_caller(hotline, "13800001111")
        try:
            async def queued() -> bool:
                return any(row["state"] == "queued" for row in await asyncio.to_thread(_rows, database))

            await hotline.wait_until(queued, 30, "the caller to be queued")
        except BaseException:
            caller.kill()
            caller.wait()
            raise
    # The first controller is gone, the caller still hears music on hold in Stasis; the
    # second one finds the call on connect and a seat that registers takes it.
    try:
        async with hotline_for(env, workdir, SHIFT_TIME) as hotline:
            with SeatPhone(hotline.settings, "seat1", workdir, answer_after_ms=200, hangs_up_after_ms=2000):
                await _ended(caller)
                await hotline.rows()
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


SCENARIOS = {
    "answered": Scenario("greeting, key 0, queue, seat1 answers and hangs up first", answered),
    "abandoned_in_ivr": Scenario("the citizen hangs up during the greeting", abandoned_in_ivr),
    "abandoned_in_queue": Scenario("key 0, no seat registered, the citizen hangs up in the queue",
                                   abandoned_in_queue),
    "abandoned_while_ringing": Scenario("seat1 rings and never answers, the citizen hangs up meanwhile",
                                        abandoned_while_ringing),
    "seat_no_answer": Scenario("seat1 lets it ring (paused: no-answer), seat2 answers, the citizen hangs up",
                               seat_no_answer),
    "readoption": Scenario("the controller restarts while the citizen waits; the new one re-adopts the call, "
                           "seat1 answers and hangs up", readoption),
}

# ----------------------------------------------------------------------------- capture files


def trim(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The capture without the seat poll's repeats: a GET whose answer is the one before
    (same path and query) says nothing new. A replay answers a GET with the last answer
    recorded before that moment, so dropping repeats changes no answer."""
    kept: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    for line in lines:
        if line.get("kind") == "start":
            last = {}  # a new controller: its first look at each resource is kept
        if line.get("kind") == "request" and line.get("method") == "GET":
            key = json.dumps([line["path"], line.get("params")], sort_keys=True)
            answer = [line.get("status"), line.get("reply"), line.get("error")]
            if last.get(key) == answer:
                continue
            last[key] = answer
        kept.append(line)
    return kept


def _rows(database: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY arrived_epoch, rowid")]


def stored(database: Path) -> dict[str, Any]:
    """What the real run stored, in the form the replay test compares."""
    calls = []
    events: dict[str, list[str]] = {}
    with sqlite3.connect(database) as db:
        for row in _rows(database):
            call_id = str(row["call_id"])
            entry = {"call_id": call_id, **{key: row[key] for key in ROW_FIELDS}}
            entry["recording"] = Path(str(row["recording_path"] or "")).name
            calls.append(entry)
            events[call_id] = [r[0] for r in db.execute(
                "SELECT kind FROM call_events WHERE call_id = ? ORDER BY id", (call_id,))]
    return {"calls": calls, "events": events}


async def record(names: list[str], out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-record-") as tmp:
        base = Path(tmp)
        env = instance_env(base / "asterisk")
        settings = settings_for(env)
        from callcenter.prompts import build_prompts

        pbx.provision(settings, progress=lambda line: None)
        prompts = build_prompts(settings, progress=lambda line: None)
        pbx.start(settings, prompts_dir=prompts, progress=lambda line: None)
        try:
            for name in names:
                workdir = base / name
                workdir.mkdir()
                raw = workdir / "capture.jsonl"
                os.environ[CAPTURE_ENV] = str(raw)
                try:
                    await SCENARIOS[name].run(workdir, env | FAST)
                finally:
                    del os.environ[CAPTURE_ENV]
                lines = trim(json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines())
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{name}.jsonl").write_text(
                    "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines),
                    encoding="utf-8")
                expected = {"scenario": SCENARIOS[name].summary, "settings": FAST, "shift_time": SHIFT_TIME,
                            **stored(workdir / "hotline.db")}
                (out / f"{name}.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n",
                                                  encoding="utf-8")
                events = sum(1 for line in lines if line["kind"] == "event")
                requests = sum(1 for line in lines if line["kind"] == "request")
                print(f"{name}: {len(expected['calls'])} call(s), {events} events, {requests} requests", flush=True)
        finally:
            pbx.stop(settings, progress=lambda line: None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help=f"scenarios, of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--out", type=Path, default=CAPTURES, help=f"folder of the captures (default {CAPTURES})")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIOS)}")
    if os.geteuid() != 0:
        print("recording needs the real Asterisk, which needs root (chroot, mount namespace)", file=sys.stderr)
        return 2
    asyncio.run(record(list(args.names) or list(SCENARIOS), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
