"""Recovery after the controller was away is decided by the pure call machine: a call
still in Stasis is re-adopted (back in line in its old place, or still talking with its
seat), a call that ended meanwhile gets its row completed from where it was. And the
ARI events are decoded into the machine's events without Asterisk."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.calls import ari_events
from callcenter.calls.machine import (
    AdoptSeat,
    Answered,
    Call,
    CallerHungUp,
    Digit,
    Enqueue,
    Enqueued,
    LogEvent,
    LostWhileAway,
    MeasureRecording,
    Phase,
    Play,
    PlaybackFinished,
    PlaybackStarted,
    Readopted,
    ReleaseSeat,
    SaveRow,
    Stored,
    step,
)
from callcenter.vocabulary import Outcome

T0 = 1_764_300_000.0


def _row(actions: list[Any]) -> dict[str, object]:
    fields: dict[str, object] = {}
    for action in actions:
        if isinstance(action, SaveRow):
            fields.update(dict(action.fields))
    return fields


@pytest.mark.parametrize(
    ("state", "outcome"),
    [("talking", Outcome.ANSWERED), ("queued", Outcome.ABANDONED_QUEUE), ("ringing", Outcome.ABANDONED_RINGING),
     ("ivr", Outcome.ABANDONED_IVR), ("something-else", Outcome.ABANDONED_IVR)],
)
def test_a_call_lost_while_away_ends_where_its_row_says_it_was(state: str, outcome: Outcome) -> None:
    call, actions = step(Call("c1"), LostWhileAway(T0, Stored(state)))
    assert call.phase is Phase.ENDED
    assert _row(actions) == {"ended": T0, "outcome": str(outcome), "state": "done",
                             "hangup_cause": "lost while the controller was down"}
    assert LogEvent("LOST", T0, data=(("state", state),)) in actions
    assert MeasureRecording() in actions  # the recording goes on in the dialplan: it is measured still


def test_a_call_waiting_in_line_is_readopted_into_the_line_and_hears_its_place_again() -> None:
    stored = Stored("queued", number="13800138000", name="张三", category="help", arrived=T0, answered=T0 + 1,
                    queued=T0 + 20, flagged_rule="repeat-short-calls")
    call, actions = step(Call("c1"), Readopted(T0 + 60, stored, still_bridged=False))
    assert call.phase is Phase.QUEUED
    assert (call.number, call.name, call.category, call.queued, call.arrived) == (
        "13800138000", "张三", "help", T0 + 20, T0)
    assert call.warned  # a flagged caller is not warned a second time
    assert actions == [LogEvent("READOPTED", T0 + 60, data=(("state", "queued"),)), Enqueue()]
    call, actions = step(call, Enqueued(T0 + 60, 3))
    assert any(isinstance(a, Play) and a.prompt == "position_2" for a in actions)


@pytest.mark.parametrize("state", ["ivr", "ringing"])
def test_a_call_readopted_from_the_menu_or_a_ringing_seat_goes_back_in_line_queued_now(state: str) -> None:
    call, actions = step(Call("c1"), Readopted(T0 + 60, Stored(state, arrived=T0), still_bridged=False))
    assert call.phase is Phase.QUEUED and call.queued == T0 + 60
    assert _row(actions) == {"queued": T0 + 60, "state": "queued"}
    assert actions[-1] == Enqueue()


def test_a_call_still_bridged_with_its_seat_is_readopted_talking_and_the_seat_is_busy() -> None:
    stored = Stored("talking", seat="seat3", shift="day", arrived=T0, queued=T0 + 5, seat_answered=T0 + 9)
    call, actions = step(Call("c1"), Readopted(T0 + 60, stored, still_bridged=True))
    assert (call.phase, call.seat, call.shift, call.seat_answered) == (Phase.TALKING, "seat3", "day", T0 + 9)
    assert actions[-1] == AdoptSeat("seat3") and not any(isinstance(a, Enqueue) for a in actions)
    call, actions = step(call, CallerHungUp(T0 + 100))
    assert _row(actions)["outcome"] == "answered" and _row(actions)["talk_seconds"] == 91
    assert ReleaseSeat("seat3", answered=True) in actions


def test_a_talking_row_whose_seat_channel_is_gone_goes_back_in_line() -> None:
    call, actions = step(Call("c1"), Readopted(T0 + 60, Stored("talking", seat="seat3"), still_bridged=False))
    assert call.phase is Phase.QUEUED and call.seat == ""
    assert not any(isinstance(a, AdoptSeat) for a in actions)


def test_recovery_events_mean_nothing_to_a_call_already_running() -> None:
    call, _ = step(Call("c1"), Readopted(T0, Stored("queued"), still_bridged=False))
    assert step(call, Readopted(T0 + 1, Stored("talking", seat="seat1"), still_bridged=True)) == (call, [])
    assert step(call, LostWhileAway(T0 + 1, Stored("queued"))) == (call, [])


def test_a_playback_started_is_logged_as_proof_the_caller_heard_the_prompt() -> None:
    call, actions = step(Call("c1", phase=Phase.GREETING), PlaybackStarted(T0, "c1-p1", "greeting"))
    assert call.phase is Phase.GREETING
    assert actions == [LogEvent("PLAYBACK", T0, data=(("prompt", "greeting"), ("playback", "c1-p1")))]


# ----------------------------------------------------------------------------- ARI events decoded

STAMP = "2025-11-28T03:20:00.250+0000"
AT = 1_764_300_000.25


def test_a_stasis_start_is_a_new_channel_or_a_seat_answering() -> None:
    channel = {"id": "c1", "caller": {"number": "13800138000"}}
    decoded = ari_events.decode({"type": "StasisStart", "timestamp": STAMP, "channel": channel, "args": []})
    assert decoded == ari_events.ChannelEntered(channel, AT)
    seat = ari_events.decode({"type": "StasisStart", "timestamp": STAMP, "channel": {"id": "c1-seat1-ab"},
                              "args": ["seat", "c1"]})
    assert seat == ari_events.SeatLegEntered("c1-seat1-ab", AT)


def test_playback_events_go_to_the_channel_they_target_with_the_prompt_name() -> None:
    playback = {"id": "c1-p1", "target_uri": "channel:c1", "media_uri": "sound:/inst/sounds/greeting"}
    assert ari_events.decode({"type": "PlaybackStarted", "timestamp": STAMP, "playback": playback}) == \
        ari_events.ToCall("c1", PlaybackStarted(AT, "c1-p1", "greeting"))
    assert ari_events.decode({"type": "PlaybackFinished", "timestamp": STAMP, "playback": playback}) == \
        ari_events.ToCall("c1", PlaybackFinished(AT, "c1-p1"))
    bridge = playback | {"target_uri": "bridge:b1"}
    assert ari_events.decode({"type": "PlaybackFinished", "timestamp": STAMP, "playback": bridge}) is None
    assert ari_events.channel_of({"type": "PlaybackFinished", "playback": playback}) == "c1"


def test_answer_dtmf_and_hangups_are_decoded_with_their_causes() -> None:
    up = {"type": "ChannelStateChange", "timestamp": STAMP, "channel": {"id": "c1", "state": "Up"}}
    assert ari_events.decode(up) == ari_events.ToCall("c1", Answered(AT))
    ringing = {"type": "ChannelStateChange", "timestamp": STAMP, "channel": {"id": "c1", "state": "Ringing"}}
    assert ari_events.decode(ringing) is None
    dtmf = {"type": "ChannelDtmfReceived", "timestamp": STAMP, "channel": {"id": "c1"}, "digit": "2"}
    assert ari_events.decode(dtmf) == ari_events.ToCall("c1", Digit(AT, "2"))
    request = {"type": "ChannelHangupRequest", "timestamp": STAMP, "channel": {"id": "c1"}, "cause": 17}
    assert ari_events.decode(request) == ari_events.HangupRequested("c1", 17)
    destroyed = {"type": "ChannelDestroyed", "timestamp": STAMP, "channel": {"id": "c1"}, "cause": 19,
                 "cause_txt": "No answer"}
    assert ari_events.decode(destroyed) == ari_events.ChannelGone("c1", AT, 19, "No answer")
    ended = {"type": "StasisEnd", "timestamp": STAMP, "channel": {"id": "c1"}}
    assert ari_events.decode(ended) == ari_events.ChannelGone("c1", AT, None, "")


def test_an_event_without_a_usable_timestamp_is_timed_when_decoded() -> None:
    decoded = ari_events.decode({"type": "ChannelDtmfReceived", "timestamp": "yesterday", "channel": {"id": "c1"},
                                 "digit": "1"})
    assert isinstance(decoded, ari_events.ToCall) and isinstance(decoded.event, Digit)
    assert decoded.event.at > AT
    assert ari_events.decode({"type": "BridgeCreated"}) is None
