"""The per-call state machine `callcenter.calls.machine.step`, driven with hand-made events.

Pure and fast: no Asterisk, no network, no clock. Each test walks a call through
`step` and checks the phase, the outcome and the actions the controller would perform.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest

from callcenter.calls import machine as c
from callcenter.calls.machine import (
    Action,
    ActionFailed,
    Answer,
    Answered,
    Apologise,
    Arrived,
    BridgeWithSeat,
    Call,
    CallerHungUp,
    CancelRing,
    CancelTimer,
    Dequeue,
    Digit,
    Enqueue,
    Enqueued,
    Event,
    Finished,
    HangupCaller,
    HangupSeat,
    LogEvent,
    PauseSeat,
    Phase,
    Play,
    PlaybackFinished,
    ReleaseSeat,
    RingSeat,
    SaveRow,
    SeatAnswered,
    SeatFailed,
    SeatHungUp,
    SeatOffered,
    SetTimer,
    StartMoh,
    StopMoh,
    StopPlayback,
    TimerFired,
    callers_ahead_prompt,
    step,
)
from callcenter.vocabulary import Outcome

T0 = 1_764_300_000.0  # 2025-11-28 11:20:00 +08:00; fractions below check the truncation to whole seconds
CALL_ID = "c1"
GREETING_ID = f"{CALL_ID}-p1"
MENU_ID = f"{CALL_ID}-p2"
FIRST_POSITION_ID = f"{CALL_ID}-p3"

ARRIVED_AT = T0 + 0.2
ANSWERED_AT = T0 + 0.7
GREETING_DONE_AT = T0 + 6.1
MENU_DONE_AT = T0 + 12.4
KEY_AT = T0 + 13.9
ENQUEUED_AT = T0 + 14.0
POSITION_DONE_AT = T0 + 17.3
OFFERED_AT = T0 + 40.2
SEAT_ANSWERED_AT = T0 + 44.8
HUNG_UP_AT = T0 + 200.5


# ----------------------------------------------------------------------------- helpers


def run(call: Call, *events: Event) -> tuple[Call, list[Action]]:
    """Feed the events in order; the final call and every action, in order."""
    everything: list[Action] = []
    for event in events:
        call, actions = step(call, event)
        everything += actions
    return call, everything


def effects(actions: Iterable[Action]) -> list[Action]:
    """What the controller does over ARI and with the queue and seats (no log, no row)."""
    return [a for a in actions if not isinstance(a, LogEvent | SaveRow)]


def rows(actions: Iterable[Action]) -> list[dict[str, str | int | float | None]]:
    return [dict(a.fields) for a in actions if isinstance(a, SaveRow)]


def log_kinds(actions: Iterable[Action]) -> list[str]:
    return [a.kind for a in actions if isinstance(a, LogEvent)]


def final_row(actions: Iterable[Action]) -> dict[str, str | int | float | None]:
    done = [row for row in rows(actions) if row.get("state") == "done"]
    assert len(done) == 1, done
    return done[0]


# Most of these tests walk the DTMF menu path (a setting); the default without a menu is
# proven by the tests named for GB/T 33358 below.
MENU_ON = c.Timing(menu=True)


def new_call() -> Call:
    return Call(CALL_ID, timing=MENU_ON)


def answering() -> Call:
    call, _ = run(new_call(), Arrived(ARRIVED_AT, "13800138000", "Citizen", "/rec/c1.wav"))
    assert call.phase is Phase.ANSWERING
    return call


def greeting() -> Call:
    call, _ = run(answering(), Answered(ANSWERED_AT))
    assert call.phase is Phase.GREETING and call.playing == GREETING_ID
    return call


def menu_playing() -> Call:
    call, _ = run(greeting(), PlaybackFinished(GREETING_DONE_AT, GREETING_ID))
    assert call.phase is Phase.MENU and call.playing == MENU_ID
    return call


def menu_waiting() -> Call:
    call, _ = run(menu_playing(), PlaybackFinished(MENU_DONE_AT, MENU_ID))
    assert call.phase is Phase.MENU and call.playing == ""
    return call


def queued() -> Call:
    """Key 2 pressed, the controller has put the call in line (third), the prompt plays."""
    call, _ = run(menu_waiting(), Digit(KEY_AT, "2"), Enqueued(ENQUEUED_AT, 3))
    assert call.phase is Phase.QUEUED and call.playing == FIRST_POSITION_ID
    return call


def on_hold() -> Call:
    call, _ = run(queued(), PlaybackFinished(POSITION_DONE_AT, FIRST_POSITION_ID))
    assert call.phase is Phase.QUEUED and call.on_hold and call.playing == ""
    return call


def ringing(seat: str = "seat3") -> Call:
    call, _ = run(on_hold(), SeatOffered(OFFERED_AT, seat, "day"))
    assert call.phase is Phase.RINGING and call.seat == seat
    return call


def talking() -> Call:
    call, _ = run(ringing(), SeatAnswered(SEAT_ANSWERED_AT, "seat3"))
    assert call.phase is Phase.TALKING
    return call


def ended() -> Call:
    call, _ = run(talking(), CallerHungUp(HUNG_UP_AT))
    assert call.phase is Phase.ENDED
    return call


# ----------------------------------------------------------------------------- the happy path


def test_a_whole_answered_call_goes_through_every_phase_with_the_right_actions() -> None:
    call = new_call()

    call, actions = step(call, Arrived(ARRIVED_AT, "13800138000", "Citizen", "/rec/c1.wav"))
    assert call.phase is Phase.ANSWERING and call.arrived == ARRIVED_AT
    assert effects(actions) == [Answer()]
    assert rows(actions) == [{"caller_number": "13800138000", "caller_name": "Citizen", "arrived": ARRIVED_AT,
                              "recording_path": "/rec/c1.wav", "state": "ivr", "nuisance": 0,
                              "nuisance_rule": None}]
    assert log_kinds(actions) == ["ARRIVED"]

    call, actions = step(call, Answered(ANSWERED_AT))
    assert call.phase is Phase.GREETING and call.answered == ANSWERED_AT
    assert effects(actions) == [Play(GREETING_ID, "greeting")]
    assert rows(actions) == [{"answered": ANSWERED_AT}]

    call, actions = step(call, PlaybackFinished(GREETING_DONE_AT, GREETING_ID))
    assert call.phase is Phase.MENU
    assert effects(actions) == [Play(MENU_ID, "menu")]

    call, actions = step(call, PlaybackFinished(MENU_DONE_AT, MENU_ID))
    assert call.phase is Phase.MENU and call.playing == ""
    assert effects(actions) == [SetTimer("menu", 5.0)]

    # The menu prompt is over, so there is nothing to stop: only the menu timer is cancelled.
    call, actions = step(call, Digit(KEY_AT, "2"))
    assert call.phase is Phase.QUEUED and call.category == "complaint" and call.queued == KEY_AT
    assert effects(actions) == [CancelTimer("menu"), Enqueue()]
    assert rows(actions) == [{"queued": KEY_AT, "category": "complaint", "state": "queued"}]
    assert log_kinds(actions) == ["CATEGORY", "ENTERQUEUE"]

    call, actions = step(call, Enqueued(ENQUEUED_AT, 3))
    assert call.phase is Phase.QUEUED
    assert effects(actions) == [Play(FIRST_POSITION_ID, "position_2"), SetTimer("position", 30.0)]
    assert [a.data for a in actions if isinstance(a, LogEvent)] == [(("position", 3),)]

    call, actions = step(call, PlaybackFinished(POSITION_DONE_AT, FIRST_POSITION_ID))
    assert call.on_hold and call.playing == ""
    assert effects(actions) == [StartMoh()]

    call, actions = step(call, SeatOffered(OFFERED_AT, "seat3", "day"))
    assert call.phase is Phase.RINGING and (call.seat, call.shift) == ("seat3", "day")
    assert effects(actions) == [CancelTimer("position"), RingSeat("seat3")]  # already on hold

    call, actions = step(call, SeatAnswered(SEAT_ANSWERED_AT, "seat3"))
    assert call.phase is Phase.TALKING and call.seat_answered == SEAT_ANSWERED_AT
    assert effects(actions) == [StopMoh(), BridgeWithSeat("seat3")]
    wait = int(SEAT_ANSWERED_AT) - int(KEY_AT)
    assert wait == 31
    # From arrival (00.2) to the seat's answer (44.8), counted in whole seconds: 44.
    assert rows(actions) == [{"seat_answered": SEAT_ANSWERED_AT, "seat": "seat3", "shift": "day",
                              "wait_seconds": wait, "answer_seconds": 44, "state": "talking"}]

    call, actions = step(call, CallerHungUp(HUNG_UP_AT))
    assert call.phase is Phase.ENDED and call.ended == HUNG_UP_AT
    assert effects(actions) == [
        CancelTimer("menu"), CancelTimer("position"), HangupSeat("seat3"), ReleaseSeat("seat3", answered=True),
        Finished(),
    ]
    assert log_kinds(actions) == ["COMPLETECALLER", "HANGUP"]
    assert final_row(actions) == {
        "ended": HUNG_UP_AT,
        "outcome": "answered",
        "hangup_cause": "16 Normal Clearing",
        "wait_seconds": 31,
        "talk_seconds": int(HUNG_UP_AT) - int(SEAT_ANSWERED_AT),
        "total_seconds": int(HUNG_UP_AT) - int(ARRIVED_AT),
        "state": "done",
    }
    assert final_row(actions)["talk_seconds"] == 156
    assert final_row(actions)["total_seconds"] == 200


def test_a_call_the_dialplan_answered_goes_straight_to_the_greeting_without_asking_asterisk_to_answer() -> None:
    arrival = Arrived(ARRIVED_AT, "13800138000", "Citizen", "/rec/c1.wav", up=True)
    call, actions = run(new_call(), arrival)
    assert call.phase is Phase.GREETING and call.answered == ARRIVED_AT and call.playing == GREETING_ID
    assert effects(actions) == [Play(GREETING_ID, "greeting")]
    assert log_kinds(actions) == ["ARRIVED", "ANSWERED"]
    # The same call answered by a request instead: the same steps after the Answer.
    asked, asked_actions = run(new_call(), replace(arrival, up=False), Answered(ARRIVED_AT))
    assert asked == call and effects(asked_actions) == [Answer(), *effects(actions)]


def test_a_call_the_dialplan_answered_while_the_line_is_full_hears_it_is_full() -> None:
    call, actions = run(new_call(), Arrived(ARRIVED_AT, "13800138000", "", "", line_full=True, up=True))
    assert call.phase is Phase.LINE_FULL and effects(actions) == [Play(GREETING_ID, "line_busy")]


def test_a_menu_key_during_the_greeting_stops_it_and_queues_the_caller_at_once() -> None:
    call, actions = step(greeting(), Digit(T0 + 3.0, "1"))
    assert call.phase is Phase.QUEUED and call.category == "consultation" and call.queued == T0 + 3.0
    assert call.playing == ""
    assert effects(actions) == [StopPlayback(GREETING_ID), CancelTimer("menu"), Enqueue()]
    assert rows(actions) == [{"queued": T0 + 3.0, "category": "consultation", "state": "queued"}]


def test_a_menu_key_while_the_menu_still_plays_stops_the_menu_prompt() -> None:
    call, actions = step(menu_playing(), Digit(T0 + 8.0, "4"))
    assert call.phase is Phase.QUEUED and call.category == "suggestion"
    assert effects(actions) == [StopPlayback(MENU_ID), CancelTimer("menu"), Enqueue()]


def test_the_greeting_finishing_after_a_barge_in_is_ignored() -> None:
    call, _ = run(greeting(), Digit(T0 + 3.0, "1"))
    after, actions = step(call, PlaybackFinished(T0 + 3.1, GREETING_ID))
    assert after == call and actions == []


def test_no_key_before_the_menu_timer_queues_the_caller_with_no_category() -> None:
    call, actions = step(menu_waiting(), TimerFired(T0 + 17.4, "menu"))
    assert call.phase is Phase.QUEUED and call.category == "" and call.queued == T0 + 17.4
    assert effects(actions) == [Enqueue()]
    assert rows(actions) == [{"queued": T0 + 17.4, "category": None, "state": "queued"}]
    assert log_kinds(actions) == ["MENU_TIMEOUT", "ENTERQUEUE"]


def test_the_menu_timer_is_the_configured_one() -> None:
    call = Call(CALL_ID, timing=c.Timing(menu_timeout=9.5, position_interval=45.0, menu=True))
    call, _ = run(call, Arrived(T0, "1", "n"), Answered(T0), PlaybackFinished(T0, GREETING_ID))
    call, actions = step(call, PlaybackFinished(T0 + 1, MENU_ID))
    assert effects(actions) == [SetTimer("menu", 9.5)]
    call, actions = run(call, TimerFired(T0 + 11, "menu"), Enqueued(T0 + 11, 1))
    assert SetTimer("position", 45.0) in actions


def test_another_timer_firing_in_the_menu_does_not_queue_the_caller() -> None:
    call = menu_waiting()
    after, actions = step(call, TimerFired(T0 + 17.4, "position", 1))
    assert after == call and actions == []


@pytest.mark.parametrize(
    ("key", "category", "log_kind"),
    [
        ("0", "", "OPERATOR"),
        ("1", "consultation", "CATEGORY"),
        ("2", "complaint", "CATEGORY"),
        ("3", "help", "CATEGORY"),
        ("4", "suggestion", "CATEGORY"),
    ],
)
def test_each_menu_key_queues_the_caller_with_its_category(key: str, category: str, log_kind: str) -> None:
    call, actions = step(menu_waiting(), Digit(KEY_AT, key))
    assert call.phase is Phase.QUEUED and call.category == category
    assert effects(actions) == [CancelTimer("menu"), Enqueue()]
    assert rows(actions) == [{"queued": KEY_AT, "category": category or None, "state": "queued"}]
    assert log_kinds(actions) == [log_kind, "ENTERQUEUE"]
    first = next(a for a in actions if isinstance(a, LogEvent))
    assert ("key", key) in first.data and ("category", category or "none") in first.data


GARBAGE_DIGITS = ["*", "#", "5", "6", "7", "8", "9", "A", "D", "12", "00", "1#", " 1", ""]


@pytest.mark.parametrize("digit", GARBAGE_DIGITS)
@pytest.mark.parametrize("where", [greeting, menu_playing, menu_waiting], ids=["greeting", "menu", "menu-waiting"])
def test_a_garbage_digit_is_logged_and_otherwise_ignored(digit: str, where: Callable[[], Call]) -> None:
    call = where()
    after, actions = step(call, Digit(T0 + 9.0, digit))
    assert after == call
    assert actions == [LogEvent("DTMF_IGNORED", T0 + 9.0, data=(("digit", digit),))]


def test_a_long_garbage_digit_string_is_logged_cut_to_eight_characters() -> None:
    call = menu_waiting()
    after, actions = step(call, Digit(T0 + 9.0, "1234567890*#"))
    assert after == call
    assert actions == [LogEvent("DTMF_IGNORED", T0 + 9.0, data=(("digit", "12345678"),))]


def test_a_valid_key_still_works_after_garbage_digits() -> None:
    call, _ = run(menu_waiting(), Digit(T0 + 13, "9"), Digit(T0 + 13.5, "*"))
    call, _ = step(call, Digit(T0 + 14, "3"))
    assert call.phase is Phase.QUEUED and call.category == "help"


@pytest.mark.parametrize("where", [queued, ringing, talking], ids=["queued", "ringing", "talking"])
def test_digits_after_the_menu_do_nothing(where: Callable[[], Call]) -> None:
    call = where()
    after, actions = step(call, Digit(T0 + 50, "1"))
    assert after == call and actions == []


# ----------------------------------------------------------------------------- the queue and the seats


def test_a_position_timer_replays_the_position_over_the_music_on_hold() -> None:
    call, actions = step(on_hold(), TimerFired(T0 + 44.0, "position", 2))
    assert not call.on_hold and call.playing == f"{CALL_ID}-p4"
    assert effects(actions) == [StopMoh(), Play(f"{CALL_ID}-p4", "position_1"), SetTimer("position", 30.0)]


def test_a_position_timer_during_a_position_prompt_stops_it_first() -> None:
    _, actions = step(queued(), TimerFired(T0 + 44.0, "position", 1))
    assert effects(actions) == [StopPlayback(FIRST_POSITION_ID), Play(f"{CALL_ID}-p4", "position_next"),
                                SetTimer("position", 30.0)]


def test_a_position_prompt_goes_on_while_the_offered_seat_rings_then_the_music_follows() -> None:
    call, actions = step(queued(), SeatOffered(OFFERED_AT, "seat4", "day"))
    assert call.phase is Phase.RINGING and not call.on_hold and call.playing == FIRST_POSITION_ID
    assert effects(actions) == [CancelTimer("position"), RingSeat("seat4")]
    call, actions = step(call, PlaybackFinished(OFFERED_AT + 1.5, FIRST_POSITION_ID))
    assert call.on_hold and call.playing == "" and effects(actions) == [StartMoh()]


def test_a_seat_answering_during_the_position_prompt_stops_it_before_the_bridge() -> None:
    call, _ = step(queued(), SeatOffered(OFFERED_AT, "seat4", "day"))
    call, actions = step(call, SeatAnswered(OFFERED_AT + 0.4, "seat4"))
    assert call.phase is Phase.TALKING and call.playing == "" and not call.on_hold
    assert effects(actions)[:2] == [StopPlayback(FIRST_POSITION_ID), BridgeWithSeat("seat4")]


def test_an_answer_from_another_seat_is_ignored_while_ringing() -> None:
    call = ringing("seat3")
    for event in (SeatAnswered(T0 + 41, "seat5"), SeatFailed(T0 + 41, "seat5", 19)):
        after, actions = step(call, event)
        assert after == call and actions == []


@pytest.mark.parametrize("cause", [19, 18, 0])
def test_a_seat_that_does_not_answer_is_paused_and_the_caller_goes_back_in_line(cause: int) -> None:
    call, actions = step(ringing("seat3"), SeatFailed(T0 + 60, "seat3", cause))
    assert call.phase is Phase.QUEUED and call.seat == "" and call.shift == ""
    assert call.queued == KEY_AT  # the wait still counts from the first time in line
    assert effects(actions) == [PauseSeat("seat3", "no-answer"), ReleaseSeat("seat3", answered=False), Enqueue()]
    assert log_kinds(actions) == ["RINGNOANSWER"]


def test_a_ring_that_ended_while_the_controller_heard_nothing_frees_the_seat_without_pausing_it() -> None:
    # Found gone at a reconnection: whether the phone let it ring or the caller's side
    # ended it is unknown, and an operator is not paused on a guess.
    call, actions = step(ringing("seat3"), SeatFailed(T0 + 60, "seat3", 0, unseen=True))
    assert call.phase is Phase.QUEUED and call.seat == "" and call.queued == KEY_AT
    assert effects(actions) == [ReleaseSeat("seat3", answered=False), Enqueue()]
    assert log_kinds(actions) == ["RINGLOST"]


@pytest.mark.parametrize("cause", [17, 21, 34, 38, -1])
def test_a_seat_that_fails_otherwise_is_paused_as_unreachable(cause: int) -> None:
    call, actions = step(ringing("seat3"), SeatFailed(T0 + 60, "seat3", cause))
    assert call.phase is Phase.QUEUED
    assert effects(actions) == [PauseSeat("seat3", "unreachable"), ReleaseSeat("seat3", answered=False), Enqueue()]
    assert log_kinds(actions) == ["RINGFAILED"]


def test_after_a_failed_seat_the_next_seat_can_answer_and_the_wait_counts_from_the_first_queueing() -> None:
    call, _ = run(ringing("seat3"), SeatFailed(T0 + 60, "seat3", 19))
    call, actions = step(call, Enqueued(T0 + 60.1, 1))
    assert effects(actions) == [StopMoh(), Play(f"{CALL_ID}-p4", "position_next"), SetTimer("position", 30.0)]
    call, _ = run(call, SeatOffered(T0 + 61, "seat4", "day"))
    call, actions = step(call, SeatAnswered(T0 + 65.5, "seat4"))
    assert call.phase is Phase.TALKING and call.seat == "seat4"
    assert rows(actions)[0]["wait_seconds"] == int(T0 + 65.5) - int(KEY_AT)
    call, actions = step(call, CallerHungUp(T0 + 100))
    assert effects(actions)[-3:] == [HangupSeat("seat4"), ReleaseSeat("seat4", answered=True), Finished()]
    assert final_row(actions)["outcome"] == "answered"


def test_the_seat_hanging_up_hangs_up_the_caller_and_the_call_still_counts_as_answered() -> None:
    call, actions = step(talking(), SeatHungUp(T0 + 150.2, 16))
    assert call.phase is Phase.TALKING and call.seat_hung_up
    assert effects(actions) == [HangupCaller()]
    assert log_kinds(actions) == ["COMPLETEAGENT"]

    again, actions = step(call, SeatHungUp(T0 + 150.3, 16))
    assert again == call and actions == []

    call, actions = step(call, CallerHungUp(T0 + 150.4))
    assert call.phase is Phase.ENDED
    # The seat is gone already: released, not hung up again.
    assert effects(actions) == [CancelTimer("menu"), CancelTimer("position"), ReleaseSeat("seat3", answered=True),
                                Finished()]
    assert log_kinds(actions) == ["HANGUP"]
    row = final_row(actions)
    assert row["outcome"] == "answered"
    assert row["talk_seconds"] == int(T0 + 150.4) - int(SEAT_ANSWERED_AT)
    assert row["wait_seconds"] == 31


# ----------------------------------------------------------------------------- hang-ups and failures


@pytest.mark.parametrize(
    ("where", "outcome", "extra"),
    [
        (answering, Outcome.ABANDONED_IVR, []),
        (greeting, Outcome.ABANDONED_IVR, []),
        (menu_playing, Outcome.ABANDONED_IVR, []),
        (menu_waiting, Outcome.ABANDONED_IVR, []),
        (queued, Outcome.ABANDONED_QUEUE, [Dequeue()]),
        (on_hold, Outcome.ABANDONED_QUEUE, [Dequeue()]),
        (ringing, Outcome.ABANDONED_RINGING, [CancelRing("seat3"), ReleaseSeat("seat3", answered=False)]),
    ],
    ids=["answering", "greeting", "menu", "menu-waiting", "queued", "on-hold", "ringing"],
)
def test_a_caller_hanging_up_before_talking_is_an_abandon_of_that_phase(
    where: Callable[[], Call], outcome: Outcome, extra: list[Action]
) -> None:
    call = where()
    ended_at = T0 + 42.6
    after, actions = step(call, CallerHungUp(ended_at, 16, "Normal Clearing"))
    assert after.phase is Phase.ENDED and after.ended == ended_at and after.playing == ""
    assert effects(actions) == [CancelTimer("menu"), CancelTimer("position"), *extra, Finished()]
    assert log_kinds(actions) == ["ABANDON"]
    row = final_row(actions)
    assert row["outcome"] == str(outcome)
    assert row["talk_seconds"] == 0
    assert row["total_seconds"] == int(ended_at) - int(ARRIVED_AT)
    assert row["wait_seconds"] == (int(ended_at) - int(KEY_AT) if call.queued is not None else 0)
    assert row["hangup_cause"] == "16 Normal Clearing"


def test_a_hang_up_before_the_call_even_arrived_is_a_failed_call() -> None:
    call, actions = step(new_call(), CallerHungUp(T0, 1, "Unallocated"))
    assert call.phase is Phase.ENDED
    row = final_row(actions)
    assert row["outcome"] == "failed" and row["total_seconds"] == 0 and row["hangup_cause"] == "1 Unallocated"


@pytest.mark.parametrize("where", [new_call, answering], ids=["new", "answering"])
def test_an_action_failing_before_the_answer_ends_the_call_as_failed(where: Callable[[], Call]) -> None:
    call, actions = step(where(), ActionFailed(T0 + 1.5, "answer: 500 boom"))
    assert call.phase is Phase.ENDED
    assert effects(actions) == [CancelTimer("menu"), CancelTimer("position"), HangupCaller(), Finished()]
    assert log_kinds(actions) == ["FAILED"]
    row = final_row(actions)
    assert row["outcome"] == "failed"
    assert row["hangup_cause"] == "0 failed: answer: 500 boom"


def test_an_action_failing_in_the_queue_leaves_the_line_with_an_apology_and_a_failed_row() -> None:
    call, actions = step(on_hold(), ActionFailed(T0 + 30, "moh"))
    assert call.phase is Phase.ENDED
    assert effects(actions) == [CancelTimer("menu"), CancelTimer("position"), Dequeue(), Apologise(), Finished()]
    row = final_row(actions)
    assert row["outcome"] == "failed" and row["hangup_cause"] == "0 failed: moh"


def test_an_action_failing_while_talking_frees_the_seat_and_keeps_the_talk_in_a_failed_row() -> None:
    call, actions = step(talking(), ActionFailed(T0 + 100.0, "bridge: 500"))
    assert call.phase is Phase.ENDED
    assert HangupSeat("seat3") in actions and Apologise() in actions
    assert ReleaseSeat("seat3", answered=True) in actions  # the seat did talk to the caller: wrap-up
    row = final_row(actions)
    assert row["outcome"] == "failed" and row["talk_seconds"] == int(T0 + 100.0) - int(SEAT_ANSWERED_AT)


@pytest.mark.parametrize(
    "event",
    [
        Arrived(T0 + 300, "1", "n"), Answered(T0 + 300), PlaybackFinished(T0 + 300, GREETING_ID),
        Digit(T0 + 300, "1"), TimerFired(T0 + 300, "menu"), TimerFired(T0 + 300, "position", 1),
        Enqueued(T0 + 300, 1), SeatOffered(T0 + 300, "seat1", "night"), SeatAnswered(T0 + 300, "seat3"),
        SeatFailed(T0 + 300, "seat3", 19), SeatHungUp(T0 + 300, 16), CallerHungUp(T0 + 300),
        ActionFailed(T0 + 300, "late"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_events_after_the_end_do_nothing(event: Event) -> None:
    call = ended()
    after, actions = step(call, event)
    assert after is call and actions == []


# ----------------------------------------------------------------------------- stale playbacks


def test_a_stale_playback_finished_is_ignored_in_every_phase() -> None:
    for call in (greeting(), menu_playing(), menu_waiting(), queued(), on_hold(), ringing(), talking()):
        for stale in (f"{CALL_ID}-p0", GREETING_ID if call.playing != GREETING_ID else "other-p1"):
            after, actions = step(call, PlaybackFinished(T0 + 90, stale))
            assert after == call and actions == [], (call.phase, stale)


def test_the_menu_prompt_finishing_after_a_key_does_not_start_the_music_on_hold() -> None:
    call, _ = run(menu_playing(), Digit(T0 + 8.0, "2"), Enqueued(T0 + 8.1, 1))
    after, actions = step(call, PlaybackFinished(T0 + 8.2, MENU_ID))  # the stopped menu prompt reports in
    assert after == call and actions == []


def test_a_stopped_position_prompt_finishing_late_is_ignored() -> None:
    call, _ = run(queued(), TimerFired(T0 + 44.0, "position", 1))
    after, actions = step(call, PlaybackFinished(T0 + 44.1, FIRST_POSITION_ID))
    assert after == call and actions == []
    after, actions = step(call, PlaybackFinished(T0 + 47.0, f"{CALL_ID}-p4"))
    assert effects(actions) == [StartMoh()]


# ----------------------------------------------------------------------------- position prompts


@pytest.mark.parametrize(
    ("position", "prompt"),
    [
        (0, "position_next"),
        (1, "position_next"),
        (2, "position_1"),
        (3, "position_2"),
        (30, "position_29"),
        (31, "position_30"),
        (32, "position_many"),
        (500, "position_many"),
    ],
)
def test_the_position_prompt_says_how_many_callers_are_ahead(position: int, prompt: str) -> None:
    call, _ = run(menu_waiting(), Digit(KEY_AT, "0"))
    _, actions = step(call, Enqueued(ENQUEUED_AT, position))
    assert [a.prompt for a in actions if isinstance(a, Play)] == [prompt]


def test_a_negative_count_of_callers_ahead_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        callers_ahead_prompt(-1)


@pytest.mark.parametrize(("position", "prompt"), [(1, "position_next"), (7, "position_6"), (40, "position_many")])
def test_entering_the_line_plays_the_position_prompt(position: int, prompt: str) -> None:
    call, _ = run(menu_waiting(), Digit(KEY_AT, "0"))
    call, actions = step(call, Enqueued(ENQUEUED_AT, position))
    assert effects(actions) == [Play(FIRST_POSITION_ID, prompt), SetTimer("position", 30.0)]


# ----------------------------------------------------------------------------- a property over random calls

SEATS = ("seat1", "seat3", "seat4")
OUTCOMES = {str(o) for o in Outcome}


def _random_event(rng: random.Random, call: Call, at: float) -> Event:
    """An event, often one that makes sense for the call now, sometimes nonsense."""
    playback = call.playing if call.playing and rng.random() < 0.8 else rng.choice(
        [f"{CALL_ID}-p{n}" for n in range(6)] + ["", "x"])
    seat = call.seat if call.seat and rng.random() < 0.8 else rng.choice(SEATS)
    makers: list[tuple[int, Callable[[], Event]]] = [
        (2, lambda: Arrived(at, "13800138000", "n")),
        (2, lambda: Answered(at)),
        (8, lambda: PlaybackFinished(at, playback)),
        (5, lambda: Digit(at, rng.choice(["0", "1", "2", "3", "4", "5", "*", "#", "", "12", "A"]))),
        (3, lambda: TimerFired(at, rng.choice(["menu", "position", "other"]), rng.randint(0, 40))),
        (3, lambda: Enqueued(at, rng.randint(1, 40))),
        (3, lambda: SeatOffered(at, seat, rng.choice(["night", "day", "evening"]))),
        (3, lambda: SeatAnswered(at, seat)),
        (2, lambda: SeatFailed(at, seat, rng.choice([0, 16, 17, 18, 19, 21, -1]))),
        (2, lambda: SeatHungUp(at, 16)),
        (1, lambda: CallerHungUp(at, rng.choice([16, 17, 31]))),
        (1, lambda: ActionFailed(at, "boom")),
    ]
    weights = [w for w, _ in makers]
    return rng.choices([m for _, m in makers], weights)[0]()


def _random_events(rng: random.Random) -> list[Event]:
    """Mostly a plausible start, then random events, often closed by the caller hanging up."""
    call = Call(CALL_ID, timing=MENU_ON)
    at = T0 + rng.random()
    events: list[Event] = []
    if rng.random() < 0.8:
        # Now and then a flagged nuisance number (warning first), sometimes over the hard limit.
        rule = "repeat-short-calls" if rng.random() < 0.25 else ""
        events += [Arrived(at, "13800138000", "n", flagged_rule=rule, over_limit=bool(rule) and rng.random() < 0.3,
                           line_full=rng.random() < 0.08),
                   Answered(at + 0.3)]
        call, _ = run(call, *events)
    for _ in range(rng.randint(0, 30)):
        at += rng.uniform(0, 20)
        event = _random_event(rng, call, at)
        events.append(event)
        call, _ = step(call, event)
    if rng.random() < 0.7:
        events.append(CallerHungUp(at + rng.uniform(0, 5)))
    return events


def _check_sequence(events: list[Event]) -> Call:
    call = Call(CALL_ID, timing=MENU_ON)
    done_rows: list[dict[str, str | int | float | None]] = []
    finished = 0
    rung: list[str] = []
    released: list[str] = []
    for event in events:
        was_ended = call.phase is Phase.ENDED
        before = call
        call, actions = step(call, event)  # never raises
        if was_ended:
            assert call is before and actions == []
        done_rows += [row for row in rows(actions) if row.get("state") == "done"]
        finished += sum(isinstance(a, Finished) for a in actions)
        rung += [a.seat for a in actions if isinstance(a, RingSeat)]
        released += [a.seat for a in actions if isinstance(a, ReleaseSeat)]
        if isinstance(event, CallerHungUp):
            assert call.phase is Phase.ENDED
        if call.phase is Phase.ENDED:
            assert len(done_rows) == 1 and finished == 1
            assert done_rows[0]["outcome"] in OUTCOMES
            assert sorted(rung) == sorted(released)  # every seat rung for this call is given back
        else:
            assert done_rows == [] and finished == 0
    return call


@pytest.mark.parametrize("seed", range(20))
def test_for_any_sequence_of_events_a_hang_up_ends_the_call_with_exactly_one_final_row(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        events = _random_events(rng)
        try:
            _check_sequence(events)
        except AssertionError as exc:  # name the sequence that broke it
            raise AssertionError(f"seed {seed}: {events!r}") from exc


def test_the_random_sequences_reach_every_phase_and_every_outcome() -> None:
    """Guards the property above: the generator must reach deep into calls, not stop at the menu."""
    rng = random.Random(1234)
    phases: set[Phase] = set()
    outcomes: set[str | int | float | None] = set()
    for _ in range(600):
        call = Call(CALL_ID, timing=MENU_ON)
        for event in _random_events(rng):
            call, actions = step(call, event)
            phases.add(call.phase)
            outcomes |= {row["outcome"] for row in rows(actions) if row.get("state") == "done"}
    assert phases == set(Phase)
    assert outcomes == OUTCOMES


# ----------------------------------------------------------------------------- GB/T 33358: no menu


def _greeted_without_menu(flagged_rule: str = "") -> tuple[Call, list[Action]]:
    call = Call(CALL_ID)  # the default timing: no menu
    call, _ = run(call, Arrived(ARRIVED_AT, "13800138000", "Citizen", flagged_rule=flagged_rule),
                  Answered(ANSWERED_AT))
    assert call.phase is Phase.GREETING and call.playing == GREETING_ID
    return step(call, PlaybackFinished(GREETING_DONE_AT, GREETING_ID))


def test_by_default_the_greeting_leads_straight_to_the_line_without_a_menu() -> None:
    call, actions = _greeted_without_menu()
    assert call.phase is Phase.QUEUED and call.queued == GREETING_DONE_AT and call.category == ""
    assert effects(actions) == [Enqueue()]
    assert log_kinds(actions) == ["GREETING", "ENTERQUEUE"]
    assert rows(actions) == [{"queued": GREETING_DONE_AT, "category": None, "state": "queued"}]
    assert not any(isinstance(a, Play) and a.prompt == "menu" for a in actions)


def test_without_a_menu_keys_during_the_greeting_are_logged_and_change_nothing() -> None:
    call, _ = run(Call(CALL_ID), Arrived(ARRIVED_AT, "13800138000", "Citizen"), Answered(ANSWERED_AT))
    for key in ("0", "2", "#"):
        after, actions = step(call, Digit(KEY_AT, key))
        assert after == call
        assert log_kinds(actions) == ["DTMF_IGNORED"] and effects(actions) == []


def test_without_a_menu_a_flagged_number_hears_the_warning_after_the_greeting() -> None:
    call, actions = _greeted_without_menu(flagged_rule="repeat-short-calls")
    assert call.phase is Phase.WARNING
    assert [a.prompt for a in actions if isinstance(a, Play)] == ["nuisance_warning"]


def test_when_the_line_is_full_the_caller_is_told_and_hung_up_with_its_own_outcome() -> None:
    call, actions = run(Call(CALL_ID), Arrived(ARRIVED_AT, "13800138000", "Citizen", line_full=True))
    assert effects(actions) == [Answer()]
    call, actions = step(call, Answered(ANSWERED_AT))
    assert call.phase is Phase.LINE_FULL and log_kinds(actions) == ["ANSWERED", "LINE_FULL"]
    plays = [a for a in actions if isinstance(a, Play)]
    assert [p.prompt for p in plays] == ["line_busy"]  # no greeting, no line
    call, actions = step(call, Digit(KEY_AT, "0"))
    assert actions == []  # keys change nothing
    call, actions = step(call, PlaybackFinished(GREETING_DONE_AT, plays[0].playback_id))
    assert effects(actions) == [HangupCaller()]
    call, actions = step(call, CallerHungUp(GREETING_DONE_AT + 0.2))
    row = final_row(actions)
    assert row["outcome"] == "line_full" and row["hangup_cause"] == "16 refused: the line is full"
    assert log_kinds(actions) == ["REFUSED"] and Enqueue() not in actions
