"""The public site in a real browser on a phone-sized screen (375x740, Debian's chromium,
Playwright): a citizen fills in the mailbox form, reads the ticket number and query code
off the page, looks the status up with them, and reads the published cases; nothing is
wider than the screen, no script typed into the form runs, and the forms work with
JavaScript turned off. Screenshots go to test-output/public-*.png."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.services import Services
from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from tests.public_helpers import RunningPublic, public_site_running, publish_case
from tests.web_helpers import OUTPUT, chromium, console_settings

WAIT = 20_000  # ms: generous on a loaded two-core machine
PHONE = {"width": 375, "height": 740}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[RunningPublic]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        site_running = public_site_running(settings, Services.on(settings, store))
        async with site_running as running:
            yield running


async def _phone_page(browser: Any) -> Any:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                        locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    return page


async def _fits_the_screen(page: Any) -> None:
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px screen"


async def test_a_citizen_submits_the_mailbox_form_on_a_phone_and_checks_the_status_with_the_code(
        site: RunningPublic) -> None:
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        page = await _phone_page(browser)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(f"{site.url}/")
        await _fits_the_screen(page)
        box = await page.locator("#website").bounding_box()  # the robots' field: off the screen
        assert box is not None and box["x"] + box["width"] <= 0
        # A wrong number first: the form comes back with the message and the text kept.
        await page.fill("#name", "王女士<script>alert(1)</script>")
        await page.fill("#phone", "139 12x")
        await page.select_option("#category", "help")
        await page.fill("#place", "城区凤台街")
        await page.fill("#problem", "小区门口路灯坏了一个月，晚上出行不便。🚧")
        assert "已填写 20 字" in await page.text_content("#problem-count")
        await page.click("#submit-button")
        await page.wait_for_selector("#phone-error")
        assert "联系电话只能是" in await page.text_content("#phone-error")
        assert await page.input_value("#problem") == "小区门口路灯坏了一个月，晚上出行不便。🚧"
        await page.fill("#phone", "13912345678")
        await page.screenshot(path=str(OUTPUT / "public-mailbox.png"), full_page=True)
        await page.click("#submit-button")
        await page.wait_for_selector("#query-code")
        await _fits_the_screen(page)
        ticket = (await page.text_content("#ticket-number") or "").strip()
        code = (await page.text_content("#query-code") or "").strip()
        assert ticket.isdigit() and len(code) >= 8
        await page.screenshot(path=str(OUTPUT / "public-received.png"), full_page=True)
        stored = (await site.services.tickets.detail(int(ticket))).ticket
        assert stored["citizen_name"] == "王女士<script>alert(1)</script>" and stored["channel"] == "mailbox"

        # The status, from the link on the receipt (the number filled in), with the code typed.
        await page.get_by_role("link", name="查询办理情况").click()
        await page.wait_for_selector("#code")
        assert await page.input_value("#ticket") == ticket
        await page.fill("#code", "WRONG2345")
        await page.click("#status-button")
        await page.wait_for_selector("#status-error")
        assert "工单号或查询码不正确" in await page.text_content("#status-error")
        await page.fill("#code", code.lower())
        await page.click("#status-button")
        await page.wait_for_selector("#ticket-state")
        assert await page.text_content("#ticket-state") == "受理中"
        await site.services.tickets.forward(int(ticket), unit="zezhou", actor="supervisor")
        desk = site.services.tickets
        await desk.reply(int(ticket), "zezhou", "已安排维修，路灯于12月5日修复。", actor="zezhou-office")
        await page.fill("#code", code)
        await page.click("#status-button")
        await page.wait_for_selector("#unit-reply")
        assert await page.text_content("#ticket-state") == "已答复"
        assert await page.text_content("#unit-reply") == "已安排维修，路灯于12月5日修复。"
        await _fits_the_screen(page)
        await page.screenshot(path=str(OUTPUT / "public-status.png"), full_page=True)
        assert dialogs == []  # no script typed into the form ever ran


async def test_the_published_cases_read_on_a_phone(site: RunningPublic) -> None:
    ticket_id = await site.services.tickets.take_in(WrittenMessage(Channel.MAILBOX, "路灯坏了", actor="public"))
    long_title = "凤台街与泽州路交叉口路灯长期不亮问题" + "x" * 80  # an unbroken run must wrap, not widen the page
    case_id = await publish_case(site, ticket_id, long_title, "市民反映路灯损坏。\n承办单位三日内修复，已回访。",
                                 time.time() - 60)
    async with chromium() as browser:
        page = await _phone_page(browser)
        await page.goto(f"{site.url}/cases")
        await page.wait_for_selector("#cases")
        await _fits_the_screen(page)
        await page.click(f"a[href='/cases/{case_id}']")
        await page.wait_for_selector("#case-body")
        assert await page.text_content("#case-title") == long_title
        assert "承办单位三日内修复" in (await page.text_content("#case-body") or "")
        await _fits_the_screen(page)
        await page.screenshot(path=str(OUTPUT / "public-case.png"), full_page=True)


async def test_the_form_and_the_status_work_with_javascript_turned_off(site: RunningPublic) -> None:
    async with chromium() as browser:
        context = await browser.new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
        page = await context.new_page()
        page.set_default_timeout(WAIT)
        await page.goto(f"{site.url}/")
        await page.fill("#name", "李先生")
        await page.fill("#phone", "+8613900000001")
        await page.fill("#problem", "楼下烧烤店油烟扰民。")
        await page.click("#submit-button")
        await page.wait_for_selector("#query-code")
        ticket = (await page.text_content("#ticket-number") or "").strip()
        code = (await page.text_content("#query-code") or "").strip()
        await page.goto(f"{site.url}/status")
        await page.fill("#ticket", ticket)
        await page.fill("#code", code)
        await page.click("#status-button")
        await page.wait_for_selector("#ticket-state")
        assert await page.text_content("#ticket-state") == "受理中"
