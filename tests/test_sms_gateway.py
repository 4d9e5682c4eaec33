"""The SMS platform (2112345) over real HTTP: the gateway's signed messages become tickets
(or join the number's open one); every refusal (no or bad signature, an old or future
timestamp, a replay, a 1 MB body, not a message) is a 4xx and stores nothing; replies
queued by the desk reach a local fake gateway, signed, and are marked sent, retried when
the gateway fails, failed when it never takes them."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcenter.settings import Settings, SmsSection
from callcenter.sms.repository import SmsRepository
from callcenter.sms.sender import MAX_ATTEMPTS, HttpGateway, SmsSender, sms_sender_running
from callcenter.sms.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, sign, signed_headers, verify
from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from tests.harness import free_port, instance_env, run_hotline
from tests.web_helpers import FakeFloor, RunningConsole, console_running, console_settings

SECRET = "s3cret-shared-with-the-gateway"
CITIZEN = "13912345678"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    plain = console_settings(tmp_path)
    return dataclasses.replace(plain, sms=dataclasses.replace(plain.sms, secret=SECRET))


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[RunningConsole]:
    async with Store(settings.paths.database) as store, console_running(settings, FakeFloor(settings, store)) as c:
        yield c


def _message(message_id: str = "gw-1", number: str = CITIZEN, text: str = "小区停水两天了，何时恢复？",
             sent: object = None) -> bytes:
    return json.dumps({"from": number, "text": text, "time": time.time() if sent is None else sent,
                       "id": message_id}, ensure_ascii=False).encode()


async def _post(console: RunningConsole, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    sent = signed_headers(SECRET, body, time.time()) if headers is None else headers
    async with aiohttp.ClientSession() as http, http.post(f"{console.url}/gateway/sms", data=io.BytesIO(body),
                                                          headers=sent) as answer:
        text = await answer.text()
        return answer.status, json.loads(text) if text.startswith("{") else text


async def _counts(console: RunningConsole) -> tuple[int, int]:
    def read(db: Any) -> tuple[int, int]:
        return (db.execute("SELECT count(*) FROM tickets").fetchone()[0],
                db.execute("SELECT count(*) FROM ticket_messages").fetchone()[0])
    return await console.services.store.reading(read)


async def test_a_signed_message_becomes_an_sms_ticket_acknowledged_with_its_number(console: RunningConsole) -> None:
    status, answer = await _post(console, _message(sent="2026-12-04T09:30:00+08:00"))
    assert status == 200 and answer["joined"] is False, answer
    detail = await console.services.tickets.detail(int(answer["ticket_id"]))
    row = detail.ticket
    assert (row["channel"], row["contact_number"], row["unit"], row["source_ref"]) == (
        "sms", CITIZEN, "hotline-office", "gw-1")
    assert row["received"] == "2026-12-04T09:30:00+08:00" and row["acknowledged_epoch"] is not None
    assert row["responded_epoch"] is None  # the acknowledgement is not a person's answer
    assert [(m["direction"], m["automatic"], m["status"]) for m in detail.messages] == [
        ("in", 0, "received"), ("out", 1, "queued")]
    assert f"工单号{answer['ticket_id']}" in str(detail.messages[1]["body"])


async def test_a_second_message_within_24_hours_joins_the_ticket_and_an_older_ticket_is_left(
        console: RunningConsole) -> None:
    _, first = await _post(console, _message("gw-1"))
    status, second = await _post(console, _message("gw-2", text="还是没有水"))
    assert status == 200 and second == {"ticket_id": first["ticket_id"], "joined": True}
    assert [m["body"] for m in (await console.services.tickets.detail(first["ticket_id"])).messages
            if m["direction"] == "in"] == ["小区停水两天了，何时恢复？", "还是没有水"]
    await console.services.store.transaction(lambda db: db.execute(
        "UPDATE tickets SET created_epoch = created_epoch - 25 * 3600"))  # the ticket is now 25 hours old
    _, third = await _post(console, _message("gw-3", text="又停水了"))
    assert third["joined"] is False and third["ticket_id"] != first["ticket_id"]
    _, other = await _post(console, _message("gw-4", number="13800000000"))
    assert other["joined"] is False and other["ticket_id"] not in (first["ticket_id"], third["ticket_id"])


@pytest.mark.parametrize(("case", "status"), [
    ("no signature", 401), ("bad signature", 401), ("signed with another secret", 401),
    ("old timestamp", 401), ("future timestamp", 401), ("timestamp not a number", 401),
    ("1 MB body", 413), ("not JSON", 400), ("missing fields", 400), ("empty text", 400),
    ("number with letters", 400), ("time without offset", 400), ("id with spaces", 400), ("text too long", 400),
])
async def test_a_refused_request_gets_its_4xx_and_stores_nothing(console: RunningConsole, case: str,
                                                               status: int) -> None:
    body = _message()
    now = time.time()
    headers = signed_headers(SECRET, body, now)
    if case == "no signature":
        headers = {"Content-Type": "application/json"}
    elif case == "bad signature":
        headers[SIGNATURE_HEADER] = "sha256=" + "0" * 64
    elif case == "signed with another secret":
        headers = signed_headers("not-the-secret", body, now)
    elif case == "old timestamp":
        headers = signed_headers(SECRET, body, now - 301)
    elif case == "future timestamp":
        headers = signed_headers(SECRET, body, now + 301)
    elif case == "timestamp not a number":
        headers[TIMESTAMP_HEADER] = "yesterday"
        headers[SIGNATURE_HEADER] = sign(SECRET, "yesterday", body)
    else:
        body = {
            "1 MB body": _message(text="噪" * 350_000),
            "not JSON": b"from=139&text=hi",
            "missing fields": json.dumps({"from": CITIZEN, "text": "x"}).encode(),
            "empty text": _message(text="   "),
            "number with letters": _message(number="1391234abcd"),
            "time without offset": _message(sent="2026-12-04T09:30:00"),
            "id with spaces": _message(message_id="gw 1"),
            "text too long": _message(text="长" * 2001),
        }[case]
        headers = signed_headers(SECRET, body, now)
    got, answer = await _post(console, body, headers)
    assert got == status, (case, answer)
    assert await _counts(console) == (0, 0), case


async def test_a_replay_of_a_taken_message_is_refused_and_nothing_more_is_stored(console: RunningConsole) -> None:
    body = _message("gw-7")
    headers = signed_headers(SECRET, body, time.time())
    assert (await _post(console, body, headers))[0] == 200
    stored = await _counts(console)
    status, answer = await _post(console, body, headers)  # the very same request again, within the window
    assert status == 409 and answer["id"] == "gw-7", answer
    assert await _counts(console) == stored


async def test_without_a_secret_the_gateway_is_refused(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    assert settings.sms.secret == ""
    async with Store(settings.paths.database) as store, console_running(settings, FakeFloor(settings, store)) as c:
        status, answer = await _post(c, _message())
        assert status == 503 and "HOTLINE_SMS_SECRET" in answer["error"]


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    # openssl dgst -sha256 -hmac key <<< '1700000000.{}' (no newline) gives the same hex.
    assert sign("key", "1700000000", b"{}") == \
        "sha256=" + __import__("hmac").new(b"key", b"1700000000.{}", "sha256").hexdigest()
    verify("key", "1700000000", sign("key", "1700000000", b"{}"), b"{}", 1700000100.0, 300)
    with pytest.raises(SignatureError, match="window"):
        verify("key", "1700000000", sign("key", "1700000000", b"{}"), b"{}", 1700000301.0, 300)
    with pytest.raises(SignatureError, match="bad signature"):
        verify("key", "1700000000", sign("key", "1700000000", b"{}"), b"{ }", 1700000000.0, 300)


# ----------------------------------------------------------------------------- replies out


class FakeGateway:
    """An SMS gateway on a free loopback port: checks the hotline's signature, records what
    it got, answers with an id; refuses the first `failures` posts with 502."""

    def __init__(self, failures: int = 0) -> None:
        self.got: list[dict[str, Any]] = []
        self.failures = failures
        self.bad_signatures = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(SECRET, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body,
                   time.time(), 300)
        except SignatureError:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=502, text="upstream down")
        self.got.append(json.loads(body))
        return web.json_response({"id": f"out-{len(self.got)}"})


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = FakeGateway()
    app = web.Application()
    app.router.add_post("/send", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port((socket.SOCK_STREAM,))
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{port}/send"
    yield fake
    await runner.cleanup()


async def _until(what: str, check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_the_acknowledgement_and_a_persons_reply_reach_the_gateway_signed_and_are_marked_sent(
        settings: Settings, gateway: FakeGateway) -> None:
    with_gateway = dataclasses.replace(settings, sms=dataclasses.replace(settings.sms, gateway_url=gateway.url))
    async with Store(settings.paths.database) as store:
        floor = FakeFloor(with_gateway, store)
        desk = floor.services.tickets
        repository = SmsRepository(store)
        async with console_running(with_gateway, floor) as console, \
                sms_sender_running(with_gateway, repository, desk):
            _, answer = await _post(console, _message("gw-1"))
            ticket_id = int(answer["ticket_id"])
            await desk.respond(ticket_id, "供水管道抢修中，预计今晚八点恢复。", actor="supervisor")

            async def both_sent() -> bool:
                rows = (await desk.detail(ticket_id)).messages
                return [r["status"] for r in rows if r["direction"] == "out"] == ["sent", "sent"]
            await _until("both replies sent", both_sent)
        assert gateway.bad_signatures == 0
        assert [(g["to"], g["from"]) for g in gateway.got] == [(CITIZEN, "2112345")] * 2
        assert f"工单号{ticket_id}" in gateway.got[0]["text"]
        assert gateway.got[1]["text"] == "供水管道抢修中，预计今晚八点恢复。"
        out = [m for m in (await desk.detail(ticket_id)).messages if m["direction"] == "out"]
        assert [m["external_id"] for m in out] == ["out-1", "out-2"]


async def test_a_gateway_that_fails_twice_gets_the_reply_on_the_third_try_and_one_always_failing_marks_it_failed(
        settings: Settings, gateway: FakeGateway) -> None:
    async with Store(settings.paths.database) as store:
        desk = FakeFloor(settings, store).services.tickets
        repository = SmsRepository(store)
        sender = SmsSender(repository, HttpGateway(gateway.url, "2112345", SECRET), backoff=(0.0,))
        ticket_id = await desk.take_in(WrittenMessage(Channel.SMS, "路灯坏了", contact_number=CITIZEN))
        await desk.respond(ticket_id, "已派人维修", actor="supervisor")
        gateway.failures = 2
        for _ in range(3):
            await sender.send_due()
        [reply] = [m for m in (await desk.detail(ticket_id)).messages if m["direction"] == "out"]
        assert (reply["status"], reply["attempts"], len(gateway.got)) == ("sent", 3, 1)

        await desk.respond(ticket_id, "维修完毕", actor="supervisor")
        gateway.failures = 10**6
        for _ in range(MAX_ATTEMPTS + 2):
            await sender.send_due()
        last = (await desk.detail(ticket_id)).messages[-1]
        assert (last["status"], last["attempts"]) == ("failed", MAX_ATTEMPTS) and "502" in str(last["error"])
        assert [r["id"] for r in await repository.outbox()] == [last["id"]]
        assert isinstance(sender.gateway, HttpGateway)
        await sender.gateway.close()


def test_the_sms_section_keeps_its_secret_out_of_repr() -> None:
    assert SECRET not in repr(SmsSection(secret=SECRET))


async def test_the_cli_sends_a_signed_test_message_and_lists_the_outbox(console: RunningConsole) -> None:
    env = instance_env(console.settings.paths.state_dir) | {"HOTLINE_SMS_SECRET": SECRET}
    send = ("sms", "send", "--from", CITIZEN, "--text", "井盖丢了", "--id", "cli-1", "--url", console.url)
    sent = await asyncio.to_thread(run_hotline, env, *send)
    assert sent.returncode == 0 and '"joined": false' in sent.stdout, sent.stderr
    again = await asyncio.to_thread(run_hotline, env, *send)
    assert again.returncode == 1 and again.stdout.startswith("409"), again.stdout
    outbox = await asyncio.to_thread(run_hotline, env, "sms", "outbox")
    assert "queued" in outbox.stdout and "工单号" in outbox.stdout, outbox.stdout
    unsigned = await asyncio.to_thread(run_hotline, env | {"HOTLINE_SMS_SECRET": ""}, *send)
    assert unsigned.returncode == 2 and "HOTLINE_SMS_SECRET" in unsigned.stderr
