"""The console's API and live feed, without Asterisk: a fake floor, a real store."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter import vocabulary
from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.seats import load_roster
from callcenter.store import Store
from callcenter.web import web_app
from callcenter.web.live import day_bounds
from callcenter.web.openapi import openapi_document
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

STATIC = Path(__file__).resolve().parent.parent / "callcenter" / "web" / "static"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        yield running


async def _client(http: aiohttp.ClientSession, console: RunningConsole, user: str) -> Client:
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, "/operator" if user != "supervisor"
                                                     else "/wallboard"))


def _put(calls: CallRepository, call_id: str, arrived: float, zone: Any, **fields: object) -> None:
    calls.save(call_id, arrived=iso_local(arrived, zone), arrived_epoch=arrived, state="done", **fields)


def test_the_openapi_document_lists_every_api_route_and_the_pages_call_only_those(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    document = openapi_document()
    app = web_app(settings, (floor := FakeFloor(settings, Store(settings.paths.database))).services, floor)
    registered = {(r.method.lower(), r.resource.canonical) for r in app.router.routes()
                  if r.resource is not None and r.resource.canonical.startswith("/api/")}
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert registered == documented
    templates = [re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/?]+", re.escape(path)) + r"(\?.*)?$")
                 for path in document["paths"]]
    called = set()
    for script in STATIC.glob("*.js"):
        for literal in re.findall(r"[`\"'](/api/[^`\"']*)[`\"']", script.read_text()):
            called.add(re.sub(r"\$\{[^}]*\}", "X", literal))
    assert len(called) >= 12, called
    for path in called:
        assert any(t.match(path) for t in templates), f"{path} is called by a page but not in the OpenAPI document"


async def test_the_wallboard_socket_pushes_at_most_four_times_a_second_and_at_least_every_second(
        console: RunningConsole) -> None:
    floor = console.floor
    assert isinstance(floor, FakeFloor)
    async with http_session() as http:
        await _client(http, console, "supervisor")
        ws = await http.ws_connect(f"{console.url}/api/floor/ws", origin=console.url)
        first = await ws.receive_json(timeout=5)
        assert first["floor"]["waiting"] == [] and first["figures"]["calls"] == 0
        # A storm of changes: pushed at most 4 a second, and the last change is shown.
        received: list[dict[str, Any]] = []
        started = time.monotonic()
        for index in range(200):
            floor.waiting = [{"call_id": "c1", "position": 1, "number": f"1380000{index:04d}", "name": "",
                              "category": "", "waited": 1, "flagged": False}]
            floor.changed()
            await asyncio.sleep(0.01)
            while True:
                try:
                    received.append(await ws.receive_json(timeout=0.001))
                except TimeoutError:
                    break
        while time.monotonic() - started < 3.0:
            try:
                received.append(await ws.receive_json(timeout=3.0 - (time.monotonic() - started)))
            except TimeoutError:
                break
        elapsed = time.monotonic() - started
        assert len(received) <= 4 * elapsed + 1, (len(received), elapsed)
        assert received[-1]["floor"]["waiting"][0]["number"] == "13800000199"
        # Quiet floor: still a push every second, so waiting times tick.
        quiet = [await ws.receive_json(timeout=2) for _ in range(3)]
        assert len(quiet) == 3
        await ws.close()


async def test_todays_figures_count_calls_answered_abandoned_average_wait_and_service_level(
        console: RunningConsole) -> None:
    calls, zone = console.services.calls, console.settings.zone
    midnight, _ = day_bounds(zone, time.time())
    at = max(midnight + 60, time.time() - 3600)
    answered = {"outcome": "answered", "seat": "seat1", "seat_answered": iso_local(at + 30, zone)}
    _put(calls, "a1", at, zone, wait_seconds=5, answer_seconds=9, **answered)
    _put(calls, "a2", at + 1, zone, wait_seconds=15, answer_seconds=15, **answered)
    _put(calls, "a3", at + 2, zone, wait_seconds=40, answer_seconds=44, **answered)
    _put(calls, "q1", at + 3, zone, outcome="abandoned_queue", wait_seconds=25)
    _put(calls, "i1", at + 4, zone, outcome="abandoned_ivr")
    _put(calls, "old", midnight - 60, zone, outcome="answered", wait_seconds=1, seat_answered=iso_local(midnight, zone))
    await calls.flush()
    async with http_session() as http:
        client = await _client(http, console, "supervisor")
        figures = (await client.get("/api/floor"))["figures"]
    assert (figures["calls"], figures["answered"], figures["abandoned"]) == (5, 3, 2)
    assert figures["average_wait"] == pytest.approx(20.0)
    # 2 answered within 15 s of arriving, of 3 answered + 1 abandoned in line.
    assert figures["service_level"] == pytest.approx(2 / 4, abs=0.001)


async def test_the_call_log_searches_by_dates_number_seat_outcome_and_category_a_page_at_a_time(
        console: RunningConsole) -> None:
    calls, zone = console.services.calls, console.settings.zone
    today = datetime.now(zone).replace(hour=10, minute=0, second=0, microsecond=0)
    for index in range(45):
        _put(calls, f"c{index}", today.timestamp() - (index % 3) * 86400 + index, zone,
             caller_number=f"139{index % 5:04d}", seat=f"seat{index % 2 + 1}",
             outcome="answered" if index % 4 else "abandoned_queue", category="help" if index % 3 == 0 else None)
    await calls.flush()
    day = today.date().isoformat()
    yesterday = (today - timedelta(days=1)).date().isoformat()
    async with http_session() as http:
        client = await _client(http, console, "supervisor")
        everything = await client.get("/api/calls?per_page=20")
        assert everything["total"] == 45 and len(everything["calls"]) == 20
        last_page = await client.get("/api/calls?per_page=20&page=3")
        assert len(last_page["calls"]) == 5
        pages = [await client.get(f"/api/calls?per_page=20&page={page}") for page in (1, 2, 3)]
        seen = {call["call_id"] for page in pages for call in page["calls"]}
        assert len(seen) == 45
        arrived = [c["arrived_epoch"] for c in everything["calls"]]
        assert arrived == sorted(arrived, reverse=True)
        assert (await client.get(f"/api/calls?from={day}&to={day}"))["total"] == 15
        assert (await client.get(f"/api/calls?from={yesterday}&to={day}"))["total"] == 30
        assert (await client.get("/api/calls?number=1390003"))["total"] == 9
        assert (await client.get("/api/calls?number=139"))["total"] == 45
        assert (await client.get("/api/calls?number=*"))["total"] == 0  # a wildcard is a character here
        assert (await client.get("/api/calls?seat=seat2"))["total"] == 22
        assert (await client.get("/api/calls?outcome=abandoned"))["total"] == 12
        assert (await client.get("/api/calls?outcome=answered&seat=seat1"))["total"] == 11  # even, not a multiple of 4
        assert (await client.get("/api/calls?category=help"))["total"] == 15
        assert (await client.get("/api/calls?category=none"))["total"] == 30
        for bad in ("from=yesterday", "outcome=lost", "seat=seat99", "page=0", "page=%C2%B2", "page=%D9%A3",
                    "per_page=1000", "per_page=%C2%B2", "category=x"):
            assert "error" in await client.get(f"/api/calls?{bad}", status=400)


async def test_a_calls_timeline_comes_from_its_events_and_a_saved_summary_is_an_event_too(
        console: RunningConsole) -> None:
    calls, zone = console.services.calls, console.settings.zone
    now = time.time()
    _put(calls, "t1", now - 60, zone, caller_number="13911112222", outcome="answered", seat="seat1",
         category="consultation", recording_path="/rec/t1.wav", recording_status="missing")
    for offset, kind in enumerate(("ARRIVED", "ENTERQUEUE", "CONNECT", "HANGUP", "RECORDING_FAILED")):
        calls.log("t1", kind, now - 60 + offset, iso_local(now - 60 + offset, zone), seat="seat1")
    await calls.flush()
    async with http_session() as http:
        operator = await _client(http, console, "seat1")
        saved = await operator.send("POST", "/api/calls/t1/summary",
                                    {"category": "complaint", "summary": "反映小区噪音扰民\x1b[31m"})
        assert saved["summary"] == "反映小区噪音扰民[31m"  # control characters never reach the store
        await operator.send("POST", "/api/calls/t1/summary", {"category": "nonsense"}, status=400)
        await operator.send("POST", "/api/calls/t1/summary", {"category": "help", "summary": "x" * 501}, status=400)
        await operator.send("POST", "/api/calls/nope/summary", {"category": "help"}, status=404)
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        detail = await supervisor.get("/api/calls/t1")
    assert [e["kind"] for e in detail["events"]] == ["ARRIVED", "ENTERQUEUE", "CONNECT", "HANGUP", "RECORDING_FAILED",
                                                      "SUMMARY"]
    assert (detail["call"]["recording_status"], detail["call"]["has_recording"]) == ("missing", True)
    assert detail["events"][-1]["data"] == {"summary": "反映小区噪音扰民[31m", "category": "complaint", "by": "seat1"}
    assert detail["call"]["category"] == "complaint" and detail["summary"]["by"] == "seat1"


async def test_the_operator_sees_the_call_on_their_seat_with_the_callers_earlier_calls(
        console: RunningConsole) -> None:
    calls, zone, floor = console.services.calls, console.settings.zone, console.floor
    assert isinstance(floor, FakeFloor)
    now = time.time()
    _put(calls, "e1", now - 7200, zone, caller_number="13933334444", outcome="abandoned_queue")
    _put(calls, "e2", now - 3600, zone, caller_number="13933334444", outcome="answered", seat="seat3")
    calls.save("live", caller_number="13933334444", caller_name="王五", arrived=iso_local(now - 20, zone),
                   arrived_epoch=now - 20, state="talking", seat="seat2", category="help")
    calls.log("live", "CATEGORY", now - 15, iso_local(now - 15, zone), data={"category": "help"})
    await calls.flush()
    floor.seat_calls["seat2"] = {"call_id": "live", "number": "13933334444", "name": "王五", "category": "help",
                                 "phase": "talking"}
    async with http_session() as http:
        operator = await _client(http, console, "seat2")
        now_on_seat = await operator.get("/api/operator/now")
        assert now_on_seat["call"]["call_id"] == "live" and now_on_seat["call"]["live"] is True
        assert now_on_seat["call"]["menu_category"] == "help" and now_on_seat["call"]["flagged"] is False
        assert [c["call_id"] for c in now_on_seat["earlier_calls"]] == ["e2", "e1"]
        assert [c["outcome"] for c in now_on_seat["earlier_calls"]] == ["answered", "abandoned_queue"]
        await operator.send("POST", "/api/operator/pause", {"paused": True, "reason": "喝水"})
        assert (await console.services.seats.rows())["seat2"]["pause_reason"] == "喝水"
        await operator.send("POST", "/api/operator/pause", {"paused": False})
        assert (await console.services.seats.rows())["seat2"]["paused"] == 0
        await operator.send("POST", "/api/calls/live/nuisance")
    async with http_session() as http:
        other = await _client(http, console, "seat3")
        assert (await other.get("/api/operator/now"))["call"]["call_id"] == "e2"  # its own last call


async def test_seat_commands_write_the_seats_table_the_controller_reads(console: RunningConsole) -> None:
    async with http_session() as http:
        client = await _client(http, console, "supervisor")
        for action, expected in (("login", {"logged_in": 1}), ("logout", {"logged_in": 0}),
                                 ("roster", {"logged_in": None}), ("pause", {"paused": 1, "pause_reason": "培训"}),
                                 ("unpause", {"paused": 0, "pause_reason": ""})):
            await client.send("POST", "/api/seats/seat4", {"action": action, "reason": "培训"})
            row = (await console.services.seats.rows())["seat4"]
            assert {key: row[key] for key in expected} == expected, action
        await client.send("POST", "/api/seats/seat4", {"action": "explode"}, status=400)
        await client.send("POST", "/api/seats/seat99", {"action": "login"}, status=404)
        async with http.post(f"{console.url}/api/seats/seat4", data="action=login",
                             headers={"X-CSRF-Token": client.csrf,
                                      "Content-Type": "application/x-www-form-urlencoded"}) as response:
            assert response.status == 415
        seats = (await client.get("/api/seats"))["seats"]
        assert [s["seat"] for s in seats] == [f"seat{n}" for n in range(1, 7)] and "calls_today" in seats[0]


async def test_the_roster_is_validated_written_atomically_and_applied_at_once(console: RunningConsole) -> None:
    path = console.settings.paths.roster
    before = path.read_text()
    two_shifts = [{"name": "白班", "start": "08:00", "end": "20:00", "seats": ["seat1", "seat2", "seat3"]},
                  {"name": "夜班", "start": "20:00", "end": "08:00", "seats": ["seat4", "seat5", "seat6"]}]
    async with http_session() as http:
        client = await _client(http, console, "supervisor")
        for bad in ([], [{**two_shifts[0], "seats": ["seat9"]}], [{**two_shifts[0], "start": "8am"}],
                    [{**two_shifts[0], "end": "08:00"}], [{**two_shifts[0], "name": "a\"]\n[x"}], "nope"):
            answer = await client.send("PUT", "/api/roster", {"shifts": bad}, status=400)
            assert answer["error"]
            assert path.read_text() == before
        saved = await client.send("PUT", "/api/roster", {"shifts": two_shifts})
    assert saved["shifts"] == two_shifts
    roster = load_roster(path, console.settings.seat_names)
    assert [(s.name, s.seats) for s in roster.shifts] == [("白班", ("seat1", "seat2", "seat3")),
                                                         ("夜班", ("seat4", "seat5", "seat6"))]
    assert console.services.seats.roster == roster
    assert not list(path.parent.glob(".*.tmp"))


async def test_supervisors_flag_and_clear_numbers_and_see_their_history(console: RunningConsole) -> None:
    async with http_session() as http:
        client = await _client(http, console, "supervisor")
        await client.send("POST", "/api/nuisance/flag", {"number": "13855556666", "reason": "反复拨打无事由"})
        flags = (await client.get("/api/nuisance"))["flags"]
        assert [(f["number"], f["rule"], f["by"]) for f in flags] == [("13855556666", "manual", "supervisor")]
        await client.send("POST", "/api/nuisance/flag", {"number": "anonymous", "reason": "x"}, status=400)
        await client.send("POST", "/api/nuisance/flag", {"number": "13855556666", "reason": ""}, status=400)
        await client.send("POST", "/api/nuisance/clear", {"number": "13855556666", "reason": "误标"})
        await client.send("POST", "/api/nuisance/clear", {"number": "13855556666"}, status=404)
        assert (await client.get("/api/nuisance"))["flags"] == []
        history = await client.get("/api/nuisance/history?number=13855556666")
        assert [(e["action"], e["by"]) for e in history["events"]] == [("flag", "supervisor"), ("clear", "supervisor")]


async def test_the_console_stops_at_once_and_closes_the_open_wallboards(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, http_session() as http:
        running = console_running(settings, FakeFloor(settings, store))
        console = await running.__aenter__()
        await _client(http, console, "supervisor")
        ws = await http.ws_connect(f"{console.url}/api/floor/ws", origin=console.url)
        await ws.receive_json(timeout=5)
        started = time.monotonic()
        await running.__aexit__(None, None, None)
        assert time.monotonic() - started < 1.0
        assert (await ws.receive(timeout=2)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"{console.url}/login"):
                pass


async def test_every_page_carries_the_vocabularys_labels_and_the_selects_are_built_from_them(
        console: RunningConsole) -> None:
    labels_block = re.compile(r'<script id="labels" type="application/json">(.*?)</script>', re.DOTALL)
    async with http_session() as http:
        await _client(http, console, "supervisor")
        for path in ("/wallboard", "/calls", "/seats", "/nuisance"):
            async with http.get(console.url + path) as page:
                text = await page.text()
            found = labels_block.search(text)
            assert found, path
            assert json.loads(found.group(1)) == vocabulary.labels()
        async with http.get(console.url + "/calls") as page:
            text = await page.text()
    for value, label in vocabulary.labels()["categories"].items():
        assert f'<option value="{value}">{label}</option>' in text
    for value, label in vocabulary.labels()["outcomes"].items():
        assert f'<option value="{value}">{label}</option>' in text
