"""The seed's nuisance case against the real Asterisk: one number, six short calls."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from callcenter import nuisance
from tests.conftest import RunningAsterisk
from tests.flow import Hotline, hotline_for
from tests.harness import SeatPhone, call_hotline, caller_argv

pytestmark = pytest.mark.asterisk

FAST = {"HOTLINE_CALLFLOW_WRAPUP_SECONDS": "0.5", "HOTLINE_CALLFLOW_MENU_TIMEOUT": "2",
        "HOTLINE_CALLFLOW_RING_TIMEOUT": "4"}
CHILD = "13566667777"


@pytest.fixture
async def hotline(asterisk: RunningAsterisk, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with hotline_for(asterisk.env | FAST, tmp_path) as running:
        yield running


async def _short_call(hotline: Hotline, number: str, hold_ms: int = 3000) -> None:
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, number, hold_ms,
                                        digit="0", digit_after_ms=500)
    assert result.returncode == 0, result.output


async def _rows(hotline: Hotline, number: str) -> list[dict[str, object]]:
    return sorted([r for r in await hotline.rows() if r["caller_number"] == number],
                  key=lambda r: float(str(r["arrived_epoch"])))


def _t(value: object) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


async def test_six_short_calls_flag_the_number_at_the_third_and_a_waiting_citizen_goes_first(
        hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200):
        await hotline.seat_registered("seat1")
        for _ in range(3):
            await _short_call(hotline, CHILD)
            await hotline.settled()  # the number is judged after each call
            await hotline.seats_free()
    flags = await hotline.services.nuisance.active_flags()
    assert [(f.number, f.rule) for f in flags] == [(CHILD, nuisance.RULE_REPEAT)]

    # The fourth call waits in line (no seat free) when a citizen calls: the citizen goes first.
    child_argv, _ = caller_argv(hotline.settings, hotline.workdir, CHILD, 0, "citizen_caller_waits.xml",
                                digit_after_ms=500)
    citizen_argv, _ = caller_argv(hotline.settings, hotline.workdir, "13811112222", 0, "citizen_caller_waits.xml",
                                  digit_after_ms=500)
    child = subprocess.Popen(child_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def child_waiting() -> bool:
        return len(hotline.controller.queue) == 1

    await hotline.wait_until(child_waiting, 40, "the child in line, after the warning")
    citizen = subprocess.Popen(citizen_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def both_waiting() -> bool:
            return len(hotline.controller.queue) == 2

        await hotline.wait_until(both_waiting, 40, "the child and the citizen both in line")
        head_of_line = hotline.controller.queue.ordered()[0].call_id
        assert head_of_line != (await _rows(hotline, CHILD))[-1]["call_id"], "the flagged number must wait behind"
        with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200, hangs_up_after_ms=1500):
            codes = await asyncio.to_thread(lambda: (citizen.wait(60), child.wait(60)))
    finally:
        for proc in (child, citizen):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert codes == (0, 0)
    # The fifth and sixth at once, to both night seats: each hears the warning first now.
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200), \
            SeatPhone(hotline.settings, "seat2", hotline.workdir, answer_after_ms=200):
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        await asyncio.gather(*(_short_call(hotline, CHILD, hold_ms=16000) for _ in range(2)))
        await hotline.settled()
        await hotline.seats_free()

    calls = await _rows(hotline, CHILD)
    assert len(calls) == 6
    assert [r["nuisance"] for r in calls] == [0, 0, 0, 1, 1, 1]
    assert all(r["nuisance_rule"] == nuisance.RULE_REPEAT for r in calls[3:])
    assert all(r["outcome"] == "answered" for r in calls)
    for row in calls[3:]:
        events = await hotline.events(str(row["call_id"]))
        prompts = [e["data"].get("prompt") for e in events if e["kind"] == "PLAYBACK"]
        assert "nuisance_warning" in prompts, prompts
    citizen_row = (await _rows(hotline, "13811112222"))[0]
    assert citizen_row["nuisance"] == 0 and citizen_row["outcome"] == "answered"
    assert _t(citizen_row["seat_answered"]) < _t(calls[3]["seat_answered"])
    # The citizen queued later, yet went first (the events' times: the rows' are to the second).
    async def queued_at(call_id: object) -> float:
        events = await hotline.events(str(call_id))
        return float(next(e["at_epoch"] for e in events if e["kind"] == "ENTERQUEUE"))

    assert await queued_at(citizen_row["call_id"]) > await queued_at(calls[3]["call_id"])


async def test_a_citizen_calling_three_times_with_long_calls_is_not_flagged(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    # "Long" relative to the rule: the short-call limit is lowered so the test stays quick.
    async with hotline_for(asterisk.env | FAST | {"HOTLINE_NUISANCE_SHORT_CALL_SECONDS": "2"}, tmp_path) as hotline:
        with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200):
            await hotline.seat_registered("seat1")
            for _ in range(3):
                await _short_call(hotline, "13922223333", hold_ms=6000)
                await hotline.settled()
                await hotline.seats_free()
        rows = await _rows(hotline, "13922223333")
        assert len(rows) == 3 and all(int(str(r["talk_seconds"])) > 2 for r in rows), rows
        assert await hotline.services.nuisance.active_flags() == []
