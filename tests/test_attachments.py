"""The files of a unit's reply, over HTTP against the real console and store: a unit
attaches a PDF and the hotline's staff download the same bytes; every refusal (a type
judged by content, a file too large, a name that climbs out of its folder, another
unit's ticket, the wrong role, a broken-off upload) says why and leaves no file behind."""

from __future__ import annotations

import asyncio
import io
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.store import SCHEMA_VERSION, Store
from callcenter.tickets.attachments import MAX_BYTES, BadName, display_name, kind_of
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.web_helpers import Client as WebClient
from tests.web_helpers import (
    FakeFloor,
    RunningConsole,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
)

# A minimal valid PDF: one empty page, its cross-reference table and trailer.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\nxref\n0 4\n0000000000 65535 f \n"
       b"0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
       b"startxref\n164\n%%EOF\n")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
CITIZEN = "13912345678"


class RawFilename(str):
    """A Content-Disposition filename parameter written as it is."""


class Client(WebClient):
    """The console's client, and a multipart upload written by hand."""

    async def upload(self, ticket_id: int, files: list[tuple[str, bytes]], status: int = 201) -> Any:
        """POST the files as multipart, each part's header written out by hand (so a test
        controls the name exactly, as a hostile client would)."""
        boundary = "----hotline-test-boundary"
        body = b""
        for name, content in files:
            quoted = name.replace("\\", "\\\\").replace('"', '\\"')  # a quoted-string's escapes
            filename = name if isinstance(name, RawFilename) else f'filename="{quoted}"'
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {filename}\r\n"
                     "Content-Type: application/pdf\r\n\r\n").encode() + content + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        path = f"/api/unit/tickets/{ticket_id}/attachments"
        async with self.http.post(self.url + path, data=io.BytesIO(body), headers={
                "X-CSRF-Token": self.csrf, "Content-Type": f"multipart/form-data; boundary={boundary}"}) as response:
            assert response.status == status, (path, response.status, await response.text())
            return await response.json()



def _answered_call(calls: CallRepository, call_id: str, seat: str, zone: Any, at: float) -> None:
    calls.save(call_id, caller_number=CITIZEN, arrived=iso_local(at, zone), arrived_epoch=at,
               seat_answered=iso_local(at + 10, zone), ended=iso_local(at + 100, zone), outcome="answered",
               seat=seat, state="done", wait_seconds=10, talk_seconds=90)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    directory = load_directory(units_file(settings))
    for name, unit in (("zezhou-office", "zezhou"), ("yangcheng-office", "yangcheng")):
        add_unit_user(settings.paths.state_dir, name, unit, directory)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        for index, seat in enumerate(("seat1", "seat1", "seat1"), start=1):
            _answered_call(running.services.calls, f"call-{index}", seat, settings.zone, time.time() - 600 + index)
        await running.services.calls.flush()
        yield running


LANDINGS = {"supervisor": "/wallboard", "seat1": "/operator"}


async def _as(console: RunningConsole, user: str) -> tuple[aiohttp.ClientSession, Client]:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return http, Client(http, console.url, await page_csrf(http, console.url, LANDINGS.get(user, "/unit")))


async def _forwarded_ticket(console: RunningConsole, call_id: str, unit: str = "泽州县") -> int:
    http, operator = await _as(console, "seat1")
    async with http:
        created = await operator.post(f"/api/calls/{call_id}/ticket", {
            "category": "complaint", "summary": "小区路灯不亮三天了", "unit": unit}, status=201)
    ticket_id = int(created["ticket_id"])
    http, supervisor = await _as(console, "supervisor")
    async with http:
        await supervisor.post(f"/api/tickets/{ticket_id}/forward", {})
    return ticket_id


def _stored_files(console: RunningConsole) -> list[Path]:
    """Every file under the attachments folder (a ticket's empty folder may stay)."""
    root = console.settings.paths.state_dir / "attachments"
    return sorted(path for path in root.rglob("*") if not path.is_dir()) if root.exists() else []


async def test_a_unit_attaches_a_pdf_and_the_supervisor_and_an_operator_download_the_same_bytes(
        console: RunningConsole) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    http, unit = await _as(console, "zezhou-office")
    async with http:
        answer = await unit.upload(ticket_id, [("现场照片说明.pdf", PDF), ("photo.png", PNG)])
        pdf, png = answer["attachments"]
        assert (pdf["name"], pdf["content_type"], pdf["size"]) == ("现场照片说明.pdf", "application/pdf", len(PDF))
        assert png["content_type"] == "image/png"  # by its bytes: the part said application/pdf
        mine = await unit.get(f"/api/unit/tickets/{ticket_id}")
        assert [a["name"] for a in mine["attachments"]] == ["现场照片说明.pdf", "photo.png"]
        body, _ = await unit.download(f"/api/unit/tickets/{ticket_id}/attachments/{pdf['attachment_id']}")
        assert body == PDF
        await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "已修复，见附件。"})
    stored = _stored_files(console)
    assert len(stored) == 2 and all(p.parent.name == str(ticket_id) for p in stored)
    assert {p.suffix for p in stored} == {".pdf", ".png"} and all(p.stem != "现场照片说明" for p in stored)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in stored)
    for user in ("supervisor", "seat1"):
        http, staff = await _as(console, user)
        async with http:
            if user == "supervisor":
                detail = await staff.get(f"/api/tickets/{ticket_id}")
                assert [a["attachment_id"] for a in detail["attachments"]] == [pdf["attachment_id"],
                                                                               png["attachment_id"]]
                attached = [e for e in detail["events"] if e["kind"] == "attached"]
                assert [(e["actor"], e["data"]["files"]) for e in attached] == [
                    ("zezhou-office", ["现场照片说明.pdf", "photo.png"])]
            body, response = await staff.download(f"/api/tickets/{ticket_id}/attachments/{pdf['attachment_id']}")
            assert body == PDF
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert "%E7%8E%B0%E5%9C%BA" in response.headers["Content-Disposition"]  # 现场, UTF-8, percent-encoded


@pytest.mark.parametrize(("name", "content", "status", "says"), [
    ("report.pdf", ELF, 415, "不是 PDF、JPEG 或 PNG"),
    ("big.pdf", b"%PDF-1.4\n" + bytes(MAX_BYTES), 413, "超过 10 MB"),
    ("../../etc/cron.d/evil.pdf", PDF, 400, "../"),
    ("..\\evil.pdf", PDF, 400, "../"),
    ("sub/evil.pdf", PDF, 400, "“/”"),
    ("evil\x07.pdf", PDF, 400, "控制字符"),  # refused by aiohttp's header parser already
    (RawFilename("filename*=UTF-8''evil%07.pdf"), PDF, 400, "控制字符"),  # ... but not once %-encoded
    (RawFilename("filename*=UTF-8''..%2F..%2Fevil.pdf"), PDF, 400, "../"),
    ("长" * 121 + ".pdf", PDF, 400, "最多 120 个字符"),
    ("empty.pdf", b"", 415, "空文件"),
])
async def test_a_refused_file_says_why_and_leaves_no_file_behind(
        console: RunningConsole, name: str, content: bytes, status: int, says: str) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    http, unit = await _as(console, "zezhou-office")
    async with http:
        refused = await unit.upload(ticket_id, [("ok.pdf", PDF), (name, content)], status=status)
        assert says in refused["error"], refused
        assert (await unit.get(f"/api/unit/tickets/{ticket_id}"))["attachments"] == []
    assert _stored_files(console) == []  # not even the good file before it: an upload is all or nothing


async def test_another_units_ticket_is_forbidden_and_the_staff_may_not_post_to_the_unit_route(
        console: RunningConsole) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    http, other = await _as(console, "yangcheng-office")
    async with http:
        refused = await other.upload(ticket_id, [("ok.pdf", PDF)], status=403)
        assert "不是本单位的工单" in refused["error"]
        await other.upload(424242, [("ok.pdf", PDF)], status=404)
    for user in ("supervisor", "seat1"):
        http, staff = await _as(console, user)
        async with http:
            assert "无权访问" in (await staff.upload(ticket_id, [("ok.pdf", PDF)], status=403))["error"]
    assert _stored_files(console) == []


async def test_unit_b_cannot_download_unit_as_attachment_and_the_supervisor_can(console: RunningConsole) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    theirs = await _forwarded_ticket(console, "call-2", unit="阳城县")
    http, unit = await _as(console, "zezhou-office")
    async with http:
        attachment = (await unit.upload(ticket_id, [("scan.jpg", JPEG)]))["attachments"][0]
        assert attachment["content_type"] == "image/jpeg"
    path = f"/attachments/{attachment['attachment_id']}"
    http, other = await _as(console, "yangcheng-office")
    async with http:
        await other.download(f"/api/unit/tickets/{ticket_id}{path}", status=403)
        await other.download(f"/api/unit/tickets/{theirs}{path}", status=404)  # its own ticket, another's file
        await other.download(f"/api/tickets/{ticket_id}{path}", status=403)  # the staff's route
    http, supervisor = await _as(console, "supervisor")
    async with http:
        assert (await supervisor.download(f"/api/tickets/{ticket_id}{path}"))[0] == JPEG
        await supervisor.download(f"/api/tickets/{theirs}{path}", status=404)  # the file is not that ticket's
        await supervisor.download(f"/api/unit/tickets/{ticket_id}{path}", status=403)


async def test_a_reply_takes_at_most_five_files_and_none_once_the_ticket_is_replied(console: RunningConsole) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    http, unit = await _as(console, "zezhou-office")
    async with http:
        refused = await unit.upload(ticket_id, [(f"{n}.pdf", PDF) for n in range(6)], status=409)
        assert "最多上传 5 个附件" in refused["error"]
        assert _stored_files(console) == []
        await unit.upload(ticket_id, [(f"{n}.pdf", PDF) for n in range(4)])
        await unit.upload(ticket_id, [("5.pdf", PDF)])
        refused = await unit.upload(ticket_id, [("6.pdf", PDF)], status=409)
        assert "已有 5 个" in refused["error"]
        await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "已办理。"})
        refused = await unit.upload(ticket_id, [("late.pdf", PDF)], status=409)
        assert "已答复" in refused["error"]
    assert len(_stored_files(console)) == 5


async def test_an_upload_broken_off_mid_stream_leaves_no_file_behind(console: RunningConsole) -> None:
    ticket_id = await _forwarded_ticket(console, "call-1")
    http, unit = await _as(console, "zezhou-office")
    async with http:
        cookies = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    folder = console.settings.paths.state_dir / "attachments" / str(ticket_id)
    host, port = console.url.removeprefix("http://").split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    boundary = "cut-off"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + b"%PDF-1.4\n" + bytes(512 * 1024)
    writer.write((f"POST /api/unit/tickets/{ticket_id}/attachments HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Cookie: {cookies}\r\nX-CSRF-Token: {unit.csrf}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {len(head) + 4 * 1024 * 1024}\r\n\r\n").encode() + head)
    await writer.drain()
    deadline = time.monotonic() + 10
    while not list(folder.glob(".upload-*.part")):  # the server is writing it
        assert time.monotonic() < deadline, "the upload never started"
        await asyncio.sleep(0.02)
    writer.close()
    await writer.wait_closed()
    while _stored_files(console):
        assert time.monotonic() < deadline, f"a partial file stayed: {_stored_files(console)}"
        await asyncio.sleep(0.02)
    http, unit = await _as(console, "zezhou-office")
    async with http:
        assert (await unit.get(f"/api/unit/tickets/{ticket_id}"))["attachments"] == []


def test_a_files_kind_is_its_magic_bytes_and_a_name_is_refused_whole_never_cut() -> None:
    kinds = [kind_of(head) for head in (PDF, JPEG, PNG, ELF, b"%PD")]
    assert [kind.extension if kind else None for kind in kinds] == ["pdf", "jpg", "png", None, None]
    assert display_name("  答复函.pdf ") == "答复函.pdf"
    for bad in ("..", "../x.pdf", "a/b.pdf", "a\\b.pdf", "a\nb.pdf", "a\u202eb.pdf", "x" * 121, ""):
        with pytest.raises(BadName):
            display_name(bad)
    assert SCHEMA_VERSION >= 5  # the attachments' migration, and whatever came after
