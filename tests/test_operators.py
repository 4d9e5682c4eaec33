"""Operators are people, seats are phones: who sits where (`seats.operators`), the roster
by 工号, the seat's availability with its operator, the operator accounts, and the log-in
rules applied through the store and `hotline operators`. Pure or on a temporary store: no
Asterisk."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.calls.repository import CallRepository
from callcenter.errors import ConfigError
from callcenter.reports import build_briefing, format_html, parse_month
from callcenter.seats import Seat, load_roster, longest_idle
from callcenter.seats.operators import NOBODY, Operator, OperatorError, log_in, log_out, occupants, seat_of
from callcenter.seats.service import SeatService
from callcenter.services import Services
from callcenter.settings import SEAT_NAMES
from callcenter.store import Store
from callcenter.tickets import Context, create_ticket, forward, load_directory, record_callback, reply
from callcenter.users import list_users, load_or_create_users, operators_of, users_path
from callcenter.vocabulary import CallbackResult, Category, Satisfaction
from callcenter.web.live import today_figures
from tests.harness import HOME, assert_one_line_error, instance_env, run_hotline
from tests.web_helpers import console_settings

ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_ROSTER = HOME / "agents" / "roster.toml"
DIRECTORY = load_directory(HOME / "config" / "units.toml")
SIX = {f"{1000 + n}": Operator(f"{1000 + n}", "", f"seat{n}") for n in range(1, 7)}
NOBODY_LOGGED: dict[str, str | None] = dict.fromkeys(SEAT_NAMES)
DAY = datetime(2026, 12, 4, 10, 0, tzinfo=ZONE)  # the day shift: 1003 and 1004
NIGHT = datetime(2026, 12, 4, 3, 0, tzinfo=ZONE)


def apply(logins: dict[str, str | None], changes: dict[str, str | None]) -> dict[str, str | None]:
    return {**logins, **changes}


# ----------------------------------------------------------------------------- who sits where


def test_with_nobody_logged_in_each_operator_sits_at_their_default_seat() -> None:
    assert occupants(NOBODY_LOGGED, SIX.values(), SEAT_NAMES) == {f"seat{n}": f"{1000 + n}" for n in range(1, 7)}


def test_a_seat_no_operator_account_is_bound_to_follows_the_roster_by_seat() -> None:
    assert occupants({"seat7": None}, SIX.values(), ["seat7"]) == {"seat7": None}


def test_an_operator_logging_in_at_another_seat_sits_there_and_their_default_seat_is_empty() -> None:
    logins = apply(NOBODY_LOGGED, log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, "1003", "seat4"))
    sitting = occupants(logins, SIX.values(), SEAT_NAMES)
    assert sitting["seat4"] == "1003"
    assert sitting["seat3"] == NOBODY
    assert seat_of("1004", logins, SIX.values(), SEAT_NAMES) is None  # seat4's default operator is displaced


def test_logging_in_elsewhere_moves_the_operator_one_seat_per_operator() -> None:
    first = apply(NOBODY_LOGGED, log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, "1003", "seat4"))
    moved = apply(first, log_in(first, SIX, SEAT_NAMES, "1003", "seat5"))
    sitting = occupants(moved, SIX.values(), SEAT_NAMES)
    assert [seat for seat, badge in sitting.items() if badge == "1003"] == ["seat5"]
    assert sitting["seat4"] == NOBODY


def test_a_seat_where_another_operator_logged_in_is_refused_naming_them() -> None:
    logins = apply(NOBODY_LOGGED, log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, "1003", "seat4"))
    with pytest.raises(OperatorError, match="seat4 is taken by operator 1003: they log out first"):
        log_in(logins, SIX, SEAT_NAMES, "1004", "seat4")


def test_logging_in_again_at_the_same_seat_changes_nothing() -> None:
    logins = apply(NOBODY_LOGGED, log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, "1003", "seat4"))
    assert log_in(logins, SIX, SEAT_NAMES, "1003", "seat4") == {}


def test_log_out_frees_the_seat_and_does_not_send_the_operator_back_to_their_default_seat() -> None:
    logins = apply(NOBODY_LOGGED, log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, "1003", "seat4"))
    out = apply(logins, log_out(logins, SIX, SEAT_NAMES, "1003"))
    sitting = occupants(out, SIX.values(), SEAT_NAMES)
    assert sitting["seat4"] == NOBODY and sitting["seat3"] == NOBODY
    assert "1003" not in sitting.values()


def test_an_operator_at_their_default_seat_can_log_out_of_it() -> None:
    out = apply(NOBODY_LOGGED, log_out(NOBODY_LOGGED, SIX, SEAT_NAMES, "1001"))
    assert occupants(out, SIX.values(), SEAT_NAMES)["seat1"] == NOBODY


def test_logging_out_an_operator_who_sits_nowhere_is_a_clear_error() -> None:
    out = apply(NOBODY_LOGGED, log_out(NOBODY_LOGGED, SIX, SEAT_NAMES, "1001"))
    with pytest.raises(OperatorError, match="operator 1001 is not logged in at any seat"):
        log_out(out, SIX, SEAT_NAMES, "1001")


@pytest.mark.parametrize(("badge", "seat", "problem"), [("1009", "seat3", "no operator with 工号 '1009'"),
                                                        ("1003", "seat9", "unknown seat 'seat9'")])
def test_an_unknown_operator_or_seat_is_refused(badge: str, seat: str, problem: str) -> None:
    with pytest.raises(OperatorError, match=problem):
        log_in(NOBODY_LOGGED, SIX, SEAT_NAMES, badge, seat)


# ----------------------------------------------------------------------------- roster and seats


def test_the_default_roster_lists_two_operators_a_shift_by_badge() -> None:
    roster = load_roster(DEFAULT_ROSTER)
    assert [(s.name, s.operators) for s in roster.shifts] == [
        ("night", ("1001", "1002")), ("day", ("1003", "1004")), ("evening", ("1005", "1006"))]


def test_a_roster_of_seats_only_is_worked_by_the_seats_default_operators(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text('[[shift]]\nname = "day"\nstart = "08:00"\nend = "16:00"\nseats = ["seat3"]\n')
    roster = load_roster(path)
    assert roster.operator_on_shift("1003", "seat3", DAY)
    assert not roster.operator_on_shift("1004", "seat4", DAY)


def test_a_roster_may_name_operators_without_seats_and_refuses_a_badge_that_is_not_digits(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text('[[shift]]\nname = "day"\nstart = "08:00"\nend = "16:00"\noperators = ["1003"]\n')
    assert load_roster(path).shifts[0].operators == ("1003",)
    path.write_text('[[shift]]\nname = "day"\nstart = "08:00"\nend = "16:00"\noperators = ["li hui"]\n')
    with pytest.raises(ConfigError, match="operators must be a list of 工号"):
        load_roster(path)


def seat(name: str, operator: str | None, home: str = "") -> Seat:
    return Seat(name, registered=True, operator=operator, operator_home=home)


def test_the_seat_an_on_shift_operator_logged_in_at_is_offered_calls_even_off_its_own_shift() -> None:
    roster = load_roster(DEFAULT_ROSTER)
    # At night, day-shift operator 1003 at night seat seat1 does not work; night's 1001 at seat3 does.
    seats = {"seat1": seat("seat1", "1003", "seat3"), "seat3": seat("seat3", "1001", "seat1")}
    assert longest_idle(seats, roster, NIGHT) == ["seat3"]
    assert seats["seat3"].shift(roster, NIGHT) == "night"


def test_a_seat_with_nobody_logged_in_is_not_offered_calls_even_on_shift() -> None:
    roster = load_roster(DEFAULT_ROSTER)
    assert longest_idle({"seat3": seat("seat3", NOBODY)}, roster, DAY) == []


def test_a_seat_without_an_operator_account_follows_the_roster_by_seat_as_before() -> None:
    roster = load_roster(DEFAULT_ROSTER)
    assert longest_idle({"seat3": seat("seat3", None), "seat1": seat("seat1", None)}, roster, DAY) == ["seat3"]


def test_a_supervisors_seat_login_still_overrides_the_roster() -> None:
    roster = load_roster(DEFAULT_ROSTER)
    forced = Seat("seat3", registered=True, operator=NOBODY, logged_in=True)
    assert longest_idle({"seat3": forced}, roster, NIGHT) == ["seat3"]


# ----------------------------------------------------------------------------- accounts


def test_the_generated_seat_accounts_are_operators_with_badges_1001_to_1006(tmp_path: Path) -> None:
    users = load_or_create_users(tmp_path, SEAT_NAMES)
    assert sorted(operators_of(users.all())) == [f"{1000 + n}" for n in range(1, 7)]
    assert operators_of(users.all())["1003"].home == "seat3"


def test_a_users_file_written_before_badges_gives_each_seat_account_its_seats_badge(tmp_path: Path) -> None:
    load_or_create_users(tmp_path, SEAT_NAMES)
    path = users_path(tmp_path)
    raw = json.loads(path.read_text())
    for entry in raw["users"]:
        entry.pop("badge", None)
    path.write_text(json.dumps(raw))
    assert {u.name: u.badge for u in list_users(tmp_path) if u.seat} == {f"seat{n}": f"{1000 + n}" for n in range(1, 7)}


def test_a_badge_taken_twice_makes_the_users_file_refused(tmp_path: Path) -> None:
    load_or_create_users(tmp_path, SEAT_NAMES)
    path = users_path(tmp_path)
    raw = json.loads(path.read_text())
    raw["users"][2]["badge"] = raw["users"][1]["badge"]
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="taken twice"):
        list_users(tmp_path)


# ----------------------------------------------------------------------------- through the store


async def test_log_ins_written_to_the_seats_table_are_what_the_service_reads_back(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    load_or_create_users(settings.paths.state_dir, settings.seat_names)
    async with Store(settings.paths.database) as store:
        seats: SeatService = Services.on(settings, store).seats
        assert await seats.log_in("1003", "seat4") == {"seat4": "1003", "seat3": NOBODY}
        sitting = await seats.occupants()
        assert sitting["seat4"] == "1003" and sitting["seat3"] == NOBODY
        await seats.log_out("1003")
        assert "1003" not in (await seats.occupants()).values()
        await seats.back_to_defaults()
        assert (await seats.occupants())["seat3"] == "1003"


def test_hotline_operators_logs_in_names_and_refuses_with_one_line(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    load_or_create_users(settings.paths.state_dir, settings.seat_names)
    env = instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(settings.paths.roster))
    assert "李慧" in run_hotline(env, "operators", "name", "1003", "李慧").stdout
    moved = run_hotline(env, "operators", "login", "1003", "--seat", "seat4")
    assert moved.returncode == 0
    assert "1003: logged in at seat4" in moved.stdout
    assert any(line.split()[:4] == ["1003", "李慧", "seat3", "seat4"] for line in moved.stdout.splitlines())
    assert_one_line_error(run_hotline(env, "operators", "login", "1004", "--seat", "seat4"),
                          "seat4 is taken by operator 1003 李慧")


# ----------------------------------------------------------------------------- the briefing


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def test_the_briefing_gives_each_operator_answered_average_talk_wrap_up_and_satisfaction(
        tmp_path: Path) -> None:
    async with Store(tmp_path / "hotline.db") as store:
        calls = CallRepository(store)
        # 1003 (李慧) answered two calls, at two different seats; 1004 one; an old call names no operator.
        for call_id, seat, operator, talk, wrapup in (
                ("a", "seat3", "1003", 100, 10), ("b", "seat4", "1003", 200, 20),
                ("c", "seat4", "1004", 60, None), ("old", "seat3", None, 30, None)):
            arrived = "2009-01-05T09:00:00+08:00"
            calls.save(call_id, arrived=arrived, arrived_epoch=_at(arrived), outcome="answered", seat=seat,
                       operator=operator, seat_answered=arrived, wait_seconds=5, answer_seconds=9, talk_seconds=talk,
                       wrapup_seconds=wrapup, state="done")
        await store.flush()
        ctx = Context(DIRECTORY, ZONE, _at("2009-01-05T09:30:00+08:00"))
        number = await create_ticket(store, ctx, calls=["a"], category=Category.HELP, unit="沁水县", summary="吃水")
        await forward(store, ctx, number)
        await reply(store, Context(DIRECTORY, ZONE, _at("2009-01-07T09:00:00+08:00")), number, text="已送水")
        await record_callback(store, Context(DIRECTORY, ZONE, _at("2009-01-08T09:00:00+08:00")), number,
                              result=CallbackResult.REACHED, satisfaction=Satisfaction.SATISFIED)
        briefing = await build_briefing(store, parse_month("2009-01", ZONE), zone=ZONE,
                                        now=_at("2009-02-05T09:00:00+08:00"), operator_names={"1003": "李慧"})
    figures = briefing.to_json()["operators"]
    assert figures == [
        {"badge": "1003", "name": "李慧", "answered": 2, "average_talk_seconds": 150.0,
         "average_wrapup_seconds": 15.0, "rated": 1, "satisfied": 1, "basically_satisfied": 0, "dissatisfied": 0,
         "satisfaction_pct": 100.0},
        {"badge": "1004", "name": "", "answered": 1, "average_talk_seconds": 60.0, "average_wrapup_seconds": None,
         "rated": 0, "satisfied": 0, "basically_satisfied": 0, "dissatisfied": 0, "satisfaction_pct": None},
    ]
    page = format_html(briefing, "晋城市12345市长热线")
    assert "<th>工号</th>" in page and "<td>1003</td><td>李慧</td><td>2</td>" in page


# ----------------------------------------------------------------------------- the wallboard


async def test_the_wallboard_gives_each_shift_of_today_answered_abandoned_service_level_and_wait(
        tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        services = Services.on(settings, store)
        calls = services.calls
        # Night: two answered (9 s and 20 s after arriving, waits 4 and 10 s). Day: one answered
        # (wait 6 s), one abandoned in line, one hung up in the greeting. Evening: none yet.
        for call_id, hhmm, outcome, answer, wait in (
                ("n1", "03:00", "answered", 9, 4), ("n2", "07:59", "answered", 20, 10),
                ("d1", "08:00", "answered", 12, 6), ("d2", "11:00", "abandoned_queue", None, 30),
                ("d3", "15:59", "abandoned_ivr", None, None), ("yesterday", "2026-12-03T10:00", "answered", 5, 1)):
            arrived = f"{hhmm if 'T' in hhmm else '2026-12-04T' + hhmm}:00+08:00"
            calls.save(call_id, arrived=arrived, arrived_epoch=_at(arrived), outcome=outcome, state="done",
                       seat_answered=arrived if outcome == "answered" else None, answer_seconds=answer,
                       wait_seconds=wait)
        await store.flush()
        figures = await today_figures(services, ZONE, now=_at("2026-12-04T20:00:00+08:00"))
    assert figures["by_shift"] == [
        {"shift": "night", "answered": 2, "abandoned": 0, "service_level": 0.5, "average_wait": 7.0},
        {"shift": "day", "answered": 1, "abandoned": 2, "service_level": 0.5, "average_wait": 6.0},
        {"shift": "evening", "answered": 0, "abandoned": 0, "service_level": None, "average_wait": None},
    ]
    # The shifts add up to the day's figures.
    assert figures["answered"] == 3 and figures["abandoned"] == 2
