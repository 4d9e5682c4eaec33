"""The tickets desk over HTTP, without Asterisk: a fake floor, a real store, the real
console. An operator writes a ticket from a call on their seat, a second call from the
same number is offered that ticket and linked; the supervisor forwards it; the unit's
account sees only its own tickets, replies, asks for more time, returns one; every
role is held to its own routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from callcenter.workdays import add_working_days
from tests.web_helpers import (
    Client,
    FakeFloor,
    RunningConsole,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
)

CITIZEN = "13912345678"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    directory = load_directory(units_file(settings))
    for name, unit in (("zezhou-office", "zezhou"), ("yangcheng-office", "yangcheng")):
        add_unit_user(settings.paths.state_dir, name, unit, directory)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        _answered_call(running.services.calls, "call-1", "seat1", settings.zone, time.time() - 600)
        _answered_call(running.services.calls, "call-2", "seat1", settings.zone, time.time() - 60)
        _answered_call(running.services.calls, "call-3", "seat2", settings.zone, time.time() - 30)
        await running.services.calls.flush()
        yield running


def _answered_call(calls: CallRepository, call_id: str, seat: str, zone: Any, at: float) -> None:
    calls.save(call_id, caller_number=CITIZEN, arrived=iso_local(at, zone), arrived_epoch=at,
               seat_answered=iso_local(at + 10, zone), ended=iso_local(at + 100, zone), outcome="answered",
               seat=seat, state="done", wait_seconds=10, talk_seconds=90)


async def _client(http: aiohttp.ClientSession, console: RunningConsole, user: str, landing: str) -> Client:
    passwords = console.passwords
    assert (await log_in(http, console.url, user, passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, landing))


async def _as(console: RunningConsole, user: str) -> tuple[aiohttp.ClientSession, Client]:
    http = http_session()
    landing = {"supervisor": "/wallboard", "seat1": "/operator", "seat2": "/operator"}.get(user, "/unit")
    return http, await _client(http, console, user, landing)


async def _new_ticket(operator: Client, call_id: str = "call-1", summary: str = "小区路灯不亮三天了") -> int:
    created = await operator.post(f"/api/calls/{call_id}/ticket", {
        "category": "complaint", "summary": summary, "unit": "泽州县", "citizen_name": "张先生",
        "address": "泽州县南村镇"}, status=201)
    ticket_id = created["ticket_id"]
    assert isinstance(ticket_id, int)
    return ticket_id


async def test_an_operator_writes_a_ticket_from_a_call_and_the_next_call_from_that_number_is_linked_to_it(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        units = await operator.get("/api/units?q=泽州")
        assert [u["code"] for u in units["units"]] == ["zezhou"]
        ticket_id = await _new_ticket(operator)
        suggestions = await operator.get(f"/api/tickets/similar?number={CITIZEN}&summary=路灯坏了")
        assert ticket_id in [s["ticket_id"] for s in suggestions["tickets"]]
        await operator.post(f"/api/tickets/{ticket_id}/calls", {"call_id": "call-2"})
        # Another seat's call is not this operator's to link.
        await operator.post(f"/api/tickets/{ticket_id}/calls", {"call_id": "call-3"}, status=403)
    http, supervisor = await _as(console, "supervisor")
    async with http:
        detail = await supervisor.get(f"/api/tickets/{ticket_id}")
        assert sorted(c["call_id"] for c in detail["calls"]) == ["call-1", "call-2"]
        ticket = detail["ticket"]
        assert (ticket["citizen_name"], ticket["contact_number"], ticket["address"], ticket["unit"]) == (
            "张先生", CITIZEN, "泽州县南村镇", "zezhou")


async def test_the_supervisor_forwards_and_only_the_units_own_account_sees_and_answers_it(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        ticket_id = await _new_ticket(operator)
        await operator.post(f"/api/tickets/{ticket_id}/forward", {}, status=403)  # an operator cannot forward
        await operator.post(f"/api/tickets/{ticket_id}/close", {}, status=403)
    http, supervisor = await _as(console, "supervisor")
    async with http:
        listed = await supervisor.get("/api/tickets?unit=zezhou&category=complaint")
        assert [t["ticket_id"] for t in listed["tickets"]] == [ticket_id] and listed["total"] == 1
        assert listed["tickets"][0]["working_days_left"] == 7
        forwarded = await supervisor.post(f"/api/tickets/{ticket_id}/forward", {"note": "请尽快核实"})
        assert forwarded["result"] == "forwarded"
    http, other_unit = await _as(console, "yangcheng-office")
    async with http:
        assert (await other_unit.get("/api/unit/tickets"))["tickets"] == []
        await other_unit.get(f"/api/unit/tickets/{ticket_id}", status=403)
        for move, body in (("reply", {"text": "不是我们的"}), ("extension", {"days": 3, "reason": "x"}),
                           ("return", {"reason": "x"})):
            await other_unit.post(f"/api/unit/tickets/{ticket_id}/{move}", body, status=403)
        for path in ("/api/tickets", f"/api/tickets/{ticket_id}", "/api/calls", "/api/calls/call-1/recording",
                     "/api/floor", "/api/units"):
            await other_unit.get(path, status=403)
    http, unit = await _as(console, "zezhou-office")
    async with http:
        mine = await unit.get("/api/unit/tickets")
        assert [t["ticket_id"] for t in mine["tickets"]] == [ticket_id]
        seen = mine["tickets"][0]
        assert seen["contact_number"] == CITIZEN and seen["working_days_left"] == 7
        detail = await unit.get(f"/api/unit/tickets/{ticket_id}")
        assert all(set(call) == {"call_id", "arrived"} for call in detail["calls"])  # no recording, no call log
        await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "已安排维修，路灯已修复。"})
        await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "again"}, status=409)
    http, supervisor = await _as(console, "supervisor")
    async with http:
        replied = await supervisor.get("/api/tickets?state=replied")
        assert [t["ticket_id"] for t in replied["tickets"]] == [ticket_id]
        assert replied["tickets"][0]["reply"] == "已安排维修，路灯已修复。"


async def test_a_granted_extension_moves_the_deadline_by_working_days_and_a_returned_ticket_goes_back(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        first = await _new_ticket(operator)
        second = await _new_ticket(operator, "call-2", "门前道路积水")
    http, supervisor = await _as(console, "supervisor")
    async with http:
        outcome = await supervisor.post("/api/tickets/forward", {"ids": [first, second]})
        assert sorted(outcome["forwarded"]) == sorted([first, second])
        before = date.fromisoformat((await supervisor.get(f"/api/tickets/{first}"))["ticket"]["deadline"][:10])
    http, unit = await _as(console, "zezhou-office")
    async with http:
        await unit.post(f"/api/unit/tickets/{first}/extension", {"days": 0, "reason": "x"}, status=400)
        await unit.post(f"/api/unit/tickets/{first}/extension", {"days": 5, "reason": "需要现场勘查"})
        await unit.post(f"/api/unit/tickets/{second}/return", {"reason": "属供水公司职责"})
    http, supervisor = await _as(console, "supervisor")
    async with http:
        await supervisor.post(f"/api/tickets/{first}/extension", {"grant": True})
        after = date.fromisoformat((await supervisor.get(f"/api/tickets/{first}"))["ticket"]["deadline"][:10])
        assert after == add_working_days(before, 5).day
        returned = (await supervisor.get(f"/api/tickets/{second}"))["ticket"]
        assert returned["state"] == "open" and returned["returned_to"] == "supervisor"
        kinds = [e["kind"] for e in (await supervisor.get(f"/api/tickets/{first}"))["events"]]
        assert "extension_requested" in kinds and "extension_granted" in kinds


async def test_bad_input_on_the_desk_is_a_clear_400_and_unknown_tickets_a_404(console: RunningConsole) -> None:
    http, supervisor = await _as(console, "supervisor")
    async with http:
        for path in ("/api/tickets?state=lost", "/api/tickets?month=2026-13", "/api/tickets?unit=atlantis",
                     "/api/tickets?page=²", "/api/tickets?channel=fax", "/api/tickets/abc", "/api/tickets/similar"):
            assert "error" in await supervisor.get(path, status=400)
        await supervisor.get("/api/tickets/424242", status=404)
        await supervisor.post("/api/tickets/forward", {"ids": []}, status=400)
        await supervisor.post("/api/tickets/forward", {"ids": [True]}, status=400)
        await supervisor.post("/api/calls/call-1/ticket", {"category": "gossip", "summary": "x", "unit": "泽州县"},
                              status=400)
        refused = await supervisor.post("/api/calls/call-1/ticket", {"category": "help", "summary": "x",
                                                                      "unit": "atlantis"}, status=409)
        assert "atlantis" in refused["error"]


async def test_a_ticket_returned_to_its_operator_is_corrected_and_resubmitted_by_that_operator_only(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        ticket_id = await _new_ticket(operator, summary="路灯坏了")
        assert (await operator.get("/api/operator/returned"))["tickets"] == []
    http, supervisor = await _as(console, "supervisor")
    async with http:
        await supervisor.post(f"/api/tickets/{ticket_id}/return", {"note": "请补充具体地点"})
    http, other = await _as(console, "seat2")
    async with http:
        assert (await other.get("/api/operator/returned"))["tickets"] == []  # not theirs to see
        await other.post(f"/api/operator/tickets/{ticket_id}/resubmit", {"note": "x"}, status=403)
    http, operator = await _as(console, "seat1")
    async with http:
        [returned] = (await operator.get("/api/operator/returned"))["tickets"]
        assert (returned["ticket_id"], returned["return_note"]) == (ticket_id, "请补充具体地点")
        await operator.post(f"/api/operator/tickets/{ticket_id}/resubmit", {"summary": "x"}, status=400)  # no note
        await operator.post(f"/api/operator/tickets/{ticket_id}/resubmit", {
            "note": "已补充地点", "summary": "泽州县南村镇东街路灯坏了", "unit": "阳城县"})
        assert (await operator.get("/api/operator/returned"))["tickets"] == []
        await operator.post(f"/api/operator/tickets/{ticket_id}/resubmit", {"note": "again"}, status=409)
        suggested = await operator.get("/api/tickets/similar?summary=东街路灯")
        assert ticket_id in [t["ticket_id"] for t in suggested["tickets"]]  # the corrected words are searched
    http, supervisor = await _as(console, "supervisor")
    async with http:
        detail = await supervisor.get(f"/api/tickets/{ticket_id}")
        ticket = detail["ticket"]
        assert (ticket["summary"], ticket["unit"], ticket["returned_to"]) == (
            "泽州县南村镇东街路灯坏了", "yangcheng", None)
        assert [e["kind"] for e in detail["events"]][-2:] == ["returned", "resubmitted"]
        waiting = await supervisor.get("/api/tickets?state=open")
        assert [t["ticket_id"] for t in waiting["tickets"]] == [ticket_id]
