"""The waiting line (`callcenter.calls.queue`) and the seats and shifts (`callcenter.seats`).

Pure and fast: no Asterisk, no network. Times are local to the hotline (Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.calls.queue import CallQueue, Waiting, assign
from callcenter.errors import ConfigError
from callcenter.seats import (
    IllegalSeatMove,
    Roster,
    Seat,
    SeatState,
    Shift,
    load_roster,
    longest_idle,
)
from callcenter.seats.formatting import format_seats_table
from callcenter.settings import SEAT_NAMES, seat_names

ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_ROSTER = Path(__file__).resolve().parent.parent / "agents" / "roster.toml"


def at(hhmm: str, day: int = 28) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


def minute(hhmm: str) -> int:
    hour, mins = (int(part) for part in hhmm.split(":"))
    return hour * 60 + mins


@pytest.fixture(scope="module")
def roster() -> Roster:
    return load_roster(DEFAULT_ROSTER)


# ----------------------------------------------------------------------------- the waiting line


def test_callers_are_served_first_come_first_served() -> None:
    queue = CallQueue()
    for call_id, seq in [("c", 3), ("a", 1), ("b", 2)]:
        queue.add(Waiting(call_id, seq))
    assert [w.call_id for w in queue.ordered()] == ["a", "b", "c"]


def test_a_flagged_caller_waits_behind_every_citizen() -> None:
    queue = CallQueue()
    queue.add(Waiting("nuisance", 1, behind=True))
    queue.add(Waiting("citizen-late", 9))
    queue.add(Waiting("citizen-early", 2))
    queue.add(Waiting("nuisance-2", 0, behind=True))
    assert [w.call_id for w in queue.ordered()] == ["citizen-early", "citizen-late", "nuisance-2", "nuisance"]
    assert queue.position("nuisance") == 4
    assert queue.position("citizen-late") == 2


def test_flagged_callers_keep_their_arrival_order_among_themselves() -> None:
    queue = CallQueue()
    for call_id, seq in [("n3", 30), ("n1", 10), ("n2", 20)]:
        queue.add(Waiting(call_id, seq, behind=True))
    assert [w.call_id for w in queue.ordered()] == ["n1", "n2", "n3"]


def test_the_position_is_one_based_and_zero_for_a_caller_not_in_line() -> None:
    queue = CallQueue()
    assert queue.position("anyone") == 0
    queue.add(Waiting("a", 1))
    queue.add(Waiting("b", 2))
    assert (queue.position("a"), queue.position("b"), queue.position("zzz")) == (1, 2, 0)


def test_removing_a_caller_moves_the_others_up_and_removing_twice_is_harmless() -> None:
    queue = CallQueue()
    for n in range(1, 4):
        queue.add(Waiting(f"c{n}", n))
    queue.remove("c1")
    queue.remove("c1")
    queue.remove("never-there")
    assert len(queue) == 2 and "c1" not in queue and "c2" in queue
    assert (queue.position("c2"), queue.position("c3"), queue.position("c1")) == (1, 2, 0)


def test_a_caller_put_back_in_line_keeps_its_place_and_is_not_counted_twice() -> None:
    queue = CallQueue()
    queue.add(Waiting("a", 1))
    queue.add(Waiting("b", 2))
    queue.remove("a")  # offered to a seat
    queue.add(Waiting("a", 1))  # the seat did not answer: back in line with the same seq
    queue.add(Waiting("a", 1))
    assert len(queue) == 2
    assert queue.position("a") == 1


def test_assign_pairs_the_head_of_the_line_with_the_free_seats_in_order() -> None:
    queue = CallQueue()
    queue.add(Waiting("flagged", 0, behind=True))
    for n in range(1, 4):
        queue.add(Waiting(f"c{n}", n))
    assert assign(queue.ordered(), ["seat5", "seat2"]) == [("c1", "seat5"), ("c2", "seat2")]


def test_assign_with_more_seats_than_callers_leaves_the_extra_seats_free() -> None:
    assert assign([Waiting("c1", 1)], ["seat1", "seat2", "seat3"]) == [("c1", "seat1")]


def test_assign_in_a_cluster_gives_each_caller_a_seat_its_node_reaches_and_holds_the_line_for_one_that_has_none(
) -> None:
    # node2 has not yet seen seat1's phone (its qualify lags the registration): node2's
    # caller takes seat2; node1's caller, next in line, takes seat1.
    seen = {"node1": {"seat1", "seat2"}, "node2": {"seat2"}}

    def reaches(call_id: str, seat: str) -> bool:
        return seat in seen[call_id.split("-")[0]]

    line = [Waiting("node2-1", 1), Waiting("node1-2", 2)]
    assert assign(line, ["seat1", "seat2"], reaches) == [("node2-1", "seat2"), ("node1-2", "seat1")]
    # Only seat1 free: node2's caller at the head waits for its node to see it, and the
    # caller behind does not jump the line for it.
    assert assign(line, ["seat1"], reaches) == []
    seen["node2"].add("seat1")
    assert assign(line, ["seat1"], reaches) == [("node2-1", "seat1")]


def test_assign_with_no_seat_or_no_caller_pairs_nobody() -> None:
    assert assign([Waiting("c1", 1)], []) == []
    assert assign([], ["seat1"]) == []


def test_a_flagged_caller_gets_a_seat_only_when_no_citizen_waits() -> None:
    queue = CallQueue()
    queue.add(Waiting("flagged", 0, behind=True))
    queue.add(Waiting("citizen", 5))
    assert assign(queue.ordered(), ["seat1"]) == [("citizen", "seat1")]
    queue.remove("citizen")
    assert assign(queue.ordered(), ["seat1"]) == [("flagged", "seat1")]


# ----------------------------------------------------------------------------- shifts


@pytest.mark.parametrize(
    ("hhmm", "covered"),
    [("07:59", False), ("08:00", True), ("12:00", True), ("15:59", True), ("16:00", False), ("00:00", False)],
)
def test_a_day_shift_covers_its_start_minute_but_not_its_end_minute(hhmm: str, covered: bool) -> None:
    assert Shift("day", minute("08:00"), minute("16:00"), ("seat3",)).covers(at(hhmm)) is covered


@pytest.mark.parametrize(
    ("hhmm", "covered"),
    [
        ("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("03:30", True), ("05:59", True),
        ("06:00", False), ("12:00", False),
    ],
)
def test_a_shift_crossing_midnight_covers_both_sides_of_it(hhmm: str, covered: bool) -> None:
    assert Shift("late", minute("22:00"), minute("06:00"), ("seat1",)).covers(at(hhmm)) is covered


@pytest.mark.parametrize(("hhmm", "covered"), [("15:59", False), ("16:00", True), ("23:59", True), ("00:00", False)])
def test_a_shift_ending_at_24_00_runs_to_midnight(hhmm: str, covered: bool) -> None:
    assert Shift("evening", minute("16:00"), 1440, ("seat5",)).covers(at(hhmm)) is covered


@pytest.mark.parametrize("hhmm", ["00:00", "08:00", "23:59"])
def test_a_shift_from_00_00_to_24_00_covers_the_whole_day(hhmm: str) -> None:
    assert Shift("all", 0, 1440, ("seat1",)).covers(at(hhmm))


def test_the_default_roster_is_three_eight_hour_shifts_of_two_seats(roster: Roster) -> None:
    assert [(s.name, s.start_minute, s.end_minute, s.seats) for s in roster.shifts] == [
        ("night", 0, 480, ("seat1", "seat2")),
        ("day", 480, 960, ("seat3", "seat4")),
        ("evening", 960, 1440, ("seat5", "seat6")),
    ]


@pytest.mark.parametrize(
    ("hhmm", "shift", "working"),
    [
        ("07:59", "night", {"seat1", "seat2"}),
        ("08:00", "day", {"seat3", "seat4"}),
        ("15:59", "day", {"seat3", "seat4"}),
        ("16:00", "evening", {"seat5", "seat6"}),
        ("23:59", "evening", {"seat5", "seat6"}),
        ("00:00", "night", {"seat1", "seat2"}),
    ],
)
def test_at_each_boundary_minute_exactly_the_seats_of_one_shift_are_on(
    roster: Roster, hhmm: str, shift: str, working: set[str]
) -> None:
    moment = at(hhmm)
    assert {seat for seat in SEAT_NAMES if roster.on_shift(seat, moment)} == working
    assert [s.name for s in roster.shifts_at(moment)] == [shift]
    for seat in working:
        assert roster.shift_of(seat, moment) == shift


@pytest.mark.parametrize("hhmm", ["07:59", "08:00", "15:59", "16:00", "23:59", "00:00"])
def test_a_seat_off_shift_is_shown_with_the_shift_it_belongs_to(roster: Roster, hhmm: str) -> None:
    moment = at(hhmm)
    assert [roster.shift_of(seat, moment) for seat in SEAT_NAMES] == [
        "night", "night", "day", "day", "evening", "evening"]


def test_a_seat_in_no_shift_has_no_shift_and_is_never_on(roster: Roster) -> None:
    assert roster.shift_of("seat7", at("12:00")) is None
    assert not roster.on_shift("seat7", at("12:00"))


def test_a_seat_in_two_shifts_reports_the_one_it_works_now(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(
        '[[shift]]\nname = "a"\nstart = "08:00"\nend = "16:00"\nseats = ["seat1"]\n'
        '[[shift]]\nname = "b"\nstart = "20:00"\nend = "02:00"\nseats = ["seat1", "seat2"]\n',
        encoding="utf-8",
    )
    roster = load_roster(path)
    assert roster.shift_of("seat1", at("09:00")) == "a"
    assert roster.shift_of("seat1", at("01:00")) == "b"
    assert roster.shift_of("seat1", at("18:00")) == "a"  # off shift: the first one it belongs to
    assert roster.on_shift("seat2", at("01:59")) and not roster.on_shift("seat2", at("02:00"))


# ----------------------------------------------------------------------------- loading the roster


def write_roster(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "roster.toml"
    path.write_text(body, encoding="utf-8")
    return path


def shift_toml(start: str = '"08:00"', end: str = '"16:00"', seats: str = '["seat1"]', name: str = '"day"') -> str:
    return f"[[shift]]\nname = {name}\nstart = {start}\nend = {end}\nseats = {seats}\n"


def assert_config_error(path: Path, *fragments: str, known: tuple[str, ...] = SEAT_NAMES) -> None:
    with pytest.raises(ConfigError) as info:
        load_roster(path, known)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_an_unknown_seat_is_a_config_error_naming_the_file_and_the_seat(tmp_path: Path) -> None:
    path = write_roster(tmp_path, shift_toml(seats='["seat1", "seat7"]'))
    assert_config_error(path, "unknown seat 'seat7'", "'day'")


def test_with_sixty_seats_configured_seat60_is_known_and_seat61_is_not(tmp_path: Path) -> None:
    sixty = seat_names(60)
    good = write_roster(tmp_path, shift_toml(seats='["seat7", "seat60"]'))
    assert load_roster(good, known_seats=sixty).shifts[0].seats == ("seat7", "seat60")
    bad = write_roster(tmp_path, shift_toml(seats='["seat61"]'))
    assert_config_error(bad, "unknown seat 'seat61'", known=sixty)


@pytest.mark.parametrize("value", ['"25:00"', '"8am"', "800", '"8:00"', '"24:01"', '""'])
@pytest.mark.parametrize("key", ["start", "end"])
def test_a_bad_time_is_a_config_error_naming_the_file_the_shift_and_the_key(
    tmp_path: Path, key: str, value: str
) -> None:
    body = shift_toml(start=value) if key == "start" else shift_toml(end=value)
    path = write_roster(tmp_path, body)
    assert_config_error(path, f"shift 1 {key}", 'must be a time like "08:00"')


def test_a_missing_time_is_a_config_error(tmp_path: Path) -> None:
    path = write_roster(tmp_path, '[[shift]]\nname = "day"\nstart = "08:00"\nseats = ["seat1"]\n')
    assert_config_error(path, "shift 1 end", "got None")


def test_a_shift_that_starts_when_it_ends_is_a_config_error(tmp_path: Path) -> None:
    path = write_roster(tmp_path, shift_toml(start='"08:00"', end='"08:00"'))
    assert_config_error(path, "'day'", "starts and ends at the same time")


@pytest.mark.parametrize("body", ["", "# only a comment\n", "[shift]\nname = 'x'\n", "shift = []\n", "title = 'x'\n"])
def test_a_roster_without_shift_tables_is_a_config_error(tmp_path: Path, body: str) -> None:
    assert_config_error(write_roster(tmp_path, body), "no [[shift]] tables")


@pytest.mark.parametrize("body", ["[[shift]\n", "name = \n", "[[shift]]\nname = 'a'\nname = 'b'\n"])
def test_a_roster_that_is_not_toml_is_a_config_error(tmp_path: Path, body: str) -> None:
    assert_config_error(write_roster(tmp_path, body), "not valid TOML")


def test_a_roster_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_bytes(b'[[shift]]\nname = "\xff\xfe"\n')
    assert_config_error(path, "not valid TOML")


def test_a_missing_roster_file_is_a_config_error(tmp_path: Path) -> None:
    assert_config_error(tmp_path / "nope.toml", "roster file not found")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (shift_toml(name='""'), "needs a name"),
        ("[[shift]]\nstart = '08:00'\nend = '16:00'\nseats = ['seat1']\n", "needs a name"),
        (shift_toml(seats="[]"), "needs a list of seats"),
        (shift_toml(seats='"seat1"'), "needs a list of seats"),
        (shift_toml(seats="[1, 2]"), "needs a list of seats"),
    ],
)
def test_a_shift_without_a_name_or_seats_is_a_config_error(tmp_path: Path, body: str, problem: str) -> None:
    assert_config_error(write_roster(tmp_path, body), problem)


def test_24_00_is_accepted_as_the_end_of_the_day(tmp_path: Path) -> None:
    roster = load_roster(write_roster(tmp_path, shift_toml(start='"00:00"', end='"24:00"')))
    assert (roster.shifts[0].start_minute, roster.shifts[0].end_minute) == (0, 1440)


# ----------------------------------------------------------------------------- seats


def ready(name: str = "seat3", **changes: Any) -> Seat:
    """A seat that takes calls on the day shift; `changes` break one rule at a time."""
    fields: dict[str, Any] = {"registered": True}
    fields.update(changes)
    return Seat(name, **fields)


def test_a_registered_idle_unpaused_seat_on_shift_is_available(roster: Roster) -> None:
    assert ready().available(roster, at("09:00"))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"registered": False}, "not registered"),
        ({"paused": True, "pause_reason": "no-answer"}, "paused"),
        ({"state": SeatState.RINGING}, "ringing"),
        ({"state": SeatState.TALKING}, "talking"),
        ({"state": SeatState.WRAPUP}, "in wrap-up"),
        ({"logged_in": False}, "logged out by a supervisor, though on shift"),
    ],
)
def test_a_seat_is_unavailable_when_any_rule_fails(roster: Roster, changes: dict[str, Any], why: str) -> None:
    assert not ready(**changes).available(roster, at("09:00")), why


def test_a_seat_off_shift_is_unavailable_unless_logged_in(roster: Roster) -> None:
    night = at("02:00")
    assert not ready().available(roster, night)
    assert ready(logged_in=True).available(roster, night)
    assert not ready(logged_in=True, registered=False).available(roster, night)
    assert not ready(logged_in=True, paused=True).available(roster, night)


def test_logging_out_overrides_the_roster_at_every_hour(roster: Roster) -> None:
    for hhmm in ("00:00", "08:00", "12:00", "16:00", "23:59"):
        assert not ready(logged_in=False).available(roster, at(hhmm))
        assert ready(logged_in=True).available(roster, at(hhmm))


def test_longest_idle_puts_the_seat_idle_longest_first_and_breaks_ties_by_name(roster: Roster) -> None:
    seats = {
        "seat3": ready("seat3", idle_since=300.0),
        "seat4": ready("seat4", idle_since=100.0),
        "seat1": ready("seat1", idle_since=100.0, logged_in=True),
        "seat2": ready("seat2", idle_since=200.0, logged_in=True),
    }
    assert longest_idle(seats, roster, at("09:00")) == ["seat1", "seat4", "seat2", "seat3"]


def test_longest_idle_leaves_out_every_unavailable_seat(roster: Roster) -> None:
    seats = {
        "seat1": ready("seat1", idle_since=1.0),  # night shift, not logged in
        "seat2": ready("seat2", idle_since=2.0, logged_in=True, paused=True),
        "seat3": ready("seat3", idle_since=3.0, state=SeatState.TALKING),
        "seat4": ready("seat4", idle_since=4.0, registered=False),
        "seat5": ready("seat5", idle_since=5.0, logged_in=True),
        "seat6": ready("seat6", idle_since=6.0, logged_in=True, state=SeatState.WRAPUP),
    }
    assert longest_idle(seats, roster, at("09:00")) == ["seat5"]
    assert longest_idle({}, roster, at("09:00")) == []


def test_longest_idle_with_a_limit_gives_the_head_of_the_same_order_skipping_seats_off_shift(
        roster: Roster) -> None:
    seats = {
        "seat1": ready("seat1", idle_since=1.0),  # idle longest, but night shift and not logged in
        "seat2": ready("seat2", idle_since=2.0, logged_in=True),
        "seat3": ready("seat3", idle_since=3.0, logged_in=True),
        "seat4": ready("seat4", idle_since=4.0, logged_in=True),
    }
    everyone = longest_idle(seats, roster, at("09:00"))
    assert everyone == ["seat2", "seat3", "seat4"]
    assert longest_idle(seats, roster, at("09:00"), limit=1) == ["seat2"]
    assert longest_idle(seats, roster, at("09:00"), limit=2) == everyone[:2]
    assert longest_idle(seats, roster, at("09:00"), limit=9) == everyone


def test_ending_a_conversation_restarts_the_idle_clock_and_other_moves_keep_it() -> None:
    seat = Seat("seat3", registered=True, idle_since=10.0, since=10.0)
    ringing = seat.ring(20.0)
    assert (ringing.state, ringing.since, ringing.idle_since) == (SeatState.RINGING, 20.0, 10.0)
    talking = ringing.connect(25.0)
    assert (talking.since, talking.idle_since) == (25.0, 10.0)
    wrapup = talking.release(90.0, answered=True, wrapup_seconds=30)
    assert (wrapup.state, wrapup.since, wrapup.idle_since) == (SeatState.WRAPUP, 90.0, 10.0)
    idle = wrapup.end_wrapup(120.0)
    assert (idle.state, idle.since, idle.idle_since) == (SeatState.IDLE, 120.0, 120.0)
    assert seat.state is SeatState.IDLE and seat.since == 10.0  # frozen: the old seat is unchanged


def test_without_wrap_up_a_conversation_ends_idle_with_the_idle_clock_restarted() -> None:
    talking = Seat("seat3", idle_since=10.0).ring(20.0).connect(25.0)
    idle = talking.release(90.0, answered=True, wrapup_seconds=0)
    assert (idle.state, idle.since, idle.idle_since) == (SeatState.IDLE, 90.0, 90.0)


def test_a_seat_that_rang_but_never_connected_keeps_its_place_in_the_idle_order() -> None:
    idle = Seat("seat3", idle_since=10.0).ring(20.0).release(24.0, answered=False, wrapup_seconds=30)
    assert (idle.state, idle.since, idle.idle_since) == (SeatState.IDLE, 24.0, 10.0)


def test_a_re_adopted_call_makes_an_idle_or_wrapping_up_seat_talk() -> None:
    assert Seat("seat1").adopt_talking(5.0).state is SeatState.TALKING
    wrapping = Seat("seat1").ring(1.0).connect(2.0).release(3.0, answered=True, wrapup_seconds=10)
    assert wrapping.adopt_talking(4.0).state is SeatState.TALKING


@pytest.mark.parametrize(
    ("seat", "move"),
    [
        (Seat("seat1"), lambda s: s.connect(1.0)),  # a seat that is not ringing cannot connect
        (Seat("seat1"), lambda s: s.release(1.0, answered=True, wrapup_seconds=0)),
        (Seat("seat1"), lambda s: s.end_wrapup(1.0)),
        (Seat("seat1").ring(1.0), lambda s: s.ring(2.0)),  # one call at a time
        (Seat("seat1").ring(1.0).connect(2.0), lambda s: s.adopt_talking(3.0)),
        (Seat("seat1").ring(1.0).connect(2.0).release(3.0, answered=True, wrapup_seconds=5), lambda s: s.ring(4.0)),
    ],
)
def test_the_seat_state_machine_refuses_an_illegal_move_naming_the_seat_and_its_state(
        seat: Seat, move: Any) -> None:
    with pytest.raises(IllegalSeatMove, match=f"seat1: cannot .* a seat that is {seat.state}"):
        move(seat)


# ----------------------------------------------------------------------------- the seats table


def table_lines(roster: Roster, names: Iterable[str] = SEAT_NAMES) -> dict[str, str]:
    rows: dict[str, dict[str, object]] = {
        "seat1": {"registered": 1, "state": "idle", "logged_in": 1, "state_since": "2026-11-28T08:59:10+08:00"},
        "seat3": {"registered": 1, "state": "idle", "paused": 1, "pause_reason": "no-answer"},
        "seat4": {"registered": 1, "state": "talking", "paused": 1, "pause_reason": ""},
        "seat5": {"registered": 0, "state": "idle", "logged_in": 0},
    }
    rows["seat2"] = {"registered": 1, "state": "idle", "state_since": "1970-01-01T08:00:00+08:00",
                     "state_since_epoch": 0.0}  # written by an older engine for a seat never moved
    text = format_seats_table(roster, rows, {"seat3": 7, "seat1": 2}, at("09:00"), names)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["seat", "shift"]
    return {line.split()[0]: line for line in lines[1:]}


def test_the_seats_table_has_one_line_per_seat(roster: Roster) -> None:
    assert list(table_lines(roster)) == list(SEAT_NAMES)


def test_the_seats_table_shows_a_paused_seat_with_its_reason(roster: Roster) -> None:
    lines = table_lines(roster)
    assert "paused (no-answer)" in lines["seat3"]
    assert "paused (no reason)" in lines["seat4"]
    assert "paused" not in lines["seat1"]


def test_the_seats_table_shows_shift_login_registration_state_since_and_calls(roster: Roster) -> None:
    lines = table_lines(roster)
    assert lines["seat1"].split() == ["seat1", "night", "login", "yes", "idle", "2026-11-28", "08:59:10", "2"]
    assert lines["seat3"].split()[:4] == ["seat3", "day", "yes", "yes"] and lines["seat3"].endswith(" 7")
    assert lines["seat5"].split() == ["seat5", "evening", "logout", "no", "idle", "-", "0"]
    assert lines["seat6"].split() == ["seat6", "evening", "no", "no", "offline", "-", "0"]


def test_a_seat_whose_state_never_changed_shows_no_since_not_1970(roster: Roster) -> None:
    lines = table_lines(roster)
    assert "1970" not in lines["seat2"] and lines["seat2"].split()[4:] == ["idle", "-", "0"]


def test_the_seats_table_lists_the_configured_seats(roster: Roster) -> None:
    lines = table_lines(roster, names=seat_names(8))
    assert list(lines) == list(seat_names(8))
    assert lines["seat8"].split() == ["seat8", "-", "no", "no", "offline", "-", "0"]
