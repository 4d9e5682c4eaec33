"""The tickets desk in the browser and its live feed, without Asterisk: a fake floor, a
real store, the real console, Debian's chromium. An operator writes a ticket from the
last call on the seat (or links the call to the same number's ticket instead); the
supervisor filters, forwards many at once, reads a ticket's history and hears its
recording; a unit's reply appears on the supervisor's 已办理 panel by itself; and the
feed never tells one unit about another unit's tickets."""

from __future__ import annotations

import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.web_helpers import (
    OUTPUT,
    Client,
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

CITIZEN = "13912345678"
NEIGHBOUR = "13800000003"
LANDINGS = {"supervisor": "/wallboard", "seat1": "/operator", "seat2": "/operator"}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    directory = load_directory(units_file(settings))
    for name, unit in (("zezhou-office", "zezhou"), ("yangcheng-office", "yangcheng")):
        add_unit_user(settings.paths.state_dir, name, unit, directory)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        calls, zone, now = running.services.calls, settings.zone, time.time()
        recording = _wav(settings.paths.recordings_dir / "20261128-213512_call-1.wav")
        _answered(calls, "call-1", "seat1", CITIZEN, zone, now - 900, recording_path=str(recording),
                  recording_seconds=1.0)
        for index in range(4, 8):  # older calls of seat1, for the supervisor's list
            _answered(calls, f"call-{index}", "seat1", f"1370000000{index}", zone, now - 3000 - index)
        _answered(calls, "call-2", "seat1", CITIZEN, zone, now - 60)  # seat1's last call
        _answered(calls, "call-3", "seat2", NEIGHBOUR, zone, now - 30)
        await calls.flush()
        yield running


def _wav(path: Path) -> Path:
    data = b"\x00\x00" * 8000
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)
    return path


def _answered(calls: CallRepository, call_id: str, seat: str, number: str, zone: Any, at: float,
              **more: object) -> None:
    calls.save(call_id, caller_number=number, arrived=iso_local(at, zone), arrived_epoch=at,
               seat_answered=iso_local(at + 10, zone), ended=iso_local(at + 100, zone), outcome="answered",
               seat=seat, state="done", wait_seconds=10, talk_seconds=90, **more)


async def _as(console: RunningConsole, user: str) -> Client:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, LANDINGS.get(user, "/unit")))


async def _ticket(operator: Client, call_id: str, summary: str, unit: str = "泽州县",
                  category: str = "complaint") -> int:
    created = await operator.post(f"/api/calls/{call_id}/ticket", {
        "category": category, "summary": summary, "unit": unit, "citizen_name": "张先生"}, status=201)
    ticket_id = created["ticket_id"]
    assert isinstance(ticket_id, int)
    return ticket_id


async def _shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"desk-{name}.png"))


async def _next_ticket_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        message = await ws.receive_json(timeout=5)
        if message["type"] == "ticket":
            assert isinstance(message, dict)
            return message


async def test_an_operator_links_the_last_call_to_the_same_numbers_ticket_instead_of_writing_a_duplicate(
        console: RunningConsole) -> None:
    operator = await _as(console, "seat1")
    async with operator.http:
        earlier = await _ticket(operator, "call-1", "小区路灯不亮三天了")
        async with chromium() as browser:
            page = await browser_log_in(browser, console.url, "seat1", console.passwords["seat1"])
            await page.goto(f"{console.url}/operator")
            await page.wait_for_selector('#current[data-call-id="call-2"]')
            await page.click("#open-ticket")
            await page.wait_for_selector("#ticket-panel:not([hidden])")
            assert await page.input_value("#ticket-contact") == CITIZEN  # pre-filled from the call
            await page.type("#ticket-unit-search", "泽州")
            await page.click('.unit-option[data-code="zezhou"]')
            assert "泽州县人民政府" in await page.text_content("#ticket-unit-picked")
            await page.type("#ticket-summary", "路灯还是不亮")
            suggestion = page.locator(f'#similar li[data-ticket-id="{earlier}"]')
            await suggestion.wait_for()
            assert "同一号码" in await suggestion.text_content() and "路灯" in await suggestion.text_content()
            await _shot(page, "operator-similar")
            # The seat's next push must not wipe what was typed.
            floor = console.floor
            assert isinstance(floor, FakeFloor)
            pushes = int(await page.get_attribute("body", "data-pushes") or "0")
            floor.changed()
            await page.wait_for_selector(f'body:not([data-pushes="{pushes}"])')
            assert await page.input_value("#ticket-summary") == "路灯还是不亮"
            await suggestion.locator("button.link-call").click()
            await page.wait_for_selector(f'#ticket-saved:has-text("#{earlier}")')
            await page.wait_for_selector(f'#recent tr[data-call-id="call-2"]:has-text("已留单 #{earlier}")')
            assert await page.input_value("#ticket-summary") == "路灯还是不亮"
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        detail = await supervisor.get(f"/api/tickets/{earlier}")
        assert sorted(call["call_id"] for call in detail["calls"]) == ["call-1", "call-2"]


async def test_an_operator_writes_a_new_ticket_from_a_recent_call_and_sees_its_number(
        console: RunningConsole) -> None:
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "seat2", console.passwords["seat2"])
        await page.goto(f"{console.url}/operator")
        await page.click('#recent tr[data-call-id="call-3"] button.ticket-from-call')
        await page.wait_for_selector('#ticket-panel[data-call-id="call-3"]:not([hidden])')
        await page.select_option("#ticket-category", "help")
        await page.fill("#ticket-summary", "门前下水道堵塞，污水漫到路面")
        await page.click("#save-ticket")
        await page.wait_for_selector("#ticket-status.error")  # no unit picked yet: said in the page
        assert "承办单位" in await page.text_content("#ticket-status")
        await page.type("#ticket-unit-search", "阳城")
        await page.wait_for_selector('.unit-option[data-code="yangcheng"]')
        await page.keyboard.press("Enter")  # Enter takes the first unit offered
        await page.wait_for_selector("#ticket-unit-picked.chosen")
        await page.fill("#ticket-name", "李女士")
        await page.fill("#ticket-address", "阳城县凤城镇")
        await page.click("#save-ticket")
        saved = page.locator("#ticket-saved")
        await saved.wait_for()
        text = await saved.text_content()
        assert text and "工单编号 #" in text
        ticket_id = int(text.split("#")[1].split("（")[0])
        await _shot(page, "operator-saved")
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        ticket = (await supervisor.get(f"/api/tickets/{ticket_id}"))["ticket"]
        assert (ticket["unit"], ticket["category"], ticket["citizen_name"], ticket["contact_number"],
                ticket["address"]) == ("yangcheng", "help", "李女士", NEIGHBOUR, "阳城县凤城镇")


async def test_the_supervisor_filters_forwards_two_at_once_and_reads_a_tickets_history_and_recording(
        console: RunningConsole) -> None:
    operator = await _as(console, "seat1")
    async with operator.http:
        lamp = await _ticket(operator, "call-1", "小区路灯不亮三天了")
        road = await _ticket(operator, "call-4", "门前道路积水")
        noise = await _ticket(operator, "call-5", "夜间施工噪音扰民", unit="阳城县", category="help")
        done = await _ticket(operator, "call-6", "井盖缺失")
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        await supervisor.post(f"/api/tickets/{done}/forward", {})
        async with chromium() as browser:
            page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
            await page.goto(f"{console.url}/tickets")
            await page.wait_for_selector(f'#tickets tr[data-ticket-id="{noise}"]')
            assert "剩余7个工作日" in await page.text_content(f'#tickets tr[data-ticket-id="{lamp}"]')
            await page.select_option("#category", "complaint")
            await page.click("#filter-button")
            await page.wait_for_selector(f'#tickets tr[data-ticket-id="{noise}"]', state="detached")
            assert await page.locator("#tickets tbody tr").count() == 3
            await page.check(f'#tickets tr[data-ticket-id="{lamp}"] input.pick')
            await page.check(f'#tickets tr[data-ticket-id="{road}"] input.pick')
            await page.click("#forward-selected")
            await page.wait_for_selector('#bulk-result:has-text("已转办 2 张")')
            await page.wait_for_selector(f'#tickets tr[data-ticket-id="{lamp}"]:has-text("已转办")')
            await _shot(page, "tickets-forwarded")
            await page.click(f'#tickets tr[data-ticket-id="{lamp}"] a.open-ticket')
            await page.wait_for_selector('#timeline li[data-kind="forwarded"]')
            history = await page.text_content("#timeline")
            assert history and "话务员留单" in history and "审核转办" in history and "supervisor" in history
            player = page.locator('#calls [data-call-id="call-1"] audio.recording')
            assert await player.get_attribute("src") == "/api/calls/call-1/recording"
            await page.wait_for_function("() => document.querySelector('audio.recording').readyState >= 1")
            await _shot(page, "ticket")
            # A move the server refuses is said in the page.
            await page.fill("#merge-ids", "424242")
            await page.click("#do-merge")
            await page.wait_for_selector("#move-status.error")
            assert "没有这张工单" in await page.text_content("#move-status")
            await page.fill("#urge-note", "请加快处理")
            await page.click("#do-urge")
            await page.wait_for_selector('#timeline li[data-kind="urged"]')
            assert "请加快处理" in await page.text_content('#timeline li[data-kind="urged"]')


async def test_a_units_reply_appears_on_the_supervisors_done_panel_without_a_reload(
        console: RunningConsole) -> None:
    operator = await _as(console, "seat1")
    async with operator.http:
        ticket_id = await _ticket(operator, "call-1", "小区路灯不亮三天了")
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        await supervisor.post(f"/api/tickets/{ticket_id}/forward", {})
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.goto(f"{console.url}/tickets")
        await page.wait_for_selector('body[data-live="yes"]')
        assert await page.locator("#done li").count() == 0
        unit = await _as(console, "zezhou-office")
        async with unit.http:
            await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "已安排维修，路灯已修复。"})
        item = page.locator(f'#done li[data-ticket-id="{ticket_id}"]')
        await item.wait_for(timeout=5000)
        assert "路灯已修复" in await item.text_content()
        await page.wait_for_selector(f'#tickets tr[data-ticket-id="{ticket_id}"]:has-text("已答复")')
        await _shot(page, "tickets-replied")


async def test_the_feed_tells_each_unit_only_of_its_own_tickets_and_the_supervisor_of_all(
        console: RunningConsole) -> None:
    operator = await _as(console, "seat1")
    supervisor = await _as(console, "supervisor")
    zezhou = await _as(console, "zezhou-office")
    yangcheng = await _as(console, "yangcheng-office")
    async with operator.http, supervisor.http, zezhou.http, yangcheng.http:
        desk = await supervisor.socket("/api/desk/ws")
        zezhou_ws = await zezhou.socket("/api/unit/desk/ws")
        yangcheng_ws = await yangcheng.socket("/api/unit/desk/ws")
        lamp = await _ticket(operator, "call-1", "小区路灯不亮三天了")
        await supervisor.post(f"/api/tickets/{lamp}/forward", {})
        await zezhou.post(f"/api/unit/tickets/{lamp}/reply", {"text": "已修复"})
        noise = await _ticket(operator, "call-4", "夜间施工噪音", unit="阳城县")
        assert [(m["ticket_id"], m["kind"]) for m in [await _next_ticket_message(desk) for _ in range(4)]] == [
            (lamp, "created"), (lamp, "forwarded"), (lamp, "replied"), (noise, "created")]
        assert [(m["ticket_id"], m["kind"]) for m in [await _next_ticket_message(zezhou_ws) for _ in range(3)]] == [
            (lamp, "created"), (lamp, "forwarded"), (lamp, "replied")]
        # The changes are sent in order: yangcheng's first message being its own ticket's
        # means none of zezhou's three came before it.
        first = await _next_ticket_message(yangcheng_ws)
        assert (first["ticket_id"], first["kind"]) == (noise, "created")
        assert set(first) == {"type", "ticket_id", "kind", "at"}
        # Reassigning to another unit: from then on only the new unit hears of it.
        await supervisor.post(f"/api/tickets/{noise}/forward", {"unit": "泽州县"})
        moved = await _next_ticket_message(zezhou_ws)
        assert (moved["ticket_id"], moved["kind"]) == (noise, "forwarded")
        # Each role is held to its own socket, and other sites' pages are refused.
        for client, path in ((zezhou, "/api/desk/ws"), (supervisor, "/api/unit/desk/ws"),
                             (operator, "/api/desk/ws")):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.http.ws_connect(console.url + path, origin=console.url)
            assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
            await supervisor.http.ws_connect(console.url + "/api/desk/ws", origin="http://evil.example")
        assert cross.value.status == 403
        # A unit that logs out is cut off at the next change.
        async with zezhou.http.post(f"{console.url}/logout", data={"csrf_token": zezhou.csrf},
                                    allow_redirects=False) as out:
            assert out.status == 303
        await supervisor.post(f"/api/tickets/{noise}/urge", {"note": "请尽快"})
        closing = await zezhou_ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert zezhou_ws.close_code == 4401
        for ws in (desk, zezhou_ws, yangcheng_ws):
            await ws.close()


async def test_an_operator_sees_a_ticket_returned_to_them_corrects_it_and_sends_it_back(
        console: RunningConsole) -> None:
    operator = await _as(console, "seat2")
    async with operator.http:
        ticket_id = await _ticket(operator, "call-3", "下水道堵塞")
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        await supervisor.post(f"/api/tickets/{ticket_id}/return", {"note": "请写明具体位置"})
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "seat2", console.passwords["seat2"])
        item = f'#returned li[data-ticket-id="{ticket_id}"]'
        await page.wait_for_selector(item)
        assert "请写明具体位置" in await page.inner_text(item)
        await page.click(f"{item} button")  # no note yet: said in the page
        await page.wait_for_selector(f"{item} .status.error")
        await page.fill(f"{item} .returned-summary", "阳城县凤城镇东街下水道堵塞")
        await page.fill(f"{item} .returned-note", "已写明位置")
        await page.click(f"{item} button")
        await page.wait_for_selector("#returned-panel", state="hidden")
        await _shot(page, "operator-returned-done")
    supervisor = await _as(console, "supervisor")
    async with supervisor.http:
        ticket = (await supervisor.get(f"/api/tickets/{ticket_id}"))["ticket"]
        assert (ticket["summary"], ticket["returned_to"]) == ("阳城县凤城镇东街下水道堵塞", None)
