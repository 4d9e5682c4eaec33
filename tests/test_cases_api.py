"""Publishing typical cases over HTTP: only a closed ticket, only with the supervisor's
confirmation, the stored text free of the citizen's number, ID number, plate and name
(even when typed back in), withdrawal with a reason, every step logged, supervisors only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from tests.test_threeway_api import _client
from tests.web_helpers import FakeFloor, RunningConsole, console_running, console_settings, http_session

LETTER = "我是赵桂芳，电话13835612345，身份证140502199001011234，车牌晋E·12345的车堵在凤台街32号楼前。"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, console_running(settings, FakeFloor(settings, store)) as c:
        yield c


async def _closed_ticket(console: RunningConsole) -> int:
    desk = console.services.tickets
    ticket_id = await desk.take_in(WrittenMessage(Channel.MAILBOX, LETTER, citizen_name="赵桂芳",
                                                  contact_number="13835612345"))
    await desk.forward(ticket_id, unit="zezhou", actor="supervisor")
    await desk.reply(ticket_id, "zezhou", "已联系车主赵女士挪车（13835612345），并在楼前施划禁停线。", actor="zezhou")
    await desk.close(ticket_id, actor="supervisor")
    return ticket_id


async def test_a_closed_ticket_is_published_redacted_only_when_confirmed_then_withdrawn_and_all_is_logged(
        console: RunningConsole) -> None:
    ticket_id = await _closed_ticket(console)
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        listed = await supervisor.get("/api/cases")
        assert [r["ticket_id"] for r in listed["candidates"]] == [ticket_id] and listed["published"] == []
        suggested = await supervisor.get(f"/api/cases/suggestion/{ticket_id}")
        body = suggested["body"]
        for secret in ("赵桂芳", "13835612345", "140502199001011234", "晋E·12345", "赵女士"):
            assert secret not in body["text"] and secret not in suggested["title"]["text"]
        assert {r["kind"] for r in body["removed"]} == {"name", "phone", "id_number", "plate"}
        placeholders = ("某某", "[电话]", "[身份证号]", "[车牌]")
        assert all(body["text"][r["start"]:r["end"]] in placeholders for r in body["removed"])
        assert "凤台街32号" in body["text"]  # the place of the problem stays

        edited = body["text"] + "\n回访时市民满意。联系人赵桂芳 13835612345"  # typed back in by mistake
        refused = await supervisor.post("/api/cases", {"ticket_id": ticket_id, "title": "楼前车辆堵路",
                                                       "body": edited, "confirm": False}, status=409)
        assert "confirmation" in refused["error"]
        assert (await supervisor.get("/api/cases"))["published"] == []
        done = await supervisor.post("/api/cases", {"ticket_id": ticket_id, "title": "楼前车辆堵路",
                                                    "body": edited, "confirm": True})
        assert "13835612345" not in done["body"]["text"] and "赵桂芳" not in done["body"]["text"]
        assert {r["kind"] for r in done["body"]["removed"]} == {"name", "phone"}  # what it still removed
        [case] = (await supervisor.get("/api/cases"))["published"]
        assert case["case_id"] == done["case_id"] and case["withdrawn_epoch"] is None
        assert (await supervisor.get("/api/cases"))["candidates"] == []

        await supervisor.post(f"/api/cases/{done['case_id']}/withdraw", {"reason": ""}, status=409)
        await supervisor.post(f"/api/cases/{done['case_id']}/withdraw", {"reason": "单位要求补充材料"})
        await supervisor.post(f"/api/cases/{done['case_id']}/withdraw", {"reason": "again"}, status=404)
        log = (await supervisor.get("/api/cases/log"))["log"]
        assert [(r["action"], r["actor"]) for r in log] == [("withdrawn", "supervisor"), ("published", "supervisor")]


async def test_an_open_ticket_is_not_published_and_only_supervisors_may(console: RunningConsole) -> None:
    desk = console.services.tickets
    open_id = await desk.take_in(WrittenMessage(Channel.MAILBOX, "井盖丢了"))
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        await supervisor.get(f"/api/cases/suggestion/{open_id}", status=409)
        await supervisor.get("/api/cases/suggestion/99999", status=404)
        await supervisor.post("/api/cases", {"ticket_id": open_id, "title": "t", "body": "b", "confirm": True},
                              status=409)
        await supervisor.post("/api/cases", {"ticket_id": "1", "title": "t", "body": "b", "confirm": True},
                              status=400)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        operator = await _client(http, console, "seat1")
        await operator.get("/api/cases", status=403)
        await operator.post("/api/cases", {"ticket_id": open_id, "title": "t", "body": "b", "confirm": True},
                            status=403)
