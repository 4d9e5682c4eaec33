"""The tickets desk: the supervisor returns, urges and decides extensions, a unit replies,
asks for more time or returns a ticket that is not its business, similar tickets are
suggested while a new one is written, and the list filters and counts days left."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
import pytest
from sqlite_utils import Database

from callcenter.calls.repository import CallRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import SCHEMA_VERSION, Store
from callcenter.store.schema import MIGRATIONS
from callcenter.tickets import (
    Action,
    ReturnedTo,
    TicketError,
    TicketService,
    check_extension_request,
    granted_days,
    next_state,
    working_days_left,
)
from callcenter.tickets.search import query_words, search_words
from callcenter.tickets.service import TicketChange
from callcenter.vocabulary import Channel, TicketState, labels
from callcenter.words import match_any
from tests.harness import instance_env, settings_for

ZONE = ZoneInfo("Asia/Shanghai")
UNIT_A, UNIT_B = "zezhou", "chengqu"


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


def put_answered(store: Store, call_id: str, arrived: str, number: str) -> None:
    epoch = at(arrived)
    CallRepository(store).save(call_id, caller_number=number, arrived=arrived, arrived_epoch=epoch,
                               outcome="answered", seat="seat3",
                               seat_answered=datetime.fromtimestamp(epoch + 15, ZONE).isoformat(),
                               wait_seconds=5, talk_seconds=120, state="done")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(instance_env(tmp_path))


@pytest.fixture
async def store(store_location: Path | str) -> AsyncIterator[Store]:
    async with Store(store_location) as running:
        for n in range(1, 7):
            put_answered(running, f"c{n}", f"2024-09-19T10:0{n}:00+08:00", f"1393560000{n}")
        put_answered(running, "again", "2024-09-20T09:00:00+08:00", "13935600001")
        await running.flush()
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2024-09-19T11:00:00+08:00"))  # a Thursday


@pytest.fixture
def desk(settings: Settings, store: Store, clock: Clock) -> TicketService:
    services = Services.on(settings, store)
    return TicketService(settings, services.tickets.repository, services.calls, services.tickets.directory,
                         clock=clock)


async def new(desk: TicketService, call: str = "c1", summary: str = "小区路灯不亮", unit: str = UNIT_A) -> int:
    return await desk.create([call], "help", summary, unit, operator="seat3", citizen_name="王先生",
                             address="泽州县金村镇", actor="op3")


async def forwarded(desk: TicketService, call: str = "c1", summary: str = "小区路灯不亮") -> int:
    ticket_id = await new(desk, call, summary)
    await desk.forward(ticket_id, actor="boss")
    return ticket_id


async def kinds(desk: TicketService, ticket_id: int) -> list[object]:
    return [e["kind"] for e in (await desk.detail(ticket_id)).events]


def data(event: dict[str, object]) -> dict[str, object]:
    value = event["data"]
    assert isinstance(value, dict)
    return value


# ------------------------------------------------------------------------ pure rules


def test_the_new_moves_lead_where_the_desk_expects() -> None:
    assert next_state(TicketState.OPEN, Action.SEND_BACK) is TicketState.OPEN
    assert next_state(TicketState.FORWARDED, Action.UNIT_RETURN) is TicketState.OPEN
    assert next_state(TicketState.REOPENED, Action.UNIT_RETURN) is TicketState.OPEN
    assert next_state(TicketState.REOPENED, Action.URGE) is TicketState.REOPENED
    assert next_state(TicketState.FORWARDED, Action.EXTEND) is TicketState.FORWARDED


def test_moves_outside_their_states_are_refused_in_words_a_clerk_can_act_on() -> None:
    with pytest.raises(TicketError, match="cannot return to the operator a ticket that is forwarded: only one that is"):
        next_state(TicketState.FORWARDED, Action.SEND_BACK)
    with pytest.raises(TicketError, match="cannot return to the supervisor a ticket that is open"):
        next_state(TicketState.OPEN, Action.UNIT_RETURN)
    with pytest.raises(TicketError, match="cannot urge a ticket that is replied: only one that is forwarded or"):
        next_state(TicketState.REPLIED, Action.URGE)


def test_an_extension_is_one_to_thirty_days_while_the_unit_has_the_ticket_and_one_at_a_time() -> None:
    check_extension_request(TicketState.FORWARDED, 30, None)
    with pytest.raises(TicketError, match="1 to 30 working days, not 31"):
        check_extension_request(TicketState.FORWARDED, 31, None)
    with pytest.raises(TicketError, match="1 to 30 working days, not 0"):
        check_extension_request(TicketState.FORWARDED, 0, None)
    with pytest.raises(TicketError, match="already waiting"):
        check_extension_request(TicketState.FORWARDED, 3, 5)
    with pytest.raises(TicketError, match="cannot ask more time for a ticket that is closed"):
        check_extension_request(TicketState.CLOSED, 3, None)
    assert granted_days(5, None) == 5 and granted_days(5, 2) == 2
    with pytest.raises(TicketError, match="no extension is waiting"):
        granted_days(None, 3)


def test_days_left_count_working_days_and_turn_negative_once_past() -> None:
    # Friday 27 September 2024 -> Saturday 12 October (adjusted working day), across National Day.
    assert working_days_left(date(2024, 10, 12), date(2024, 9, 27)) == 7
    assert working_days_left(date(2024, 10, 12), date(2024, 10, 12)) == 0
    assert working_days_left(date(2024, 10, 12), date(2024, 10, 13)) == -1  # a Sunday, still overdue
    assert working_days_left(date(2024, 10, 12), date(2024, 10, 15)) == -2


def test_channels_are_a_vocabulary_with_chinese_labels_for_the_console() -> None:
    assert labels()["channels"] == {"phone": "电话", "mailbox": "市长信箱", "sms": "短信", "forum": "论坛",
                                    "manual": "人工录入"}


def test_summaries_are_cut_into_words_that_keep_two_character_words_and_drop_filler() -> None:
    assert "路灯" in search_words("小区路灯不亮")  # search mode alone cuts 路 / 灯不亮
    assert "的" not in search_words("市民反映小区门口的下水道堵塞") and "市民" not in search_words("市民反映")
    assert query_words("路灯坏了三天") == ["路灯", "三天"]
    assert query_words("水") == ["水"]
    assert match_any(['a"b']) == '"a""b"' and match_any([]) is None


# ------------------------------------------------------------------------ the desk


async def test_a_ticket_keeps_the_citizens_contact_defaulting_to_the_callers_number(desk: TicketService) -> None:
    ticket_id = await new(desk)
    ticket = (await desk.detail(ticket_id)).ticket
    assert (ticket["citizen_name"], ticket["contact_number"], ticket["address"], ticket["channel"]) == (
        "王先生", "13935600001", "泽州县金村镇", "phone")
    other = await desk.create(["c2"], "help", "噪音扰民", UNIT_A, contact_number="0356-1234567")
    assert (await desk.detail(other)).ticket["contact_number"] == "0356-1234567"


async def test_a_ticket_from_the_mailbox_needs_no_call_but_one_by_phone_does(desk: TicketService) -> None:
    ticket_id = await desk.create([], "suggestion", "建议增加公交线路", UNIT_A, contact_number="13900000000",
                                  channel=Channel.MAILBOX)
    assert (await desk.detail(ticket_id)).ticket["channel"] == "mailbox"
    with pytest.raises(TicketError, match="needs at least one call"):
        await desk.create([], "help", "路灯坏了", UNIT_A)


async def test_the_supervisor_returns_an_open_ticket_to_its_operator_with_a_note(desk: TicketService) -> None:
    ticket_id = await new(desk)
    assert await desk.return_to_operator(ticket_id, "请补充具体地址", actor="boss") is TicketState.OPEN
    detail = await desk.detail(ticket_id)
    assert detail.ticket["returned_to"] == "operator"
    event = detail.events[-1]
    assert (event["kind"], event["actor"], event["data"]) == (
        "returned", "boss", {"to": "operator", "note": "请补充具体地址", "operator": "seat3"})
    with pytest.raises(TicketError, match="say what the operator should complete"):
        await desk.return_to_operator(ticket_id, "  ", actor="boss")
    await desk.forward(ticket_id, actor="boss")
    assert (await desk.detail(ticket_id)).ticket["returned_to"] is None
    with pytest.raises(TicketError, match="cannot return to the operator a ticket that is forwarded"):
        await desk.return_to_operator(ticket_id, "again", actor="boss")


async def test_a_unit_returns_a_ticket_that_is_not_its_business_to_the_supervisor(desk: TicketService) -> None:
    ticket_id = await forwarded(desk)
    with pytest.raises(TicketError, match="not with unit chengqu"):
        await desk.unit_return(ticket_id, UNIT_B, "不归我们管", actor="unit-b")
    assert await desk.unit_return(ticket_id, UNIT_A, "属于供电公司职责", actor="unit-a") is TicketState.OPEN
    detail = await desk.detail(ticket_id)
    assert (detail.ticket["state"], detail.ticket["returned_to"]) == ("open", "supervisor")
    assert detail.events[-1]["kind"] == "returned" and data(detail.events[-1])["reason"] == "属于供电公司职责"
    with pytest.raises(TicketError, match="cannot return to the supervisor a ticket that is open"):
        await desk.unit_return(ticket_id, UNIT_A, "again", actor="unit-a")
    await desk.forward(ticket_id, unit=UNIT_B, actor="boss")
    detail = await desk.detail(ticket_id)
    assert (detail.ticket["unit"], detail.ticket["returned_to"]) == (UNIT_B, None)


async def test_only_the_tickets_unit_replies_and_the_reply_clears_a_return(desk: TicketService) -> None:
    ticket_id = await forwarded(desk)
    with pytest.raises(TicketError, match="not with unit chengqu"):
        await desk.reply(ticket_id, UNIT_B, "已修复", actor="unit-b")
    with pytest.raises(TicketError, match="the reply is empty"):
        await desk.reply(ticket_id, UNIT_A, " ", actor="unit-a")
    assert await desk.reply(ticket_id, UNIT_A, "已修复", actor="unit-a") is TicketState.REPLIED
    ticket = (await desk.detail(ticket_id)).ticket
    assert (ticket["reply"], ticket["reply_by"], ticket["returned_to"]) == ("已修复", "泽州县人民政府", None)
    with pytest.raises(TicketError, match="cannot reply a ticket that is replied"):
        await desk.reply(ticket_id, UNIT_A, "again", actor="unit-a")


async def test_an_open_ticket_cannot_be_replied_extended_or_urged(desk: TicketService) -> None:
    ticket_id = await new(desk)
    with pytest.raises(TicketError, match="cannot reply a ticket that is open"):
        await desk.reply(ticket_id, UNIT_A, "已修复")
    with pytest.raises(TicketError, match="cannot ask more time for a ticket that is open"):
        await desk.request_extension(ticket_id, UNIT_A, 3, "需要协调")
    with pytest.raises(TicketError, match="cannot urge a ticket that is open"):
        await desk.urge(ticket_id, "尽快")
    with pytest.raises(TicketError, match="no ticket 999"):
        await desk.urge(999, "尽快")


async def test_urging_counts_and_keeps_when_and_who(desk: TicketService, clock: Clock) -> None:
    ticket_id = await forwarded(desk)
    assert await desk.urge(ticket_id, "请尽快办理", actor="boss") == 1
    clock.now += 3600
    assert await desk.urge(ticket_id, None, actor="boss") == 2
    detail = await desk.detail(ticket_id)
    assert (detail.ticket["urge_count"], detail.ticket["last_urged_epoch"]) == (2, clock.now)
    assert [data(e)["count"] for e in detail.events if e["kind"] == "urged"] == [1, 2]
    await desk.reply(ticket_id, UNIT_A, "已修复")
    with pytest.raises(TicketError, match="cannot urge a ticket that is replied"):
        await desk.urge(ticket_id, "尽快", actor="boss")


def _working_days_after(start: date, count: int) -> date:
    """The count-th working day after `start`, straight from chinesecalendar."""
    day = start
    while count:
        day += timedelta(days=1)
        count -= bool(chinese_calendar.is_workday(day))
    return day


async def test_a_granted_extension_moves_the_deadline_by_working_days_across_national_day(
        desk: TicketService) -> None:
    # Created Thursday 19 September 2024: 7 working days end on Sunday 29 September (an
    # adjusted working day). Three more: 30 September, then 8 and 9 October after the holiday.
    ticket_id = await forwarded(desk)
    assert (await desk.detail(ticket_id)).ticket["deadline"] == "2024-09-29"
    with pytest.raises(TicketError, match="not with unit chengqu"):
        await desk.request_extension(ticket_id, UNIT_B, 3, "需要协调", actor="unit-b")
    with pytest.raises(TicketError, match="say why"):
        await desk.request_extension(ticket_id, UNIT_A, 3, "", actor="unit-a")
    assert await desk.request_extension(ticket_id, UNIT_A, 3, "需要协调供电公司", actor="unit-a") == 3
    with pytest.raises(TicketError, match="already waiting"):
        await desk.request_extension(ticket_id, UNIT_A, 2, "再延", actor="unit-a")
    assert (await desk.detail(ticket_id)).ticket["pending_extension_days"] == 3
    assert await desk.decide_extension(ticket_id, True, actor="boss") == "2024-10-09"
    assert _working_days_after(date(2024, 9, 29), 3) == date(2024, 10, 9)
    detail = await desk.detail(ticket_id)
    ticket = detail.ticket
    assert (ticket["deadline"], ticket["deadline_estimated"], ticket["pending_extension_days"]) == (
        "2024-10-09", 0, None)
    assert ticket["deadline_epoch"] == at("2024-10-10T00:00:00+08:00")
    event = detail.events[-1]
    assert (event["kind"], event["actor"]) == ("extension_granted", "boss")
    assert (data(event)["old_deadline"], data(event)["new_deadline"], data(event)["days"]) == (
        "2024-09-29", "2024-10-09", 3)
    with pytest.raises(TicketError, match="no extension is waiting"):
        await desk.decide_extension(ticket_id, True, actor="boss")


async def test_the_supervisor_may_grant_other_days_or_refuse_and_the_deadline_stays(desk: TicketService) -> None:
    ticket_id = await forwarded(desk)
    await desk.request_extension(ticket_id, UNIT_A, 10, "需要协调", actor="unit-a")
    assert await desk.decide_extension(ticket_id, True, actor="boss", days=1) == "2024-09-30"
    await desk.request_extension(ticket_id, UNIT_A, 5, "还需时间", actor="unit-a")
    assert await desk.decide_extension(ticket_id, False, actor="boss") == "2024-09-30"
    detail = await desk.detail(ticket_id)
    assert (detail.ticket["deadline"], detail.ticket["pending_extension_days"]) == ("2024-09-30", None)
    assert await kinds(desk, ticket_id) == ["created", "forwarded", "extension_requested", "extension_granted",
                                            "extension_requested", "extension_refused"]


async def test_an_extension_past_the_calendar_is_marked_estimated(desk: TicketService, store: Store) -> None:
    ticket_id = await forwarded(desk)
    last = max(chinese_calendar.constants.holidays).year
    await desk.repository.write(lambda tables: tables.update(ticket_id, {"deadline": f"{last}-12-30"}))
    await desk.request_extension(ticket_id, UNIT_A, 5, "跨年", actor="unit-a")
    await desk.decide_extension(ticket_id, True, actor="boss")
    assert (await desk.detail(ticket_id)).ticket["deadline_estimated"] == 1


async def test_forwarding_many_says_which_went_and_why_the_others_did_not(desk: TicketService) -> None:
    first, second = await new(desk, "c1"), await new(desk, "c2", "噪音扰民")
    await desk.forward(second, actor="boss")
    outcome = await desk.forward_many([first, second, 999], actor="boss")
    assert outcome["forwarded"] == [first, second]  # forwarding a forwarded ticket again is allowed
    assert outcome["failed"] == [{"ticket_id": 999, "reason": "no ticket 999 (`hotline tickets list --state all` "
                                                              "lists them)"}]
    replied = await new(desk, "c3", "供暖不热")
    await desk.forward(replied)
    await desk.reply(replied, UNIT_A, "已处理")
    outcome = await desk.forward_many([replied], actor="boss")
    assert outcome["forwarded"] == [] and "cannot forward a ticket that is replied" in str(outcome["failed"])


# ------------------------------------------------------------------------ similar tickets


async def test_a_call_from_the_same_number_finds_that_numbers_open_ticket(desk: TicketService, clock: Clock) -> None:
    ticket_id = await new(desk, "c1", "小区路灯不亮")
    await new(desk, "c2", "噪音扰民")
    found = await desk.similar("13935600001", "", clock.now)
    assert [(r["ticket_id"], r["reason"]) for r in found] == [(ticket_id, "same number")]
    assert await desk.similar("13935600001", "", clock.now + 31 * 86400) == []


async def test_a_summary_sharing_a_two_character_word_finds_the_ticket_and_unrelated_text_does_not(
        desk: TicketService, clock: Clock) -> None:
    lamp = await new(desk, "c1", "小区路灯不亮")
    await new(desk, "c2", "电梯坏了")
    found = await desk.similar("", "路灯坏了三天", clock.now)
    assert [(r["ticket_id"], r["reason"]) for r in found] == [(lamp, "similar summary")]
    assert found[0]["snippet"] == [["小区", False], ["路灯", True], ["不亮", False]]
    assert await desk.similar("", "咨询社保缴费", clock.now) == []
    assert await desk.similar("", "的了吗", clock.now) == []


async def test_a_ticket_found_by_number_and_summary_is_suggested_once_and_closed_ones_never(
        desk: TicketService, clock: Clock) -> None:
    lamp = await new(desk, "c1", "小区路灯不亮")
    found = await desk.similar("13935600001", "路灯又坏了", clock.now)
    assert [(r["ticket_id"], r["reason"]) for r in found] == [(lamp, "same number")]
    await desk.forward(lamp)
    await desk.reply(lamp, UNIT_A, "已修复")
    assert await desk.similar("13935600001", "路灯又坏了", clock.now) == []


async def test_a_merged_ticket_is_found_through_its_target_by_the_words_of_either(
        desk: TicketService, clock: Clock) -> None:
    target, source = await new(desk, "c1", "小区路灯不亮"), await new(desk, "c2", "楼道照明损坏")
    assert await desk.merge(target, [source], actor="boss") == 1
    assert [r["ticket_id"] for r in await desk.similar("", "照明", clock.now)] == [target]


# ------------------------------------------------------------------------ the list


async def test_the_list_filters_counts_and_gives_working_days_left(desk: TicketService, clock: Clock) -> None:
    lamp, noise, mail = await new(desk, "c1"), await new(desk, "c2", "噪音扰民", UNIT_B), await desk.create(
        [], "suggestion", "建议增加公交线路", UNIT_A, channel=Channel.MAILBOX)
    await desk.forward(lamp)
    await desk.return_to_operator(noise, "补充地址")
    rows, total = await desk.listing(limit=2)
    assert total == 3 and len(rows) == 2
    rows, total = await desk.listing(limit=2, offset=2)
    assert total == 3 and len(rows) == 1
    assert [r["ticket_id"] for r in (await desk.listing(unit=UNIT_B))[0]] == [noise]
    assert [r["ticket_id"] for r in (await desk.listing(channel="mailbox"))[0]] == [mail]
    assert [r["ticket_id"] for r in (await desk.listing(category="help", unit=UNIT_A))[0]] == [lamp]
    assert [r["ticket_id"] for r in (await desk.listing(returned_to=ReturnedTo.OPERATOR))[0]] == [noise]
    assert [r["ticket_id"] for r in (await desk.listing(states=[TicketState.FORWARDED]))[0]] == [lamp]
    september = (at("2024-09-01T00:00:00+08:00"), at("2024-10-01T00:00:00+08:00"))
    assert (await desk.listing(since_epoch=september[0], until_epoch=september[1]))[1] == 3
    assert (await desk.listing(since_epoch=september[1]))[1] == 0
    row = next(r for r in (await desk.listing())[0] if r["ticket_id"] == lamp)
    assert (row["working_days_left"], row["overdue"], row["calls"]) == (7, 0, 1)
    assert (await desk.listing(overdue_only=True))[1] == 0
    later = at("2024-10-08T09:00:00+08:00")  # past the 29th: the 30th and (after the holiday) the 8th
    rows, total = await desk.listing(now=later, overdue_only=True)
    assert total == 3 and {r["working_days_left"] for r in rows} == {-2}
    await desk.reply(lamp, UNIT_A, "已修复")
    row = next(r for r in (await desk.listing(now=later))[0] if r["ticket_id"] == lamp)
    assert (row["working_days_left"], row["overdue"]) == (None, 0)


async def test_the_lists_filters_walk_an_index_not_the_whole_table(desk: TicketService) -> None:
    from callcenter.tickets import TicketQuery

    for query in (TicketQuery(states=[TicketState.FORWARDED], unit=UNIT_A),
                  TicketQuery(unit=UNIT_A, since_epoch=0.0, until_epoch=1e10),
                  TicketQuery(returned_to="supervisor")):
        plan = " | ".join(await desk.repository.listing_plan(query, 0.0))
        if desk.repository.store.dialect == "postgresql":
            assert "Index Scan using tickets_" in plan and "Seq Scan on tickets" not in plan, plan
        else:
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
            assert "SCAN t " not in plan + " ", plan


# ------------------------------------------------------------------------ the migration


async def test_the_migration_from_v3_backfills_the_search_index_of_existing_tickets(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    db = Database(sqlite3.connect(path))
    for migration in MIGRATIONS[:3]:
        migration(db)
    db.conn.execute("PRAGMA user_version = 3")
    common = {"created": "2024-09-19T10:00:00+08:00", "created_epoch": at("2024-09-19T10:00:00+08:00"),
              "category": "help", "unit": UNIT_A, "unit_name": "泽州县人民政府", "state": "forwarded",
              "state_since": "2024-09-19T10:00:00+08:00", "state_since_epoch": 0.0, "caller_number": "13900000001",
              "deadline": "2024-09-29", "deadline_epoch": at("2024-09-30T00:00:00+08:00")}
    db.table("tickets").insert_all([common | {"ticket_id": 1, "summary": "小区路灯不亮"},
                              common | {"ticket_id": 2, "summary": "噪音扰民"}])
    db.conn.commit()
    db.conn.close()
    async with Store(path) as store:
        tickets = Services.on(settings_for(instance_env(tmp_path)), store).tickets
        found = await tickets.similar("", "路灯坏了", at("2024-09-20T10:00:00+08:00"))
        assert [r["ticket_id"] for r in found] == [1]
        row = (await tickets.detail(1)).ticket
        assert (row["channel"], row["contact_number"], row["urge_count"], row["returned_to"]) == (
            "phone", "13900000001", 0, None)
    assert SCHEMA_VERSION >= 4  # the v3 file was migrated through v4 and whatever came after


async def test_every_committed_change_is_told_to_the_listeners_and_a_refused_one_is_not(
        desk: TicketService, store: Store) -> None:
    put_answered(store, "c1", "2024-09-19T10:00:00+08:00", "13900001111")
    heard: list[tuple[int, str, str | None]] = []
    unsubscribe = desk.subscribe(lambda change: heard.append((change.ticket_id, change.kind, change.actor)))
    def broken(change: TicketChange) -> None:
        raise RuntimeError(f"a listener's bug on {change.kind}")

    desk.subscribe(broken)  # a broken listener changes nothing for the others
    ticket_id = await new(desk)
    await desk.forward(ticket_id, actor="boss")
    await desk.urge(ticket_id, "请加快", actor="boss")
    with pytest.raises(TicketError):
        await desk.close(ticket_id, actor="boss")  # not replied yet: refused, so not heard
    await desk.reply(ticket_id, UNIT_A, "已处理", actor="unit-a")
    unsubscribe()
    await desk.close(ticket_id, actor="boss")
    assert heard == [(ticket_id, "created", "op3"), (ticket_id, "forwarded", "boss"), (ticket_id, "urged", "boss"),
                     (ticket_id, "replied", "unit-a")]


async def test_the_briefing_counts_urgings_per_unit(desk: TicketService, store: Store, settings: Settings) -> None:
    from callcenter.reports.figures import build_briefing
    from callcenter.reports.periods import parse_month

    put_answered(store, "c1", "2024-09-19T10:00:00+08:00", "13900001111")
    put_answered(store, "c2", "2024-09-19T10:30:00+08:00", "13900002222")
    urged_twice = await forwarded(desk, "c1")
    await forwarded(desk, "c2", "门前道路积水")
    await desk.urge(urged_twice, "请加快", actor="boss")
    await desk.urge(urged_twice, "再次督办", actor="boss")
    briefing = await build_briefing(store, parse_month("2024-09", settings.zone), zone=settings.zone,
                                    now=at("2024-09-20T09:00:00+08:00"))
    [unit] = briefing.tickets.by_unit
    assert (unit.unit, unit.count, unit.urgings, unit.urged) == (UNIT_A, 2, 2, 1)
    figures = json.loads(json.dumps(briefing.to_json()))
    assert figures["tickets"]["by_unit"][0]["urgings"] == 2
