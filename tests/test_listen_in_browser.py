"""The wallboard's listen-in buttons and the 监听记录 page in a real browser (Debian's
chromium, Playwright), over the console with the real listen-in runner and a scripted
ARI (tests/test_listen_in_control.py); the audio itself is proven in
tests/test_listen_in_audio.py."""

from __future__ import annotations

import asyncio

from tests.test_listen_in_control import ListenFloor, _event, _until, console, settings  # noqa: F401 - fixtures
from tests.web_helpers import OUTPUT, RunningConsole, browser_log_in, chromium


async def test_the_supervisor_listens_switches_to_barge_and_ends_from_the_wallboard_then_reads_the_log(
        console: RunningConsole) -> None:  # noqa: F811 - the fixture imported above
    floor = console.floor
    assert isinstance(floor, ListenFloor)
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.wait_for_selector("#live-status[data-state=live]")
        controls = '.seat-card[data-seat="seat1"] .listen-in'
        await page.wait_for_selector(controls)
        assert await page.query_selector('.seat-card[data-seat="seat2"] .listen-in') is None  # not talking
        assert await page.inner_text(f"{controls} [data-listen-in=listen]") == "监听"
        assert await page.is_disabled(f"{controls} [data-listen-in=stop]")
        await page.click(f"{controls} [data-listen-in=listen]")
        await page.wait_for_selector("#listen-in-status:has-text('请接听您的主管话机')")
        await _until("the phone rung", lambda: bool(floor.listen_in.running))
        [running] = floor.listen_in.running.values()
        floor.listen_in.on_event(_event("StasisStart", running.session.phone_channel))
        await page.wait_for_selector(f"{controls}:has-text('正在监听')", timeout=10000)
        await page.click(f"{controls} [data-listen-in=barge]")
        await page.wait_for_selector(f"{controls} [data-listen-in=barge].active", timeout=10000)
        await page.screenshot(path=str(OUTPUT / "wallboard-listen-in.png"))
        await page.click(f"{controls} [data-listen-in=stop]")
        await page.wait_for_selector("#listen-in-status:has-text('已结束')")
        await _until("ended", lambda: not floor.listen_in.running)
        await asyncio.sleep(0.1)
        await page.click('nav a[href="/listen-in"]')
        assert await page.inner_text("header nav a.active") == "监听记录"
        await page.wait_for_selector("#listen-in-log tbody tr:nth-child(2)")
        cells = [await row.inner_text() for row in await page.query_selector_all("#listen-in-log tbody tr")]
        assert "supervisor\tseat1\t强插\tlive1" in cells[0] and cells[0].endswith("主管结束"), cells
        assert "supervisor\tseat1\t监听\tlive1" in cells[1] and cells[1].endswith("切换方式"), cells
        await page.screenshot(path=str(OUTPUT / "listen-in-log.png"))
