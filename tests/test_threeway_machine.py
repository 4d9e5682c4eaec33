"""Three-way calls (三方通话) in the per-call state machine: pure, hand-made events."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from callcenter.calls.machine import (
    NO_UNIT,
    NOT_JOINED,
    NOT_LIVE,
    UNIT_BUSY,
    Action,
    BridgeUnit,
    Call,
    CallerHungUp,
    DialUnit,
    Finished,
    HangupCaller,
    HangupSeat,
    HangupUnit,
    LogEvent,
    Phase,
    ReleaseSeat,
    SaveRow,
    SeatHungUp,
    SeatLeaveRequested,
    UnitAnswered,
    UnitDropRequested,
    UnitHungUp,
    UnitRequested,
    step,
    three_way_refusal,
)
from tests.test_calls_state_machine import effects, run

T0 = 1_764_300_000.0
UNIT, PHONE = "zezhou", "03560000001"


def talking() -> Call:
    """A citizen talking with seat3 (answered 40 s after arriving)."""
    return Call("c1", phase=Phase.TALKING, number="13800138000", arrived=T0, answered=T0 + 1, queued=T0 + 10,
                seat_answered=T0 + 40, seat="seat3", shift="day")


def logged(actions: Iterable[Action]) -> list[tuple[str, dict[str, str | int | float]]]:
    return [(a.kind, dict(a.data)) for a in actions if isinstance(a, LogEvent)]


def joined() -> Call:
    call, _ = run(talking(), UnitRequested(T0 + 60, UNIT, PHONE), UnitAnswered(T0 + 65, UNIT))
    assert call.unit == UNIT and call.unit_joined
    return call


def test_the_operator_brings_the_unit_in_it_is_dialled_then_bridged() -> None:
    call, actions = step(talking(), UnitRequested(T0 + 60, UNIT, PHONE))
    assert effects(actions) == [DialUnit(UNIT, PHONE)]
    assert logged(actions) == [("UNIT_DIALLED", {"unit": UNIT})]
    assert call.unit == UNIT and not call.unit_joined and call.phase is Phase.TALKING
    call, actions = step(call, UnitAnswered(T0 + 65, UNIT))
    assert effects(actions) == [BridgeUnit(UNIT)]
    assert logged(actions) == [("UNIT_JOINED", {"unit": UNIT})]
    assert [a.seat for a in actions if isinstance(a, LogEvent)] == ["seat3"]


def test_the_operator_takes_the_unit_off_and_talks_on_with_the_citizen() -> None:
    call, actions = step(joined(), UnitDropRequested(T0 + 90))
    assert effects(actions) == [HangupUnit(UNIT)] and logged(actions) == []
    call, actions = step(call, UnitHungUp(T0 + 90.2, UNIT, 16))
    assert logged(actions) == [("UNIT_LEFT", {"unit": UNIT, "by": "seat", "cause": 16})]
    assert effects(actions) == []  # the citizen and the operator carry on
    assert call.phase is Phase.TALKING and call.unit == "" and not call.seat_left
    call, actions = step(call, CallerHungUp(T0 + 120))
    row = next(dict(a.fields) for a in actions if isinstance(a, SaveRow))
    assert row["outcome"] == "answered" and row["talk_seconds"] == 80
    assert HangupSeat("seat3") in actions and ReleaseSeat("seat3", answered=True) in actions
    assert not any(isinstance(a, HangupUnit) for a in actions)


def test_the_unit_hanging_up_by_itself_leaves_citizen_and_operator_talking() -> None:
    call, actions = step(joined(), UnitHungUp(T0 + 80, UNIT, 16))
    assert logged(actions) == [("UNIT_LEFT", {"unit": UNIT, "by": "unit", "cause": 16})]
    assert effects(actions) == [] and call.phase is Phase.TALKING


def test_the_seat_leaves_citizen_and_unit_talking_and_is_released_at_once() -> None:
    call, actions = step(joined(), SeatLeaveRequested(T0 + 100))
    assert logged(actions) == [("SEAT_LEFT", {"unit": UNIT, "by": "operator"})]
    assert effects(actions) == [HangupSeat("seat3"), ReleaseSeat("seat3", answered=True)]
    assert call.seat_left and call.phase is Phase.TALKING and call.seat == "seat3"
    # The citizen hangs up: the unit is hung up too, the seat is not released a second time.
    done, actions = step(call, CallerHungUp(T0 + 300))
    assert done.phase is Phase.ENDED
    assert logged(actions)[0] == ("UNIT_LEFT", {"unit": UNIT, "by": "caller"})
    assert [a for a in effects(actions) if not isinstance(a, Finished)][-1] == HangupUnit(UNIT)
    assert not any(isinstance(a, HangupSeat | ReleaseSeat) for a in actions)
    row = next(dict(a.fields) for a in actions if isinstance(a, SaveRow))
    # The row: answered by seat3; talk time to the end of the whole conversation.
    assert row["outcome"] == "answered" and row["talk_seconds"] == 260 and row["wait_seconds"] == 30


def test_with_the_seat_gone_the_unit_hanging_up_ends_the_call() -> None:
    call, _ = step(joined(), SeatLeaveRequested(T0 + 100))
    call, actions = step(call, UnitHungUp(T0 + 200, UNIT, 16))
    assert logged(actions) == [("UNIT_LEFT", {"unit": UNIT, "by": "unit", "cause": 16})]
    assert effects(actions) == [HangupCaller()]  # the citizen would be alone in the bridge
    done, actions = step(call, CallerHungUp(T0 + 200.3))
    assert done.phase is Phase.ENDED
    kinds = [kind for kind, _ in logged(actions)]
    assert kinds == ["HANGUP"] and not any(isinstance(a, ReleaseSeat | HangupUnit) for a in actions)


def test_the_seat_phone_put_down_in_a_three_way_call_leaves_citizen_and_unit_talking() -> None:
    call, actions = step(joined(), SeatHungUp(T0 + 100, 16))
    assert logged(actions) == [("SEAT_LEFT", {"unit": UNIT, "by": "hangup"})]
    assert call.seat_left and call.phase is Phase.TALKING
    assert not any(isinstance(a, HangupCaller) for a in actions)


@pytest.mark.parametrize(("cause", "note"), [(17, "busy"), (19, "no_answer"), (0, "no_answer"), (-1, "failed"),
                                             (34, "failed")])
def test_a_unit_that_never_answers_is_noted_for_the_operator_and_the_call_goes_on(cause: int, note: str) -> None:
    call, _ = step(talking(), UnitRequested(T0 + 60, UNIT, PHONE))
    call, actions = step(call, UnitHungUp(T0 + 90, UNIT, cause))
    assert logged(actions) == [("UNIT_FAILED", {"unit": UNIT, "result": note, "cause": cause})]
    assert effects(actions) == []
    assert call.phase is Phase.TALKING and call.unit == "" and call.unit_note == note and call.unit_last == UNIT
    # The operator may try again (or another unit); the note is cleared.
    call, actions = step(call, UnitRequested(T0 + 95, "yangcheng", "03560000002"))
    assert effects(actions) == [DialUnit("yangcheng", "03560000002")] and call.unit_note == ""


def test_a_unit_taken_off_while_it_rings_is_cancelled_without_a_note_and_a_late_answer_is_hung_up() -> None:
    call, _ = step(talking(), UnitRequested(T0 + 60, UNIT, PHONE))
    call, actions = step(call, UnitDropRequested(T0 + 62))
    assert effects(actions) == [HangupUnit(UNIT)]
    late, actions = step(call, UnitAnswered(T0 + 62.1, UNIT))
    assert effects(actions) == [HangupUnit(UNIT)] and not late.unit_joined
    call, actions = step(late, UnitHungUp(T0 + 62.3, UNIT, 16))
    assert logged(actions) == [("UNIT_FAILED", {"unit": UNIT, "result": "cancelled", "cause": 16})]
    assert call.unit_note == "" and call.unit == ""


def test_the_citizen_hanging_up_while_the_unit_rings_cancels_the_dial() -> None:
    call, _ = step(talking(), UnitRequested(T0 + 60, UNIT, PHONE))
    done, actions = step(call, CallerHungUp(T0 + 61))
    assert HangupUnit(UNIT) in actions and "UNIT_LEFT" not in [k for k, _ in logged(actions)]
    assert done.phase is Phase.ENDED


def test_which_moves_are_refused_and_why() -> None:
    assert three_way_refusal(None, "seat3", "add") == NOT_LIVE
    assert three_way_refusal(talking(), "seat4", "add") == NOT_LIVE  # another seat's call
    ringing = Call("c1", phase=Phase.RINGING, seat="seat3")
    assert three_way_refusal(ringing, "seat3", "add") == NOT_LIVE
    assert three_way_refusal(talking(), "seat3", "add") is None
    assert three_way_refusal(talking(), "seat3", "drop") == NO_UNIT
    assert three_way_refusal(talking(), "seat3", "leave") == NO_UNIT
    dialling, _ = step(talking(), UnitRequested(T0 + 60, UNIT, PHONE))
    assert three_way_refusal(dialling, "seat3", "add") == UNIT_BUSY
    assert three_way_refusal(dialling, "seat3", "leave") == NOT_JOINED  # never leave the citizen alone
    assert three_way_refusal(dialling, "seat3", "drop") is None
    assert three_way_refusal(joined(), "seat3", "leave") is None
    gone, _ = step(joined(), SeatLeaveRequested(T0 + 100))
    assert three_way_refusal(gone, "seat3", "drop") == NOT_LIVE  # the seat left: no more moves of its own
    # A refused move that reaches the machine anyway (a race) does nothing.
    assert step(dialling, UnitRequested(T0 + 61, "yangcheng", "03560000002")) == (dialling, [])
    assert step(talking(), SeatLeaveRequested(T0 + 61)) == (talking(), [])
    assert step(talking(), UnitDropRequested(T0 + 61)) == (talking(), [])
