"""Live supervision against the real Asterisk, proven on the audio: a SIPp citizen sends
500 Hz, the seat's SIPp phone 1,000 Hz and the supervisor's own SIPp phone 2,000 Hz;
what each one receives is caught on loopback and each tone's level measured (Goertzel).

listen: the supervisor hears citizen and operator, nobody hears the supervisor;
whisper: the operator hears the supervisor, the citizen does not; barge: both do.
Then every way a supervision ends leaves no channel and no bridge behind."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.listen_in import session as listening
from callcenter.listen_in.repository import LogSearch
from callcenter.listen_in.vocabulary import Mode
from callcenter.store import Row
from callcenter.users import read_generated_passwords
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import LOOPBACK, SeatPhone, caller_argv, free_media_port, free_port
from tests.rtp_listen import RtpListener, levels, wav_samples
from tests.test_threeway_calls import _talking_call, _until, tone
from tests.web_helpers import Client, http_session, log_in, page_csrf

pytestmark = pytest.mark.asterisk

CITIZEN_HZ, SEAT_HZ, SUPERVISOR_HZ = 500.0, 1000.0, 2000.0
TONES = (CITIZEN_HZ, SEAT_HZ, SUPERVISOR_HZ)
HEARD, SILENT = -30.0, -45.0  # dBFS: a tone sent at -14.7 dBFS arrives near that; its absence is far below
SUPERVISOR = "supervisor"


@dataclass
class Parties:
    hotline: Hotline
    seat: SeatPhone
    phone: SeatPhone  # the supervisor's
    citizen: subprocess.Popen[bytes]
    citizen_port: int
    ears: RtpListener
    call_id: str

    def heard(self, since: float, until: float) -> dict[str, dict[float, float]]:
        """Each tone's level in what each party received between the two times."""
        assert until - since >= 1.0, (since, until)
        return {name: levels(self.ears.samples(port, since, until), TONES) for name, port in
                (("citizen", self.citizen_port), ("seat", self.seat.media_port),
                 ("supervisor", self.phone.media_port))}

    async def citizen_done(self) -> int:
        return await asyncio.to_thread(self.citizen.wait, 90)


async def _phone_online(hotline: Hotline) -> None:
    async def online() -> bool:
        return await hotline.controller.ari.endpoint_state("PJSIP", SUPERVISOR) == "online"

    await hotline.wait_until(online, 10, "the supervisor's phone to register")


@asynccontextmanager
async def supervised_call(asterisk: RunningAsterisk, tmp_path: Path, hold_ms: int, answers: bool = True,
                          hangs_up_after_ms: int | None = None, **settings: str) -> AsyncIterator[Parties]:
    """The citizen talking with seat1, the supervisor's phone registered beside them."""
    async with hotline_for(asterisk.env | FAST | settings, tmp_path) as hotline:
        with ExitStack() as stack:
            seat = stack.enter_context(SeatPhone(hotline.settings, "seat1", tmp_path, answer_after_ms=300,
                                                 voice=tone(SEAT_HZ, "PCMU")))
            phone = stack.enter_context(SeatPhone(hotline.settings, SUPERVISOR, tmp_path, answers=answers,
                                                  answer_after_ms=300, hangs_up_after_ms=hangs_up_after_ms,
                                                  voice=tone(SUPERVISOR_HZ, "PCMU")))
            await hotline.seat_registered("seat1")
            await _phone_online(hotline)
            citizen_port = free_media_port()
            argv, _ = caller_argv(hotline.settings, tmp_path, "13912340002", hold_ms, "citizen_caller_dtmf.xml",
                                  voice=tone(CITIZEN_HZ, "PCMA"), media_port=citizen_port)
            ears = RtpListener(frozenset({citizen_port, seat.media_port, phone.media_port})).start()
            citizen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                call_id = await _talking_call(hotline, "seat1")
                yield Parties(hotline, seat, phone, citizen, citizen_port, ears, call_id)
            finally:
                ears.stop()
                if citizen.poll() is None:
                    citizen.kill()
                citizen.wait()


@asynccontextmanager
async def supervisor_console(hotline: Hotline) -> AsyncIterator[Client]:
    async with web_running(hotline.settings, hotline.services, hotline.controller, bind=LOOPBACK,
                           port=free_port((socket.SOCK_STREAM,))) as url, http_session() as http:
        password = read_generated_passwords(hotline.settings.paths.state_dir)[SUPERVISOR]
        assert (await log_in(http, url, SUPERVISOR, password)).status == 303
        yield Client(http, url, await page_csrf(http, url, "/wallboard"))


def _snoops(hotline: Hotline) -> int:
    """Snoop channels made by the supervision going on (0: none, or not yet answered)."""
    return next((r.session.snoops for r in hotline.controller.listen_in.running.values()), 0)


async def _leftovers(hotline: Hotline) -> list[str]:
    """Channels and bridges of a supervision still in Asterisk (there must be none)."""
    ari = hotline.controller.ari
    channels = [f'{ch["id"]} {ch.get("name", "")}' for ch in await ari.list_channels()]
    bridges = [str(b["id"]) for b in await ari.list_bridges()]
    return [name for name in channels + bridges if name.startswith(listening.PREFIX) or " Snoop/" in name
            or f" PJSIP/{SUPERVISOR}-" in name]


async def _no_leftovers(hotline: Hotline) -> None:
    async def none_left() -> bool:
        return not await _leftovers(hotline)

    await hotline.wait_until(none_left, 10, "the supervision's channels and bridges to go")


async def _log(hotline: Hotline, call_id: str) -> list[Row]:
    await hotline.services.store.flush()
    rows, _ = await hotline.services.listen_in.log(LogSearch(call_id=call_id))
    return list(reversed(rows))


async def test_listen_hears_both_unheard_whisper_reaches_only_the_operator_barge_reaches_both(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with supervised_call(asterisk, tmp_path, 40000) as parties:
        hotline = parties.hotline
        windows: dict[Mode, tuple[float, float]] = {}
        async with supervisor_console(hotline) as supervisor:
            await asyncio.sleep(1.0)
            for number, mode in enumerate((Mode.LISTEN, Mode.WHISPER, Mode.BARGE), start=1):
                await supervisor.post("/api/seats/seat1/listen-in", {"mode": str(mode)})
                began = await _until(hotline, f"{mode} to be connected", lambda n=number: _snoops(hotline) == n)
                await asyncio.sleep(4.5)
                windows[mode] = (began + 1.0, time.time() - 0.3)
            await supervisor.send("DELETE", "/api/seats/seat1/listen-in")
            stopped = await _until(hotline, "the supervision to end", lambda: not hotline.controller.listen_in.running)
            await _no_leftovers(hotline)
            await asyncio.sleep(2.5)
            after = parties.heard(stopped + 1.0, time.time() - 0.3)
        assert await parties.citizen_done() == 0  # the call went on to its normal end
        rows = await hotline.settled()
        log = await _log(hotline, parties.call_id)
        heard = {mode: parties.heard(*window) for mode, window in windows.items()}
        bye = [text for _, how, text in parties.phone.messages() if how == "received" and text.startswith("BYE")]
    print("listen-in levels (dBFS):", heard, "after the end:", after)
    for mode in Mode:  # in every mode the supervisor hears both sides, and the call is unharmed
        assert heard[mode]["supervisor"][CITIZEN_HZ] > HEARD and heard[mode]["supervisor"][SEAT_HZ] > HEARD, heard
        assert heard[mode]["citizen"][SEAT_HZ] > HEARD and heard[mode]["seat"][CITIZEN_HZ] > HEARD, heard
    listen, whisper, barge = heard[Mode.LISTEN], heard[Mode.WHISPER], heard[Mode.BARGE]
    assert listen["citizen"][SUPERVISOR_HZ] < SILENT and listen["seat"][SUPERVISOR_HZ] < SILENT, listen
    assert whisper["seat"][SUPERVISOR_HZ] > HEARD and whisper["citizen"][SUPERVISOR_HZ] < SILENT, whisper
    assert barge["seat"][SUPERVISOR_HZ] > HEARD and barge["citizen"][SUPERVISOR_HZ] > HEARD, barge
    # Ended: nobody hears the supervisor, the supervisor hears nothing more.
    assert after["citizen"][SUPERVISOR_HZ] < SILENT and after["seat"][SUPERVISOR_HZ] < SILENT, after
    assert max(after["supervisor"].values()) < SILENT, after
    assert len(bye) == 1, bye  # the supervisor's phone was hung up once, at 结束
    row = next(r for r in rows if r["call_id"] == parties.call_id)
    assert row["outcome"] == "answered" and row["seat"] == "seat1", row
    # The call's recording (what the citizen hears and says) holds the supervisor only while
    # barging: about the barge's 5 s, none of the listen's and the whisper's 11 s.
    samples, rate = wav_samples(Path(str(row["recording_path"])))
    seconds = [levels(samples[start:start + rate], TONES) for start in range(0, len(samples) - rate, rate)]
    supervisor_heard = [n for n, tones in enumerate(seconds) if tones[SUPERVISOR_HZ] > HEARD]
    print("recording: seconds with the supervisor's tone:", supervisor_heard, "of", len(seconds))
    assert 3 <= len(supervisor_heard) <= 7, supervisor_heard
    assert supervisor_heard[-1] - supervisor_heard[0] == len(supervisor_heard) - 1, supervisor_heard  # one stretch
    assert [(r["mode"], r["end_reason"], r["supervisor"], r["seat"]) for r in log] == [
        ("listen", "switched", SUPERVISOR, "seat1"), ("whisper", "switched", SUPERVISOR, "seat1"),
        ("barge", "stopped", SUPERVISOR, "seat1")], log
    assert all(r["started"] and r["ended"] for r in log), log


async def test_the_call_ending_ends_the_supervision_and_hangs_up_the_supervisors_phone(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with supervised_call(asterisk, tmp_path, 9000) as parties:
        hotline = parties.hotline
        await hotline.controller.listen_in.choose(SUPERVISOR, "seat1", Mode.BARGE)
        await _until(hotline, "connected", lambda: _snoops(hotline) == 1)
        assert await parties.citizen_done() == 0
        await _until(hotline, "the supervision to end", lambda: not hotline.controller.listen_in.running)
        await _no_leftovers(hotline)
        log = await _log(hotline, parties.call_id)
        await asyncio.sleep(1.0)
        bye = [text for _, how, text in parties.phone.messages() if how == "received" and text.startswith("BYE")]
    assert [(r["mode"], r["end_reason"]) for r in log] == [("barge", "call_ended")], log
    assert len(bye) == 1, bye


async def test_a_supervisors_phone_that_does_not_answer_is_given_up_and_the_call_goes_on(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with supervised_call(asterisk, tmp_path, 14000, answers=False,
                               HOTLINE_LISTEN_IN_ANSWER_SECONDS="3") as parties:
        hotline = parties.hotline
        asked = time.time()
        await hotline.controller.listen_in.choose(SUPERVISOR, "seat1", Mode.LISTEN)
        gave_up = await _until(hotline, "the supervision given up", lambda: not hotline.controller.listen_in.running)
        await _no_leftovers(hotline)
        await asyncio.sleep(2.0)
        still = parties.heard(gave_up + 0.3, time.time() - 0.2)
        assert await parties.citizen_done() == 0
        log = await _log(hotline, parties.call_id)
    print("after the supervisor's phone did not answer (dBFS):", still, "gave up after", gave_up - asked)
    assert 2.5 <= gave_up - asked <= 7.0, gave_up - asked
    assert still["citizen"][SEAT_HZ] > HEARD and still["seat"][CITIZEN_HZ] > HEARD, still  # unharmed
    assert [(r["mode"], r["started"], r["end_reason"]) for r in log] == [("listen", None, "no_answer")], log


async def test_the_supervisor_hanging_up_ends_the_supervision_and_the_call_goes_on(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with supervised_call(asterisk, tmp_path, 14000, hangs_up_after_ms=3000) as parties:
        hotline = parties.hotline
        await hotline.controller.listen_in.choose(SUPERVISOR, "seat1", Mode.WHISPER)
        await _until(hotline, "connected", lambda: _snoops(hotline) == 1)
        hung_up = await _until(hotline, "the supervisor's hang-up", lambda: not hotline.controller.listen_in.running)
        await _no_leftovers(hotline)
        await asyncio.sleep(2.0)
        still = parties.heard(hung_up + 0.3, time.time() - 0.2)
        assert hotline.controller.talking_leg("seat1") is not None
        assert await parties.citizen_done() == 0
        log = await _log(hotline, parties.call_id)
    assert still["citizen"][SEAT_HZ] > HEARD and still["seat"][CITIZEN_HZ] > HEARD, still
    assert [(r["mode"], r["end_reason"]) for r in log] == [("whisper", "supervisor_hung_up")], log
