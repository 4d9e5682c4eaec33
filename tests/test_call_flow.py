"""The call flow against the real Asterisk: SIPp citizens, SIPp seat phones."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.recordings import wav_seconds
from tests.flow import Hotline
from tests.harness import GARBAGE_KEYS, SeatPhone, call_hotline, first

pytestmark = pytest.mark.asterisk



def _t(value: object) -> float:
    assert isinstance(value, str), value
    return datetime.fromisoformat(value).timestamp()


async def test_a_citizen_is_greeted_queued_bridged_to_an_on_shift_seat_and_recorded(hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=500) as seat:
        await hotline.seat_registered("seat1")
        result, caller_log = await asyncio.to_thread(
            call_hotline, hotline.settings, hotline.workdir, "13912345678", 8000, digit="0", digit_after_ms=1000)
        assert result.returncode == 0, result.output
        rows = await hotline.settled()  # the recording is closed and measured after the hang-up
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


async def _one_call(hotline: Hotline, caller: str, hold_ms: int = 2500, digit: str | None = "0") -> dict[str, object]:
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, caller, hold_ms,
                                        digit=digit, digit_after_ms=800)
    assert result.returncode == 0, result.output
    rows = [r for r in await hotline.rows() if r["caller_number"] == caller]
    assert len(rows) == 1, rows
    return rows[0]


async def test_only_the_seats_of_the_shift_on_duty_are_rung(hotline: Hotline) -> None:
    phones = [SeatPhone(hotline.settings, f"seat{n}", hotline.workdir, answer_after_ms=200).start()
              for n in range(1, 7)]
    try:
        for n in range(1, 7):
            await hotline.seat_registered(f"seat{n}")
        for hhmm, shift, seats in (("03:00", "night", {"seat1", "seat2"}), ("10:30", "day", {"seat3", "seat4"}),
                                   ("20:15", "evening", {"seat5", "seat6"})):
            hotline.clock.hhmm = hhmm
            for attempt in range(2):
                row = await _one_call(hotline, f"1380000{hhmm.replace(':', '')}{attempt}")
                assert row["outcome"] == "answered"
                assert row["seat"] in seats and row["shift"] == shift, (hhmm, row)
                await hotline.seats_free()
    finally:
        for phone in phones:
            phone.stop()


async def test_consecutive_calls_alternate_between_two_free_seats_longest_idle_first_each_in_its_seats_bridge(
        hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200), \
            SeatPhone(hotline.settings, "seat2", hotline.workdir, answer_after_ms=200):
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        seats = []
        for index in range(4):
            row = await _one_call(hotline, f"1390000000{index}")
            seats.append(row["seat"])
            await hotline.seats_free()  # wrap-up ends before the next call
            if index == 1:
                first_bridges = dict(hotline.controller.seat_bridges)
    assert seats[0] != seats[1] and seats[0] == seats[2] and seats[1] == seats[3], seats
    # Each seat talked in one bridge of its own, kept for its next call; between calls it
    # is empty, and no other bridge is left behind.
    node = hotline.controller.nodes.default
    assert set(first_bridges) == {(node, "seat1"), (node, "seat2")} and len(set(first_bridges.values())) == 2, \
        first_bridges
    assert hotline.controller.seat_bridges == first_bridges
    bridges = {str(b["id"]): b.get("channels") for b in await hotline.controller.ari.list_bridges()}
    assert bridges == {bridge_id: [] for bridge_id in first_bridges.values()}, bridges


async def test_a_seat_that_lets_it_ring_is_paused_and_the_caller_reaches_the_other(hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answers=False), \
            SeatPhone(hotline.settings, "seat2", hotline.workdir, answer_after_ms=200):
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        row = await _one_call(hotline, "13700000001", hold_ms=9000)
    assert row["outcome"] == "answered" and row["seat"] == "seat2", row
    kinds = [(e["kind"], e["seat"]) for e in await hotline.events(str(row["call_id"]))]
    assert ("RINGSEAT", "seat1") in kinds and ("RINGNOANSWER", "seat1") in kinds and ("CONNECT", "seat2") in kinds
    assert hotline.controller.seats["seat1"].paused
    seat_rows = await hotline.services.seats.rows()
    assert seat_rows["seat1"]["paused"] == 1 and seat_rows["seat1"]["pause_reason"] == "no-answer"


async def test_callers_who_hang_up_in_greeting_queue_or_ringing_are_abandoned_there_and_recorded(
        hotline: Hotline) -> None:
    in_greeting = await _one_call(hotline, "13600000001", hold_ms=1500, digit=None)
    in_queue = await _one_call(hotline, "13600000002", hold_ms=3000)  # no seat registered
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answers=False):
        await hotline.seat_registered("seat1")
        while_ringing = await _one_call(hotline, "13600000003", hold_ms=2500)
    assert in_greeting["outcome"] == "abandoned_ivr"
    assert in_queue["outcome"] == "abandoned_queue"
    assert while_ringing["outcome"] == "abandoned_ringing" and while_ringing["seat"] in (None, "")
    await hotline.settled()
    for row in (in_greeting, in_queue, while_ringing):
        fresh = await hotline.services.calls.get(str(row["call_id"]))
        assert fresh is not None
        recording = Path(str(fresh["recording_path"]))
        assert recording.exists() and (wav_seconds(recording) or 0) > 0.5, fresh
        assert fresh["ended"] and fresh["state"] == "done"


async def test_dtmf_2_in_the_menu_sets_the_category_complaint(hotline: Hotline) -> None:
    row = await _one_call(hotline, "13500000002", hold_ms=2000, digit="2")
    assert row["category"] == "complaint"
    kinds = [e["kind"] for e in await hotline.events(str(row["call_id"]))]
    assert "CATEGORY" in kinds


async def test_a_stream_of_garbage_dtmf_does_not_break_the_flow(hotline: Hotline) -> None:
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200):
        await hotline.seat_registered("seat1")
        result, _ = await asyncio.to_thread(
            # Connected about 15.6 s after the answer (greeting, menu, its time-out); the
            # caller stays 20 s in all.
            call_hotline, hotline.settings, hotline.workdir, "13400000001", 15000,
            scenario="citizen_caller_garbage_dtmf.xml", digit_after_ms=500)
    assert result.returncode == 0, result.output
    rows = await hotline.rows()
    assert len(rows) == 1 and rows[0]["outcome"] == "answered", rows
    events = await hotline.events(str(rows[0]["call_id"]))
    ignored = [e for e in events if e["kind"] == "DTMF_IGNORED"]
    assert len(ignored) >= len(GARBAGE_KEYS) - 2, [e["data"] for e in ignored]
    assert "MENU_TIMEOUT" in [e["kind"] for e in events]


async def test_ten_callers_and_two_seats_are_served_in_arrival_order_and_hear_their_position(
        hotline: Hotline) -> None:
    import subprocess

    from tests.harness import caller_argv

    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=200, hangs_up_after_ms=1500), \
            SeatPhone(hotline.settings, "seat2", hotline.workdir, answer_after_ms=200, hangs_up_after_ms=1500):
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        callers = []
        for index in range(10):
            argv, _ = caller_argv(hotline.settings, hotline.workdir, f"1310000{index:04d}", 180000,
                                  "citizen_caller_waits.xml", digit="0", digit_after_ms=600)
            callers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

            async def arrived(count: int = index + 1, proc: subprocess.Popen[bytes] = callers[-1]) -> bool:
                # In arrival order: one at a time. A SIPp that died at start-up says why.
                if proc.poll() is not None and proc.stderr is not None:
                    raise AssertionError(f"caller {count} exited {proc.returncode}: "
                                         f"{proc.stderr.read().decode(errors='replace')[-500:]}")
                await hotline.services.calls.flush()
                return len(await hotline.services.calls.recent(limit=100)) >= count

            try:
                await hotline.wait_until(arrived, 20, f"caller {index + 1} to arrive")
            except AssertionError:
                for proc in callers:
                    proc.kill()
                    proc.wait()
                    assert proc.stderr is not None
                    proc.stderr.close()
                raise
        codes = await asyncio.to_thread(lambda: [proc.wait(120) for proc in callers])
        errors = []
        for proc in callers:
            assert proc.stderr is not None
            errors.append(proc.stderr.read().decode(errors="replace")[-500:])
            proc.stderr.close()
    assert codes == [0] * 10, (codes, errors[0])
    rows = sorted(await hotline.rows(), key=lambda r: float(str(r["arrived_epoch"])))
    assert [r["caller_number"] for r in rows] == [f"1310000{i:04d}" for i in range(10)]
    assert all(r["outcome"] == "answered" for r in rows), [r["outcome"] for r in rows]
    # First come, first served: seats were taken in the order the callers queued.
    order = [_t(r["seat_answered"]) for r in sorted(rows, key=lambda r: int(str(r["queue_seq"])))]
    assert order == sorted(order), order
    for row in rows:
        prompts = [str(e["data"].get("prompt")) for e in await hotline.events(str(row["call_id"]))
                   if e["kind"] == "PLAYBACK"]
        assert any(p.startswith("position_") for p in prompts), (row["caller_number"], prompts)
    later = rows[-1]
    positions = [e["data"]["position"] for e in await hotline.events(str(later["call_id"])) if e["kind"] == "POSITION"]
    assert positions and positions[0] >= 2, positions


HOSTILE_NAMES = [
    'O\\"Brien\'); DROP TABLE calls;--',
    "Z" * 300,
    "\x1b[31mred\x1b[0m\ttab",
    "市民\udcff\udcfe",  # bytes that are not UTF-8 (surrogate-escaped here, raw bytes on the wire)
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["quotes-and-sql", "300-chars", "control-chars", "not-utf8"])
async def test_a_hostile_caller_id_is_stored_safely_and_shown_escaped(hotline: Hotline, name: str) -> None:
    import os
    import subprocess
    import sys

    from tests.harness import HOME

    number = "1'OR'1'='1'--/**/DROP/**/TABLE/**/calls"  # what a SIP URI's user part allows (no spaces)
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, number, 1500, name=name)
    assert result.returncode == 0, result.output
    rows = await hotline.rows()
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["outcome"] == "abandoned_ivr"
    assert row["caller_number"] == number
    stored = str(row["caller_name"])
    if name.startswith("Z"):
        assert len(stored) >= 40 and name.startswith(stored)  # Asterisk cuts long names; never more
    elif "\udcff" in name:
        assert stored.startswith("市民") and "\udcff" not in stored
    elif name.startswith("O"):
        assert stored in (name, name.replace('\\"', '"'))
    else:
        assert stored == name
    # `hotline calls` shows it on one line, without raw control characters.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | {
        "HOTLINE_HOME": str(HOME), "HOTLINE_PATHS_DATABASE": str(hotline.settings.paths.database),
        "HOTLINE_PATHS_STATE_DIR": str(hotline.settings.paths.state_dir)}
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "callcenter.cli", "calls"],
                                  capture_output=True, text=True, env=env, cwd=HOME)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3, lines  # header, rule, the call
    assert not any(ch in lines[2] for ch in "\x1b\t\x00"), lines[2]
    assert "1'OR'1'" in lines[2]
    json_out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "callcenter.cli", "calls", "--json"],
                                       capture_output=True, text=True, env=env, cwd=HOME)
    import json

    assert json.loads(json_out.stdout)[0]["caller_number"] == number
