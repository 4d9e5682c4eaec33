"""The listen-in machine (`callcenter.listen_in.session`), pure: which snoop each mode
makes, how a supervision ends, and the log lines it writes."""

from __future__ import annotations

from callcenter.listen_in import session as s
from callcenter.listen_in.vocabulary import EndReason, Mode


def _session(mode: Mode = Mode.LISTEN) -> s.Session:
    return s.Session("abc", "supervisor", "seat1", "call-1", "call-1-seat1-0000", mode)


def _connected(mode: Mode = Mode.LISTEN) -> s.Session:
    connected, _ = s.step(_session(mode), s.PhoneAnswered(10.0))
    return connected


def _of(kind: type[s.Action], actions: list[s.Action]) -> list[s.Action]:
    return [a for a in actions if isinstance(a, kind)]


def test_given_a_new_supervision_then_its_line_is_written_and_the_supervisors_own_phone_rings() -> None:
    actions = s.begin(_session(), 5.0)
    assert actions == [
        s.SavePeriod("abc-1", {"session_id": "abc", "supervisor": "supervisor", "call_id": "call-1", "seat": "seat1",
                               "mode": "listen", "requested_epoch": 5.0, "started_epoch": None}),
        s.DialPhone("listen-abc-phone", "supervisor"),
    ]


def test_listen_hears_both_sides_and_speaks_to_nobody_whisper_to_the_operator_barge_to_both() -> None:
    assert s.DIRECTIONS[Mode.LISTEN] == (s.Direction.BOTH, s.Direction.NONE)
    assert s.DIRECTIONS[Mode.WHISPER] == (s.Direction.BOTH, s.Direction.OUT)
    assert s.DIRECTIONS[Mode.BARGE] == (s.Direction.BOTH, s.Direction.BOTH)


def test_when_the_phone_answers_then_the_snoop_and_the_phone_share_a_bridge_of_their_own() -> None:
    connected, actions = s.step(_session(Mode.WHISPER), s.PhoneAnswered(10.0))
    assert connected.phase is s.Phase.CONNECTED
    assert actions == [
        s.SavePeriod("abc-1", {"started_epoch": 10.0}),
        s.Connect("listen-abc", "listen-abc-phone", "listen-abc-snoop-1", "call-1-seat1-0000", Mode.WHISPER),
    ]
    assert connected.bridge_id.startswith(s.PREFIX) and connected.phone_channel.startswith(s.PREFIX)


def test_when_the_mode_changes_while_connected_then_the_snoop_is_replaced_and_a_new_line_begins() -> None:
    switched, actions = s.step(_connected(), s.ModeChosen(20.0, Mode.BARGE))
    assert switched.mode is Mode.BARGE and switched.phase is s.Phase.CONNECTED
    assert actions == [
        s.SavePeriod("abc-1", {"ended_epoch": 20.0, "end_reason": "switched"}),
        s.SavePeriod("abc-2", {"session_id": "abc", "supervisor": "supervisor", "call_id": "call-1",
                               "seat": "seat1", "mode": "barge", "requested_epoch": 20.0, "started_epoch": 20.0}),
        s.ReplaceSnoop("listen-abc", "listen-abc-snoop-1", "listen-abc-snoop-2", "call-1-seat1-0000", Mode.BARGE),
    ]
    # The replaced snoop's end is no end of the supervision.
    assert s.step(switched, s.SnoopGone(21.0, "listen-abc-snoop-1")) == (switched, [])


def test_the_same_mode_again_changes_nothing_and_a_mode_chosen_while_ringing_keeps_one_line() -> None:
    assert s.step(_connected(), s.ModeChosen(20.0, Mode.LISTEN)) == (_connected(), [])
    ringing, actions = s.step(_session(), s.ModeChosen(6.0, Mode.WHISPER))
    assert ringing.mode is Mode.WHISPER and ringing.phase is s.Phase.RINGING
    assert actions == [s.SavePeriod("abc-1", {"mode": "whisper"})]


def _ended_by(start: s.Session, event: s.Event) -> tuple[EndReason | None, list[s.Action]]:
    ended, actions = s.step(start, event)
    assert ended.phase is s.Phase.ENDED
    return ended.end_reason, actions


def test_every_end_tears_down_phone_snoop_and_bridge_and_closes_the_line_with_its_reason() -> None:
    cases: list[tuple[s.Session, s.Event, EndReason]] = [
        (_connected(), s.StopRequested(30.0), EndReason.STOPPED),
        (_connected(), s.PhoneGone(30.0), EndReason.SUPERVISOR_HUNG_UP),
        (_connected(), s.SnoopGone(30.0, "listen-abc-snoop-1"), EndReason.CALL_ENDED),
        (_connected(), s.SeatGone(30.0), EndReason.CALL_ENDED),
        (_connected(), s.StepFailed(30.0), EndReason.FAILED),
        (_connected(), s.StepFailed(30.0, seat_gone=True), EndReason.CALL_ENDED),
        (_session(), s.PhoneGone(30.0), EndReason.NO_ANSWER),
        (_session(), s.StopRequested(30.0), EndReason.STOPPED),
        (_session(), s.SeatGone(30.0), EndReason.CALL_ENDED),
    ]
    for start, event, reason in cases:
        found, actions = _ended_by(start, event)
        assert found is reason, (event, found)
        assert actions == [s.TearDown("listen-abc-phone", start.snoop_channel, "listen-abc"),
                           s.SavePeriod("abc-1", {"ended_epoch": 30.0, "end_reason": str(reason)})], event


def test_once_ended_nothing_more_happens() -> None:
    ended, _ = s.step(_connected(), s.StopRequested(30.0))
    for event in (s.PhoneGone(31.0), s.SeatGone(31.0), s.PhoneAnswered(31.0), s.ModeChosen(31.0, Mode.BARGE)):
        assert s.step(ended, event) == (ended, [])
