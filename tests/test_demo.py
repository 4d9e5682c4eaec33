"""`hotline demo seed`: realistic, exact and deterministic demo months."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.clock import iso_local
from callcenter.demo import DemoData, DemoError, make_demo, month_targets, parse_tickets, split_int, write_demo
from callcenter.reports import build_briefing, parse_month, parse_year
from callcenter.store import Store
from callcenter.tickets import load_directory
from callcenter.vocabulary import IN_PROGRESS
from tests.harness import HOME, instance_env
from tests.test_tickets import hotline, one_line_error

ZONE = ZoneInfo("Asia/Shanghai")
DIRECTORY = load_directory(HOME / "config" / "units.toml")
JANUARY = parse_month("2009-01", ZONE)
SHIFT_SEATS = {"night": ("seat1", "seat2"), "day": ("seat3", "seat4"), "evening": ("seat5", "seat6")}


def january(seed: int = 12345, calls: int = 5734, completed: int = 5704,
            tickets: tuple[int, ...] = (19, 21, 6, 7, 8)) -> DemoData:
    return make_demo(JANUARY, calls=calls, completed=completed, tickets=tickets, zone=ZONE, directory=DIRECTORY,
                     seed=seed)


def test_the_same_seed_writes_the_same_rows_and_another_seed_other_rows() -> None:
    assert january(seed=7) == january(seed=7)
    assert january(seed=7) != january(seed=8)


def test_answered_calls_go_to_the_two_seats_of_the_shift_on_duty() -> None:
    data = make_demo(JANUARY, calls=2000, completed=1990, tickets=(3, 3, 2, 1, 1), zone=ZONE, directory=DIRECTORY)
    answered = [c for c in data.calls if c["outcome"] == "answered"]
    assert len(answered) == 2000
    for call in answered:
        hour = datetime.fromisoformat(str(call["queued"])).hour
        shift = "night" if hour < 8 else "day" if hour < 16 else "evening"
        assert call["shift"] == shift and call["seat"] in SHIFT_SEATS[shift], call
    assert set(Counter(c["seat"] for c in answered)) == {f"seat{n}" for n in range(1, 7)}


def test_calls_arrive_around_the_clock_with_daytime_peaks() -> None:
    data = make_demo(JANUARY, calls=5734, completed=5704, tickets=(19, 21, 6, 7, 8), zone=ZONE, directory=DIRECTORY)
    hours = Counter(datetime.fromisoformat(str(c["arrived"])).hour for c in data.calls)
    assert set(hours) == set(range(24))
    assert hours[10] > 5 * hours[3] and hours[15] > 5 * hours[4]
    days = Counter(str(c["arrived"])[:10] for c in data.calls)
    assert len(days) == 31 and all(str(c["arrived"]).endswith("+08:00") for c in data.calls)


def test_calls_are_timestamped_to_the_second_in_order_and_consistent() -> None:
    data = make_demo(JANUARY, calls=1000, completed=1000, tickets=(0, 0, 0, 0, 0), zone=ZONE, directory=DIRECTORY)
    outcomes = Counter(str(c["outcome"]) for c in data.calls)
    assert outcomes["answered"] == 1000
    assert outcomes["abandoned_queue"] > 0 and outcomes["abandoned_ivr"] > 0
    for call in data.calls:
        times = [datetime.fromisoformat(str(call[k])) for k in ("arrived", "answered", "queued", "seat_answered",
                                                               "ended") if call[k] is not None]
        assert times == sorted(times) and all(t.microsecond == 0 for t in times)
        if call["outcome"] == "answered":
            assert call["wait_seconds"] == (times[3] - times[2]).seconds
            assert call["total_seconds"] == (times[-1] - times[0]).seconds
    assert len({c["call_id"] for c in data.calls}) == len(data.calls)


def test_every_timestamp_is_the_hotlines_local_time_as_the_engine_writes_it() -> None:
    data = make_demo(JANUARY, calls=500, completed=500, tickets=(1, 1, 1, 1, 1), zone=ZONE, directory=DIRECTORY)
    for call in data.calls:
        assert call["arrived"] == iso_local(float(str(call["arrived_epoch"])), ZONE)
    for event in data.events:
        assert event["at"] == iso_local(float(str(event["at_epoch"])), ZONE)
    new_york = ZoneInfo("America/New_York")  # a zone with summer time: March 2009 changes offset
    march = make_demo(parse_month("2009-03", new_york), calls=300, completed=300, tickets=(0, 0, 0, 0, 0),
                      zone=new_york, directory=DIRECTORY)
    assert {str(c["arrived"])[-6:] for c in march.calls} == {"-05:00", "-04:00"}
    for call in march.calls:
        assert call["arrived"] == iso_local(float(str(call["arrived_epoch"])), new_york)


def test_a_nuisance_burst_like_the_seeds_child_six_calls_in_five_minutes() -> None:
    data = january()
    bursts: dict[str, list[dict[str, object]]] = {}
    for call in data.calls:
        bursts.setdefault(str(call["caller_number"]), []).append(call)
    child = next(calls for calls in bursts.values()
                 if any(c["nuisance"] for c in calls) and str(calls[0]["arrived"])[11:16] == "11:49")
    first, last = (datetime.fromisoformat(str(c["arrived"])) for c in (child[0], child[-1]))
    assert len(child) == 6 and (last - first).seconds < 6 * 60
    assert [c["nuisance"] for c in child] == [0, 0, 1, 1, 1, 1]  # flagged once the repeats show
    assert all(c["outcome"] == "answered" for c in child)  # still answered politely


def test_tickets_have_histories_that_match_their_state() -> None:
    data = january()
    events: dict[object, list[dict[str, object]]] = {}
    for event in data.events:
        events.setdefault(event["ticket_id"], []).append(event)
    links = Counter(link["ticket_id"] for link in data.links)
    in_progress_calls = 0
    for ticket in data.tickets:
        history = events[ticket["ticket_id"]]
        assert history[0]["kind"] == "created" and history[-1]["state"] == ticket["state"]
        times = [float(str(e["at_epoch"])) for e in history]
        assert times == sorted(times)
        if ticket["state"] in ("replied", "closed"):
            assert ticket["reply"] and float(str(ticket["replied_epoch"])) > float(str(ticket["created_epoch"]))
        if ticket["state"] == "closed":
            assert ticket["satisfaction"] in ("satisfied", "basically_satisfied")
        if ticket["state"] in IN_PROGRESS:
            in_progress_calls += links[ticket["ticket_id"]]
        assert links[ticket["ticket_id"]] >= 1
        assert DIRECTORY.get(str(ticket["unit"])) is not None
    assert in_progress_calls == 30


async def test_custom_targets_come_out_exactly_in_the_briefing(tmp_path: Path) -> None:
    data = make_demo(JANUARY, calls=1000, completed=990, tickets=(5, 4, 3, 2, 1), zone=ZONE, directory=DIRECTORY)
    async with Store(tmp_path / "hotline.db") as store:
        written = await write_demo(store, JANUARY, data)
        b = await build_briefing(store, JANUARY, zone=ZONE)
    assert written.tickets == 15 and written.first_ticket == 1
    assert (b.calls.accepted, b.calls.completed, b.calls.in_progress) == (1000, 990, 10)
    assert [x.count for x in b.tickets.by_category] == [5, 4, 3, 2, 1]


async def test_a_period_that_already_has_calls_is_not_seeded_twice(tmp_path: Path) -> None:
    data = make_demo(JANUARY, calls=200, completed=200, tickets=(1, 1, 0, 0, 0), zone=ZONE, directory=DIRECTORY)
    async with Store(tmp_path / "hotline.db") as store:
        await write_demo(store, JANUARY, data)
        with pytest.raises(DemoError, match=r"already holds \d+ calls in 2009-01"):
            await write_demo(store, JANUARY, data)
        february = parse_month("2009-02", ZONE)
        more = make_demo(february, calls=100, completed=100, tickets=(0, 1, 0, 0, 0), zone=ZONE, directory=DIRECTORY)
        assert (await write_demo(store, february, more)).first_ticket == 3  # numbers go on


def test_targets_that_cannot_be_met_are_refused() -> None:
    with pytest.raises(DemoError, match="--completed 20 is more than --calls 10"):
        january(calls=10, completed=20)
    with pytest.raises(DemoError, match="5 calls in progress need tickets"):
        january(calls=100, completed=95, tickets=(0, 0, 0, 0, 0))
    with pytest.raises(DemoError, match="need more answered calls"):
        january(calls=10, completed=10, tickets=(20, 0, 0, 0, 0))


def test_a_year_is_split_into_months_that_add_up_with_recent_tickets_in_progress() -> None:
    targets = month_targets(parse_year("2008", ZONE), 45291, 44551, split_int(1758, (19, 21, 6, 7, 8)))
    assert sum(t.calls for t in targets) == 45291 and sum(t.completed for t in targets) == 44551
    assert sum(sum(t.tickets) for t in targets) == 1758
    assert targets[1].calls < targets[0].calls  # a quiet February
    progress = [t.calls - t.completed for t in targets]
    assert progress == sorted(progress)


def test_tickets_are_given_per_category_or_as_a_total_split_like_january() -> None:
    assert parse_tickets("19,21,6,7,8") == (19, 21, 6, 7, 8)
    assert parse_tickets("61") == (19, 21, 6, 7, 8)
    with pytest.raises(DemoError, match="give five counts"):
        parse_tickets("1,2")


def test_demo_cli_refuses_a_month_that_has_not_ended_and_a_shape_of_the_wrong_kind(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    one_line_error(hotline(env, "demo", "seed", "--month", "2099-01"), "2099-01 has not ended yet")
    one_line_error(hotline(env, "demo", "seed", "--month", "2009-01", "--shape", "year-2008"), "use it with --year")
    one_line_error(hotline(env, "demo", "seed", "--month", "2009-13"), "no such month")
    out = hotline(env, "demo", "seed", "--month", "2009-01", "--shape", "jan-seed", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert "5734 accepted (5704 completed, 30 in progress)" in out.stdout
    one_line_error(hotline(env, "demo", "seed", "--month", "2009-01"), "already holds")
