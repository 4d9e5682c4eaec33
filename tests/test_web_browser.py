"""The console in a real browser (Debian's chromium, headless, driven by Playwright)
against the real Asterisk with SIPp calls. Screenshots go to test-output/."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from callcenter.users import read_generated_passwords
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import SeatPhone, caller_argv, free_port
from tests.web_helpers import OUTPUT, browser_log_in, chromium

pytestmark = pytest.mark.asterisk

NUMBER = "13912345678"


async def _seconds_shown(page: Any, selector: str) -> int:
    text = await page.inner_text(selector)
    minutes, seconds = text.split(":")[-2:]
    return int(minutes) * 60 + int(seconds)


async def test_a_supervisor_watches_a_call_come_and_go_finds_it_and_plays_it_while_its_operator_summarises_it(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    OUTPUT.mkdir(exist_ok=True)
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        settings = hotline.settings
        calls = hotline.services.calls
        port = free_port((socket.SOCK_STREAM,))
        async with web_running(settings, hotline.services, hotline.controller, bind="127.0.0.1", port=port) as url, \
                chromium() as browser:
            passwords = read_generated_passwords(settings.paths.state_dir)
            supervisor = await browser_log_in(browser, url, "supervisor", passwords["supervisor"])
            assert supervisor.url.endswith("/wallboard")
            await supervisor.wait_for_selector("#live-status[data-state=live]")
            operator = await browser_log_in(browser, url, "seat1", passwords["seat1"])
            assert operator.url.endswith("/operator")

            # A citizen presses 2 (complaint) and waits: no seat phone is registered yet.
            argv, _ = caller_argv(settings, hotline.workdir, NUMBER, 0, "citizen_caller_waits.xml", digit="2",
                                  digit_after_ms=800)
            caller = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
            try:
                waiting = f'#waiting tr[data-number="{NUMBER}"]'
                await supervisor.wait_for_selector(waiting, timeout=20000)
                assert await supervisor.inner_text(f"{waiting} td:nth-child(5)") == "投诉举报"
                first = await _seconds_shown(supervisor, f"{waiting} .waited")
                await asyncio.sleep(3.2)  # pushed every second; a loaded machine may skip one
                assert await _seconds_shown(supervisor, f"{waiting} .waited") >= first + 2  # ticks without a reload
                assert await supervisor.inner_text('[data-figure="waiting"]') == "1"
                await supervisor.screenshot(path=str(OUTPUT / "wallboard.png"))

                # Seat 1's phone registers, is rung, answers, talks 6 s and hangs up.
                with SeatPhone(settings, "seat1", hotline.workdir, answer_after_ms=300, hangs_up_after_ms=6000):
                    await supervisor.wait_for_selector(waiting, state="detached", timeout=30000)
                    await supervisor.wait_for_selector('.seat-card[data-seat="seat1"][data-state="talking"]',
                                                       timeout=10000)
                    await supervisor.screenshot(path=str(OUTPUT / "wallboard-talking.png"))
                    # The operator sees the call on their seat, with the caller's menu choice.
                    await operator.wait_for_selector("#current[data-live=yes]", timeout=10000)
                    assert await operator.inner_text("#call-number") == NUMBER
                    assert await operator.inner_text("#call-menu-category") == "投诉举报"
                    assert await operator.is_hidden("#call-flagged")
                    await operator.select_option("#category", "help")
                    await operator.fill("#summary", "市民反映路灯损坏，已记录并转交。")
                    await operator.click("#save-summary")
                    await operator.wait_for_selector('#summary-status:text-is("已保存")')
                    await operator.screenshot(path=str(OUTPUT / "operator.png"))
                    code = await asyncio.to_thread(caller.wait, 60)
                    assert code == 0, caller.stderr.read().decode(errors="replace")[-800:] if caller.stderr else ""
                await supervisor.wait_for_selector('.seat-card[data-seat="seat1"]:not([data-state="talking"])',
                                                   timeout=10000)
            finally:
                if caller.poll() is None:
                    caller.kill()
                    caller.wait()
                if caller.stderr is not None:
                    caller.stderr.close()

            # The call's row is complete once its recording is measured.
            rows = await hotline.rows()
            assert len(rows) == 1 and rows[0]["outcome"] == "answered" and rows[0]["seat"] == "seat1", rows
            call_id = str(rows[0]["call_id"])
            deadline = time.monotonic() + 10
            while (await calls.get(call_id) or {}).get("recording_seconds") is None:
                assert time.monotonic() < deadline, "the recording was never measured"
                await asyncio.sleep(0.2)
            row = await calls.get(call_id)
            assert row is not None

            # The call log finds it by number; its page plays the recording.
            await supervisor.click('nav a[href="/calls"]')
            await supervisor.fill("#number", NUMBER[:7])
            await supervisor.select_option("#outcome", "answered")
            await supervisor.click("#search-button")
            listed = f'#calls tr[data-call-id="{call_id}"]'
            await supervisor.wait_for_selector(listed)
            assert "求助" in await supervisor.inner_text(listed)  # the operator's category
            await supervisor.screenshot(path=str(OUTPUT / "call-log.png"))
            await supervisor.click(f"{listed} a.open-call")
            await supervisor.wait_for_selector('#timeline li[data-kind="SUMMARY"]')
            await supervisor.wait_for_selector("#player[data-state=loadedmetadata]")
            await supervisor.click("#play")
            await supervisor.wait_for_selector("#player[data-state=playing]", timeout=10000)
            duration = await supervisor.evaluate("document.getElementById('player').duration")
            # The audio element's length is the recording's, and the recording is the whole call.
            assert abs(duration - float(str(row["recording_seconds"]))) < 0.2, (duration, row["recording_seconds"])
            assert abs(duration - float(str(row["total_seconds"]))) <= 1.5, (duration, row["total_seconds"])
            # Seeking works: the server answers the range requests it makes.
            await supervisor.evaluate("seconds => { document.getElementById('player').currentTime = seconds; }",
                                      round(duration - 1.0, 1))
            await supervisor.wait_for_function("() => document.getElementById('player').currentTime > 1")
            await supervisor.screenshot(path=str(OUTPUT / "call-detail.png"))

        summaries = [e for e in await hotline.events(call_id) if e["kind"] == "SUMMARY"]
        assert [e["data"] for e in summaries] == [
            {"summary": "市民反映路灯损坏，已记录并转交。", "category": "help", "by": "seat1"}]
        assert summaries[0]["seat"] == "seat1"
        assert (await calls.get(call_id) or {}).get("category") == "help"
