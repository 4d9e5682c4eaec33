"""The responsible unit's pages in a real browser (Debian's chromium), against the real
console and store: the clerk opens a ticket from the list, replies with a PDF that the
supervisor then downloads byte for byte, asks for more time on another and sees it
pending, returns a third as not its business, and is shown the server's refusal."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.test_attachments import ELF, PDF, Client, _answered_call
from tests.web_helpers import (
    OUTPUT,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
)

LANDINGS = {"supervisor": "/wallboard", "seat1": "/operator"}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        for index in range(1, 4):
            _answered_call(running.services.calls, f"call-{index}", "seat1", settings.zone, time.time() - 600 + index)
        await running.services.calls.flush()
        yield running


async def _as(console: RunningConsole, user: str) -> tuple[aiohttp.ClientSession, Client]:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return http, Client(http, console.url, await page_csrf(http, console.url, LANDINGS.get(user, "/unit")))


async def _tickets(console: RunningConsole, summaries: list[str]) -> list[int]:
    """Tickets written by the operator, forwarded to 泽州县 by the supervisor; the first urged."""
    http, operator = await _as(console, "seat1")
    async with http:
        ids = [int((await operator.post(f"/api/calls/call-{index}/ticket", {
            "category": "complaint", "summary": summary, "unit": "泽州县", "citizen_name": "张先生",
            "contact_number": "13912345678", "address": "泽州县南村镇"}, status=201))["ticket_id"])
            for index, summary in enumerate(summaries, start=1)]
    http, supervisor = await _as(console, "supervisor")
    async with http:
        await supervisor.post("/api/tickets/forward", {"ids": ids})
        await supervisor.post(f"/api/tickets/{ids[0]}/urge", {"note": "群众反映强烈，请加快办理"})
    return ids


async def _open_from_list(page: Any, ticket_id: int) -> None:
    await page.goto(page.url.split("/unit")[0] + "/unit")
    await page.click(f'#tickets tr[data-ticket-id="{ticket_id}"] a')
    await page.wait_for_url(f"**/unit/tickets/{ticket_id}")
    await page.wait_for_selector("#ticket-body:not([hidden])")


async def test_the_unit_replies_with_a_pdf_asks_for_more_time_returns_a_ticket_and_sees_refusals(
        console: RunningConsole, tmp_path: Path) -> None:
    first, second, third = await _tickets(console, ["小区路灯不亮三天了", "门前道路积水", "供水管道漏水"])
    pdf = tmp_path / "维修报告.pdf"
    pdf.write_bytes(PDF)
    disguised = tmp_path / "invoice.pdf"
    disguised.write_bytes(ELF)
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "zezhou-office", console.passwords["zezhou-office"])
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{first}"]')
        row = await page.inner_text(f'#tickets tr[data-ticket-id="{first}"]')
        assert "督办" in row and "剩余7个工作日" in row, row
        OUTPUT.mkdir(exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "unit-list.png"))

        # The first: the matter, the contact, the urging in the timeline; a reply with a PDF.
        await _open_from_list(page, first)
        facts = await page.inner_text("#facts")
        assert "小区路灯不亮三天了" in facts and "13912345678" in facts and "泽州县南村镇" in facts
        assert "剩余7个工作日" in facts
        timeline = await page.inner_text("#timeline")
        assert "督办" in timeline and "群众反映强烈" in timeline and "supervisor" in timeline
        # A program renamed .pdf is refused by its content; the page says so and nothing is replied.
        await page.fill("#reply-text", "已安排维修，路灯已修复。")
        await page.set_input_files("#reply-files", str(disguised))
        await page.click("#reply-submit")
        await page.wait_for_selector("#reply-status.error")
        assert "不是 PDF、JPEG 或 PNG" in await page.inner_text("#reply-status")
        await page.set_input_files("#reply-files", str(pdf))
        await page.click("#reply-submit")
        await page.wait_for_selector("#action-done:not([hidden])")
        assert "附件 1 个" in await page.inner_text("#action-done")
        await page.wait_for_selector("#reply-panel[hidden]", state="attached")
        assert "维修报告.pdf" in await page.inner_text("#attachments")
        assert "已答复" in await page.inner_text("#facts")
        await page.screenshot(path=str(OUTPUT / "unit-ticket-replied.png"))

        # The second: more time asked, shown as pending.
        await _open_from_list(page, second)
        await page.fill("#extension-days", "3")
        await page.fill("#extension-reason", "需要协调住建部门现场勘查")
        await page.click("#extension-submit")
        await page.wait_for_selector("#extension-pending:not([hidden])")
        assert "已申请延长 3 个工作日" in await page.inner_text("#extension-pending")
        assert await page.is_hidden("#extension-form")

        # The third: returned as not our business.
        await _open_from_list(page, third)
        await page.fill("#return-reason", "属供水公司职责")
        await page.click("#return-submit")
        await page.wait_for_selector("#action-done:not([hidden])")
        assert "已退回热线" in await page.inner_text("#action-done")
        assert "属供水公司职责" in await page.inner_text("#timeline")

        # A colleague replies to the second meanwhile: this page shows it at once (the unit's
        # live feed), without a reload, and offers no more moves on it.
        await _open_from_list(page, second)
        await page.wait_for_selector("body[data-live=yes]")
        http, colleague = await _as(console, "zezhou-office")
        async with http:
            await colleague.post(f"/api/unit/tickets/{second}/reply", {"text": "已处理。"})
        await page.wait_for_function("() => document.getElementById('facts').innerText.includes('已答复')")
        assert await page.is_hidden("#return-reason")
        await page.context.close()

    http, supervisor = await _as(console, "supervisor")
    async with http:
        detail = await supervisor.get(f"/api/tickets/{first}")
        assert detail["ticket"]["state"] == "replied"
        [attachment] = detail["attachments"]
        assert (attachment["name"], attachment["content_type"]) == ("维修报告.pdf", "application/pdf")
        body, _ = await supervisor.download(f"/api/tickets/{first}/attachments/{attachment['attachment_id']}")
        assert body == PDF
        assert (await supervisor.get(f"/api/tickets/{second}"))["ticket"]["state"] == "replied"
        returned = (await supervisor.get(f"/api/tickets/{third}"))["ticket"]
        assert (returned["state"], returned["returned_to"]) == ("open", "supervisor")


async def test_the_unit_list_filters_by_state_and_only_overdue_and_a_foreign_ticket_page_says_not_found(
        console: RunningConsole) -> None:
    first, second = await _tickets(console, ["小区路灯不亮三天了", "门前道路积水"])
    http, unit = await _as(console, "zezhou-office")
    async with http:
        await unit.post(f"/api/unit/tickets/{second}/reply", {"text": "已处理。"})
        assert [t["ticket_id"] for t in (await unit.get("/api/unit/tickets?state=in_hand"))["tickets"]] == [first]
        assert (await unit.get("/api/unit/tickets?overdue=1"))["tickets"] == []
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "zezhou-office", console.passwords["zezhou-office"])
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{second}"]')
        await page.select_option("#filter-state", "replied")
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{first}"]', state="detached")
        assert await page.is_visible(f'#tickets tr[data-ticket-id="{second}"]')
        await page.check("#filter-overdue")
        await page.wait_for_selector("#tickets-empty:not([hidden])")
        await page.goto(f"{console.url}/unit/tickets/424242")
        await page.wait_for_selector("#ticket-error:not([hidden])")
        assert "没有这张工单" in await page.inner_text("#ticket-error")
        await page.context.close()


async def test_a_ticket_forwarded_to_the_unit_reaches_its_open_list_without_a_reload(console: RunningConsole) -> None:
    first = (await _tickets(console, ["小区路灯不亮"]))[0]
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "zezhou-office", console.passwords["zezhou-office"])
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{first}"]')
        await page.wait_for_selector("body[data-live=yes]")
        # Written and forwarded while the unit's list is open.
        http, operator = await _as(console, "seat1")
        async with http:
            second = int((await operator.post("/api/calls/call-2/ticket", {
                "category": "help", "summary": "门前道路积水", "unit": "泽州县"}, status=201))["ticket_id"])
        http, supervisor = await _as(console, "supervisor")
        async with http:
            await supervisor.post(f"/api/tickets/{second}/forward", {})
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{second}"]', timeout=10000)
        await page.context.close()
