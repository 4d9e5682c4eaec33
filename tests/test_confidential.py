"""Confidential tickets (工单保密, GB/T 33358-2016), against the real console, store and an
SMTP server (aiosmtpd): a ticket the citizen asked to keep secret reaches its unit with
the matter and never the citizen's name, numbers or address (JSON, pages, live feed,
attachments, mail); the supervisor's list withholds them too, the supervisor's detail
shows them and logs the reading; exports blank them and say 保密; the supervisor sets
and clears the mark, a merge keeps it; `hotline tickets new --confidential` and `show`."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import openpyxl
import pytest
from sqlite_utils import Database

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.mail.notices import MailNotices, mail_running
from callcenter.mail.sender import SmtpSender
from callcenter.store import Store
from callcenter.store.schema import MIGRATIONS, _v7_confidential_tickets
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.harness import instance_env, run_hotline
from tests.test_attachments import PDF
from tests.test_attachments import Client as UploadClient
from tests.test_mail import Inbox, everything_in, inbox, mail_settings  # noqa: F401 (inbox: test_mail's SMTP server fixture)
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

# What the citizen who asked for secrecy told the operator, and the number they called from.
SECRET = {"name": "欧阳秘密", "contact": "13700001111", "caller": "13600002222", "address": "城区凤台西街99号"}
# An ordinary ticket's citizen: shown to its unit, in lists and in exports (the checks can see a leak).
OPEN = {"name": "李公开", "contact": "13500003333", "caller": "13400004444", "address": "泽州县南村镇8号"}
WHY = "市民来电要求保密"
NOTE = "保密工单：如需联系市民，请通过12345热线转达"
ZEZHOU_MAIL = "banshi@zezhou.example.gov.cn"
LANDINGS = {"supervisor": "/wallboard", "seat1": "/operator"}


def _answered_call(calls: CallRepository, call_id: str, number: str, zone: Any, at: float) -> None:
    calls.save(call_id, caller_number=number, arrived=iso_local(at, zone), arrived_epoch=at,
               seat_answered=iso_local(at + 10, zone), ended=iso_local(at + 100, zone), outcome="answered",
               seat="seat1", state="done", wait_seconds=10, talk_seconds=90)


def _leaks(text: str, citizen: dict[str, str] = SECRET) -> list[str]:
    """Which of the citizen's details `text` holds (JSON read back, so no escape hides one)."""
    with contextlib.suppress(ValueError):
        text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    return [what for what, value in citizen.items() if value in text]


@dataclass
class Desk:
    console: RunningConsole
    inbox: Inbox
    notices: MailNotices


@pytest.fixture
async def desk(tmp_path: Path, inbox: tuple[Inbox, int]) -> AsyncIterator[Desk]:  # noqa: F811 (the fixture)
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    # The directory with an address for 泽州县, so that its notices are really mailed.
    units = tmp_path / "units.toml"
    units.write_text(units_file(settings).read_text(encoding="utf-8").replace(
        'code = "zezhou"\n', f'code = "zezhou"\nemail = ["{ZEZHOU_MAIL}"]\n', 1), encoding="utf-8")
    server, port = inbox
    mail = mail_settings(tmp_path / "mail", port)
    sender = SmtpSender(mail.mail, timeout=5.0, attempts=2, backoff=0.01)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        running.services.tickets.directory = load_directory(units)
        now = time.time()
        _answered_call(running.services.calls, "call-secret", SECRET["caller"], settings.zone, now - 600)
        _answered_call(running.services.calls, "call-open", OPEN["caller"], settings.zone, now - 300)
        await running.services.calls.flush()
        async with mail_running(mail, running.services.tickets, running.url, sender=sender,
                                scan_seconds=3600.0) as notices:
            assert notices is not None
            yield Desk(running, server, notices)
    sender.close()


async def _as(console: RunningConsole, user: str) -> tuple[aiohttp.ClientSession, UploadClient]:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return http, UploadClient(http, console.url, await page_csrf(http, console.url, LANDINGS.get(user, "/unit")))


async def _write(operator: UploadClient, call_id: str, citizen: dict[str, str], confidential: bool) -> int:
    created = await operator.post(f"/api/calls/{call_id}/ticket", {
        "category": "complaint", "summary": "小区路灯不亮三天了", "unit": "泽州县", "citizen_name": citizen["name"],
        "contact_number": citizen["contact"], "address": citizen["address"], "confidential": confidential},
        status=201)
    ticket_id = created["ticket_id"]
    assert isinstance(ticket_id, int)
    return ticket_id


async def _tickets(console: RunningConsole) -> tuple[int, int]:
    """A confidential ticket and an ordinary one, written by the operator (not yet forwarded)."""
    http, operator = await _as(console, "seat1")
    async with http:
        return (await _write(operator, "call-secret", SECRET, True), await _write(operator, "call-open", OPEN, False))


async def _text(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as response:
        assert response.status == 200, (url, response.status)
        return await response.text()


async def _messages(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[str]:
    """The next `count` ticket messages of a desk's feed, as sent (heartbeats skipped)."""
    out: list[str] = []
    while len(out) < count:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        if json.loads(message.data)["type"] == "ticket":
            out.append(message.data)
    return out


async def test_the_unit_never_sees_a_confidential_tickets_citizen_anywhere_and_the_supervisor_reads_them_logged(
        desk: Desk) -> None:
    console = desk.console
    secret, ordinary = await _tickets(console)
    # The operator's suggestions (same number) name the ticket without its citizen.
    op_http, _ = await _as(console, "seat1")
    async with op_http:
        found = await _text(op_http, f"{console.url}/api/tickets/similar?number={SECRET['caller']}")
        assert secret in [t["ticket_id"] for t in json.loads(found)["tickets"]] and _leaks(found) == []
    unit_http, unit = await _as(console, "zezhou-office")
    sup_http, supervisor = await _as(console, "supervisor")
    async with unit_http, sup_http:
        feed = await unit.socket("/api/unit/desk/ws")
        await supervisor.post("/api/tickets/forward", {"ids": [secret, ordinary]})
        await unit.upload(secret, [("现场照片.pdf", PDF)])
        await unit.post(f"/api/unit/tickets/{secret}/extension", {"days": 3, "reason": "需要现场勘查"})
        bodies: dict[str, str] = {}
        for path in ("/api/unit/tickets", "/api/unit/tickets?state=in_hand", f"/api/unit/tickets/{secret}",
                     "/unit", f"/unit?ticket={secret}", f"/unit/tickets/{secret}"):
            bodies[path] = await _text(unit_http, console.url + path)
        detail = json.loads(bodies[f"/api/unit/tickets/{secret}"])
        [attachment] = detail["attachments"]
        file, _ = await unit.download(f"/api/unit/tickets/{secret}/attachments/{attachment['attachment_id']}")
        bodies["the attachment"] = file.decode("latin-1")
        bodies["the reply"] = json.dumps(await unit.post(f"/api/unit/tickets/{secret}/reply", {"text": "已修复"}),
                                         ensure_ascii=False)
        for number, message in enumerate(await _messages(feed, 4)):  # forwarded x2, extension requested, replied
            bodies[f"feed message {number}"] = message
        await feed.close()
        await desk.notices.settled()
        mails = [everything_in(message, envelope.content) for message, envelope in
                 zip(desk.inbox.messages(), desk.inbox.received, strict=True) if isinstance(envelope.content, bytes)]
        assert any(f"ticket={secret}" in mail for mail in mails), mails
        bodies |= {f"mail {number}": mail for number, mail in enumerate(mails)}

        assert {where: _leaks(body) for where, body in bodies.items() if _leaks(body)} == {}
        # The unit gets the matter and, in place of the contact, the way through the hotline.
        ticket = detail["ticket"]
        assert (ticket["summary"], ticket["confidential"], ticket["contact_note"]) == ("小区路灯不亮三天了", 1, NOTE)
        assert ticket["citizen_name"] is ticket["contact_number"] is ticket["address"] is None
        assert [call["call_id"] for call in detail["calls"]] == ["call-secret"]
        assert attachment["name"] == "现场照片.pdf"
        # The same routes do carry an ordinary ticket's citizen: the checks above could see a leak.
        assert _leaks(bodies["/api/unit/tickets"], OPEN) == ["name", "contact", "address"]
        assert "contact_note" not in (await unit.get(f"/api/unit/tickets/{ordinary}"))["ticket"]

        # The supervisor's list withholds them; the detail shows them, the reading logged.
        listed = await _text(sup_http, console.url + "/api/tickets?state=replied")
        assert _leaks(listed) == []
        [row] = json.loads(listed)["tickets"]
        assert (row["ticket_id"], row["confidential"], row["citizen_name"], row["caller_number"]) == (secret, 1, None,
                                                                                                     None)
        shown = await supervisor.get(f"/api/tickets/{secret}")
        assert _leaks(json.dumps(shown, ensure_ascii=False)) == ["name", "contact", "caller", "address"]
        readings = [event for event in shown["events"] if event["kind"] == "revealed"]
        assert [event["actor"] for event in readings] == ["supervisor"]
        assert readings[0]["at"] and readings[0]["state"] == "replied"
        # An ordinary ticket's detail is no reading of a secret.
        assert "revealed" not in [e["kind"] for e in (await supervisor.get(f"/api/tickets/{ordinary}"))["events"]]
        # Each reading is a line of its own; the unit's timeline never shows them.
        await supervisor.get(f"/api/tickets/{secret}")
        events = (await supervisor.get(f"/api/tickets/{secret}"))["events"]
        assert [e["actor"] for e in events if e["kind"] == "revealed"] == ["supervisor"] * 3
        assert "revealed" not in [e["kind"] for e in (await unit.get(f"/api/unit/tickets/{secret}"))["events"]]
        labels = await _text(sup_http, f"{console.url}/tickets/{secret}")
        assert '"revealed": "查看保密信息"' in labels and '"confidential_set": "设为保密"' in labels



async def _download(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as response:
        assert response.status == 200, (url, response.status)
        return await response.read()


async def test_exports_blank_a_confidential_tickets_citizen_and_say_so_and_keep_an_ordinary_ones(desk: Desk) -> None:
    console = desk.console
    secret, ordinary = await _tickets(console)
    http, _ = await _as(console, "supervisor")
    async with http:
        text = (await _download(http, f"{console.url}/api/tickets/export?format=csv")).decode("utf-8-sig")
        xlsx = await _download(http, f"{console.url}/api/tickets/export?format=xlsx")
        book = openpyxl.load_workbook(io.BytesIO(xlsx))
        calls = (await _download(http, f"{console.url}/api/calls/export?format=csv")).decode("utf-8-sig")
    sheet = book.active
    assert sheet is not None
    for rows in (list(csv.reader(io.StringIO(text, newline=""))),
                 [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]):
        headers, *body = rows
        by_id = {int(row[0]): dict(zip(headers, row, strict=True)) for row in body}
        assert set(by_id) == {secret, ordinary}
        hidden, shown = by_id[secret], by_id[ordinary]
        assert _leaks(",".join(hidden.values())) == [] and _leaks(",".join(hidden.values()), OPEN) == []
        assert (hidden["保密"], hidden["市民姓名"], hidden["联系电话"], hidden["地址"]) == ("保密", "", "", "")
        assert hidden["诉求内容"] == "小区路灯不亮三天了"
        assert (shown["保密"], shown["市民姓名"], shown["联系电话"], shown["地址"]) == (
            "", OPEN["name"], OPEN["contact"], OPEN["address"])
    # The call log's export: the caller of the call on the confidential ticket is blank too.
    headers, *body = list(csv.reader(io.StringIO(calls, newline="")))
    numbers = {row[headers.index("来电号码")]: row[headers.index("保密")] for row in body}
    assert numbers == {"": "保密", OPEN["caller"]: ""}
    assert _leaks(calls) == []


async def test_the_supervisor_sets_and_clears_the_mark_each_a_logged_move_and_refusals_say_why(desk: Desk) -> None:
    console = desk.console
    _, ordinary = await _tickets(console)
    sup_http, supervisor = await _as(console, "supervisor")
    unit_http, unit = await _as(console, "zezhou-office")
    op_http, operator = await _as(console, "seat1")
    async with sup_http, unit_http, op_http:
        await supervisor.post(f"/api/tickets/{ordinary}/forward", {})
        assert (await unit.get(f"/api/unit/tickets/{ordinary}"))["ticket"]["citizen_name"] == OPEN["name"]
        await supervisor.post(f"/api/tickets/{ordinary}/confidential", {"confidential": True, "note": WHY})
        seen = await unit.get(f"/api/unit/tickets/{ordinary}")
        assert _leaks(json.dumps(seen, ensure_ascii=False), OPEN) == [] and seen["ticket"]["contact_note"] == NOTE
        refused = await supervisor.post(f"/api/tickets/{ordinary}/confidential", {"confidential": True}, status=409)
        assert "already confidential" in refused["error"]
        await supervisor.post(f"/api/tickets/{ordinary}/confidential", {"confidential": "yes"}, status=400)
        await supervisor.post(f"/api/tickets/{ordinary}/confidential", {}, status=400)
        await operator.post(f"/api/tickets/{ordinary}/confidential", {"confidential": False}, status=403)
        await unit.post(f"/api/tickets/{ordinary}/confidential", {"confidential": False}, status=403)
        await supervisor.post(f"/api/tickets/{ordinary}/confidential", {"confidential": False})
        assert (await unit.get(f"/api/unit/tickets/{ordinary}"))["ticket"]["citizen_name"] == OPEN["name"]
        events = (await supervisor.get(f"/api/tickets/{ordinary}"))["events"]
        moves = [(e["kind"], e["actor"], (e["data"] or {}).get("note")) for e in events
                 if e["kind"].startswith("confidential")]
        assert moves == [("confidential_set", "supervisor", WHY), ("confidential_cleared", "supervisor", None)]
        # The create API takes only true or false.
        await operator.post("/api/calls/call-open/ticket", {"category": "help", "summary": "x", "unit": "泽州县",
                                                            "confidential": 1}, status=400)


async def test_an_operator_marks_a_returned_ticket_confidential_and_a_merge_keeps_the_secret(desk: Desk) -> None:
    console = desk.console
    secret, ordinary = await _tickets(console)
    sup_http, supervisor = await _as(console, "supervisor")
    op_http, operator = await _as(console, "seat1")
    async with sup_http, op_http:
        await supervisor.post(f"/api/tickets/{ordinary}/return", {"note": "请核实市民是否要求保密"})
        [returned] = (await operator.get("/api/operator/returned"))["tickets"]
        assert (returned["ticket_id"], returned["confidential"], returned["citizen_name"]) == (
            ordinary, 0, OPEN["name"])
        await operator.post(f"/api/operator/tickets/{ordinary}/resubmit", {"note": WHY, "confidential": True})
        ticket = (await supervisor.get(f"/api/tickets/{ordinary}"))
        assert ticket["ticket"]["confidential"] == 1
        assert [e["kind"] for e in ticket["events"]][-3:] == ["resubmitted", "confidential_set", "revealed"]

        # A confidential duplicate folded into an ordinary ticket makes it confidential.
        await supervisor.post(f"/api/tickets/{ordinary}/confidential", {"confidential": False})
        await supervisor.post(f"/api/tickets/{ordinary}/merge", {"others": [secret]})
        merged = await supervisor.get(f"/api/tickets/{ordinary}")
        assert merged["ticket"]["confidential"] == 1
        [mark] = [e for e in merged["events"] if e["kind"] == "confidential_set" and e["data"].get("merged_from")]
        assert mark["data"]["merged_from"] == [secret] and mark["actor"] == "supervisor"


async def test_a_database_of_the_previous_version_gets_every_ticket_not_confidential(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = MIGRATIONS.index(_v7_confidential_tickets)
    old = Database(path)  # the file as the version before left it, one ticket in it
    for migration in MIGRATIONS[:before]:
        migration(old)
    old.close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {before}")
        db.execute("INSERT INTO tickets (created, created_epoch, category, summary, unit, unit_name, state,"
                   " state_since, state_since_epoch, deadline, deadline_epoch) VALUES"
                   " ('2024-09-19T10:00:00+08:00', 0, 'help', 'x', 'zezhou', '泽州县人民政府', 'open',"
                   " '2024-09-19T10:00:00+08:00', 0, '2024-09-30', 0)")
    async with Store(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT confidential FROM tickets").fetchall() == [(0,)]
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE tickets SET confidential = 2")


def test_the_command_line_writes_a_confidential_ticket_and_show_says_so_and_logs_the_reading(tmp_path: Path) -> None:
    env = instance_env(tmp_path)

    async def seed() -> None:
        async with Store(tmp_path / "hotline.db") as store:
            calls = CallRepository(store)
            _answered_call(calls, "call-secret", SECRET["caller"], ZoneInfo("Asia/Shanghai"), time.time() - 600)
            await calls.flush()

    asyncio.run(seed())
    out = run_hotline(env, "tickets", "new", "--call", "call-secret", "--category", "投诉举报", "--unit", "泽州县",
                      "--summary", "小区路灯不亮", "--confidential")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ticket 1 opened: complaint for 泽州县人民政府")
    assert "confidential (保密)" in out.stdout
    shown = run_hotline(env, "tickets", "show", "1", "--by", "admin")
    assert shown.returncode == 0, shown.stderr
    assert "confidential yes (保密)" in " ".join(shown.stdout.split())
    history = [line for line in shown.stdout.splitlines() if "revealed" in line]
    assert len(history) == 1 and "admin" in history[0]
    # The list (a list withholds the citizen) holds no number of theirs.
    listed = run_hotline(env, "tickets", "list", "--json")
    assert listed.returncode == 0 and _leaks(listed.stdout) == []
    assert json.loads(listed.stdout)[0]["confidential"] == 1


async def test_in_the_browser_the_operator_ticks_confidential_the_unit_reads_the_hotline_note_the_supervisor_clears_it(
        desk: Desk) -> None:
    console = desk.console
    async with chromium() as browser:
        operator = await browser_log_in(browser, console.url, "seat1", console.passwords["seat1"])
        await operator.goto(f"{console.url}/operator")
        await operator.click('#recent tr[data-call-id="call-secret"] button.ticket-from-call')
        await operator.wait_for_selector('#ticket-panel[data-call-id="call-secret"]:not([hidden])')
        assert not await operator.is_checked("#ticket-confidential")
        await operator.fill("#ticket-summary", "小区路灯不亮三天了")
        await operator.type("#ticket-unit-search", "泽州")
        await operator.wait_for_selector('.unit-option[data-code="zezhou"]')
        await operator.keyboard.press("Enter")
        await operator.wait_for_selector("#ticket-unit-picked.chosen")
        await operator.fill("#ticket-name", SECRET["name"])
        await operator.fill("#ticket-address", SECRET["address"])
        await operator.check("#ticket-confidential")
        await operator.click("#save-ticket")
        await operator.wait_for_selector("#ticket-saved:not([hidden])")  # the save is a round trip
        saved = await operator.locator("#ticket-saved").text_content()
        assert saved and "工单编号 #" in saved
        ticket_id = int(saved.split("#")[1].split("（")[0])
        await operator.context.close()

        supervisor = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await supervisor.goto(f"{console.url}/tickets")
        row = supervisor.locator(f'#tickets tr[data-ticket-id="{ticket_id}"]')
        await row.wait_for()
        assert "保密" in (await row.text_content() or "")
        await row.locator("a.open-ticket").click()
        await supervisor.wait_for_selector('#timeline li[data-kind="revealed"]')
        assert "查看保密信息" in (await supervisor.text_content('#timeline li[data-kind="revealed"]') or "")
        assert await supervisor.is_visible("#ticket-confidential")
        facts = await supervisor.text_content("#facts") or ""
        assert SECRET["name"] in facts and SECRET["caller"] in facts and SECRET["address"] in facts
        await supervisor.click("#do-forward")
        await supervisor.wait_for_selector('#timeline li[data-kind="forwarded"]')

        unit = await browser_log_in(browser, console.url, "zezhou-office", console.passwords["zezhou-office"])
        unit_row = unit.locator(f'#tickets tr[data-ticket-id="{ticket_id}"]')
        await unit_row.wait_for()
        assert "保密" in (await unit_row.text_content() or "")
        await unit.goto(f"{console.url}/unit/tickets/{ticket_id}")
        await unit.wait_for_selector("#ticket-body:not([hidden])")
        unit_facts = await unit.text_content("#facts") or ""
        assert NOTE in unit_facts and "小区路灯不亮三天了" in unit_facts
        assert _leaks(await unit.content()) == []
        await unit.screenshot(path=str(_output("confidential-unit-ticket.png")))

        # Cleared by the supervisor: the unit's open page shows the citizen at the next change.
        await supervisor.wait_for_selector("#do-confidential:has-text('取消保密')")
        await supervisor.click("#do-confidential")
        await supervisor.wait_for_selector('#timeline li[data-kind="confidential_cleared"]')
        assert "取消保密" in (await supervisor.text_content('#timeline li[data-kind="confidential_cleared"]') or "")
        await unit.wait_for_function(f"() => document.getElementById('facts').innerText.includes('{SECRET['name']}')")
        await supervisor.context.close()
        await unit.context.close()


def _output(name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT / name
