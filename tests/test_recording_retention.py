"""Recording retention: recordings of calls older than `recordings.retention_days` are
deleted and their rows marked, by the running hotline (at start, then daily) and by
`hotline recordings prune [--dry-run]`; never one of a call on a ticket in progress,
never anything outside the recordings folder. Real files in a temporary folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.clock import iso_local
from callcenter.errors import ConfigError
from callcenter.recordings.retention import DAY, Fate, prune_recordings, retention_running
from callcenter.services import Services
from callcenter.settings import Settings, load_settings
from callcenter.store import Row, Store
from callcenter.vocabulary import RECORDING_PRUNED
from tests.harness import assert_one_line_error, instance_env, run_hotline
from tests.web_helpers import (
    FakeFloor,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
    write_wav,
)

UNIT = "zezhou"


@dataclass
class Floor:
    """The calls of a hotline that has run a while, with their recordings on disk."""

    settings: Settings
    services: Services
    outside: Path  # a folder beyond the recordings folder, which some rows point into
    closed_ticket: int = 0

    def file(self, call_id: str) -> Path:
        return self.settings.paths.recordings_dir / f"20260101-000000_{call_id}.wav"

    async def row(self, call_id: str) -> Row:
        row = await self.services.calls.get(call_id)
        assert row is not None
        return row


async def _call(floor: Floor, call_id: str, days_ago: float, recording: Path | None = None,
                write: bool = True) -> None:
    arrived = time.time() - days_ago * DAY
    path = recording or floor.file(call_id)
    if write and recording is None:
        write_wav(path, 3.0)
    floor.services.calls.save(call_id, caller_number="13900000001", arrived=iso_local(arrived, floor.settings.zone),
                              arrived_epoch=arrived, outcome="answered", seat="seat1", state="done",
                              recording_path=str(path), recording_seconds=3.0)
    await floor.services.calls.flush()


async def _seed(floor: Floor) -> None:
    """Calls of every kind the prune must tell apart, 180 days being the period."""
    await _call(floor, "old", 200)
    await _call(floor, "recent", 10)
    await _call(floor, "old-open-ticket", 300)
    await _call(floor, "old-closed-ticket", 250)
    await _call(floor, "old-gone", 190, write=False)  # its file was deleted by hand
    await _call(floor, "old-outside", 200, recording=write_wav(floor.outside / "20260101-000000_x.wav"))
    link = floor.settings.paths.recordings_dir / "20260101-000000_old-link.wav"
    link.symlink_to(write_wav(floor.outside / "20260101-000000_target.wav"))
    await _call(floor, "old-link", 200, recording=link)
    desk = floor.services.tickets
    await desk.create(["old-open-ticket"], "complaint", "小区路灯不亮", UNIT)  # open: in progress
    floor.closed_ticket = await desk.create(["old-closed-ticket"], "help", "噪音扰民", UNIT)
    await desk.forward(floor.closed_ticket)
    await desk.reply(floor.closed_ticket, UNIT, "已处理")
    await desk.close(floor.closed_ticket)


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    outside = tmp_path / "outside"
    outside.mkdir()
    async with Store(settings.paths.database) as store:
        seeded = Floor(settings, Services.on(settings, store), outside)
        await _seed(seeded)
        yield seeded


async def test_old_recordings_go_recent_ones_and_those_on_tickets_in_progress_stay_and_rows_are_marked(
        floor: Floor) -> None:
    heard: dict[str, Fate] = {}
    before = {call_id: floor.file(call_id).stat().st_size for call_id in ("old", "old-closed-ticket")}
    report = await prune_recordings(floor.settings, floor.services, now=time.time(),
                                    on_file=lambda call, fate, size: heard.__setitem__(call.call_id, fate))
    assert heard == {"old": Fate.DELETED, "old-closed-ticket": Fate.DELETED, "old-gone": Fate.GONE,
                     "old-outside": Fate.REFUSED, "old-link": Fate.REFUSED}
    assert report.counts[Fate.DELETED] == 2 and report.deleted_bytes == sum(before.values())
    assert report.kept_for_tickets == 1
    assert not floor.file("old").exists() and not floor.file("old-closed-ticket").exists()
    assert floor.file("recent").exists() and floor.file("old-open-ticket").exists()
    # Nothing outside the folder is touched, not even through a link inside it.
    assert sorted(p.name for p in floor.outside.iterdir()) == ["20260101-000000_target.wav", "20260101-000000_x.wav"]
    for call_id in ("old", "old-closed-ticket", "old-gone"):
        row = await floor.row(call_id)
        assert str(row["recording_pruned"]).endswith("+08:00") and row["recording_path"], call_id
        [event] = [e for e in await floor.services.calls.events(call_id) if e["kind"] == RECORDING_PRUNED]
        assert event["data"] == {"recording": floor.file(call_id).name, "bytes": before.get(call_id, 0),
                                 "retention_days": 180}
    for call_id in ("recent", "old-open-ticket", "old-outside", "old-link"):
        assert (await floor.row(call_id))["recording_pruned"] is None, call_id
    again = await prune_recordings(floor.settings, floor.services, now=time.time())
    assert again.counts[Fate.DELETED] == 0 and again.counts[Fate.GONE] == 0  # each recording once
    assert "deleted 0 recordings (0.0 MB)" in again.summary() and "1 kept: on tickets in progress" in again.summary()


async def test_a_dry_run_says_what_would_go_and_deletes_and_marks_nothing(floor: Floor) -> None:
    files = sorted(p.name for p in floor.settings.paths.recordings_dir.iterdir())
    report = await prune_recordings(floor.settings, floor.services, now=time.time(), dry_run=True)
    assert report.counts[Fate.DELETED] == 2 and report.counts[Fate.GONE] == 1 and report.deleted_bytes > 0
    assert report.summary().startswith("would delete 2 recordings")
    assert sorted(p.name for p in floor.settings.paths.recordings_dir.iterdir()) == files
    assert (await floor.row("old"))["recording_pruned"] is None
    assert (await floor.row("old-gone"))["recording_pruned"] is None


async def test_a_ticket_reopened_keeps_its_calls_recording_again(floor: Floor) -> None:
    await floor.services.tickets.reopen(floor.closed_ticket, "市民再次来电")
    report = await prune_recordings(floor.settings, floor.services, now=time.time())
    assert report.kept_for_tickets == 2 and floor.file("old-closed-ticket").exists()


async def test_the_running_hotline_prunes_at_start_and_stops_its_task_with_the_block(floor: Floor) -> None:
    async with retention_running(floor.settings, floor.services, every=3600.0):
        async with asyncio.timeout(10):
            while floor.file("old").exists():
                await asyncio.sleep(0.05)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "recording retention"]
    assert floor.file("recent").exists()


async def test_the_console_says_the_recording_was_deleted_instead_of_offering_a_player(floor: Floor) -> None:
    await prune_recordings(floor.settings, floor.services, now=time.time())
    async with console_running(floor.settings, FakeFloor(floor.settings, floor.services.store)) as console, \
            http_session() as http:
        assert (await log_in(http, console.url, "supervisor", console.passwords["supervisor"])).status == 303
        async with http.get(f"{console.url}/api/calls/old") as response:
            call = (await response.json())["call"]
        assert call["has_recording"] is False and call["recording_pruned"]
        async with http.get(f"{console.url}/api/calls/old/recording") as response:
            assert response.status == 410 and "录音已过保存期删除" in (await response.json())["error"]
        async with chromium() as browser:
            page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
            await page.goto(f"{console.url}/calls/old")
            await page.wait_for_selector("#no-recording:not([hidden])")
            assert (await page.inner_text("#no-recording")).startswith("录音已过保存期删除（")
            assert await page.is_hidden("#recording")


async def test_the_prune_command_prints_each_recording_and_a_summary_and_its_dry_run_keeps_them(
        tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    settings = load_settings(env=env)
    settings.paths.recordings_dir.mkdir(parents=True)
    async with Store(settings.paths.database) as store:
        floor = Floor(settings, Services.on(settings, store), tmp_path)
        await _call(floor, "old", 200)
        await _call(floor, "recent", 10)
    dry = await asyncio.to_thread(run_hotline, env, "recordings", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == f"would delete: {floor.file('old').name} (call old) (0.0 MB)"
    assert lines[-1].startswith("dry run, nothing deleted: would delete 1 recordings (0.0 MB) of calls before ")
    assert lines[-1].endswith("(retention 180 days)") and floor.file("old").exists()
    done = await asyncio.to_thread(run_hotline, env | {"HOTLINE_RECORDINGS_RETENTION_DAYS": "5"},
                                   "recordings", "prune")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [f"deleted: {floor.file('old').name} (call old) (0.0 MB)",
                                            f"deleted: {floor.file('recent').name} (call recent) (0.0 MB)"]
    assert "deleted 2 recordings" in done.stdout and "(retention 5 days)" in done.stdout
    assert not floor.file("old").exists() and not floor.file("recent").exists()


@pytest.mark.parametrize(("value", "said"), [
    ("0", "recordings.retention_days must be a whole number of days, 1 or more, got 0"),
    ("-3", "recordings.retention_days must be a whole number of days, 1 or more, got -3"),
    ("half a year", "HOTLINE_RECORDINGS_RETENTION_DAYS (environment) must be a whole number, got 'half a year'"),
    ("1.5", "HOTLINE_RECORDINGS_RETENTION_DAYS (environment) must be a whole number, got '1.5'"),
])
def test_a_retention_that_is_not_a_whole_number_of_days_is_a_clear_error(tmp_path: Path, value: str,
                                                                          said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env=instance_env(tmp_path, HOTLINE_RECORDINGS_RETENTION_DAYS=value))
    assert said in str(refused.value)


def test_the_retention_is_180_days_unless_set_and_a_bad_one_stops_a_command_in_one_line(tmp_path: Path) -> None:
    assert load_settings(env=instance_env(tmp_path)).recordings.retention_days == 180
    assert load_settings(env=instance_env(tmp_path, HOTLINE_RECORDINGS_RETENTION_DAYS="30")).recordings \
        .retention_days == 30
    assert_one_line_error(run_hotline(instance_env(tmp_path, HOTLINE_RECORDINGS_RETENTION_DAYS="0"),
                                      "recordings", "prune"), "recordings.retention_days")
