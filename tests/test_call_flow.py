"""The call flow against the real Asterisk: SIPp citizens, SIPp seat phones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.recordings import wav_seconds
from tests.conftest import RunningAsterisk
from tests.flow import Hotline, hotline_for
from tests.harness import SeatPhone, call_hotline, first

pytestmark = pytest.mark.asterisk

FAST = {"HOTLINE_CALLFLOW_WRAPUP_SECONDS": "1", "HOTLINE_CALLFLOW_MENU_TIMEOUT": "2",
        "HOTLINE_CALLFLOW_RING_TIMEOUT": "4"}


@pytest.fixture
async def hotline(asterisk: RunningAsterisk, tmp_path: Path) -> AsyncIterator[Hotline]:
    async with hotline_for(asterisk.env | FAST, tmp_path) as running:
        yield running


def _t(value: object) -> float:
    assert isinstance(value, str), value
    return datetime.fromisoformat(value).timestamp()


async def test_a_citizen_is_greeted_queued_bridged_to_an_on_shift_seat_and_recorded(hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=500) as seat:
        await hotline.seat_registered("seat1")
        result, caller_log = await asyncio.to_thread(
            call_hotline, hotline.settings, hotline.workdir, "13912345678", 8000, digit="0", digit_after_ms=1000)
        assert result.returncode == 0, result.output
        await asyncio.sleep(1.5)  # the recording is closed and measured after the hang-up
        rows = await hotline.rows()
        seat_log = seat.messages()
    assert len(rows) == 1
    row = rows[0]
    assert row["caller_number"] == "13912345678"
    events = await hotline.events(str(row["call_id"]))
    assert row["outcome"] == "answered", [(e["kind"], e["data"]) for e in events]
    assert row["seat"] == "seat1" and row["shift"] == "night"
    times = [_t(row[k]) for k in ("arrived", "answered", "queued", "seat_answered", "ended")]
    assert times == sorted(times), row
    for key in ("arrived", "answered", "queued", "seat_answered", "ended"):
        assert str(row[key]).endswith("+08:00") and len(str(row[key])) == 25, row[key]
    # SIPp's own clocks: the seat answered (200 sent) until the caller's BYE.
    seat_answered = first(seat_log, "sent", "SIP/2.0 200 OK")
    seat_bye = first(seat_log, "received", "BYE")
    caller_answered = first(caller_log, "received", "SIP/2.0 200 OK")
    caller_bye = first(caller_log, "sent", "BYE")
    assert abs(row["talk_seconds"] - (seat_bye - seat_answered)) <= 1.0, (row, seat_bye - seat_answered)
    sipp_wait = (caller_bye - caller_answered) - (seat_bye - seat_answered) - (times[2] - times[1])
    assert abs(row["wait_seconds"] - sipp_wait) <= 1.0, (row, sipp_wait)
    assert row["wait_seconds"] == int(times[3]) - int(times[2])
    assert abs(row["total_seconds"] - (times[4] - times[0])) <= 1.0
    # The greeting was played (Asterisk's playback events) and the whole call is recorded.
    kinds = [e["kind"] for e in events]
    assert "PLAYBACK" in kinds and any("greeting" in str(e["data"]) for e in events if e["kind"] == "PLAYBACK")
    assert kinds.index("ARRIVED") < kinds.index("ENTERQUEUE") < kinds.index("CONNECT") < kinds.index("HANGUP")
    recording = Path(str(row["recording_path"]))
    assert recording.exists() and recording.name.endswith(f"_{row['call_id']}.wav")
    seconds = wav_seconds(recording)
    assert seconds is not None and abs(seconds - (caller_bye - caller_answered)) <= 1.0, seconds
    assert abs(float(row["recording_seconds"]) - seconds) < 0.1
