"""Exports of the ticket list and the call log, over HTTP without Asterisk: a fake floor,
a real store, the real console. The files hold exactly the rows the list's filters select,
under Chinese headers; a hostile name or summary comes out as text, never as a formula;
only the supervisor may export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.exports import CALL_COLUMNS, MAX_ROWS, TICKET_COLUMNS, call_table, guard
from callcenter.exports.csv import to_csv
from callcenter.exports.xlsx import to_xlsx
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from callcenter.web.live import day_bounds
from tests.web_helpers import (
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
)

HOSTILE = '=HYPERLINK("http://x")'
AWKWARD = '路灯坏了, "三天"\n还没修'
TICKET_HEADERS = ["工单编号", "创建时间", "渠道", "分类", "诉求内容", "承办单位", "状态", "答复期限", "剩余工作日",
                  "是否超期", "督办次数", "保密", "市民姓名", "联系电话", "地址", "答复内容", "答复时间", "满意度"]
CALL_HEADERS = ["来电时间", "来电号码", "来电人", "结果", "分类", "坐席", "班次", "话务员工号", "等待秒数", "通话秒数",
                "挂断原因", "录音", "骚扰标记", "保密"]
BIG = 15_000  # rows of XLSX that take a few seconds to write
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        # Noon today: the calls are today's whatever the hour the test runs (even just after midnight).
        calls, zone = running.services.calls, settings.zone
        now = day_bounds(zone, time.time())[0] + 12 * 3600
        _call(calls, "call-1", zone, now, seat="seat1", caller_name=HOSTILE, caller_number="13900000001",
              recording_status="ok")
        _call(calls, "call-2", zone, now + 60, seat="seat2", caller_name="李女士", caller_number="+8613900000002")
        _call(calls, "call-3", zone, now + 120, seat="seat1", caller_name="王先生", nuisance=1,
              recording_status="missing")
        _call(calls, "call-4", zone, now + 180, outcome="abandoned_queue", seat=None, caller_name="",
              hangup_cause="caller hung up in the queue")
        await calls.flush()
        tickets = running.services.tickets
        first = await tickets.create(["call-1"], "complaint", HOSTILE, "泽州县", operator="seat1",
                                     citizen_name=HOSTILE, contact_number="13900000001", address="泽州县南村镇")
        second = await tickets.create(["call-2"], "help", AWKWARD, "阳城县", operator="seat2", citizen_name="李女士",
                                      contact_number="13900000002")
        await tickets.forward(first, actor="supervisor")
        await tickets.forward(second, actor="supervisor")
        yield running


def _call(calls: CallRepository, call_id: str, zone: Any, at: float, outcome: str = "answered",
          seat: str | None = "seat1", **fields: object) -> None:
    answered = {"seat_answered": iso_local(at + 12, zone), "wait_seconds": 12, "talk_seconds": 95,
                "shift": "day"} if outcome == "answered" else {"wait_seconds": 30}
    calls.save(call_id, arrived=iso_local(at, zone), arrived_epoch=at, ended=iso_local(at + 107, zone),
               outcome=outcome, seat=seat, state="done", caller_number=fields.pop("caller_number", "13900000009"),
               **answered, **fields)


async def _logged_in(console: RunningConsole, user: str) -> Any:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return http


async def _fetch(http: Any, url: str, status: int = 200) -> tuple[bytes, Any]:
    async with http.get(url) as response:
        body = await response.read()
        assert response.status == status, (url, response.status, body[:300])
        return body, response.headers


def _sheet(body: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book.active
    assert sheet is not None
    return [[cell for cell in row] for row in sheet.iter_rows()]


def _month(console: RunningConsole) -> str:
    return datetime.now(console.settings.zone).strftime("%Y-%m")


async def test_the_ticket_export_in_excel_holds_exactly_the_filtered_tickets_under_chinese_headers(
        console: RunningConsole) -> None:
    month = _month(console)
    async with await _logged_in(console, "supervisor") as http:
        body, headers = await _fetch(http, f"{console.url}/api/tickets/export?format=xlsx&unit=zezhou&month={month}")
        listed, _ = await _fetch(http, f"{console.url}/api/tickets?unit=zezhou&month={month}")
    assert headers["Content-Type"] == XLSX
    assert headers["Content-Disposition"].endswith(f"filename*=UTF-8''{quote(f'工单_{month}.xlsx')}")
    rows = _sheet(body)
    assert [cell.value for cell in rows[0]] == TICKET_HEADERS
    assert all(cell.font.b for cell in rows[0])
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.active is not None and book.active.freeze_panes == "A2"
    assert book.active.column_dimensions["E"].width == 60  # 诉求内容 gets room
    wanted = [t["ticket_id"] for t in json.loads(listed)["tickets"]]
    assert [row[0].value for row in rows[1:]] == wanted and len(wanted) == 1
    ticket = dict(zip(TICKET_HEADERS, rows[1], strict=True))
    assert (ticket["承办单位"].value, ticket["分类"].value, ticket["渠道"].value) == (
        "泽州县人民政府", "投诉举报", "电话")
    assert ticket["是否超期"].value == "否" and ticket["剩余工作日"].value == 7 and ticket["督办次数"].value == 0
    # The hostile summary and name are text cells starting with an apostrophe: never a formula.
    for column in ("诉求内容", "市民姓名"):
        assert ticket[column].value == "'" + HOSTILE and ticket[column].data_type == "s"
    assert not any(cell.data_type == "f" for row in rows for cell in row)


async def test_the_ticket_export_in_csv_has_the_bom_rfc_4180_quoting_and_the_formula_guard(
        console: RunningConsole) -> None:
    async with await _logged_in(console, "supervisor") as http:
        body, headers = await _fetch(http, f"{console.url}/api/tickets/export?format=csv")
    assert headers["Content-Type"].startswith("text/csv") and "charset=utf-8" in headers["Content-Type"]
    assert headers["Content-Disposition"].startswith("attachment;")
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.startswith(",".join(TICKET_HEADERS) + "\r\n")
    # The summary with a comma, quotes and a line break is one quoted field, its quotes doubled.
    assert '"路灯坏了, ""三天""\n还没修"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    summaries = {row[4] for row in rows[1:]}
    assert summaries == {"'" + HOSTILE, AWKWARD}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


async def test_the_call_log_export_holds_exactly_the_calls_the_call_log_shows_for_the_same_filters(
        console: RunningConsole) -> None:
    today = datetime.now(console.settings.zone).date().isoformat()
    filters = f"from={today}&to={today}&seat=seat1"
    async with await _logged_in(console, "supervisor") as http:
        body, headers = await _fetch(http, f"{console.url}/api/calls/export?format=xlsx&{filters}")
        listed, _ = await _fetch(http, f"{console.url}/api/calls?{filters}")
        csv_body, _ = await _fetch(http, f"{console.url}/api/calls/export?format=csv&outcome=abandoned")
    assert headers["Content-Disposition"].endswith(f"filename*=UTF-8''{quote(f'通话记录_{today}.xlsx')}")
    shown = json.loads(listed)["calls"]
    rows = _sheet(body)
    assert [cell.value for cell in rows[0]] == CALL_HEADERS
    assert [row[1].value for row in rows[1:]] == [c["caller_number"] for c in shown] == ["13900000009",
                                                                                          "13900000001"]
    newest, oldest = (dict(zip(CALL_HEADERS, row, strict=True)) for row in rows[1:])
    assert oldest["来电人"].value == "'" + HOSTILE and oldest["来电人"].data_type == "s"
    assert (oldest["结果"].value, oldest["坐席"].value, oldest["班次"].value, oldest["等待秒数"].value,
            oldest["通话秒数"].value, oldest["骚扰标记"].value) == ("已接通", "seat1", "白班", 12, 95, "否")
    assert newest["骚扰标记"].value == "是" and newest["来电时间"].value == shown[0]["arrived"][:19].replace("T", " ")
    assert (oldest["录音"].value, newest["录音"].value) == ("正常", "录音失败（文件缺失）")
    abandoned = list(csv.reader(io.StringIO(csv_body.decode("utf-8-sig"), newline="")))
    assert len(abandoned) == 2 and abandoned[1][10] == "caller hung up in the queue" and abandoned[1][5] == ""


async def test_an_operator_and_a_unit_are_refused_both_exports(console: RunningConsole) -> None:
    for user in ("seat1", "zezhou-office"):
        async with await _logged_in(console, user) as http:
            for path in ("/api/tickets/export?format=xlsx", "/api/calls/export?format=csv"):
                body, _ = await _fetch(http, console.url + path, status=403)
                assert "路灯".encode() not in body and b"13900000001" not in body


@pytest.mark.parametrize("path", [
    "/api/calls/export?format=csv&seat=seat9",
    "/api/calls/export?format=xlsx&from=2026-02-30",
    "/api/calls/export?format=xlsx&outcome=maybe",
    "/api/calls/export?format=pdf",
    "/api/calls/export",
    "/api/tickets/export?format=xlsx&unit=nowhere",
    "/api/tickets/export?format=csv&month=2026-13",
    "/api/tickets/export?format=csv&state=lost",
], ids=["unknown-seat", "no-such-day", "bad-outcome", "bad-format", "no-format", "unknown-unit", "bad-month",
        "bad-state"])
async def test_a_bad_filter_or_format_is_refused_with_a_reason(console: RunningConsole, path: str) -> None:
    async with await _logged_in(console, "supervisor") as http, http.get(console.url + path) as response:
        assert response.status == 400
        assert (await response.json())["error"]


async def test_more_rows_than_the_cap_are_refused_with_the_count_and_the_loop_keeps_serving(
        console: RunningConsole) -> None:
    zone, start = console.settings.zone, 1_700_000_000.0  # 2023-11-15, all within the day
    day = datetime.fromtimestamp(start, zone).date().isoformat()
    await console.services.calls.insert_many(
        [{"call_id": f"bulk-{n}", "caller_number": "13800000000" if n < BIG else "13600000000",
          "arrived": iso_local(start + n, zone), "arrived_epoch": start + n, "outcome": "answered", "state": "done"}
         for n in range(MAX_ROWS + 1)], [])
    async with await _logged_in(console, "supervisor") as http:
        async with http.get(f"{console.url}/api/calls/export?format=csv&from={day}&to={day}") as response:
            assert response.status == 400
            message = (await response.json())["error"]
        assert str(MAX_ROWS + 1) in message and str(MAX_ROWS) in message
        # A big export is written in a worker thread: the console answers meanwhile.
        big = asyncio.create_task(_fetch(http, f"{console.url}/api/calls/export?format=xlsx&number=138"))
        await asyncio.sleep(0.5)
        assert not big.done()
        asked = time.monotonic()
        me, _ = await _fetch(http, f"{console.url}/api/me")
        answered_in = time.monotonic() - asked
        body, _ = await big
    assert b"supervisor" in me
    assert answered_in < 1.0, answered_in
    with zipfile.ZipFile(io.BytesIO(body)) as book:  # counted in the sheet's XML: openpyxl reads 50,000 rows slowly
        assert book.read("xl/worksheets/sheet1.xml").count(b"<row ") == BIG + 1


def test_the_guard_prefixes_every_formula_start_and_leaves_other_text_and_numbers_alone() -> None:
    for text in ("=1+1", "+86139", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"):
        assert guard(text) == "'" + text
    for text in ("路灯", "13900000001", " =x", "a=b", ""):
        assert guard(text) == text
    table = call_table([{"caller_name": "-1", "wait_seconds": -3, "nuisance": True}])
    row = dict(zip(CALL_HEADERS, table.rows[0], strict=True))
    assert row["来电人"] == "'-1" and row["等待秒数"] == -3 and row["骚扰标记"] == "是"
    assert [c.header for c in TICKET_COLUMNS] == TICKET_HEADERS and [c.header for c in CALL_COLUMNS] == CALL_HEADERS
    # Control characters the XML cannot hold are dropped, not a failed export.
    assert _sheet(to_xlsx(call_table([{"caller_name": "张\x01三"}])))[1][2].value == "张三"
    assert to_csv(call_table([])) == ("\ufeff" + ",".join(CALL_HEADERS) + "\r\n").encode()


async def test_the_call_log_pages_export_links_carry_the_filters_on_screen_and_download_the_file(
        console: RunningConsole) -> None:
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.goto(f"{console.url}/calls")
        await page.select_option("#seat", "seat1")
        await page.click("#search-button")
        await page.wait_for_selector("#page-info:has-text('共 2 通')")
        today = datetime.now(console.settings.zone).date().isoformat()
        href = await page.get_attribute("#export-xlsx", "href")
        assert href == f"/api/calls/export?from={today}&to={today}&seat=seat1&format=xlsx"
        assert await page.is_hidden("#export-hint")
        async with page.expect_download() as downloading:
            await page.click("#export-xlsx")
        download = await downloading.value
        assert download.suggested_filename == f"通话记录_{today}.xlsx"
        rows = _sheet(Path(await download.path()).read_bytes())
        assert len(rows) == 3 and rows[0][0].value == "来电时间"
