"""The controller against recorded Asterisk traffic: each capture in tests/replay/captures
(recorded by `tests/replay/record.py` from a real Asterisk run) is replayed through the
real controller and a real store, on a virtual clock, without Asterisk or root.

Each replay must reproduce what the real run stored (rows, event kinds) and sent (the
same requests, in order); the tests below also spell out what each flow means."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callcenter.ari import AriClient, AriConfig, AriNotFound
from callcenter.ari_capture import CaptureWriter, capturing, tap, tap_connected
from tests.replay.fake_ari import CAPTURES, ROW_FIELDS, ReplayDiverged, Result, run_replay
from tests.replay.record import trim

NAMES = sorted(path.stem for path in CAPTURES.glob("*.jsonl"))
# The recording's measured length: the replay has no audio file to measure.
MEASURED_FROM_AUDIO = {"RECORDING"}

# The dialplan answers (`Answer(,i)`): the controller's first request of a call plays.
FILTER = "PUT /applications/hotline/eventFilter"  # at every connection, before adoption
GREETED_AND_QUEUED = [
    "POST /channels/{caller}/play/{caller}-p1 greeting",
    "DELETE /playbacks/{caller}-p1",  # key 0 cuts the greeting short
    "POST /channels/{caller}/play/{caller}-p2 position_next",
]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Result]:
    results: dict[str, Result] = {}

    def replay(name: str) -> Result:
        if name not in results:
            results[name] = run_replay(name, tmp_path_factory.mktemp(name))
        return results[name]

    return replay


def _only_call(result: Result) -> dict[str, Any]:
    assert len(result.stored.calls) == 1, result.stored.calls
    return result.stored.calls[0]


def _kinds(result: Result, call: dict[str, Any]) -> list[str]:
    return [str(event["kind"]) for event in result.stored.events[str(call["call_id"])]]


def _between(call: dict[str, Any], start: str, end: str) -> int:
    """Whole seconds from one of the row's times to another (both ISO, to the second)."""
    return int((datetime.fromisoformat(str(call[end])) - datetime.fromisoformat(str(call[start]))).total_seconds())


def test_the_recorded_captures_are_all_here() -> None:
    assert NAMES == ["abandoned_in_ivr", "abandoned_in_queue", "abandoned_while_ringing", "answered", "readoption",
                     "seat_no_answer"]


@pytest.mark.parametrize("name", NAMES)
def test_a_replayed_capture_stores_the_rows_and_events_of_the_real_run(
        replayed: Callable[[str], Result], name: str) -> None:
    result = replayed(name)
    assert result.divergences == []
    expected = result.capture.expected
    assert [row["call_id"] for row in result.stored.calls] == [call["call_id"] for call in expected["calls"]]
    for row, real in zip(result.stored.calls, expected["calls"], strict=True):
        assert {key: row[key] for key in ROW_FIELDS} == {key: real[key] for key in ROW_FIELDS}
        assert Path(str(row["recording_path"])).name == real["recording"]
        real_kinds = [kind for kind in expected["events"][real["call_id"]] if kind not in MEASURED_FROM_AUDIO]
        assert _kinds(result, row) == real_kinds


@pytest.mark.parametrize("name", NAMES)
def test_a_replayed_capture_makes_the_requests_of_the_real_run_in_the_same_order(
        replayed: Callable[[str], Result], name: str) -> None:
    result = replayed(name)
    assert result.divergences == []
    assert result.described() == result.recorded()


def test_an_answered_call_is_greeted_queued_bridged_to_seat1_and_hung_up_when_the_seat_hangs_up(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("answered")
    call = _only_call(result)
    assert (call["outcome"], call["seat"], call["shift"], call["state"]) == ("answered", "seat1", "night", "done")
    # Timed by Asterisk's own event times; the seat talked 2 s (its phone hangs up after 2000 ms).
    assert call["wait_seconds"] == _between(call, "queued", "seat_answered")
    assert call["talk_seconds"] == _between(call, "seat_answered", "ended") in (1, 2, 3)
    assert call["total_seconds"] == _between(call, "arrived", "ended")
    assert _kinds(result, call) == ["ARRIVED", "ANSWERED", "PLAYBACK", "OPERATOR", "ENTERQUEUE", "POSITION",
                                    "RINGSEAT", "PLAYBACK", "CONNECT", "COMPLETEAGENT", "HANGUP"]
    assert result.described() == [
        FILTER,
        *GREETED_AND_QUEUED,
        "POST /channels/{caller}-seat1-{leg} PJSIP/seat1",
        "DELETE /playbacks/{caller}-p2",  # the seat answered: the announcement stops
        "POST /bridges/seat-seat1-{leg}",  # the seat's first call: its bridge is made
        "POST /bridges/seat-seat1-{leg}/addChannel",
        "DELETE /channels/{caller}",  # the seat hung up: so does the controller, for the caller
        # and the seat's bridge stays for its next call
    ]


def test_a_citizen_who_hangs_up_during_the_greeting_is_abandoned_in_the_ivr_and_never_queued(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("abandoned_in_ivr")
    call = _only_call(result)
    assert (call["outcome"], call["seat"], call["queued"], call["state"]) == ("abandoned_ivr", None, None, "done")
    assert (call["wait_seconds"], call["talk_seconds"]) == (0, 0)
    assert call["total_seconds"] == _between(call, "arrived", "ended") in (1, 2)  # the citizen held 1.5 s
    assert _kinds(result, call) == ["ARRIVED", "ANSWERED", "PLAYBACK", "GREETING", "ABANDON"]
    # Asterisk ends the greeting (failed) as the caller goes; the menu prompt then finds no channel.
    assert result.described() == [
        FILTER,
        # The empty bridge seat1 kept after the capture before this one (the same Asterisk):
        # no adopted call talks in it, so it goes.
        "DELETE /bridges/seat-seat1-{leg}",
        "POST /channels/{caller}/play/{caller}-p1 greeting",
        "POST /channels/{caller}/play/{caller}-p2 menu",
    ]
    assert result.capture.sessions[0].requests[-1]["status"] == 404


def test_a_citizen_who_hangs_up_in_the_queue_is_abandoned_there_after_the_position_and_music_on_hold(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("abandoned_in_queue")
    call = _only_call(result)
    assert (call["outcome"], call["seat"], call["state"]) == ("abandoned_queue", None, "done")
    assert call["wait_seconds"] == _between(call, "queued", "ended") > 0
    assert call["talk_seconds"] == 0
    assert _kinds(result, call) == ["ARRIVED", "ANSWERED", "PLAYBACK", "OPERATOR", "ENTERQUEUE", "POSITION",
                                    "PLAYBACK", "ABANDON"]
    assert result.described() == [FILTER, *GREETED_AND_QUEUED, "POST /channels/{caller}/moh"]


def test_a_citizen_who_hangs_up_while_a_seat_rings_is_abandoned_ringing_and_the_ringing_leg_is_hung_up(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("abandoned_while_ringing")
    call = _only_call(result)
    assert (call["outcome"], call["seat"], call["seat_answered"], call["state"]) == (
        "abandoned_ringing", None, None, "done")
    assert call["wait_seconds"] == _between(call, "queued", "ended") < 4  # before the 4 s ring time-out
    assert call["talk_seconds"] == 0
    assert _kinds(result, call) == ["ARRIVED", "ANSWERED", "PLAYBACK", "OPERATOR", "ENTERQUEUE", "POSITION",
                                    "RINGSEAT", "PLAYBACK", "ABANDON"]
    assert result.described() == [
        FILTER,
        *GREETED_AND_QUEUED,
        "POST /channels/{caller}-seat1-{leg} PJSIP/seat1",
        "POST /channels/{caller}/moh",
        "DELETE /channels/{caller}-seat1-{leg}",  # the same leg the controller rang
    ]
    rung = next(s.path for s in result.sent if s.method == "POST" and "-seat1-" in s.path)
    hung_up = next(s.path for s in result.sent if s.method == "DELETE" and "-seat1-" in s.path)
    assert rung == hung_up


def test_a_seat_that_lets_it_ring_is_paused_for_no_answer_and_the_caller_reaches_the_other_seat(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("seat_no_answer")
    call = _only_call(result)
    assert (call["outcome"], call["seat"], call["shift"], call["state"]) == ("answered", "seat2", "night", "done")
    # The wait includes seat1's 4 s of ringing (the ring time-out), then seat2's answer.
    assert call["wait_seconds"] == _between(call, "queued", "seat_answered") >= 4
    assert call["talk_seconds"] == _between(call, "seat_answered", "ended")
    events = [(e["kind"], e["seat"]) for e in result.stored.events[str(call["call_id"])]]
    assert events.index(("RINGSEAT", "seat1")) < events.index(("RINGNOANSWER", "seat1")) \
        < events.index(("RINGSEAT", "seat2")) < events.index(("CONNECT", "seat2"))
    assert _kinds(result, call)[-2:] == ["COMPLETECALLER", "HANGUP"]
    seat1 = result.stored.seats["seat1"]
    assert (seat1["paused"], seat1["pause_reason"]) == (1, "no-answer")
    assert not result.stored.seats["seat2"]["paused"]
    assert result.described() == [
        FILTER,
        *GREETED_AND_QUEUED,
        "POST /channels/{caller}-seat1-{leg} PJSIP/seat1",
        "POST /channels/{caller}/moh",  # the announcement ended while seat1 rang
        "DELETE /channels/{caller}/moh",  # seat1 gave up (cause 19): back in line, hears the position again
        "POST /channels/{caller}/play/{caller}-p3 position_next",
        "POST /channels/{caller}-seat2-{leg} PJSIP/seat2",
        "DELETE /playbacks/{caller}-p3",
        "POST /bridges/seat-seat2-{leg}",
        "POST /bridges/seat-seat2-{leg}/addChannel",
        "DELETE /channels/{caller}-seat2-{leg}",  # the caller hung up: the seat's leg follows
    ]


def test_a_controller_restarted_while_a_citizen_waits_re_adopts_the_call_and_a_seat_answers_it(
        replayed: Callable[[str], Result]) -> None:
    result = replayed("readoption")
    assert len(result.capture.sessions) == 2
    call = _only_call(result)  # one row for the call, across both controllers
    assert (call["outcome"], call["seat"], call["state"]) == ("answered", "seat1", "done")
    # Waited from the first controller's queueing to the second one's connect: one wait.
    assert call["wait_seconds"] == _between(call, "queued", "seat_answered")
    assert call["talk_seconds"] == _between(call, "seat_answered", "ended") in (1, 2, 3)
    kinds = _kinds(result, call)
    assert kinds == ["ARRIVED", "ANSWERED", "PLAYBACK", "OPERATOR", "ENTERQUEUE", "POSITION", "PLAYBACK",
                     "READOPTED", "POSITION", "RINGSEAT", "CONNECT", "COMPLETEAGENT", "HANGUP"]
    first, second = ([s for s in result.sent if s.session == n] for n in (0, 1))
    assert [f"{s.method} {s.path}" for s in second[:4]] == [
        FILTER, "GET /endpoints/PJSIP", "GET /channels", "GET /bridges"]
    assert not any(s.method == "POST" and s.path.endswith("/answer") for s in second)  # adopted, not answered again
    assert [describe for describe in result.described()[len([s for s in first if s.method != "GET"]):]] == [
        FILTER,
        # The new controller numbers its playbacks from 1 again.
        "POST /channels/{caller}/play/{caller}-p1 position_next",
        "POST /channels/{caller}-seat1-{leg} PJSIP/seat1",
        "DELETE /playbacks/{caller}-p1",
        "POST /bridges/seat-seat1-{leg}",
        "POST /bridges/seat-seat1-{leg}/addChannel",
        "DELETE /channels/{caller}",
    ]


# ----------------------------------------------------------------------------- the tier's own parts


def _copy_capture(name: str, folder: Path, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The capture `name` in `folder`, each line passed through `edit`."""
    folder.mkdir()
    lines = [json.dumps(edit(json.loads(text))) + "\n"
             for text in (CAPTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    (folder / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
    shutil.copy(CAPTURES / f"{name}.json", folder / f"{name}.json")


def test_a_request_that_differs_from_the_recorded_one_is_reported_as_a_divergence(tmp_path: Path) -> None:
    def other_greeting(line: dict[str, Any]) -> dict[str, Any]:
        if line.get("kind") == "request" and line["params"].get("media", "").endswith("/greeting"):
            line["params"]["media"] = line["params"]["media"].replace("/greeting", "/welcome")
        return line

    _copy_capture("answered", tmp_path / "captures", other_greeting)
    result = run_replay("answered", tmp_path / "run", tmp_path / "captures")
    assert len(result.divergences) == 1 and "welcome" in result.divergences[0], result.divergences


def test_a_seat_leg_the_controller_never_rings_stops_the_replay_at_the_legs_first_event(tmp_path: Path) -> None:
    def seats_offline(line: dict[str, Any]) -> dict[str, Any]:
        if line.get("kind") == "request" and line["path"] == "/endpoints/PJSIP":
            line["reply"] = [endpoint | {"state": "offline"} for endpoint in line["reply"]]
        return line

    _copy_capture("answered", tmp_path / "captures", seats_offline)
    with pytest.raises(ReplayDiverged, match="never rang"):
        run_replay("answered", tmp_path / "run", tmp_path / "captures")


async def test_a_capture_holds_each_event_and_each_request_with_its_reply_or_its_error(tmp_path: Path) -> None:
    async def answered(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def channels(request: web.Request) -> web.Response:
        return web.json_response([{"id": "1.1"}])

    async def gone(request: web.Request) -> web.Response:
        return web.json_response({"message": "Channel not found"}, status=404)

    app = web.Application()
    app.router.add_post("/ari/channels/1.1/answer", answered)
    app.router.add_get("/ari/channels", channels)
    app.router.add_delete("/ari/channels/2.2", gone)
    handled: list[dict[str, Any]] = []

    async def adopt() -> None:
        handled.append({"adopted": True})

    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        config = AriConfig(str(server.make_url("/ari")), "user", "secret", "hotline")
        with CaptureWriter(tmp_path / "capture.jsonl") as writer:
            ari = capturing(config, session, writer)
            await tap_connected(adopt, writer)()
            assert await ari.list_channels() == [{"id": "1.1"}]
            tap(handled.append, writer)({"type": "StasisStart", "channel": {"id": "1.1"}})
            await ari.answer("1.1")
            with pytest.raises(AriNotFound):
                await ari.hangup("2.2")
        assert type(capturing(config, session, None)) is AriClient
    assert tap(handled.append, None) == handled.append
    assert handled == [{"adopted": True}, {"type": "StasisStart", "channel": {"id": "1.1"}}]
    lines = [json.loads(text) for text in (tmp_path / "capture.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["kind"] for line in lines] == ["start", "connected", "request", "event", "request", "request"]
    times = [line["t"] for line in lines]
    assert times[0] == 0.0 and times == sorted(times)
    listed, event, answer, hangup = lines[2:]
    assert (listed["method"], listed["path"], listed["status"], listed["reply"]) == (
        "GET", "/channels", 200, [{"id": "1.1"}])
    assert event["event"] == {"type": "StasisStart", "channel": {"id": "1.1"}}
    assert (answer["method"], answer["path"], answer["reply"], answer["error"]) == (
        "POST", "/channels/1.1/answer", None, None)
    assert (hangup["method"], hangup["path"], hangup["params"], hangup["status"], hangup["reply"]) == (
        "DELETE", "/channels/2.2", {"reason": "normal"}, 404, None)
    assert "Channel not found" in hangup["error"]
    assert "secret" not in (tmp_path / "capture.jsonl").read_text(encoding="utf-8")


def test_trimming_a_capture_drops_only_the_repeated_answers_of_the_seat_poll() -> None:
    def poll(t: float, state: str) -> dict[str, Any]:
        return {"kind": "request", "t": t, "method": "GET", "path": "/endpoints/PJSIP", "params": {},
                "body": None, "status": 200, "reply": [{"resource": "seat1", "state": state}], "error": None}

    answer = {"kind": "request", "t": 1.5, "method": "POST", "path": "/channels/1.1/answer", "params": {},
              "body": None, "status": 200, "reply": None, "error": None}
    lines = [{"kind": "start", "t": 0.0}, poll(0.1, "offline"), poll(1.1, "offline"), answer, answer,
             poll(2.1, "online"), poll(3.1, "online"), {"kind": "start", "t": 0.0}, poll(0.1, "online")]
    assert trim(lines) == [lines[0], lines[1], answer, answer, lines[5], lines[7], lines[8]]
