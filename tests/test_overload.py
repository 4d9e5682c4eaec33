"""Overload and dead lines against the real Asterisk: a full line refuses the next caller
with a message and its own outcome; a caller who sends no RTP leaves the line."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.calls import machine as c
from callcenter.prompts import build_prompts
from callcenter.settings import Settings
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import caller_argv, first, instance_env, parse_message_log, settings_for, sipp

pytestmark = pytest.mark.asterisk

NO_MENU = {"HOTLINE_CALLFLOW_MENU": "false"}


async def _server_hangs_up(settings: Settings, workdir: Path, number: str) -> tuple[float, float]:
    """A citizen who waits until the hotline hangs up; (200 OK, BYE) times by SIPp's clock."""
    log = workdir / f"caller-{number}.log"
    result = await asyncio.to_thread(sipp, settings, "citizen_call_server_hangs_up.xml", "-s", settings.hotline.number,
                                     "-set", "caller", number, "-set", "caller_name", "Citizen",
                                     "-trace_msg", "-message_file", str(log), timeout=60)
    assert result.returncode == 0, result.output
    messages = parse_message_log(log)
    return first(messages, "received", "SIP/2.0 200 OK"), first(messages, "received", "BYE")


async def test_with_the_line_full_the_next_caller_hears_so_and_is_hung_up_with_outcome_line_full(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    env = asterisk.env | FAST | NO_MENU | {"HOTLINE_CALLFLOW_MAX_WAITING": "2"}
    async with hotline_for(env, tmp_path) as hotline:
        settings, controller = hotline.settings, hotline.controller
        # Two citizens wait (no seat is registered), filling the line.
        waiting = [subprocess.Popen(caller_argv(settings, tmp_path, number, 0, "citizen_caller_waits.xml",
                                                digit="0", digit_after_ms=600)[0],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for number in ("13900000031", "13900000032")]
        try:
            async def two_waiting() -> bool:  # in line, past the greeting
                return sum(1 for r in controller.calls.values() if r.call.phase is c.Phase.QUEUED) == 2

            await hotline.wait_until(two_waiting, 20, "two callers waiting")
            answered, bye = await _server_hangs_up(settings, tmp_path, "13900000033")
        finally:
            # The two who wait are hung up by the hotline (no orphan channel for later tests).
            for call_id in list(controller.calls):
                await controller.ari.hangup(call_id)
            for process in waiting:
                await asyncio.to_thread(process.wait, 20)
        rows = {str(r["caller_number"]): r for r in await hotline.settled()}
        events = await hotline.events(str(rows["13900000033"]["call_id"]))
    refused = rows["13900000033"]
    assert refused["outcome"] == "line_full" and refused["hangup_cause"].endswith("refused: the line is full")
    assert refused["queued"] is None and refused["wait_seconds"] in (None, 0)
    played = [str(e["data"]) for e in events if e["kind"] == "PLAYBACK"]
    assert len(played) == 1 and "line_busy" in played[0]  # the message, no greeting
    assert bye - answered > 3.0, bye - answered  # the whole message (about 5 s) before the line was cleared
    assert {rows[n]["outcome"] for n in ("13900000031", "13900000032")} == {"abandoned_queue"}


async def test_a_caller_who_sends_no_rtp_leaves_the_line_after_the_time_out(
        asterisk_root: Path, tmp_path: Path) -> None:
    env = instance_env(tmp_path, **FAST, **NO_MENU, HOTLINE_ASTERISK_RTP_TIMEOUT="8")
    settings = settings_for(env)
    pbx.start(settings, prompts_dir=build_prompts(settings, progress=lambda line: None), progress=lambda line: None)
    try:
        async with hotline_for(env, tmp_path) as hotline:
            # This SIPp citizen sends no RTP at all: a dead line (no seat is registered).
            answered, bye = await _server_hangs_up(settings, tmp_path, "13900000041")
            rows = await hotline.settled()
            assert not hotline.controller.calls and len(hotline.controller.queue) == 0
    finally:
        pbx.stop(settings, progress=lambda line: None)
    assert len(rows) == 1 and rows[0]["outcome"] == "abandoned_queue"
    assert 7.0 < bye - answered < 12.0, bye - answered
