"""The operator's workspace without Asterisk: the caller card's reads (what they find,
which indexes they walk), and the push feed (only the seat's own view, to operators only,
a slow client dropped) over a console with a fake floor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.callers.card import EARLIER_CALLS, CallerCards
from callcenter.callers.repository import CallerRepository
from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.services import Services
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from callcenter.web.operator_feed import Listener, OperatorFeed, SeatViews
from tests.web_helpers import (
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

CITIZEN = "13955556666"
OTHER = "13811112222"


def _answered(calls: CallRepository, call_id: str, number: str, zone: Any, at: float, **more: object) -> None:
    calls.save(call_id, caller_number=number, arrived=iso_local(at, zone), arrived_epoch=at,
               seat_answered=iso_local(at + 10, zone), ended=iso_local(at + 100, zone), outcome="answered",
               seat="seat3", state="done", wait_seconds=10, talk_seconds=90, **more)


async def _history(services: Services, zone: Any, now: float) -> tuple[int, int]:
    """CITIZEN: 12 answered calls and one abandoned, a ticket in progress with a name, a
    later confidential one with another name; OTHER: a ticket of its own."""
    calls = services.calls
    for index in range(12):
        _answered(calls, f"old-{index}", CITIZEN, zone, now - 86400 * (index + 2))
    calls.save("gave-up", caller_number=CITIZEN, arrived=iso_local(now - 3600, zone), arrived_epoch=now - 3600,
               outcome="abandoned_queue", state="done", wait_seconds=40)
    _answered(calls, "other-1", OTHER, zone, now - 7200)
    await calls.flush()
    named = await services.tickets.create(["old-0"], "complaint", "小区路灯不亮", "zezhou", citizen_name="李女士",
                                          contact_number=CITIZEN)
    secret = await services.tickets.create(["old-1"], "help", "家中老人走失", "zezhou", citizen_name="保密的名字",
                                           contact_number=CITIZEN, confidential=True)
    await services.tickets.create(["other-1"], "complaint", "噪音扰民", "zezhou", citizen_name="王先生",
                                  contact_number=OTHER)
    return named, secret


async def test_the_caller_card_has_the_numbers_calls_newest_first_its_open_tickets_a_known_name_and_the_flag(
        tmp_path: Path, store_location: Path | str) -> None:
    settings = console_settings(tmp_path)
    async with Store(store_location) as store:
        services = Services.on(settings, store)
        now = time.time()
        named, secret = await _history(services, settings.zone, now)
        await services.nuisance.flag(CITIZEN, "反复辱骂坐席", "supervisor")
        cards = CallerCards(CallerRepository(store), services.nuisance)
        card = await cards.card("this-call", CITIZEN)
        earlier = card.earlier_calls
        assert len(earlier) == EARLIER_CALLS
        assert [row["call_id"] for row in earlier[:3]] == ["gave-up", "old-0", "old-1"]
        assert earlier[0]["outcome"] == "abandoned_queue" and earlier[1]["outcome"] == "answered"
        assert [row["ticket_id"] for row in card.open_tickets] == [secret, named]
        assert card.to_json()["open_tickets"][0]["confidential"] is True
        # The confidential ticket's name is withheld from lists: the card names the earlier one.
        assert card.name == "李女士"
        assert card.flag is not None and card.flag.reason == "反复辱骂坐席" and card.to_json()["flagged"]
        # The name a citizen gave on a ticket comes before the caller id's, which is used without one.
        assert (await cards.card("this-call", CITIZEN, "Citizen")).name == "李女士"
        assert (await cards.card("this-call", "13700001111", "李梅")).name == "李梅"
        # A hidden number has no history to tell.
        hidden = await cards.card("this-call", "anonymous")
        assert hidden.withheld and hidden.earlier_calls == [] and hidden.open_tickets == [] and hidden.flag is None
        other = await cards.card("this-call", OTHER)
        assert [row["call_id"] for row in other.earlier_calls] == ["other-1"] and not other.flag
        assert other.name == "王先生" and len(other.open_tickets) == 1


async def test_the_caller_cards_reads_walk_the_numbers_indexes_never_a_whole_table(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        plans = await CallerRepository(store).plans()
    assert any("calls_number" in step for step in plans["earlier_calls"]), plans
    for name in ("open_tickets", "known_name"):
        walked = " | ".join(plans[name])
        assert "tickets_caller" in walked and "tickets_contact" in walked, plans
        # Every other step on tickets is a lookup by ticket number, never a walk by state or unit.
        others = [step for step in plans[name] if step.startswith(("SEARCH tickets", "SEARCH t "))
                  and "tickets_caller" not in step and "tickets_contact" not in step]
        assert others, plans
        assert all("INTEGER PRIMARY KEY" in step for step in others), plans
    for name, steps in plans.items():
        assert not [step for step in steps if step.startswith(("SCAN calls", "SCAN tickets", "SCAN t "))], \
            (name, steps)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        yield running


async def _operator(http: aiohttp.ClientSession, console: RunningConsole, user: str) -> Client:
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, "/operator"))


async def _views(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[dict[str, Any]]:
    """Every seat view the socket receives within `seconds`."""
    received: list[dict[str, Any]] = []
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        try:
            message = await ws.receive_json(timeout=left)
        except TimeoutError:
            break
        if message["type"] == "seat":
            received.append(message)
    return received


async def test_an_operators_socket_gets_its_own_seats_card_and_never_another_seats(console: RunningConsole) -> None:
    floor = console.floor
    assert isinstance(floor, FakeFloor)
    now = time.time()
    await _history(console.services, console.settings.zone, now)
    async with http_session() as first_http, http_session() as second_http:
        await _operator(first_http, console, "seat1")
        await _operator(second_http, console, "seat2")
        seat1 = await first_http.ws_connect(f"{console.url}/api/operator/ws", origin=console.url)
        seat2 = await second_http.ws_connect(f"{console.url}/api/operator/ws", origin=console.url)
        for ws, seat in ((seat1, "seat1"), (seat2, "seat2")):
            assert await ws.receive_json(timeout=5) == {"type": "ready", "seat": seat}
            opening = await ws.receive_json(timeout=5)
            assert opening["type"] == "seat" and opening["seat"]["seat"] == seat and opening["call"] is None
        calls = console.services.calls
        calls.save("ringing-2", caller_number=CITIZEN, arrived=iso_local(now - 30, console.settings.zone),
                   arrived_epoch=now - 30, state="ringing", seat="seat2")
        await calls.flush()
        floor.seat_calls["seat2"] = {"call_id": "ringing-2", "number": CITIZEN, "name": "", "category": "",
                                     "phase": "ringing", "three_way": None}
        floor.changed()
        pushed = await _views(seat2, 2.0)
        assert pushed, "seat2 was told nothing of the call ringing it"
        view = pushed[-1]
        assert view["call"]["call_id"] == "ringing-2" and view["call"]["live"] is True
        card = view["card"]
        assert card["number"] == CITIZEN and card["name"] == "李女士" and len(card["open_tickets"]) == 2
        assert card["earlier_calls"][0]["call_id"] == "gave-up"
        heard_by_seat1 = await _views(seat1, 1.0)
        assert all(v["seat"]["seat"] == "seat1" and v["call"] is None and v["card"] is None
                   for v in heard_by_seat1), heard_by_seat1
        await seat1.close()
        await seat2.close()


async def test_only_an_operator_opens_the_workspace_socket_and_only_from_the_consoles_own_pages(
        console: RunningConsole) -> None:
    for user in ("zezhou-office", "supervisor"):
        async with http_session() as http:
            assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{console.url}/api/operator/ws", origin=console.url)
            assert refused.value.status == 403, user
    async with http_session() as http:
        await _operator(http, console, "seat1")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{console.url}/api/operator/ws", origin="http://evil.example")
        assert refused.value.status == 403
    async with http_session() as http:  # not logged in
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{console.url}/api/operator/ws", origin=console.url)
        assert refused.value.status in (401, 403)


class _StuckSocket:
    """A client whose network never takes another byte."""

    closed = False

    async def send_str(self, text: str) -> None:
        await asyncio.sleep(3600)

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        return True


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        return True


async def test_a_slow_operator_client_is_dropped_and_the_others_still_get_their_view(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        floor = FakeFloor(settings, store)
        feed = OperatorFeed(floor, SeatViews(floor.services, settings), lambda token: True, send_timeout=0.3)
        stuck, quick = _StuckSocket(), _Socket()
        feed.add(stuck, Listener("a", "seat1"))  # type: ignore[arg-type]
        feed.add(quick, Listener("b", "seat1"))  # type: ignore[arg-type]
        await feed.start()
        try:
            floor.changed()
            started = time.monotonic()
            while not (stuck.closed and quick.sent) and time.monotonic() - started < 5:
                await asyncio.sleep(0.05)
        finally:
            await feed.stop()
        assert stuck.closed and quick.sent
        assert time.monotonic() - started < 2.0


async def test_the_shortcuts_work_outside_fields_only_and_the_knowledge_panel_says_when_the_hotline_has_no_base(
        console: RunningConsole) -> None:
    floor = console.floor
    assert isinstance(floor, FakeFloor)
    now, zone = time.time(), console.settings.zone
    console.services.calls.save("live-1", caller_number=CITIZEN, arrived=iso_local(now - 20, zone),
                                arrived_epoch=now - 20, state="talking", seat="seat1")
    await console.services.calls.flush()
    floor.seat_calls["seat1"] = {"call_id": "live-1", "number": CITIZEN, "name": "", "category": "",
                                 "phase": "talking", "three_way": None}
    async with http_session() as http:
        await _operator(http, console, "seat1")
        async with http.get(f"{console.url}/api/knowledge/search?q=社保") as answer:
            has_base = answer.status != 404
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "seat1", console.passwords["seat1"])
        await page.wait_for_selector('#current[data-call-id="live-1"][data-live="yes"]')
        assert "F8" in await page.inner_text("#shortcuts")
        pauses: list[str] = []
        page.on("request", lambda request: pauses.append(request.url) if "/api/operator/pause" in request.url
                else None)
        await page.keyboard.press("F2")
        assert await page.evaluate("document.activeElement.id") == "kb-search"
        await page.keyboard.type("社保")
        await page.keyboard.press("Enter")
        status = page.locator("#kb-status")
        if has_base:
            await page.wait_for_selector("#kb-status:not(:has-text('查询中'))")
            assert "暂未开通" not in await status.inner_text()
        else:
            await page.wait_for_selector("#kb-status:has-text('知识库暂未开通')")
            assert await page.is_disabled("#kb-answered")
        await page.keyboard.press("F8")  # typing in the search field: no pause
        await page.keyboard.press("Escape")
        await page.keyboard.press("F4")
        await page.wait_for_selector('#ticket-panel[data-call-id="live-1"]:not([hidden])')
        assert pauses == [], "F8 fired while the operator was typing in the search field"
        await page.locator("#call-heading").click()
        await page.keyboard.press("F8")
        await page.wait_for_selector("#seat-status:has-text('已暂停接听')")
        assert len(pauses) == 1
    rows = await console.services.seats.rows()
    assert rows["seat1"]["paused"] == 1
