"""Three-way calls (三方通话) against the real Asterisk: a SIPp citizen, a SIPp seat phone
and a SIPp unit behind the trunk each send their own tone; what each one receives is
caught on loopback and the tones in it measured."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from callcenter.calls import machine as c
from callcenter.users import read_generated_passwords
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import LOOPBACK, SIPP_DIR, SeatPhone, caller_argv, free_media_port, free_port
from tests.rtp_listen import RtpListener, levels, wav_samples
from tests.rtp_pcap import write_tone_pcap
from tests.test_threeway_api import with_phone
from tests.web_helpers import Client, http_session, log_in, page_csrf

pytestmark = pytest.mark.asterisk

CITIZEN_HZ, SEAT_HZ, UNIT_HZ = 500.0, 1000.0, 1700.0
TONES = (CITIZEN_HZ, SEAT_HZ, UNIT_HZ)
HEARD, SILENT = -30.0, -45.0  # dBFS: a tone sent at -14.7 dBFS arrives near that; its absence is far below
UNIT, PHONE = "zezhou", "03560000001"


def tone(frequency: float, codec: str) -> Path:
    """A minute of one party's tone as RTP, built once per machine."""
    path = Path(tempfile.gettempdir()) / f"hotline-test-tone-{int(frequency)}-{codec}-60s-v1.pcap"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_tone_pcap(partial, 60, frequency, codec)
        partial.replace(path)
    return path


class Parties:
    """The citizen's, the seat's and the unit's SIPp, and what each of them receives."""

    def __init__(self, hotline: Hotline, asterisk: RunningAsterisk, seat: SeatPhone, unit_scenario: str,
                 hold_ms: int) -> None:
        self.hotline = hotline
        self.seat = seat
        self.citizen_port = free_media_port()
        self.unit_port = free_media_port()
        trunk_port = asterisk.env["HOTLINE_CALLBACKS_TRUNK"].rsplit(":", 1)[1]
        workdir = hotline.workdir
        self.unit = subprocess.Popen(
            ["sipp", "-sf", str(SIPP_DIR / unit_scenario), "-i", LOOPBACK, "-p", trunk_port, "-m", "1",
             "-mp", str(self.unit_port), "-nostdin", "-timeout", "120s", "-timeout_error",
             "-key", "audio_pcap", str(tone(UNIT_HZ, "PCMU")),
             "-trace_msg", "-message_file", str(workdir / "unit.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        argv, _ = caller_argv(hotline.settings, workdir, "13912340001", hold_ms, "citizen_caller_dtmf.xml",
                              voice=tone(CITIZEN_HZ, "PCMA"), media_port=self.citizen_port)
        self.ears = RtpListener(frozenset({self.citizen_port, seat.media_port, self.unit_port})).start()
        self.citizen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def heard(self, port: int, since: float, until: float) -> dict[float, float]:
        """The level of each tone in what the party on `port` received between the two times."""
        assert until - since >= 1.0, (since, until)
        return levels(self.ears.samples(port, since, until), TONES)

    async def citizen_done(self) -> int:
        return await asyncio.to_thread(self.citizen.wait, 60)

    def close(self) -> None:
        self.ears.stop()
        for proc in (self.citizen, self.unit):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _call(hotline: Hotline, call_id: str) -> c.Call:
    """The call as the controller's machine holds it now (an empty one once it is over)."""
    runtime = hotline.controller.calls.get(call_id)
    return runtime.call if runtime is not None else c.Call(call_id)


async def _until(hotline: Hotline, what: str, check: object, timeout: float = 20.0) -> float:
    """Wait until `check()` holds; the wall-clock time it was first seen to."""
    async def holds() -> bool:
        assert callable(check)
        return bool(check())

    await hotline.wait_until(holds, timeout, what)
    return time.time()


async def _talking_call(hotline: Hotline, seat: str) -> str:
    def talking() -> str | None:
        return next((r.call.call_id for r in hotline.controller.calls.values()
                     if r.call.seat == seat and r.call.phase is c.Phase.TALKING), None)

    await _until(hotline, f"a call talking on {seat}", talking)
    call_id = talking()
    assert call_id is not None
    return call_id


async def _kinds(hotline: Hotline, call_id: str) -> list[tuple[str, object]]:
    return [(str(e["kind"]), e["data"]) for e in await hotline.events(call_id)
            if str(e["kind"]).startswith(("UNIT_", "SEAT_", "CONNECT", "HANGUP"))]


def _recording_levels(path: Path) -> list[dict[float, float]]:
    """The tones' levels in each second of a recording."""
    samples, rate = wav_samples(path)
    assert rate == 8000, rate
    return [levels(samples[start:start + rate], TONES) for start in range(0, len(samples) - rate, rate)]


@asynccontextmanager
async def three_parties(asterisk: RunningAsterisk, tmp_path: Path, unit_scenario: str, hold_ms: int,
                        **settings: str) -> AsyncIterator[tuple[Hotline, Parties, str]]:
    """The citizen talking with seat1 (its call id), the unit's phone waiting behind the trunk."""
    async with hotline_for(asterisk.env | FAST | settings, tmp_path) as hotline:
        directory = hotline.services.tickets.directory
        hotline.services.tickets.directory = with_phone(directory, UNIT, PHONE)
        with SeatPhone(hotline.settings, "seat1", tmp_path, answer_after_ms=300,
                       voice=tone(SEAT_HZ, "PCMU")) as seat:
            await hotline.seat_registered("seat1")
            parties = Parties(hotline, asterisk, seat, unit_scenario, hold_ms)
            try:
                yield hotline, parties, await _talking_call(hotline, "seat1")
            finally:
                parties.close()


@asynccontextmanager
async def operator_console(hotline: Hotline) -> AsyncIterator[Client]:
    """The console beside the controller, and seat1's operator logged in to it."""
    async with web_running(hotline.settings, hotline.services, hotline.controller, bind=LOOPBACK,
                           port=free_port((socket.SOCK_STREAM,))) as url, http_session() as http:
        password = read_generated_passwords(hotline.settings.paths.state_dir)["seat1"]
        assert (await log_in(http, url, "seat1", password)).status == 303
        yield Client(http, url, await page_csrf(http, url, "/operator"))


async def test_all_three_hear_each_other_then_the_operator_takes_the_unit_off(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with three_parties(asterisk, tmp_path, "unit_answers.xml", 17000) as (hotline, parties, call_id):
        seat = parties.seat
        async with operator_console(hotline) as operator:  # the operator's screen drives it
            await asyncio.sleep(1.0)
            await operator.post(f"/api/calls/{call_id}/threeway", {"unit": UNIT})
            joined = await _until(hotline, "the unit to join", lambda: _call(hotline, call_id).unit_joined)
            shown = (await operator.get("/api/operator/now"))["call"]["three_way"]
            assert shown == {"unit": UNIT, "joined": True, "note": None, "last_unit": UNIT}, shown
            await asyncio.sleep(5.0)
            dropped = time.time()
            await operator.post(f"/api/calls/{call_id}/threeway/hangup-unit")
            left = await _until(hotline, "the unit to leave", lambda: not _call(hotline, call_id).unit)
        assert await asyncio.to_thread(parties.unit.wait, 10) == 0  # the unit got its BYE and answered it
        assert await parties.citizen_done() == 0
        ended = time.time()
        rows = await hotline.settled()
        kinds = await _kinds(hotline, call_id)
        three = {name: parties.heard(port, joined + 1.0, dropped - 0.2) for name, port in
                 (("citizen", parties.citizen_port), ("seat", seat.media_port), ("unit", parties.unit_port))}
        after = {name: parties.heard(port, left + 1.0, ended - 1.5) for name, port in
                 (("citizen", parties.citizen_port), ("seat", seat.media_port))}
    print("three-way levels (dBFS):", three, "after the unit left:", after)
    # While all three talk, each hears the other two (and not itself).
    assert three["citizen"][SEAT_HZ] > HEARD and three["citizen"][UNIT_HZ] > HEARD, three
    assert three["seat"][CITIZEN_HZ] > HEARD and three["seat"][UNIT_HZ] > HEARD, three
    assert three["unit"][CITIZEN_HZ] > HEARD and three["unit"][SEAT_HZ] > HEARD, three
    assert all(three[name][own] < SILENT for name, own in (("citizen", CITIZEN_HZ), ("seat", SEAT_HZ),
                                                          ("unit", UNIT_HZ))), three
    # The unit taken off: citizen and operator still hear each other, the unit is gone.
    assert after["citizen"][SEAT_HZ] > HEARD and after["citizen"][UNIT_HZ] < SILENT, after
    assert after["seat"][CITIZEN_HZ] > HEARD and after["seat"][UNIT_HZ] < SILENT, after
    row = next(r for r in rows if r["call_id"] == call_id)
    assert row["outcome"] == "answered" and row["seat"] == "seat1", row
    names = [k for k, _ in kinds]
    assert names == ["CONNECT", "UNIT_DIALLED", "UNIT_JOINED", "UNIT_LEFT", "HANGUP"], kinds
    unit_left = dict(kinds)["UNIT_LEFT"]
    assert isinstance(unit_left, dict) and unit_left["by"] == "seat" and unit_left["unit"] == UNIT, kinds
    # The recording (what the citizen hears and says) holds all three tones at once.
    seconds = _recording_levels(Path(str(row["recording_path"])))
    all_three = [s for s in seconds if min(s.values()) > HEARD]
    best = max(seconds, key=lambda levels_of: min(levels_of.values()))
    print("recording: seconds with all three tones:", len(all_three), "of", len(seconds), "best:", best)
    assert len(all_three) >= 3, seconds


async def test_the_operator_leaves_citizen_and_unit_talking_until_the_citizen_hangs_up(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with three_parties(asterisk, tmp_path, "unit_answers.xml", 14000) as (hotline, parties, call_id):
        async with operator_console(hotline) as operator:
            await asyncio.sleep(1.0)
            await operator.post(f"/api/calls/{call_id}/threeway", {"unit": UNIT})
            await _until(hotline, "the unit to join", lambda: _call(hotline, call_id).unit_joined)
            await asyncio.sleep(2.0)
            await operator.post(f"/api/calls/{call_id}/threeway/leave")
            seat_left = await _until(hotline, "the seat to leave",
                                     lambda: hotline.controller.seats["seat1"].state.value != "talking")
            # The bridge where citizen and unit talk on is the call's now, not the seat's.
            bridge_id = hotline.controller.calls[call_id].bridge_id
            seat1_bridge = hotline.controller.seat_bridges.get((hotline.controller.nodes.default, "seat1"))
            assert bridge_id and seat1_bridge != bridge_id
            # The call is no longer the operator's: no more moves on it.
            await operator.post(f"/api/calls/{call_id}/threeway/hangup-unit", status=409)
        # The seat is free again (wrap-up, then idle) while citizen and unit talk on.
        assert call_id in hotline.controller.calls
        assert hotline.controller.snapshot()["seats"][0]["call"] is None
        assert await parties.citizen_done() == 0
        ended = time.time()
        assert await asyncio.to_thread(parties.unit.wait, 10) == 0  # the citizen left: the unit got BYE
        rows = await hotline.settled()
        kinds = await _kinds(hotline, call_id)
        bridges = {str(b["id"]) for b in await hotline.controller.ari.list_bridges()}
        assert bridge_id not in bridges, bridges  # it went with the call
        after = {name: parties.heard(port, seat_left + 1.0, ended - 1.5) for name, port in
                 (("citizen", parties.citizen_port), ("unit", parties.unit_port))}
        seat_heard = parties.heard(parties.seat.media_port, seat_left + 1.0, ended - 1.5)
    print("after the operator left (dBFS):", after, "seat:", seat_heard)
    assert after["citizen"][UNIT_HZ] > HEARD and after["citizen"][SEAT_HZ] < SILENT, after
    assert after["unit"][CITIZEN_HZ] > HEARD and after["unit"][SEAT_HZ] < SILENT, after
    assert max(seat_heard.values()) < SILENT, seat_heard  # the seat's phone was hung up: nothing more comes
    row = next(r for r in rows if r["call_id"] == call_id)
    assert row["outcome"] == "answered" and row["seat"] == "seat1", row
    # Talk time runs from the operator's answer to the end of the whole conversation.
    assert row["talk_seconds"] == int(_epoch(row["ended"])) - int(_epoch(row["seat_answered"])), row
    assert row["talk_seconds"] >= int(ended - seat_left), row
    names = [k for k, _ in kinds]
    assert names == ["CONNECT", "UNIT_DIALLED", "UNIT_JOINED", "SEAT_LEFT", "UNIT_LEFT", "HANGUP"], kinds
    assert dict(kinds)["SEAT_LEFT"] == {"unit": UNIT, "by": "operator"}, kinds
    assert dict(kinds)["UNIT_LEFT"] == {"unit": UNIT, "by": "caller"}, kinds


def _epoch(value: object) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(value)).timestamp()


async def test_a_busy_unit_is_told_to_the_operator_and_the_call_goes_on(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with three_parties(asterisk, tmp_path, "unit_busy.xml", 8000) as (hotline, parties, call_id):
        hotline.controller.three_way(call_id, "seat1", "add", UNIT, PHONE)
        await _until(hotline, "the unit's busy line", lambda: _call(hotline, call_id).unit_note)
        live = hotline.controller.snapshot()["seats"][0]["call"]
        assert live is not None and live["three_way"] == {
            "unit": None, "joined": False, "note": "busy", "last_unit": UNIT}, live
        assert await parties.citizen_done() == 0
        rows = await hotline.settled()
        kinds = await _kinds(hotline, call_id)
    row = next(r for r in rows if r["call_id"] == call_id)
    assert row["outcome"] == "answered", row
    assert [k for k, _ in kinds] == ["CONNECT", "UNIT_DIALLED", "UNIT_FAILED", "HANGUP"], kinds


async def test_a_unit_that_does_not_answer_within_the_ring_time_is_told_and_the_call_goes_on(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with three_parties(asterisk, tmp_path, "seat_never_answers.xml", 12000,
                             HOTLINE_THREEWAY_RING_SECONDS="3") as (hotline, parties, call_id):
        dialled = time.time()
        hotline.controller.three_way(call_id, "seat1", "add", UNIT, PHONE)
        await _until(hotline, "the ring time-out", lambda: _call(hotline, call_id).unit_note)
        gave_up = time.time()
        assert _call(hotline, call_id).unit_note == "no_answer" and _call(hotline, call_id).phase is c.Phase.TALKING
        assert 2.5 <= gave_up - dialled <= 6.0, gave_up - dialled
        assert await asyncio.to_thread(parties.unit.wait, 10) == 0  # its ringing phone got CANCEL
        since = time.time()
        await asyncio.sleep(2.0)
        still = {name: parties.heard(port, since, since + 1.8) for name, port in
                 (("citizen", parties.citizen_port), ("seat", parties.seat.media_port))}
        assert await parties.citizen_done() == 0
        rows = await hotline.settled()
        kinds = await _kinds(hotline, call_id)
    print("after the unit did not answer (dBFS):", still)
    assert still["citizen"][SEAT_HZ] > HEARD and still["seat"][CITIZEN_HZ] > HEARD, still  # unharmed
    row = next(r for r in rows if r["call_id"] == call_id)
    assert row["outcome"] == "answered", row
    assert [k for k, _ in kinds] == ["CONNECT", "UNIT_DIALLED", "UNIT_FAILED", "HANGUP"], kinds
    failed = dict(kinds)["UNIT_FAILED"]
    assert isinstance(failed, dict) and failed["result"] == "no_answer", failed
