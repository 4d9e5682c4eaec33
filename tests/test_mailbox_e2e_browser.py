"""The mayor's mailbox end to end in a real browser (Debian's chromium, Playwright): a
citizen writes on a phone-sized screen and checks the status with the query code; the
supervisor finds the ticket on the desk with its channel (市长信箱), forwards it to the
responsible unit; the unit replies; the supervisor closes it and publishes it as a typical
case; the case is on the public site and in its Atom feed (parsed back with feedparser),
without the citizen's number or name. Screenshots go to test-output/channels-e2e-*.png."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest

from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.public_helpers import RunningPublic, public_site_running
from tests.web_helpers import (
    OUTPUT,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
)

WAIT = 20_000  # ms: generous on a loaded two-core machine
PHONE = {"width": 375, "height": 740}
NAME = "赵桂芳"
NUMBER = "13835612345"
PROBLEM = "凤台街32号楼前的路灯坏了一个月，晚上老人出门看不清路，请尽快修好。联系我：13835612345。"
REPLY = "经核实，凤台街路灯线路老化，已于12月3日更换线路，路灯恢复照明。"


async def _shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(OUTPUT / f"channels-e2e-{name}.png"), full_page=True)


async def _look_up(page: Any, url: str, ticket: int, code: str) -> None:
    await page.goto(f"{url}/status")
    await page.fill("#ticket", str(ticket))
    await page.fill("#code", code)
    await page.click("#status-button")
    await page.wait_for_selector("#ticket-state")


@pytest.fixture
async def sites(tmp_path: Path) -> AsyncIterator[tuple[RunningConsole, RunningPublic]]:
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store:
        floor = FakeFloor(settings, store)
        async with console_running(settings, floor) as console, \
                public_site_running(settings, floor.services) as public:
            yield console, public


async def test_a_citizens_letter_goes_from_the_mailbox_to_the_unit_and_back_and_is_published_without_their_details(
        sites: tuple[RunningConsole, RunningPublic]) -> None:
    console, public = sites
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        # 1. The citizen writes on a phone and reads the number and code off the page.
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
        citizen = await context.new_page()
        citizen.set_default_timeout(WAIT)
        await citizen.goto(f"{public.url}/")
        await citizen.fill("#name", NAME)
        await citizen.fill("#phone", NUMBER)
        await citizen.select_option("#category", "help")
        await citizen.fill("#place", "城区凤台街32号")
        await citizen.fill("#problem", PROBLEM)
        await citizen.click("#submit-button")
        await citizen.wait_for_selector("#query-code")
        ticket = int((await citizen.text_content("#ticket-number") or "").strip())
        code = (await citizen.text_content("#query-code") or "").strip()
        await _shot(citizen, "1-citizen-received")
        await _look_up(citizen, public.url, ticket, code)
        assert await citizen.text_content("#ticket-state") == "受理中"

        # 2. The supervisor finds it on the desk, from the mailbox, and forwards it to 泽州县.
        passwords = console.passwords
        supervisor = await browser_log_in(browser, console.url, "supervisor", passwords["supervisor"])
        await supervisor.goto(f"{console.url}/tickets")
        listed = f'#tickets tr[data-ticket-id="{ticket}"]'
        await supervisor.wait_for_selector(listed, timeout=WAIT)
        await supervisor.click(f"{listed} a.open-ticket")
        await supervisor.wait_for_selector('#timeline li[data-kind="created"]', timeout=WAIT)
        created = await supervisor.inner_text('#timeline li[data-kind="created"] .detail')
        assert "来源 市长信箱" in created and "12345热线办公室" in created, created
        await _shot(supervisor, "2-supervisor-ticket")
        await supervisor.locator("#forward-unit-search").press_sequentially("泽州", delay=60)
        await supervisor.click('.unit-option[data-code="zezhou"]', timeout=WAIT)
        await supervisor.click("#do-forward")
        await supervisor.wait_for_selector('#move-status:has-text("已转办给 泽州县人民政府")', timeout=WAIT)

        # 3. The unit replies.
        unit = await browser_log_in(browser, console.url, "zezhou-office", passwords["zezhou-office"])
        await unit.goto(f"{console.url}/unit/tickets/{ticket}")
        await unit.wait_for_selector("#reply-panel:not([hidden])", timeout=WAIT)
        await unit.fill("#reply-text", REPLY)
        await unit.click("#reply-submit")
        await unit.wait_for_selector("#action-done:not([hidden])", timeout=WAIT)

        # 4. The supervisor closes it; the citizen sees the reply.
        await supervisor.reload()
        await supervisor.wait_for_selector('#timeline li[data-kind="replied"]', timeout=WAIT)
        await supervisor.click("#do-close")
        await supervisor.wait_for_selector('#timeline li[data-kind="closed"]', timeout=WAIT)
        await _look_up(citizen, public.url, ticket, code)
        await citizen.wait_for_selector("#unit-reply")
        assert await citizen.text_content("#ticket-state") == "已办结"
        assert await citizen.text_content("#unit-reply") == REPLY
        await _shot(citizen, "3-citizen-status")

        # 5. The supervisor publishes it from 典型案例: the suggestion shows what was removed;
        # nothing goes out before the confirmation is ticked.
        await supervisor.goto(f"{console.url}/publishing")
        await supervisor.click(f'#candidates tr[data-ticket-id="{ticket}"] button.choose-case', timeout=WAIT)
        await supervisor.wait_for_selector("#editor:not([hidden]) #suggestion mark", timeout=WAIT)
        removed = await supervisor.eval_on_selector_all("#suggestion mark", "marks => marks.map(m => m.title)")
        assert any(NUMBER in title for title in removed), removed
        body = await supervisor.input_value("#case-body")
        assert NUMBER not in body and REPLY in body, body
        await supervisor.fill("#case-title", "凤台街路灯维修")
        await supervisor.click("#publish-button")
        await supervisor.wait_for_selector('#cases-status:has-text("请先勾选确认")', timeout=WAIT)
        assert await console.services.store.reading(
            lambda db: db.execute("SELECT count(*) FROM published_cases").fetchone()[0]) == 0
        await supervisor.check("#case-confirm")
        await supervisor.click("#publish-button")
        await supervisor.wait_for_selector('#cases-status:has-text("已发布为案例")', timeout=WAIT)
        row = supervisor.locator("#published tbody tr").first
        await row.wait_for(timeout=WAIT)
        case_id = int(str(await row.get_attribute("data-case-id")))
        await supervisor.wait_for_selector('#case-log li[data-action="published"]', timeout=WAIT)
        await _shot(supervisor, "4-supervisor-published")
        await citizen.goto(f"{public.url}/cases")
        await citizen.click(f"a[href='/cases/{case_id}']")
        await citizen.wait_for_selector("#case-body")
        shown = str(await citizen.text_content("#case-body"))
        assert REPLY in shown and "凤台街" in shown
        assert NUMBER not in shown and NAME not in shown
        await _shot(citizen, "5-citizen-case")
        feed_text = await (await citizen.request.get(f"{public.url}/cases.atom")).text()
        feed = feedparser.parse(feed_text)
        assert not feed.bozo and [e.title for e in feed.entries] == ["凤台街路灯维修"]
        assert NUMBER not in feed_text and NAME not in feed_text

        # 6. Withdrawn with a reason: gone from the public site and the feed; both steps logged.
        supervisor.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("承办单位要求补充材料")))
        await supervisor.click(f'#published tr[data-case-id="{case_id}"] button.withdraw-case')
        await supervisor.wait_for_selector(f'#published tr[data-case-id="{case_id}"]:has-text("已撤回")', timeout=WAIT)
        await supervisor.wait_for_selector('#case-log li[data-action="withdrawn"]', timeout=WAIT)
        gone = await citizen.request.get(f"{public.url}/cases/{case_id}")
        assert gone.status == 404
        assert feedparser.parse(await (await citizen.request.get(f"{public.url}/cases.atom")).text()).entries == []
