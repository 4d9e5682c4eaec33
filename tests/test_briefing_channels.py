"""The briefing's split by channel: a month with tickets from the phone, the mailbox,
SMS, the forum and typed in by hand shows each channel's contacts and tickets, and for
the written channels the responses in time, late, and still unanswered (a mailbox item
left 24 h + 1 s and an SMS left 3 min + 1 s are late), in the JSON, the text and the
HTML; the seed's January comes out exactly as before, the split after its lines."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.reports import Briefing, build_briefing, format_html, format_text, headline, parse_month
from callcenter.services import Services
from callcenter.store import Store
from callcenter.tickets import TicketService, WrittenMessage
from callcenter.tickets.repository import TicketRepository
from callcenter.vocabulary import Channel
from tests.test_reports import DIRECTORY, SEED_PARAGRAPH, ZONE, at, seeded
from tests.web_helpers import console_settings

END_OF_JANUARY = at("2009-01-31T23:59:50+08:00")  # when the briefing is made


@pytest.fixture(scope="module")
def january_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded(tmp_path_factory.mktemp("january") / "hotline.db", "jan-seed", "2009-01")


@pytest.fixture
def all_channels_db(january_db: Path, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "hotline.db"
    shutil.copy(january_db, path)
    yield path


async def _written_month(path: Path, tmp_path: Path) -> None:
    """The seed's January plus written tickets and a manual one, each answered (or not) at a set time."""
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    clock = [0.0]
    async with Store(path) as store:
        services = Services.on(settings, store)
        tickets = TicketService(settings, TicketRepository(store), services.calls, services.tickets.directory,
                                clock=lambda: clock[0])

        async def message(channel: Channel, received: str | float, answered_after: float | None = None,
                          acknowledged_after: float | None = None) -> int:
            start = at(received) if isinstance(received, str) else received
            clock[0] = start
            ticket_id = await tickets.take_in(WrittenMessage(channel=channel, body="路灯不亮", received_epoch=start,
                                                             contact_number="13912345678", actor="public"))
            if acknowledged_after is not None:
                clock[0] = start + acknowledged_after
                await tickets.respond(ticket_id, "您的工单号已生成", None, automatic=True)
            if answered_after is not None:
                clock[0] = start + answered_after
                await tickets.respond(ticket_id, "已转办", "supervisor")
            return ticket_id

        mailbox_in_time = await message(Channel.MAILBOX, "2009-01-10T09:00:00+08:00", answered_after=7200)
        clock[0] = at("2009-01-10T12:00:00+08:00")
        await tickets.add_to(mailbox_in_time, WrittenMessage(channel=Channel.MAILBOX, body="补充：在3号楼"))
        await message(Channel.MAILBOX, "2009-01-12T09:00:00+08:00", answered_after=86401)  # answered late
        await message(Channel.MAILBOX, END_OF_JANUARY - 86401)  # unanswered 24 h + 1 s: late
        await message(Channel.MAILBOX, END_OF_JANUARY - 3600)  # unanswered, within the day
        await message(Channel.SMS, "2009-01-13T10:00:00+08:00", answered_after=60)  # in time
        await message(Channel.SMS, "2009-01-14T10:00:00+08:00", acknowledged_after=5, answered_after=1200)
        await message(Channel.SMS, END_OF_JANUARY - 181)  # unanswered 3 min + 1 s: late
        await message(Channel.FORUM, "2009-01-15T10:00:00+08:00", answered_after=3600)
        clock[0] = at("2009-01-16T10:00:00+08:00")
        await tickets.create([], "consultation", "来信转录：公交线路咨询", "zezhou", channel=Channel.MANUAL,
                             actor="supervisor")


async def _briefing(path: Path) -> Briefing:
    async with Store(path) as store:
        return await build_briefing(store, parse_month("2009-01", ZONE), zone=ZONE, now=END_OF_JANUARY,
                                    deadline_working_days=DIRECTORY.deadline_working_days)


def _by_channel(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["channel"]: c for c in figures["channels"]}


async def test_a_month_with_every_channel_shows_the_split_and_who_was_answered_in_time(
        all_channels_db: Path, tmp_path: Path) -> None:
    await _written_month(all_channels_db, tmp_path)
    b = await _briefing(all_channels_db)
    channels = _by_channel(b.to_json())
    assert list(channels) == ["phone", "mailbox", "sms", "forum", "manual"]
    phone, mailbox, sms, forum, manual = channels.values()
    assert (phone["contacts"], phone["accepted"], phone["tickets"]) == (b.service.offered, 5734, 61)
    assert phone["with_limit"] is None and phone["in_time_pct"] is None
    assert (mailbox["contacts"], mailbox["tickets"], mailbox["limit_seconds"]) == (5, 4, 86400)
    assert [mailbox[k] for k in ("with_limit", "answered_in_time", "answered_late", "late_unanswered", "waiting")] \
        == [4, 1, 1, 1, 1]
    assert mailbox["in_time_pct"] == 25.0
    # the acknowledged SMS answered 20 minutes later counts as in time (30 minutes' follow-up)
    assert [sms[k] for k in ("contacts", "tickets", "with_limit", "answered_in_time", "late_unanswered")] \
        == [3, 3, 3, 2, 1]
    assert sms["in_time_pct"] == 66.67 and sms["limit_seconds"] == 180
    assert (forum["tickets"], forum["answered_in_time"], forum["in_time_pct"]) == (1, 1, 100.0)
    assert (manual["contacts"], manual["tickets"], manual["accepted"], manual["with_limit"]) == (0, 1, None, None)
    assert sum(c["tickets"] for c in channels.values()) == b.tickets.total == 70

    text = format_text(b, DIRECTORY.title)
    assert "分渠道情况：" in text
    assert ("市长信箱：来信 5 条，工单 4 件；限时答复 4 件，按时 1，超时答复 1，超时未答复 1，时限内待答复 1；"
            "按时答复率 25.00%") in text
    assert ("短信：来信 3 条，工单 3 件；限时答复 3 件，按时 2，超时答复 0，超时未答复 1，时限内待答复 0；"
            "按时答复率 66.67%") in text
    assert "人工录入：工单 1 件" in text

    page = format_html(b, DIRECTORY.title)
    assert "<h2>分渠道情况</h2>" in page and "书面渠道答复时效" in page and "各渠道工单" in page
    assert "<script" not in page.lower() and "66.67%" in page


async def test_an_sms_answered_just_past_three_minutes_counts_late_once_the_briefing_is_made_later(
        all_channels_db: Path, tmp_path: Path) -> None:
    await _written_month(all_channels_db, tmp_path)
    async with Store(all_channels_db) as store:
        earlier = await build_briefing(store, parse_month("2009-01", ZONE), zone=ZONE, now=END_OF_JANUARY - 10)
    sms = _by_channel(earlier.to_json())["sms"]
    # ten seconds earlier the last SMS had waited 2 min 51 s: still within its limit
    assert (sms["late_unanswered"], sms["waiting"]) == (0, 1)


async def test_the_seeds_january_still_comes_out_exactly_with_the_split_after_its_lines(january_db: Path) -> None:
    b = await _briefing(january_db)
    assert headline(b) == SEED_PARAGRAPH
    text = format_text(b, DIRECTORY.title)
    assert text.index(SEED_PARAGRAPH) < text.index("分渠道情况：")
    channels = _by_channel(b.to_json())
    assert channels["phone"]["tickets"] == 61 and channels["phone"]["accepted"] == 5734
    assert all(channels[c]["tickets"] == 0 and channels[c]["in_time_pct"] is None for c in ("mailbox", "sms", "forum"))
