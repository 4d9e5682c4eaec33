"""Storage faults: the recordings folder and the database on a disk that fills up. Calls
are still answered, each row says whether its recording was made, the wallboard and
/healthz name the fault, and once space returns no call row or event is missing."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from callcenter import pbx
from callcenter.prompts import build_prompts
from callcenter.recordings.wav import TRUNCATED_AFTER, status
from callcenter.vocabulary import RecordingStatus
from callcenter.web import web_running
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, call_hotline, free_port, instance_env, settings_for
from tests.small_disk import SmallDisk


def test_a_recording_is_judged_missing_empty_cut_short_or_ok() -> None:
    assert status(False, None, 30.0) is RecordingStatus.MISSING
    assert status(True, None, 30.0) is RecordingStatus.EMPTY  # not even a WAV header
    assert status(True, 0.0, 30.0) is RecordingStatus.EMPTY  # a header and no audio
    assert status(True, 9.0, 30.0) is RecordingStatus.TRUNCATED  # the disk filled up during the call
    assert status(True, 28.5, 30.0) is RecordingStatus.OK
    # A short call, or one whose end is not known, is never judged cut short.
    assert status(True, 1.0, TRUNCATED_AFTER - 1) is RecordingStatus.OK
    assert status(True, 1.0, None) is RecordingStatus.OK


async def _health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        return response.status, await response.json()


async def _free_bytes_metric(url: str, what: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    return next(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                if sample.name == "hotline_disk_free_bytes" and sample.labels == {"what": what})


async def _call(hotline: Hotline, number: str) -> dict[str, Any]:
    """One citizen call, answered by the seat, over (the controller's after-work included)."""
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, number, 9000, digit=None)
    assert result.returncode == 0, result.output

    async def over() -> bool:
        return not hotline.controller.calls

    await hotline.wait_until(over, 10, "the call to end in the controller")
    await hotline.controller.after_work_done()
    return {"number": number}


@pytest.mark.asterisk
async def test_on_a_full_disk_calls_are_answered_the_row_says_the_recording_failed_and_nothing_is_lost(
        asterisk_root: Path, tmp_path: Path) -> None:
    """...and the wallboard's alarm (the /healthz report it shows) names the full disk, the
    store's refused commits and the failed recording, each until it is over."""
    with SmallDisk(tmp_path / "small", 8) as disk:
        port = free_port((socket.SOCK_STREAM,))
        env = instance_env(tmp_path / "state", **FAST, HOTLINE_CALLFLOW_MENU="false", HOTLINE_WEB_PORT=str(port),
                           HOTLINE_PATHS_RECORDINGS_DIR=str(disk.path / "recordings"))
        settings = settings_for(env)
        pbx.start(settings, prompts_dir=build_prompts(settings, progress=lambda line: None),
                  progress=lambda line: None)
        try:
            async with hotline_for(env, tmp_path, HOTLINE_PATHS_DATABASE=str(disk.path / "hotline.db")) as hotline, \
                    web_running(hotline.settings, hotline.services, hotline.controller, bind="127.0.0.1",
                                port=port) as url:
                store = hotline.services.store
                with SeatPhone(hotline.settings, "seat1", hotline.workdir):
                    await hotline.seat_registered("seat1")
                    assert (await _health(url))[0] == 200

                    disk.fill()

                    async def disk_alarm() -> bool:
                        return any("recordings and database disk nearly full" in problem
                                   for problem in (await _health(url))[1]["problems"])

                    await hotline.wait_until(disk_alarm, 10, "the alarm for the full disk")
                    assert await _free_bytes_metric(url, "recordings") == 0.0
                    await _call(hotline, "13900000101")
                    # The call's writes met the full disk: they wait, merged, not committed.
                    assert store.failed_commits > 0 and store.commit_error == "database or disk is full"
                    await hotline.services.calls.recent(limit=1)  # every write queued so far is held now
                    waiting = store.pending_writes
                    status, report = await _health(url)
                    assert status == 503 and report["store_commit_error"] == "database or disk is full"
                    during = report["problems"]
                    assert any("the store cannot commit" in problem for problem in during), during
                    assert any("the last 1 recordings failed" in problem for problem in during), during

                    disk.empty()
                    emptied = time.monotonic()

                    async def caught_up() -> bool:
                        return store.commit_error is None and store.pending_writes == 0

                    await hotline.wait_until(caught_up, 10, "the store to commit what waited")
                    catch_up = time.monotonic() - emptied
                    [faulty] = await hotline.rows()
                    faulty_events = await hotline.events(str(faulty["call_id"]))


                    async def only_the_recording_alarm() -> bool:  # the disk's is gone at its next look
                        return bool((await _health(url))[1]["problems"] == [
                            "录音失败：最近 1 通电话的录音缺失或不完整 (the last 1 recordings failed)"])

                    await hotline.wait_until(only_the_recording_alarm, 10, "the disk's alarm to end")

                    await _call(hotline, "13900000102")  # space again: recorded, and the alarm ends
                    status, report = await _health(url)
                    assert (status, report["problems"]) == (200, []), report
                    recorded = next(r for r in await hotline.rows() if r["caller_number"] == "13900000102")
                    recorded_events = await hotline.events(str(recorded["call_id"]))
        finally:
            pbx.stop(settings, progress=lambda line: None)
    assert (faulty["caller_number"], faulty["outcome"], faulty["seat"], faulty["state"]) == (
        "13900000101", "answered", "seat1", "done")
    assert all(faulty[key] for key in ("arrived", "answered", "queued", "seat_answered", "ended", "total_seconds"))
    assert faulty["recording_status"] in ("missing", "empty") and faulty["recording_seconds"] is None
    assert recorded["recording_status"] == "ok" and float(recorded["recording_seconds"]) > 5
    # Every step of the call is there, in order: those of a call recorded as it should
    # be, the recording's failure in place of its length.
    kinds = [str(event["kind"]) for event in faulty_events]
    assert kinds == [{"RECORDING": "RECORDING_FAILED"}.get(str(e["kind"]), str(e["kind"])) for e in recorded_events]
    assert kinds[0] == "ARRIVED" and {"ANSWERED", "ENTERQUEUE", "CONNECT", "HANGUP"} <= set(kinds)
    # What waited: the events, and the call's and the seat's many updates as one row each.
    assert waiting == len(kinds) + 2, (waiting, kinds)
    print(f"full disk: {store.failed_commits} commits refused, {waiting} entries waiting after the call "
          f"(its {len(kinds)} events, its row, the seat's row); all committed {catch_up:.1f} s after space returned; "
          f"the call's steps: {' '.join(kinds)}")
