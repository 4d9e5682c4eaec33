"""GB/T 33358's response times on the tickets desk over HTTP: a mailbox message left
24 h + 1 s and an SMS left 3 min + 1 s are listed as late (已超时) on the desk; one
answered in time leaves the list; an automatic acknowledgement moves the limit to the
follow-up after it; only the hotline's staff respond, in writing, to written tickets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.services import Services
from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from callcenter.vocabulary import Channel
from tests.harness import instance_env
from tests.test_tickets import hotline
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

DAY, MINUTE = 86400.0, 60.0


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        running.clock[0] = time.time()  # the console's clock and the service's agree
        yield running


async def _client(console: RunningConsole, user: str) -> Client:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    landing = {"supervisor": "/wallboard", "seat1": "/operator"}.get(user, "/unit")
    return Client(http, console.url, await page_csrf(http, console.url, landing))


async def _written(console: RunningConsole, channel: Channel, age: float, body: str = "路灯不亮") -> int:
    return await console.services.tickets.take_in(WrittenMessage(
        channel=channel, body=body, received_epoch=console.clock[0] - age, contact_number="13912345678",
        actor="public"))


async def _awaiting(client: Client) -> dict[int, dict[str, Any]]:
    listed = await client.get("/api/tickets/awaiting-response")
    return {row["ticket_id"]: row for row in listed["tickets"]}


async def test_a_mailbox_item_left_24_hours_and_an_sms_left_3_minutes_are_late_on_the_desk(
        console: RunningConsole) -> None:
    mailbox = await _written(console, Channel.MAILBOX, DAY + 1)
    sms = await _written(console, Channel.SMS, 3 * MINUTE + 1)
    fresh_sms = await _written(console, Channel.SMS, 10)
    supervisor = await _client(console, "supervisor")
    try:
        listed = await supervisor.get("/api/tickets/awaiting-response")
        rows = {row["ticket_id"]: row for row in listed["tickets"]}
        assert rows[mailbox]["standing"] == "late" and rows[mailbox]["standing_label"] == "已超时"
        assert rows[sms]["standing"] == "late" and rows[sms]["seconds_left"] < 0
        assert rows[fresh_sms]["standing"] in ("waiting", "nearing") and rows[fresh_sms]["seconds_left"] > 0
        assert rows[mailbox]["channel"] == "mailbox" and rows[sms]["channel"] == "sms"
        # soonest due first: the mailbox item has been due longest
        assert [row["ticket_id"] for row in listed["tickets"]] == [mailbox, sms, fresh_sms]
    finally:
        await supervisor.http.close()


async def test_the_fresh_sms_turns_late_as_time_passes_without_any_change(console: RunningConsole) -> None:
    sms = await _written(console, Channel.SMS, 0)
    operator = await _client(console, "seat1")
    try:
        assert (await _awaiting(operator))[sms]["standing"] == "waiting"
        console.advance(3 * MINUTE + 1)
        assert (await _awaiting(operator))[sms]["standing"] == "late"
    finally:
        await operator.http.close()


async def test_a_message_answered_in_time_leaves_the_list_and_its_thread_shows_the_response(
        console: RunningConsole) -> None:
    mailbox = await _written(console, Channel.MAILBOX, 60, body="小区<b>噪音</b>扰民")
    supervisor = await _client(console, "supervisor")
    try:
        answered = await supervisor.post(f"/api/tickets/{mailbox}/respond", {"text": "已收到，正在转办"})
        assert answered["ticket_id"] == mailbox and isinstance(answered["message_id"], int)
        assert mailbox not in await _awaiting(supervisor)
        detail = await supervisor.get(f"/api/tickets/{mailbox}")
        assert detail["ticket"]["responded_by"] == "supervisor"
        assert detail["ticket"]["responded_epoch"] <= detail["ticket"]["response_due_epoch"]
        thread = [(m["direction"], m["body"], m["automatic"]) for m in detail["messages"]]
        assert thread == [("in", "小区<b>噪音</b>扰民", 0), ("out", "已收到，正在转办", 0)]
    finally:
        await supervisor.http.close()


async def test_an_acknowledgement_moves_the_limit_so_a_person_following_within_it_is_in_time(
        console: RunningConsole) -> None:
    sms = await _written(console, Channel.SMS, 2 * MINUTE)
    await console.services.tickets.respond(sms, "您的工单号已生成", None, automatic=True)
    operator = await _client(console, "seat1")
    try:
        console.advance(2 * MINUTE)  # past the 3 minutes, within the 30 minutes' follow-up
        row = (await _awaiting(operator))[sms]
        assert row["standing"] in ("waiting", "nearing") and row["seconds_left"] > 20 * MINUTE
        await operator.post(f"/api/tickets/{sms}/respond", {"text": "师傅下午上门处理"})
        assert sms not in await _awaiting(operator)
    finally:
        await operator.http.close()


async def test_only_staff_respond_and_only_in_writing_with_a_text(console: RunningConsole) -> None:
    mailbox = await _written(console, Channel.MAILBOX, 60)
    phone = await console.services.tickets.take_in(WrittenMessage(channel=Channel.SMS, body="x"))
    await console.services.tickets.repository.write(lambda tables: tables.update(phone, {"channel": "phone"}))
    unit = await _client(console, "zezhou-office")
    supervisor = await _client(console, "supervisor")
    try:
        await unit.post(f"/api/tickets/{mailbox}/respond", {"text": "好的"}, status=403)
        await unit.get("/api/tickets/awaiting-response", status=403)
        await supervisor.post(f"/api/tickets/{mailbox}/respond", {"text": "   "}, status=400)
        await supervisor.post(f"/api/tickets/{mailbox}/respond", {"text": 5}, status=400)
        await supervisor.post(f"/api/tickets/{phone}/respond", {"text": "好的"}, status=400)
        await supervisor.post("/api/tickets/999999/respond", {"text": "好的"}, status=404)
        assert mailbox in await _awaiting(supervisor)  # nothing was answered
    finally:
        await unit.http.close()
        await supervisor.http.close()


def test_the_command_line_lists_tickets_by_channel_and_responds_to_a_written_one(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)

    async def take_in() -> tuple[int, int]:
        async with Store(settings.paths.database) as store:
            tickets = Services.on(settings, store).tickets
            sms = await tickets.take_in(WrittenMessage(channel=Channel.SMS, body="路灯不亮", contact_number="139"))
            mailbox = await tickets.take_in(WrittenMessage(channel=Channel.MAILBOX, body="噪音扰民"))
            return sms, mailbox

    sms, mailbox = asyncio.run(take_in())
    env = instance_env(tmp_path)
    listed = hotline(env, "tickets", "list", "--channel", "sms", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["ticket_id"] for row in json.loads(listed.stdout)] == [sms]
    answered = hotline(env, "tickets", "respond", str(mailbox), "--text", "已转办", "--by", "supervisor")
    assert answered.returncode == 0, answered.stderr
    assert f"ticket {mailbox}: response" in answered.stdout

    async def responded_by() -> object:
        async with Store(settings.paths.database) as store:
            return (await Services.on(settings, store).tickets.detail(mailbox)).ticket["responded_by"]

    assert asyncio.run(responded_by()) == "supervisor"
    refused = hotline(env, "tickets", "list", "--channel", "fax")
    assert refused.returncode != 0 and "invalid choice" in refused.stderr


async def test_staff_enter_a_ticket_with_no_call_by_hand_or_as_a_letter_that_is_then_due(
        console: RunningConsole) -> None:
    supervisor = await _client(console, "supervisor")
    unit = await _client(console, "zezhou-office")
    try:
        manual = await supervisor.post("/api/tickets", {
            "channel": "manual", "category": "consultation", "summary": "市民来访：公交线路咨询", "unit": "泽州县"},
            status=201)
        letter = await supervisor.post("/api/tickets", {
            "channel": "mailbox", "category": "complaint", "summary": "来信：工地夜间施工扰民",
            "citizen_name": "王先生"}, status=201)
        by_hand = (await supervisor.get(f"/api/tickets/{manual['ticket_id']}"))["ticket"]
        assert (by_hand["channel"], by_hand["unit"], by_hand["response_due_epoch"]) == ("manual", "zezhou", None)
        typed = await supervisor.get(f"/api/tickets/{letter['ticket_id']}")
        assert typed["ticket"]["channel"] == "mailbox" and typed["ticket"]["unit"] == "hotline-office"
        assert [m["body"] for m in typed["messages"]] == ["来信：工地夜间施工扰民"]
        assert letter["ticket_id"] in await _awaiting(supervisor)
        assert manual["ticket_id"] not in await _awaiting(supervisor)
        phone = {"channel": "phone", "category": "help", "summary": "x", "unit": "泽州县"}
        await supervisor.post("/api/tickets", phone, status=400)
        await supervisor.post("/api/tickets", {"channel": "manual", "category": "help", "summary": "x"}, status=400)
        await unit.post("/api/tickets", {"channel": "manual", "category": "help", "summary": "x", "unit": "泽州县"},
                        status=403)
    finally:
        await supervisor.http.close()
        await unit.http.close()
