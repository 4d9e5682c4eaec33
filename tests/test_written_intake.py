"""A written message (mailbox, SMS, forum) taken in as a ticket, and the response limits
of GB/T 33358 against it: the ticket held by the intake unit, the same message never
taken twice, the clock stopped by a person's response and moved by an acknowledgement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.services import Services
from callcenter.settings import ChannelsSection, Settings
from callcenter.store import Store
from callcenter.tickets import TicketError, WrittenMessage
from callcenter.tickets.response import ResponseLimits
from callcenter.vocabulary import Channel, MessageStatus, ResponseStanding, TicketState
from tests.web_helpers import console_settings

LIMITS = ResponseLimits.of(ChannelsSection())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return console_settings(tmp_path)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with Store(settings.paths.database) as store:
        yield Services.on(settings, store)


async def test_a_mailbox_message_becomes_an_open_ticket_of_the_intake_unit_due_in_24_hours(
        services: Services) -> None:
    desk = services.tickets
    ticket_id = await desk.take_in(WrittenMessage(
        Channel.MAILBOX, "小区门口路灯坏了一个月", received_epoch=1_000_000.0, citizen_name="王女士",
        contact_number="13912345678", place="凤台街", category="求助", query_code_hash="h", actor="public"))
    detail = await desk.detail(ticket_id)
    row = detail.ticket
    assert (row["channel"], row["unit"], row["state"], row["category"]) == ("mailbox", "hotline-office", "open",
                                                                            "help")
    assert row["response_due_epoch"] == 1_000_000.0 + 24 * 3600 and row["responded_epoch"] is None
    assert row["summary"] == "小区门口路灯坏了一个月" and row["query_code_hash"] == "h"
    [message] = detail.messages
    assert (message["direction"], message["status"], message["body"]) == ("in", "received", "小区门口路灯坏了一个月")


async def test_the_same_sms_is_never_taken_in_twice_and_a_phone_ticket_is_not_answered_in_writing(
        services: Services) -> None:
    desk = services.tickets
    sms = WrittenMessage(Channel.SMS, "噪音扰民", contact_number="13900000001", external_id="gw-1")
    ticket_id = await desk.take_in(sms)
    with pytest.raises(TicketError, match="taken in already"):
        await desk.take_in(sms)
    with pytest.raises(TicketError, match="taken in already"):
        await desk.add_to(ticket_id, sms)
    with pytest.raises(TicketError, match="not taken in in writing"):
        await desk.take_in(WrittenMessage(Channel.PHONE, "x"))
    rows, total = await desk.listing()
    assert total == 1 and rows[0]["ticket_id"] == ticket_id


async def test_an_acknowledgement_moves_the_limit_and_a_persons_response_stops_the_clock(
        services: Services) -> None:
    desk = services.tickets
    ticket_id = await desk.take_in(WrittenMessage(Channel.SMS, "停水了", contact_number="13900000002"))
    received = float(str((await desk.detail(ticket_id)).ticket["received_epoch"]))
    await desk.respond(ticket_id, "您的留言已受理，工单号1", actor=None, automatic=True)
    row = (await desk.detail(ticket_id)).ticket
    assert row["acknowledged_epoch"] is not None and row["responded_epoch"] is None
    assert row["response_due_epoch"] == pytest.approx(float(str(row["acknowledged_epoch"])) + 30 * 60)
    await desk.respond(ticket_id, "已联系供水公司，今晚恢复", actor="supervisor")
    detail = await desk.detail(ticket_id)
    assert detail.ticket["responded_by"] == "supervisor" and float(str(detail.ticket["responded_epoch"])) >= received
    assert [(m["direction"], m["automatic"], m["status"]) for m in detail.messages] == [
        ("in", 0, "received"), ("out", 1, str(MessageStatus.QUEUED)), ("out", 0, str(MessageStatus.QUEUED))]
    assert [e["kind"] for e in detail.events] == ["created", "acknowledged", "responded"]
    assert detail.ticket["state"] == str(TicketState.OPEN)  # answering the citizen is not the unit's reply


@pytest.mark.parametrize(("channel", "acknowledged", "responded", "now", "standing"), [
    (Channel.SMS, None, None, 60.0, ResponseStanding.WAITING),
    (Channel.SMS, None, None, 120.0, ResponseStanding.NEARING),
    (Channel.SMS, None, None, 181.0, ResponseStanding.LATE),
    (Channel.SMS, None, 170.0, 999.0, ResponseStanding.IN_TIME),
    (Channel.SMS, None, 190.0, 999.0, ResponseStanding.ANSWERED_LATE),
    (Channel.SMS, 5.0, None, 600.0, ResponseStanding.WAITING),  # acknowledged: a person has 30 min more
    (Channel.SMS, 5.0, 5.0 + 29 * 60, 9999.0, ResponseStanding.IN_TIME),
    (Channel.SMS, 5.0, 5.0 + 31 * 60, 9999.0, ResponseStanding.ANSWERED_LATE),
    (Channel.SMS, 200.0, None, 300.0, ResponseStanding.LATE),  # an acknowledgement after the limit counts for nothing
    (Channel.MAILBOX, None, None, 23 * 3600.0, ResponseStanding.NEARING),
    (Channel.MAILBOX, None, None, 24 * 3600.0 + 1, ResponseStanding.LATE),
    (Channel.FORUM, None, 3600.0, 9999.0, ResponseStanding.IN_TIME),
])
def test_where_a_message_stands_against_its_limit(channel: Channel, acknowledged: float | None,
                                                  responded: float | None, now: float,
                                                  standing: ResponseStanding) -> None:
    assert LIMITS.standing(channel, 0.0, acknowledged, responded, now) is standing


def test_a_call_has_no_written_limit() -> None:
    assert LIMITS.standing(Channel.PHONE, 0.0, None, None, 1e9) is None
    assert LIMITS.due(Channel.MANUAL, 0.0) is None


async def test_a_written_ticket_is_forwarded_only_to_a_named_responsible_unit(services: Services) -> None:
    desk = services.tickets
    ticket_id = await desk.take_in(WrittenMessage(Channel.MAILBOX, "垃圾没人清运", contact_number="13900000003"))
    with pytest.raises(TicketError, match="name the responsible unit"):
        await desk.forward(ticket_id, actor="supervisor")
    assert (await desk.forward_many([ticket_id]))["forwarded"] == []
    assert await desk.forward(ticket_id, unit="泽州县", actor="supervisor") is TicketState.FORWARDED
    row = (await desk.detail(ticket_id)).ticket
    assert (row["unit"], row["state"]) == ("zezhou", "forwarded")
