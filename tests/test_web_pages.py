"""The supervisor's seats and nuisance pages in Debian's chromium, against a fake floor
and a real store (no Asterisk): the buttons reach the store, the pages raise no script
error and break no content-security rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.seats import load_roster
from callcenter.store import Store
from tests.web_helpers import (
    OUTPUT,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        yield running


def _watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def _unexpected(errors: list[str]) -> list[str]:
    # A 400 is the API refusing bad input on purpose (the page shows why); anything else is a fault.
    return [e for e in errors if "status of 400 (Bad Request)" not in e]


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_a_supervisor_pauses_a_seat_and_changes_the_roster_from_the_seats_page(console: RunningConsole) -> None:
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        errors = _watch_errors(page)
        await page.click('nav a[href="/seats"]')
        await page.wait_for_selector('#seats tr[data-seat="seat3"]')
        await page.fill('#seats tr[data-seat="seat3"] input.reason', "培训")
        await page.click('#seats tr[data-seat="seat3"] button[data-action="pause"]')

        async def paused() -> bool:
            row = (await console.services.seats.rows()).get("seat3") or {}
            return row.get("paused") == 1 and row.get("pause_reason") == "培训"

        await _until(paused)
        await page.click('#seats tr[data-seat="seat5"] button[data-action="login"]')

        async def logged_in() -> bool:
            return ((await console.services.seats.rows()).get("seat5") or {}).get("logged_in") == 1

        await _until(logged_in)
        # The roster: seat2 moves from the night shift to the day shift.
        await page.wait_for_selector("#roster tbody tr")
        await page.uncheck('#roster tbody tr:nth-child(1) input[value="seat2"]')
        await page.check('#roster tbody tr:nth-child(2) input[value="seat2"]')
        await page.click("#save-roster")
        await page.wait_for_selector('#roster-status:text-is("排班已保存并生效")')
        roster = load_roster(console.settings.paths.roster, console.settings.seat_names)
        assert [shift.seats for shift in roster.shifts] == [("seat1",), ("seat2", "seat3", "seat4"),
                                                            ("seat5", "seat6")]
        assert console.services.seats.roster == roster
        # An invalid roster is refused with the reason, and the file stays as it was.
        await page.fill("#roster tbody tr:nth-child(1) .shift-start", "25:00")
        await page.click("#save-roster")
        await page.wait_for_selector('#roster-status:has-text("排班无效")')
        assert load_roster(console.settings.paths.roster, console.settings.seat_names) == roster
        await page.screenshot(path=str(OUTPUT / "seats.png"))
    assert _unexpected(errors) == []


async def test_a_supervisor_flags_a_number_sees_its_history_and_clears_it(console: RunningConsole) -> None:
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        errors = _watch_errors(page)
        await page.click('nav a[href="/nuisance"]')
        await page.wait_for_selector("#flags-empty:not([hidden])")
        await page.fill("#flag-number", "13866667777")
        await page.fill("#flag-reason", "一天内反复拨打并辱骂话务员")
        await page.click("#flag-form button[type=submit]")
        flagged = '#flags tr[data-number="13866667777"]'
        await page.wait_for_selector(flagged)
        assert "手动标记" in await page.inner_text(flagged) and "supervisor" in await page.inner_text(flagged)
        await page.click(f"{flagged} a")
        await page.wait_for_selector("#history tbody tr")
        await page.screenshot(path=str(OUTPUT / "nuisance.png"))
        await page.click(f"{flagged} button")
        await page.wait_for_selector(flagged, state="detached")
        await page.wait_for_selector("#history tbody tr:nth-child(2)")
        actions = await page.locator("#history tbody tr td:nth-child(2)").all_inner_texts()
        assert actions == ["标记", "解除"]
    assert _unexpected(errors) == []
