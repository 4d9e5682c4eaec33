"""Tickets (留单): made from answered calls, merged, forwarded to a unit of the directory,
replied, called back, closed or reopened; overdue ones stand out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.calls.repository import CallRepository
from callcenter.cli import build_parser
from callcenter.errors import ConfigError
from callcenter.store import Store
from callcenter.tickets import (
    Action,
    Context,
    Directory,
    TicketError,
    after_callback,
    create_ticket,
    format_ticket,
    format_tickets_table,
    forward,
    get_ticket,
    link_calls,
    list_tickets,
    load_directory,
    merge,
    next_state,
    parse_category,
    record_callback,
    reopen,
    reply,
)
from callcenter.vocabulary import CallbackResult, Category, Satisfaction, TicketState
from tests.harness import HOME, assert_one_line_error, instance_env, run_hotline

ZONE = ZoneInfo("Asia/Shanghai")
UNITS = HOME / "config" / "units.toml"


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


hotline = run_hotline  # the command in a child process, as a person runs it
one_line_error = assert_one_line_error


def put_answered(store: Store, call_id: str, arrived: str, number: str = "13935600001", seat: str = "seat3") -> None:
    epoch = at(arrived)
    CallRepository(store).save(call_id, caller_number=number, arrived=arrived, arrived_epoch=epoch,
                               outcome="answered", seat=seat,
                               seat_answered=datetime.fromtimestamp(epoch + 15, ZONE).isoformat(),
                               wait_seconds=5, talk_seconds=120, state="done")


@pytest.fixture
def directory() -> Directory:
    return load_directory(UNITS)


@pytest.fixture
async def store(store_location: Path | str) -> AsyncIterator[Store]:
    async with Store(store_location) as running:
        put_answered(running, "c1", "2024-09-27T10:50:00+08:00")
        put_answered(running, "c2", "2024-09-27T10:52:00+08:00", number="13935600002")
        put_answered(running, "c3", "2024-09-27T10:55:00+08:00", number="13935600003")
        CallRepository(running).save("lost", arrived="2024-09-27T10:56:00+08:00",
                                     arrived_epoch=at("2024-09-27T10:56:00+08:00"), outcome="abandoned_queue",
                                     state="done")
        await running.flush()
        yield running


def ctx_at(directory: Directory, when: str) -> Context:
    return Context(directory, ZONE, at(when))


# ------------------------------------------------------------------------ pure rules


def test_the_life_of_a_ticket_follows_the_states_of_the_issue() -> None:
    assert next_state(TicketState.OPEN, Action.FORWARD) is TicketState.FORWARDED
    assert next_state(TicketState.FORWARDED, Action.REPLY) is TicketState.REPLIED
    assert next_state(TicketState.REPLIED, Action.CLOSE) is TicketState.CLOSED
    assert next_state(TicketState.CLOSED, Action.REOPEN) is TicketState.REOPENED
    assert next_state(TicketState.REOPENED, Action.FORWARD) is TicketState.FORWARDED


def test_an_illegal_move_is_refused_naming_the_states_it_needs() -> None:
    with pytest.raises(TicketError, match="cannot reply a ticket that is open: only one that is forwarded or reopened"):
        next_state(TicketState.OPEN, Action.REPLY)
    with pytest.raises(TicketError, match="cannot close a ticket that is forwarded"):
        next_state(TicketState.FORWARDED, Action.CLOSE)


def test_a_satisfied_callback_closes_a_replied_ticket_and_a_dissatisfied_one_reopens_it() -> None:
    replied, closed, reached = TicketState.REPLIED, TicketState.CLOSED, CallbackResult.REACHED
    assert after_callback(replied, reached, Satisfaction.SATISFIED) is closed
    assert after_callback(replied, reached, Satisfaction.BASICALLY_SATISFIED) is closed
    assert after_callback(replied, reached, Satisfaction.DISSATISFIED) is TicketState.REOPENED
    assert after_callback(closed, reached, Satisfaction.DISSATISFIED) is TicketState.REOPENED
    assert after_callback(replied, CallbackResult.NO_ANSWER, None) is replied


def test_a_callback_before_the_units_reply_is_refused() -> None:
    with pytest.raises(TicketError, match="follows the unit's reply"):
        after_callback(TicketState.FORWARDED, CallbackResult.REACHED, Satisfaction.SATISFIED)


def test_categories_are_understood_in_english_and_in_the_seeds_chinese() -> None:
    assert parse_category("求助") is Category.HELP
    assert parse_category("投诉举报") is Category.COMPLAINT
    assert parse_category("咨询") is Category.CONSULTATION
    assert parse_category("建议") is Category.SUGGESTION
    assert parse_category("其他") is Category.OTHER
    assert parse_category("Complaint") is Category.COMPLAINT
    with pytest.raises(TicketError, match="unknown category 'gossip'"):
        parse_category("gossip")


# ------------------------------------------------------------------------ directory


def test_the_counties_named_in_the_seed_are_units_of_the_directory(directory: Directory) -> None:
    assert directory.find("泽州县").name == "泽州县人民政府"
    assert directory.find("阳城县").name == "阳城县人民政府"
    assert directory.find("沁水县").name == "沁水县人民政府"
    assert directory.find("zezhou").kind == "county"
    assert directory.find("市教育局").kind == "department"
    assert directory.deadline_working_days == 7


def test_an_unknown_unit_is_refused_with_a_suggestion(directory: Directory) -> None:
    with pytest.raises(TicketError, match=r"unknown unit '泽州市'.*did you mean.*泽州") as caught:
        directory.find("泽州市")
    assert "hotline tickets units" in str(caught.value)


def test_a_directory_that_names_one_alias_twice_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "units.toml"
    path.write_text('[[unit]]\ncode = "a"\nname = "甲"\naliases = ["x"]\n'
                    '[[unit]]\ncode = "b"\nname = "乙"\naliases = ["x"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: unit #2 \(b\): 'x' already names unit a"):
        load_directory(path)


def test_a_directory_with_a_bad_deadline_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "units.toml"
    path.write_text('[tickets]\ndeadline_working_days = 0\n[[unit]]\ncode = "a"\nname = "甲"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tickets\.deadline_working_days must be a whole number 1-60"):
        load_directory(path)


# --------------------------------------------------------------------- with a store


async def test_an_answered_call_becomes_an_open_ticket_due_seven_working_days_later(
    store: Store, directory: Directory
) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    number = await create_ticket(store, ctx, calls=["c1"], category=Category.COMPLAINT, unit="泽州县",
                                 summary="反映高都镇中学周边有学生团伙劫持学生要钱")
    detail = await get_ticket(store, number)
    t = detail.ticket
    assert (t["state"], t["unit"], t["unit_name"], t["category"]) == ("open", "zezhou", "泽州县人民政府", "complaint")
    assert t["deadline"] == "2024-10-12"  # across National Day, on the adjusted Saturday
    assert t["operator"] == "seat3" and t["caller_number"] == "13935600001"
    assert [c["call_id"] for c in detail.calls] == ["c1"]
    assert [e["kind"] for e in detail.events] == ["created"]


async def test_a_ticket_for_an_unknown_unit_writes_nothing(store: Store, directory: Directory) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    with pytest.raises(TicketError, match="unknown unit 'Atlantis'"):
        await create_ticket(store, ctx, calls=["c1"], category=Category.HELP, unit="Atlantis", summary="x")
    assert await list_tickets(store, now=ctx.now) == []


async def test_a_call_nobody_answered_or_nobody_made_cannot_become_a_ticket(store: Store, directory: Directory) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    with pytest.raises(TicketError, match=r"call lost was not answered by an operator \(abandoned_queue\)"):
        await create_ticket(store, ctx, calls=["lost"], category=Category.HELP, unit="泽州县", summary="x")
    with pytest.raises(TicketError, match="no call 'ghost' in the store"):
        await create_ticket(store, ctx, calls=["c1", "ghost"], category=Category.HELP, unit="泽州县", summary="x")
    assert await list_tickets(store, now=ctx.now, states=None) == []  # the good call was not half-linked


async def test_several_calls_about_one_problem_share_one_ticket(store: Store, directory: Directory) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    number = await create_ticket(store, ctx, calls=["c1", "c2"], category=Category.HELP, unit="沁水县",
                                 summary="十里乡吃水问题")
    assert await link_calls(store, ctx, number, ["c3", "c2"]) == 1
    assert [c["call_id"] for c in (await get_ticket(store, number)).calls] == ["c1", "c2", "c3"]
    with pytest.raises(TicketError, match=f"call c3 already belongs to ticket {number}: merge the tickets"):
        await create_ticket(store, ctx, calls=["c3"], category=Category.HELP, unit="沁水县", summary="again")


async def test_merging_duplicate_tickets_moves_their_calls_and_leaves_one_ticket(
    store: Store, directory: Directory
) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    first = await create_ticket(store, ctx, calls=["c1"], category=Category.HELP, unit="泽州县", summary="司家河吃水")
    second = await create_ticket(store, ctx, calls=["c2", "c3"], category=Category.HELP, unit="泽州县",
                                 summary="柳口镇司家河吃水问题")
    assert await merge(store, ctx, first, [second]) == 2
    assert [c["call_id"] for c in (await get_ticket(store, first)).calls] == ["c1", "c2", "c3"]
    merged = await get_ticket(store, second)
    assert (merged.ticket["state"], merged.ticket["merged_into"]) == ("closed", first)
    assert [r["ticket_id"] for r in await list_tickets(store, now=ctx.now, states=None)] == [first]
    with pytest.raises(TicketError, match=f"ticket {second} was merged into ticket {first}"):
        await forward(store, ctx, second)


async def test_forward_reply_and_a_satisfied_callback_close_the_ticket_with_the_reply_kept(
    store: Store, directory: Directory
) -> None:
    # The seed's case: called 17 Feb 2009, forwarded to Zezhou the same day, answered in 5 working days.
    CallRepository(store).save("liu", caller_number="13935611111", arrived="2009-02-17T09:30:00+08:00",
                               arrived_epoch=at("2009-02-17T09:30:00+08:00"), outcome="answered", seat="seat3",
                               seat_answered="2009-02-17T09:30:20+08:00", state="done")
    number = await create_ticket(store, ctx_at(directory, "2009-02-17T09:40:00+08:00"), calls=["liu"],
                                 category=Category.COMPLAINT, unit="泽州县", summary="高都镇中学学生团伙劫持学生要钱")
    assert await forward(store, ctx_at(directory, "2009-02-17T10:00:00+08:00"), number) is TicketState.FORWARDED
    assert await reply(store, ctx_at(directory, "2009-02-24T09:00:00+08:00"), number,
                       text="泽州县公安局采取措施维护中学校园周边秩序") is TicketState.REPLIED
    callback_ctx = ctx_at(directory, "2009-02-25T10:00:00+08:00")
    assert await record_callback(store, callback_ctx, number, result=CallbackResult.NO_ANSWER) is TicketState.REPLIED
    assert await record_callback(store, callback_ctx, number, result=CallbackResult.REACHED,
                                 satisfaction=Satisfaction.SATISFIED, call_id="ari-123") is TicketState.CLOSED
    detail = await get_ticket(store, number)
    t = detail.ticket
    assert t["reply"] == "泽州县公安局采取措施维护中学校园周边秩序" and t["reply_by"] == "泽州县人民政府"
    assert (t["satisfaction"], t["callback_attempts"], t["state"]) == ("satisfied", 2, "closed")
    assert [c["result"] for c in detail.callbacks] == ["no_answer", "reached"]
    assert detail.callbacks[1]["call_id"] == "ari-123"
    replied = next(e for e in detail.events if e["kind"] == "replied")
    assert replied["data"] == {"reply": t["reply"], "by": "泽州县人民政府", "working_days": 5, "late": False}


async def test_a_dissatisfied_citizen_reopens_the_ticket_with_a_fresh_deadline(
    store: Store, directory: Directory
) -> None:
    number = await create_ticket(store, ctx_at(directory, "2024-09-27T11:00:00+08:00"), calls=["c1"],
                                 category=Category.HELP, unit="阳城县", summary="房屋拆迁问题")
    await forward(store, ctx_at(directory, "2024-09-27T11:30:00+08:00"), number)
    await reply(store, ctx_at(directory, "2024-10-09T11:00:00+08:00"), number, text="已协调")
    state = await record_callback(store, ctx_at(directory, "2024-10-10T11:00:00+08:00"), number,
                                  result=CallbackResult.REACHED, satisfaction=Satisfaction.DISSATISFIED)
    t = (await get_ticket(store, number)).ticket
    assert state is TicketState.REOPENED
    assert (t["state"], t["satisfaction"], t["reopen_count"]) == ("reopened", "dissatisfied", 1)
    assert t["deadline"] == "2024-10-18"  # 7 working days from 10 Oct: 11, 12 (Saturday, worked), 14-18
    again = await reply(store, ctx_at(directory, "2024-10-15T11:00:00+08:00"), number, text="再次协调")
    assert again is TicketState.REPLIED


async def test_reopening_by_hand_needs_a_reason_and_a_replied_or_closed_ticket(
    store: Store, directory: Directory
) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    number = await create_ticket(store, ctx, calls=["c1"], category=Category.OTHER, unit="城管局", summary="垃圾")
    with pytest.raises(TicketError, match="say why"):
        await reopen(store, ctx, number, reason=" ")
    with pytest.raises(TicketError, match="cannot reopen a ticket that is open"):
        await reopen(store, ctx, number, reason="not fixed")


async def test_an_overdue_ticket_is_listed_first_and_flagged_and_a_replied_one_never_is(
    store: Store, directory: Directory
) -> None:
    made = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    late = await create_ticket(store, made, calls=["c1"], category=Category.HELP, unit="泽州县", summary="late")
    done = await create_ticket(store, made, calls=["c2"], category=Category.HELP, unit="泽州县", summary="done")
    fresh = await create_ticket(store, ctx_at(directory, "2024-10-14T09:00:00+08:00"), calls=["c3"],
                                category=Category.HELP, unit="泽州县", summary="fresh")
    await forward(store, made, late)
    await forward(store, made, done)
    await reply(store, ctx_at(directory, "2024-10-08T09:00:00+08:00"), done, text="ok")
    now = at("2024-10-14T10:00:00+08:00")  # past the deadline of 12 Oct (end of day)
    rows = await list_tickets(store, now=now, states=None)
    assert [r["ticket_id"] for r in rows] == [late, fresh, done]
    assert [r["overdue"] for r in rows] == [1, 0, 0]
    table = format_tickets_table(rows, now)
    late_line = next(line for line in table.splitlines() if line.startswith(f"{late} "))
    assert "OVERDUE 2d" in late_line
    assert "1 overdue" in table
    assert [r["ticket_id"] for r in await list_tickets(store, now=now, overdue_only=True)] == [late]
    assert "OVERDUE" in format_ticket(await get_ticket(store, late), now).splitlines()[0]
    assert "\x1b[1;31m" in format_tickets_table(rows, now, colour=True)


async def test_a_ticket_reply_after_the_deadline_is_marked_late(store: Store, directory: Directory) -> None:
    number = await create_ticket(store, ctx_at(directory, "2024-09-27T11:00:00+08:00"), calls=["c1"],
                                 category=Category.HELP, unit="泽州县", summary="x")
    await forward(store, ctx_at(directory, "2024-09-27T12:00:00+08:00"), number)
    await reply(store, ctx_at(directory, "2024-10-14T09:00:00+08:00"), number, text="late answer")
    detail = await get_ticket(store, number)
    replied = next(e for e in detail.events if e["kind"] == "replied")["data"]
    assert isinstance(replied, dict) and replied["late"] is True
    assert "replied late" in format_tickets_table([{**detail.ticket, "calls": 1, "overdue": 0}], at("2024-10-15"))


async def test_hostile_text_in_a_summary_is_escaped_in_the_table(store: Store, directory: Directory) -> None:
    ctx = ctx_at(directory, "2024-09-27T11:00:00+08:00")
    number = await create_ticket(store, ctx, calls=["c1"], category=Category.HELP, unit="泽州县",
                                 summary="\x1b[31mred\u202e evil")
    table = format_tickets_table(await list_tickets(store, now=ctx.now), ctx.now)
    assert "\x1b" not in table and "\u202e" not in table
    assert "\\x1b[31mred\\u202e" in format_ticket(await get_ticket(store, number), ctx.now)


# ------------------------------------------------------------------------------ CLI


def test_tickets_cli_turns_a_demo_call_into_a_ticket_and_refuses_an_unknown_unit(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    out = hotline(env, "demo", "seed", "--month", "2009-02", "--calls", "300", "--completed", "300",
                  "--tickets", "0,0,0,0,0")
    assert out.returncode == 0, out.stderr
    calls = json.loads(subprocess.run([sys.executable, "-m", "callcenter.cli", "calls", "--json", "--limit", "5"],
                                      capture_output=True, text=True, cwd=HOME, timeout=60,
                                      env={k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
                                      | env).stdout)
    answered = next(c["call_id"] for c in calls if c["outcome"] == "answered")
    one_line_error(hotline(env, "tickets", "new", "--call", answered, "--category", "投诉举报", "--unit", "泽州市",
                           "--summary", "x"), "unknown unit '泽州市'", "did you mean")
    one_line_error(hotline(env, "tickets", "new", "--call", answered, "--category", "gossip", "--unit", "泽州县",
                           "--summary", "x"), "unknown category 'gossip'")
    out = hotline(env, "tickets", "new", "--call", answered, "--category", "投诉举报", "--unit", "泽州县",
                  "--summary", "反映柳口镇司家河吃水问题")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ticket 1 opened: complaint for 泽州县人民政府, 1 call(s), reply due by ")
    out = hotline(env, "tickets", "forward", "1")
    assert out.stdout.strip().startswith("ticket 1: forwarded (已转办)")
    one_line_error(hotline(env, "tickets", "close", "1"), "cannot close a ticket that is forwarded")
    listing = hotline(env, "tickets", "list").stdout.splitlines()
    assert listing[2].startswith("1 ") and "forwarded" in listing[2] and "泽州县人民政府" in listing[2]
    shown = json.loads(hotline(env, "tickets", "show", "1", "--json").stdout)
    assert shown["overdue"] is False and shown["ticket"]["state"] == "forwarded"
    one_line_error(hotline(env, "tickets", "show", "99"), "no ticket 99")


def test_tickets_cli_on_a_store_that_does_not_exist_says_so(tmp_path: Path) -> None:
    one_line_error(hotline(instance_env(tmp_path), "tickets", "list"), "no database yet", "hotline demo seed")


def test_tickets_units_lists_the_directory(tmp_path: Path) -> None:
    out = hotline(instance_env(tmp_path), "tickets", "units")
    assert out.returncode == 0, out.stderr
    assert "zezhou" in out.stdout and "泽州县人民政府" in out.stdout and "沁水县人民政府" in out.stdout


def test_tickets_list_refuses_a_negative_limit_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leaving:
        build_parser().parse_args(["tickets", "list", "--limit", "-1"])
    assert leaving.value.code == 2
    assert "--limit: '-1' is not a whole number >= 0" in capsys.readouterr().err
    assert build_parser().parse_args(["tickets", "list", "--limit", "0"]).limit == 0
