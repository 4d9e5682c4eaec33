"""A real softphone as an operator seat: baresip registers as seat1 and auto-answers."""

from __future__ import annotations

import asyncio
import math
import re
import time
import wave
from pathlib import Path

import pytest

from callcenter.recordings import wav_seconds
from tests.baresip_phone import TONE_HZ, BaresipPhone, baresip_binary, baresip_version, module_dir
from tests.flow import Hotline
from tests.harness import call_hotline, first

pytestmark = pytest.mark.asterisk



def _require_baresip() -> None:
    if baresip_binary() is None:
        pytest.fail("baresip is missing: run the README's test command (make test), which installs baresip")
    if module_dir() is None:
        pytest.fail("baresip's modules (g711, ausine, aubridge, account) are missing: "
                    "apt-get install baresip-core")


def _tone_share(path: Path, frequency: float, last_seconds: float) -> float:
    """Share of the signal's power at `frequency` (Goertzel) over the recording's last seconds."""
    with wave.open(str(path), "rb") as wav:
        rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
        assert width == 2 and channels == 1, (width, channels)
        frames = wav.getnframes()
        wav.setpos(max(0, frames - int(last_seconds * rate)))
        data = wav.readframes(int(last_seconds * rate))
    samples = memoryview(data).cast("h")
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    total = 0.0
    for sample in samples:
        s0 = sample + coeff * s1 - s2
        s2, s1 = s1, s0
        total += sample * sample
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    n = len(samples)
    # A pure tone of amplitude A: Goertzel power = (A n / 2)^2, total energy = A^2 n / 2.
    return (2 * power / n) / total if total else 0.0


async def test_baresip_registers_as_seat1_auto_answers_and_talks(hotline: Hotline) -> None:
    _require_baresip()
    version = baresip_version()
    started = time.monotonic()
    phone = BaresipPhone(hotline.settings, "seat1", hotline.workdir).start()
    try:
        deadline = time.monotonic() + 15
        while not hotline.controller.seats["seat1"].registered:
            if not phone.running() or time.monotonic() > deadline:
                raise AssertionError(f"baresip {version} did not register as seat1 (running: {phone.running()}):\n"
                                     + phone.log()[-3000:])
            await asyncio.sleep(0.1)
        await hotline.seat_registered("seat1")
        result, caller_log = await asyncio.to_thread(
            call_hotline, hotline.settings, hotline.workdir, "13912340000", 6000, digit="0", digit_after_ms=800)
        assert result.returncode == 0, result.output + "\n--- baresip ---\n" + phone.log()[-3000:]
        rows = await hotline.settled()  # the recording is closed and measured after the hang-up
        assert phone.running(), f"baresip exited early:\n{phone.log()[-3000:]}"
    finally:
        phone.stop()
    log = phone.log()
    assert len(rows) == 1, rows
    row = rows[0]
    events = await hotline.events(str(row["call_id"]))
    assert row["caller_number"] == "13912340000"
    assert row["outcome"] == "answered", [(e["kind"], e["data"]) for e in events]
    assert row["seat"] == "seat1" and row["shift"] == "night", row
    assert int(row["talk_seconds"]) >= 3, row
    # baresip itself answered (auto-answer), the call was established, and it ended when the
    # caller hung up, after as long as the hotline counted; it sent and received RTP all along.
    assert re.search(r"call: answering call on line \d+ from sip:13912340000@", log), log[-3000:]
    assert "Call established: sip:13912340000@" in log, log[-3000:]
    baresip_talk = phone.call_seconds()
    assert baresip_talk is not None, log[-3000:]
    assert abs(baresip_talk - int(row["talk_seconds"])) <= 1, (baresip_talk, row["talk_seconds"])
    packets = phone.rtp_packets()
    assert packets is not None, log[-3000:]
    sent, received = packets
    expected = 50 * int(row["talk_seconds"])  # 20 ms packets
    assert sent >= 0.8 * expected and received >= 0.8 * expected, (packets, row["talk_seconds"])
    # The whole call is recorded, and the seat's side in it is baresip's tone: real RTP.
    caller_answered = first(caller_log, "received", "SIP/2.0 200 OK")
    caller_bye = first(caller_log, "sent", "BYE")
    recording = Path(str(row["recording_path"]))
    assert recording.exists(), row
    seconds = wav_seconds(recording)
    assert seconds is not None and abs(seconds - (caller_bye - caller_answered)) <= 1.0, (seconds, row)
    share = _tone_share(recording, TONE_HZ, last_seconds=2.0)
    assert share > 0.2, f"no {TONE_HZ} Hz from baresip in the talk part of the recording ({share:.3f})"
    print(f"baresip {version}: test took {time.monotonic() - started:.1f} s, tone share {share:.2f}")
