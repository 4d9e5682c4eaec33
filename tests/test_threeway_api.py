"""The operator's three-way call routes (三方通话), without Asterisk: a fake floor that
records the controller's moves, a real store, the console over HTTP."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callcenter.calls.machine import UNIT_BUSY, ThreeWayRefused
from callcenter.clock import iso_local
from callcenter.settings import Settings, TrunkSection
from callcenter.store import Store
from callcenter.tickets.directory import Directory
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

PHONE = "03560000001"


class ThreeWayFloor(FakeFloor):
    """A fake floor that also takes the controller's three-way moves (and may refuse them)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        super().__init__(settings, store)
        self.moves: list[tuple[str, str, str, str, str]] = []
        self.refuse_with: str | None = None

    def three_way(self, call_id: str, seat: str, move: str, unit: str = "", phone: str = "") -> None:
        if self.refuse_with is not None:
            raise ThreeWayRefused(self.refuse_with)
        self.moves.append((call_id, seat, move, unit, phone))


def with_phone(directory: Directory, code: str, phone: str) -> Directory:
    units = tuple(dataclasses.replace(u, phone=phone) if u.code == code else u for u in directory.units)
    return Directory(directory.source, units, directory.deadline_working_days, directory.title,
                     directory.service_level_seconds)


async def _live_call(console: RunningConsole, floor: FakeFloor, call_id: str, seat: str) -> None:
    arrived = time.time() - 30
    console.services.calls.save(call_id, caller_number="13911112222", arrived_epoch=arrived, state="talking",
                                arrived=iso_local(arrived, console.settings.zone), seat=seat)
    await console.services.calls.flush()
    floor.seat_calls[seat] = {"call_id": call_id, "number": "13911112222", "name": "", "category": "",
                              "phase": "talking", "three_way": {"unit": "zezhou", "joined": True, "note": None,
                                                                "last_unit": "zezhou"}}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = dataclasses.replace(console_settings(tmp_path), trunk=TrunkSection("127.0.0.1:5099"))
    async with Store(settings.paths.database) as store:
        floor = ThreeWayFloor(settings, store)
        floor.services.tickets.directory = with_phone(floor.services.tickets.directory, "zezhou", PHONE)
        async with console_running(settings, floor) as running:
            await _live_call(running, floor, "live1", "seat1")
            yield running


async def _client(http: aiohttp.ClientSession, console: RunningConsole, user: str) -> Client:
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, "/wallboard" if user == "supervisor"
                                                     else "/operator"))


def _floor(console: RunningConsole) -> ThreeWayFloor:
    assert isinstance(console.floor, ThreeWayFloor)
    return console.floor


async def test_the_operator_of_the_seat_brings_a_unit_in_takes_it_off_and_leaves(console: RunningConsole) -> None:
    async with http_session() as http:
        operator = await _client(http, console, "seat1")
        listing = await operator.get("/api/operator/threeway/units")
        assert listing["trunk"] is True and [u["code"] for u in listing["units"]] == ["zezhou"]
        assert await operator.post("/api/calls/live1/threeway", {"unit": "泽州县人民政府"}, status=400)
        done = await operator.post("/api/calls/live1/threeway", {"unit": "zezhou"})
        assert done == {"call_id": "live1", "unit": "zezhou", "state": "dialling"}
        await operator.post("/api/calls/live1/threeway/hangup-unit")
        await operator.post("/api/calls/live1/threeway/leave")
        now = await operator.get("/api/operator/now")
        assert now["call"]["three_way"]["unit"] == "zezhou" and now["call"]["three_way"]["joined"] is True
    assert _floor(console).moves == [("live1", "seat1", "add", "zezhou", PHONE), ("live1", "seat1", "drop", "", ""),
                                     ("live1", "seat1", "leave", "", "")]


async def test_another_seats_operator_and_the_supervisor_are_refused_with_403(console: RunningConsole) -> None:
    async with http_session() as http:
        other = await _client(http, console, "seat2")
        for path, body in (("", {"unit": "zezhou"}), ("/hangup-unit", {}), ("/leave", {})):
            refused = await other.post(f"/api/calls/live1/threeway{path}", body, status=403)
            assert "本坐席" in refused["error"]
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        await supervisor.post("/api/calls/live1/threeway", {"unit": "zezhou"}, status=403)
        await supervisor.get("/api/operator/threeway/units", status=403)
    async with http_session() as http:  # the operator's own call, but without the CSRF token
        await _client(http, console, "seat1")
        async with http.post(f"{console.url}/api/calls/live1/threeway", json={"unit": "zezhou"}) as response:
            assert response.status == 403
    assert _floor(console).moves == []


async def test_a_unit_without_a_phone_no_trunk_a_call_no_longer_live_or_a_refused_move_give_clear_409s(
        console: RunningConsole) -> None:
    floor = _floor(console)
    async with http_session() as http:
        operator = await _client(http, console, "seat1")
        no_phone = await operator.post("/api/calls/live1/threeway", {"unit": "yangcheng"}, status=409)
        assert "未登记电话" in no_phone["error"] and "阳城县人民政府" in no_phone["error"]
        await operator.post("/api/calls/nosuchcall/threeway", {"unit": "zezhou"}, status=404)
        floor.refuse_with = UNIT_BUSY
        busy = await operator.post("/api/calls/live1/threeway", {"unit": "zezhou"}, status=409)
        assert "已在呼叫或已接入一个单位" in busy["error"]
        floor.refuse_with = None
        # The call is over on the operator's seat: the row says seat1, the floor no longer does.
        del floor.seat_calls["seat1"]
        over = await operator.post("/api/calls/live1/threeway/leave", status=409)
        assert "不在本坐席通话中" in over["error"]
        floor.seat_calls["seat1"] = {"call_id": "live1", "phase": "talking"}
        object.__setattr__(console.settings, "trunk", TrunkSection(""))  # the console reads the settings it was given
        no_trunk = await operator.post("/api/calls/live1/threeway", {"unit": "zezhou"}, status=409)
        assert "外线中继" in no_trunk["error"]
        assert (await operator.get("/api/operator/threeway/units"))["trunk"] is False
    assert floor.moves == []


async def test_without_the_controller_the_console_says_three_way_calls_are_unavailable(tmp_path: Path) -> None:
    settings = dataclasses.replace(console_settings(tmp_path), trunk=TrunkSection("127.0.0.1:5099"))
    async with Store(settings.paths.database) as store:
        floor = FakeFloor(settings, store)
        floor.services.tickets.directory = with_phone(floor.services.tickets.directory, "zezhou", PHONE)
        async with console_running(settings, floor) as running, http_session() as http:
            await _live_call(running, floor, "live1", "seat1")
            operator = await _client(http, running, "seat1")
            refused = await operator.post("/api/calls/live1/threeway", {"unit": "zezhou"}, status=503)
            assert "控制器" in refused["error"]


async def test_the_timeline_names_the_unit_of_a_three_way_call(console: RunningConsole) -> None:
    calls, zone = console.services.calls, console.settings.zone
    now = time.time()
    calls.log("live1", "UNIT_DIALLED", now, iso_local(now, zone), seat="seat1", data={"unit": "zezhou"})
    calls.log("live1", "UNIT_FAILED", now + 5, iso_local(now + 5, zone), seat="seat1",
              data={"unit": "zezhou", "result": "busy", "cause": 17})
    await calls.flush()
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        events = (await supervisor.get("/api/calls/live1"))["events"]
    assert [(e["kind"], e["data"]["unit_name"], e["data"].get("result")) for e in events] == [
        ("UNIT_DIALLED", "泽州县人民政府", None), ("UNIT_FAILED", "泽州县人民政府", "busy")]
