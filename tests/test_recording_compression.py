"""Recordings compressed after the call: a finished call's WAV becomes an MP3 of the same
length, the row names it, the WAV goes; a crash at any step loses neither file; what
ffmpeg cannot compress stays a WAV, once; the console serves the MP3. Real ffmpeg, real
files (speech-like noise and a tone, made with sox) in a temporary folder."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import math
import os
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.clock import iso_local
from callcenter.recordings.compress import (
    CompressionBusy,
    compress_all,
    compress_file,
    compress_pending,
    compression_running,
    mp3_seconds,
)
from callcenter.recordings.wav import wav_seconds
from callcenter.services import Services
from callcenter.settings import Settings, load_settings
from callcenter.store import Row, Store
from tests.harness import assert_one_line_error, instance_env, run_hotline
from tests.small_disk import SmallDisk
from tests.web_helpers import FakeFloor, console_running, console_settings, http_session, log_in


def speech_like(path: Path, seconds: float) -> Path:
    """8 kHz mono 16-bit, as MixMonitor writes: pink noise (harder to compress than speech)."""
    subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", str(path), "synth", f"{seconds:g}",
                    "pinknoise", "vol", "0.3"], check=True)
    return path


@dataclass
class Floor:
    settings: Settings
    services: Services

    def wav(self, call_id: str) -> Path:
        return self.settings.paths.recordings_dir / f"20261205-100000_{call_id}.wav"

    async def call(self, call_id: str, seconds: float = 30.0, path: Path | None = None, write: bool = True,
                   status: str = "ok", arrived_ago: float = 600.0) -> Path:
        wav = path or self.wav(call_id)
        if write and path is None:
            speech_like(wav, seconds)
            os.chmod(wav, 0o640)
        arrived = time.time() - arrived_ago
        self.services.calls.save(call_id, caller_number="13900000001",
                                 arrived=iso_local(arrived, self.settings.zone), arrived_epoch=arrived,
                                 outcome="answered", seat="seat1", state="done", recording_path=str(wav),
                                 recording_seconds=seconds, recording_status=status)
        await self.services.calls.flush()
        return wav

    async def row(self, call_id: str) -> Row:
        row = await self.services.calls.get(call_id)
        assert row is not None
        return row


@asynccontextmanager
async def instance_floor(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], Floor]]:
    """A whole instance's settings (for the `hotline` command in a child process) and its floor."""
    env = instance_env(tmp_path)
    settings = load_settings(env=env)
    settings.paths.recordings_dir.mkdir(parents=True)
    async with Store(settings.paths.database) as store:
        yield env, Floor(settings, Services.on(settings, store))


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    settings.paths.recordings_dir.mkdir(parents=True, exist_ok=True)
    async with Store(settings.paths.database) as store:
        yield Floor(settings, Services.on(settings, store))


@pytest.fixture
async def floor_on_each_backend(tmp_path: Path, store_location: Path | str) -> AsyncIterator[Floor]:
    """The floor with its store on SQLite, then on PostgreSQL (the candidates' query)."""
    (tmp_path / "state").mkdir(exist_ok=True)
    settings = console_settings(tmp_path / "state")
    settings.paths.recordings_dir.mkdir(parents=True, exist_ok=True)
    async with Store(store_location) as store:
        yield Floor(settings, Services.on(settings, store))


async def test_a_finished_calls_wav_becomes_an_mp3_of_its_length_a_tenth_of_its_size_or_less_and_the_wav_goes(
        floor: Floor) -> None:
    wav = await floor.call("c1", seconds=60)
    os.chown(wav, 65534, 65534)  # as Asterisk's user would own it (the tests run as root)
    wav_bytes = wav.stat().st_size
    result = await compress_pending(floor.settings, floor.services)
    assert (result.compressed, result.failed) == (1, 0)
    mp3 = wav.with_suffix(".mp3")
    assert mp3.exists() and not wav.exists() and not list(mp3.parent.glob("*.part"))
    assert abs((mp3_seconds(mp3) or 0) - 60) < 0.5
    assert mp3.stat().st_size * 10 <= wav_bytes, (mp3.stat().st_size, wav_bytes)
    assert mp3.stat().st_mode & 0o777 == 0o640 and (mp3.stat().st_uid, mp3.stat().st_gid) == (65534, 65534)
    row = await floor.row("c1")
    assert row["recording_path"] == str(mp3) and row["recording_wav_bytes"] == wav_bytes
    assert row["recording_bytes"] == mp3.stat().st_size
    # The call's timeline tells it, with the sizes.
    steps = [e for e in await floor.services.calls.events("c1") if e["kind"] == "RECORDING_COMPRESSED"]
    assert [s["data"] for s in steps] == [{"recording": mp3.name, "wav_bytes": wav_bytes,
                                           "mp3_bytes": mp3.stat().st_size, "kbps": 8}]
    # Done once: the next pass finds nothing to do.
    assert (await compress_pending(floor.settings, floor.services)).compressed == 0


async def test_a_crash_at_each_step_ends_with_one_good_file_and_a_row_that_names_it(floor: Floor) -> None:
    # Killed while ffmpeg wrote: a half .part is there, the row names the WAV.
    part_wav = await floor.call("part")
    part_wav.with_name(part_wav.with_suffix(".mp3").name + ".part").write_bytes(b"ID3 half an mp3")
    # Killed after the rename: a good MP3 and the WAV, the row still names the WAV.
    renamed_wav = await floor.call("renamed")
    compress_file(renamed_wav)
    # Killed after the rename, the MP3 broken on disk meanwhile: made again.
    broken_wav = await floor.call("broken")
    broken_wav.with_suffix(".mp3").write_bytes(b"not an mp3 at all")
    result = await compress_pending(floor.settings, floor.services)
    assert (result.compressed, result.failed) == (3, 0)
    for call_id in ("part", "renamed", "broken"):
        mp3 = floor.wav(call_id).with_suffix(".mp3")
        assert (await floor.row(call_id))["recording_path"] == str(mp3)
        assert abs((mp3_seconds(mp3) or 0) - 30) < 0.5 and not floor.wav(call_id).exists()
    assert not list(floor.settings.paths.recordings_dir.glob("*.part"))
    # Killed after the row was committed, before the WAV went: the next start removes it.
    left = floor.wav("renamed")
    speech_like(left, 5)
    swept = await compress_pending(floor.settings, floor.services, sweep_since=0.0)
    assert not left.exists() and floor.wav("renamed").with_suffix(".mp3").exists() and swept.compressed == 0


async def test_a_wav_ffmpeg_cannot_compress_stays_with_the_reason_and_is_not_tried_again(floor: Floor) -> None:
    cut = floor.wav("cut")
    cut.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + os.urandom(3000))
    await floor.call("cut", path=cut)
    result = await compress_pending(floor.settings, floor.services)
    assert (result.compressed, result.failed) == (0, 1)
    assert cut.exists() and not cut.with_suffix(".mp3").exists()
    row = await floor.row("cut")
    assert row["recording_path"] == str(cut) and "no audio" in str(row["recording_compress_failed"])
    assert (await compress_pending(floor.settings, floor.services)).failed == 0  # not tried again


async def test_a_row_pointing_outside_the_folder_or_a_failed_recording_is_never_touched(
        floor: Floor, tmp_path: Path) -> None:
    outside = speech_like(tmp_path / "20261205-100000_outside.wav", 5)
    await floor.call("outside", path=outside)
    await floor.call("empty", status="empty")
    result = await compress_pending(floor.settings, floor.services)
    assert result.compressed == 0 and outside.exists() and floor.wav("empty").exists()
    assert not outside.with_suffix(".mp3").exists()


async def test_the_console_serves_the_mp3_as_audio_mpeg_and_answers_ranges(floor: Floor) -> None:
    await floor.call("c1", seconds=20)
    await compress_pending(floor.settings, floor.services)
    async with console_running(floor.settings, FakeFloor(floor.settings, floor.services.store)) as console, \
            http_session() as http:
        assert (await log_in(http, console.url, "supervisor", console.passwords["supervisor"])).status == 303
        async with http.get(f"{console.url}/api/calls/c1/recording") as response:
            assert response.status == 200 and response.headers["Content-Type"] == "audio/mpeg"
            whole = await response.read()
        async with http.get(f"{console.url}/api/calls/c1/recording", headers={"Range": "bytes=100-199"}) as part:
            assert part.status == 206 and await part.read() == whole[100:200]
        async with http.get(f"{console.url}/api/calls/c1/recording?download=1") as download:
            assert download.headers["Content-Disposition"].endswith('.mp3"')


async def test_the_running_hotline_compresses_finished_calls_and_stops_its_task_with_the_block(
        floor: Floor) -> None:
    wav = await floor.call("c1", seconds=10)
    async with compression_running(floor.settings, floor.services, every=0.2):
        deadline = time.monotonic() + 30
        while wav.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    assert not wav.exists() and wav.with_suffix(".mp3").exists()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "recording compression"]


async def test_a_page_of_calls_whose_wavs_are_gone_does_not_stop_the_newer_ones_being_compressed(
        floor_on_each_backend: Floor) -> None:
    floor = floor_on_each_backend
    # The oldest calls' WAVs were deleted by hand: they can be neither compressed nor marked
    # (an unmounted folder would look the same), and they fill a whole page (limit 2).
    for n in range(3):
        await floor.call(f"gone{n}", write=False, arrived_ago=900.0 - n)
    wav = await floor.call("newer", seconds=5, arrived_ago=600.0)
    first = await compress_pending(floor.settings, floor.services, limit=2)
    assert (first.compressed, first.missing) == (0, 2) and first.resume_after is not None
    second = await compress_pending(floor.settings, floor.services, limit=2, after=first.resume_after)
    assert (second.compressed, second.missing) == (1, 1) and second.resume_after == ((await floor.row("newer"))[
        "arrived_epoch"], "newer")  # a full page again: the next pass goes on from there
    third = await compress_pending(floor.settings, floor.services, limit=2, after=second.resume_after)
    assert (third.compressed, third.missing, third.resume_after) == (0, 0, None)  # the end: from the oldest next
    assert not wav.exists() and wav.with_suffix(".mp3").exists()
    # The gone ones are still candidates, unmarked: back in the folder, they are compressed.
    assert [(await floor.row(f"gone{n}"))["recording_compress_failed"] for n in range(3)] == [None] * 3
    await floor.call("later", seconds=5, arrived_ago=500.0)
    said: list[str] = []
    everything = await compress_all(floor.settings, floor.services, limit=2, progress=said.append)
    assert (everything.compressed, everything.missing) == (1, 3), said
    assert sum("is not in the recordings folder" in line for line in said) == 3


async def test_the_running_hotline_goes_past_calls_whose_wavs_are_gone_and_says_so_once(
        floor: Floor, caplog: pytest.LogCaptureFixture) -> None:
    for n in range(3):
        await floor.call(f"gone{n}", write=False, arrived_ago=900.0 - n)
    wav = await floor.call("newer", seconds=5, arrived_ago=600.0)
    caplog.set_level("WARNING", logger="callcenter.recordings.compress")
    # Pages of two, as a page of 200 gone calls would be.
    async with compression_running(floor.settings, floor.services, every=0.1, limit=2):
        deadline = time.monotonic() + 30
        while wav.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a few more rounds over the gone ones
    assert not wav.exists() and wav.with_suffix(".mp3").exists()
    warnings = [r.getMessage() for r in caplog.records if "WAVs are not in" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("recordings: 3 finished calls"), warnings


async def test_the_command_prints_each_recording_and_the_bytes_per_call_minute_before_and_after(
        tmp_path: Path) -> None:
    async with instance_floor(tmp_path) as (env, floor):
        for n, seconds in enumerate((60, 120, 180)):
            await floor.call(f"c{n}", seconds=seconds)
    dry = await asyncio.to_thread(run_hotline, env, "recordings", "compress", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1].startswith("dry run, nothing compressed: 3 recordings")
    assert all(floor.wav(f"c{n}").exists() for n in range(3))
    done = await asyncio.to_thread(run_hotline, env, "recordings", "compress")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["compressed"] * 3
    summary = lines[-1]
    assert summary.startswith("3 recordings compressed, 0 left as WAV")
    before, after = (int(x) for x in summary.split("bytes per call-minute: ")[1].replace(" before", "")
                     .replace(" after", "").split(", "))
    print(summary)
    assert 950_000 < before < 970_000 and after <= before / 10
    assert wav_seconds(floor.wav("c0")) is None  # gone


def test_a_compression_setting_other_than_mp3_or_off_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_hotline(instance_env(tmp_path) | {"HOTLINE_RECORDINGS_COMPRESS": "flac"}, "recordings", "compress")
    assert_one_line_error(result, 'recordings.compress must be "mp3" or "off"')
    result = run_hotline(instance_env(tmp_path) | {"HOTLINE_RECORDINGS_MP3_KBPS": "12"}, "recordings", "compress")
    assert_one_line_error(result, "recordings.mp3_kbps must be one of 8, 16, 24")


def tone_levels(path: Path, frequencies: tuple[float, ...], start: float, seconds: float) -> list[float]:
    """The level (dBFS) of each frequency over a stretch of the file, decoded by ffmpeg to
    8 kHz 16-bit: one Goertzel filter each."""
    raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-ss", str(start), "-t", str(seconds), "-i",
                          str(path), "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    samples = [int.from_bytes(raw[i:i + 2], "little", signed=True) / 32768 for i in range(0, len(raw) - 1, 2)]
    levels = []
    for frequency in frequencies:
        k = 2 * math.cos(2 * math.pi * frequency / 8000)
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + k * s1 - s2, s1
        amplitude = 2 * math.sqrt(max(s1 * s1 + s2 * s2 - k * s1 * s2, 1e-30)) / len(samples)
        levels.append(20 * math.log10(amplitude))
    return levels


@pytest.mark.parametrize("kbps", [8, 16])
def test_a_tone_keeps_its_frequency_and_level_through_the_mp3_and_the_bit_rate_sets_the_size(
        tmp_path: Path, kbps: int) -> None:
    # Four seconds of 1 kHz, then four of 3 kHz (the top of the phone's band), at -10 dBFS.
    wav = tmp_path / "tone.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", str(wav), "synth", "4", "sine", "1000",
                    "gain", "-10", ":", "synth", "4", "sine", "3000", "gain", "-10"], check=True)
    done = compress_file(wav, kbps)
    low_1k, low_3k = tone_levels(done.mp3, (1000, 3000), 1, 2)
    high_1k, high_3k = tone_levels(done.mp3, (1000, 3000), 5, 2)
    print(f"{kbps} kbit/s: 1 kHz {low_1k:.1f} dBFS (3 kHz {low_3k:.1f}), 3 kHz {high_3k:.1f} (1 kHz {high_1k:.1f}),"
          f" {done.mp3_bytes} bytes of {done.wav_bytes}")
    # MP3 takes 1-2 dB off a pure tone (2.0 at 8 kbit/s, 1.2 at 16); the frequency stays put.
    assert abs(low_1k - -10) < 3 and abs(high_3k - -10) < 3, (low_1k, high_3k)
    assert low_3k < -40 and high_1k < -40  # each stretch holds its own tone only
    assert done.mp3_bytes * 60 / done.seconds == pytest.approx(kbps * 1000 / 8 * 60, rel=0.1)


@asynccontextmanager
async def small_disk_floor(tmp_path: Path) -> AsyncIterator[tuple[SmallDisk, Floor]]:
    """A floor whose recordings folder is a small disk of its own, to fill or make read-only."""
    with SmallDisk(tmp_path / "small", 8) as disk:
        (tmp_path / "state").mkdir()
        base = console_settings(tmp_path / "state")
        settings = dataclasses.replace(base, paths=dataclasses.replace(base.paths, recordings_dir=disk.path))
        async with Store(settings.paths.database) as store:
            yield disk, Floor(settings, Services.on(settings, store))


async def test_a_full_disk_stops_the_pass_marks_nothing_keeps_the_wavs_and_the_next_pass_compresses_them(
        tmp_path: Path) -> None:
    async with small_disk_floor(tmp_path) as (disk, floor):
        wavs = [await floor.call(f"c{n}", seconds=20) for n in range(3)]
        disk.fill()
        result = await compress_pending(floor.settings, floor.services)
        print("on the full disk:", result.deferred)
        assert (result.compressed, result.failed) == (0, 0) and result.deferred, result
        assert all(wav.exists() and wav_seconds(wav) for wav in wavs)
        assert not list(disk.path.glob("*.part")) and not list(disk.path.glob("*.mp3"))
        assert [(await floor.row(f"c{n}"))["recording_compress_failed"] for n in range(3)] == [None] * 3
        disk.empty()
        again = await compress_pending(floor.settings, floor.services)
        assert (again.compressed, again.failed, again.deferred) == (3, 0, "")
        assert all(not wav.exists() and wav.with_suffix(".mp3").exists() for wav in wavs)


async def test_a_read_only_recordings_folder_stops_the_pass_marks_nothing_and_the_next_pass_compresses(
        tmp_path: Path) -> None:
    async with small_disk_floor(tmp_path) as (disk, floor):
        wav = await floor.call("c1", seconds=10)
        disk.read_only()
        try:
            result = await compress_pending(floor.settings, floor.services, sweep_since=0.0)
        finally:
            disk.read_only(False)
        print("on the read-only folder:", result.deferred)
        assert (result.compressed, result.failed) == (0, 0) and "Read-only file system" in result.deferred, result
        assert wav.exists() and (await floor.row("c1"))["recording_compress_failed"] is None
        assert (await compress_pending(floor.settings, floor.services)).compressed == 1


def only_on_path(folder: Path, *programs: str) -> str:
    """A PATH of `folder` holding only these programs (symbolic links to the real ones)."""
    folder.mkdir()
    for program in programs:
        found = subprocess.run(["sh", "-c", f"command -v {program}"], capture_output=True, text=True, check=True)
        os.symlink(found.stdout.strip(), folder / program)
    return str(folder)


async def test_without_ffmpeg_nothing_is_marked_and_the_recording_waits_for_the_next_pass(
        floor: Floor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wav = await floor.call("c1", seconds=10)
    monkeypatch.setenv("PATH", only_on_path(tmp_path / "no-ffmpeg", "nice"))  # the ffmpeg nice should run is not there
    result = await compress_pending(floor.settings, floor.services)
    assert (result.compressed, result.failed) == (0, 0) and result.deferred.startswith("ffmpeg: "), result
    assert wav.exists() and (await floor.row("c1"))["recording_compress_failed"] is None
    monkeypatch.undo()
    assert (await compress_pending(floor.settings, floor.services)).compressed == 1


async def test_without_ffprobe_the_mp3_cannot_be_checked_nothing_is_marked_and_no_part_is_left(
        floor: Floor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wav = await floor.call("c1", seconds=10)
    monkeypatch.setenv("PATH", only_on_path(tmp_path / "no-ffprobe", "nice", "ffmpeg"))
    result = await compress_pending(floor.settings, floor.services)
    assert (result.compressed, result.failed) == (0, 0) and result.deferred.startswith("cannot run ffprobe"), result
    assert wav.exists() and (await floor.row("c1"))["recording_compress_failed"] is None
    assert not list(wav.parent.glob("*.part")) and not wav.with_suffix(".mp3").exists()
    monkeypatch.undo()
    assert (await compress_pending(floor.settings, floor.services)).compressed == 1


async def test_one_compressor_at_a_time_the_command_says_another_runs_and_the_hotlines_pass_waits(
        tmp_path: Path) -> None:
    async with instance_floor(tmp_path) as (env, floor):
        settings = floor.settings
        await floor.call("c1", seconds=10)
        held = os.open(settings.paths.state_dir / "compress.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)  # as a running compressor holds it
            with pytest.raises(CompressionBusy):
                await compress_pending(settings, floor.services)
            busy = await asyncio.to_thread(run_hotline, env, "recordings", "compress")
            assert_one_line_error(busy, "another compression of the recordings is running")
            assert floor.wav("c1").exists()
        finally:
            os.close(held)
        assert (await compress_pending(settings, floor.services)).compressed == 1


def lock_is_held(settings: Settings) -> bool:
    """Whether some compressor holds the lock now (tried from a descriptor of our own)."""
    fd = os.open(settings.paths.state_dir / "compress.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def test_the_command_holds_the_lock_from_the_retry_through_its_last_pass(floor: Floor) -> None:
    for n in range(3):
        await floor.call(f"c{n}", seconds=5)
    held: list[tuple[str, bool]] = []
    result = await compress_all(floor.settings, floor.services, retry_failed=True, limit=1,
                                progress=lambda line: held.append((line.split(":")[0], lock_is_held(floor.settings))))
    assert result.compressed == 3  # in three passes of one
    assert held == [("tried again", True)] + [("compressed", True)] * 3
    assert not lock_is_held(floor.settings)


async def test_retry_failed_tries_again_a_recording_that_failed_once_it_is_mended(tmp_path: Path) -> None:
    async with instance_floor(tmp_path) as (env, floor):
        cut = floor.wav("cut")
        cut.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + os.urandom(3000))
        await floor.call("cut", path=cut)
        first = await asyncio.to_thread(run_hotline, env, "recordings", "compress")
        assert first.returncode == 0 and "0 recordings compressed, 1 left as WAV" in first.stdout, first.stdout
        speech_like(cut, 10)  # mended (say, restored from a backup)
        again = await asyncio.to_thread(run_hotline, env, "recordings", "compress")
        assert "0 recordings compressed, 0 left as WAV" in again.stdout, again.stdout  # not without asking
        dry = await asyncio.to_thread(run_hotline, env, "recordings", "compress", "--dry-run", "--retry-failed")
        assert dry.stdout.splitlines()[0] == "would try again: 1 recordings that failed before", dry.stdout
        assert (await floor.row("cut"))["recording_compress_failed"] is not None  # a dry run forgets nothing
        retried = await asyncio.to_thread(run_hotline, env, "recordings", "compress", "--retry-failed")
        assert retried.returncode == 0, retried.stderr
        assert "tried again: 1 recordings that failed before" in retried.stdout, retried.stdout
        assert "1 recordings compressed, 0 left as WAV" in retried.stdout, retried.stdout
        row = await floor.row("cut")
    assert row["recording_compress_failed"] is None and str(row["recording_path"]).endswith(".mp3")


async def test_a_recording_the_retention_prune_deletes_within_a_day_is_not_compressed_one_it_keeps_is(
        floor: Floor) -> None:
    days = floor.settings.recordings.retention_days
    soon_gone = await floor.call("old", seconds=10, arrived_ago=(days - 0.5) * 86400)
    kept = await floor.call("recent", seconds=10, arrived_ago=(days - 2) * 86400)
    # Past the period, but on a ticket still being handled: the prune keeps it.
    on_ticket = await floor.call("old-on-ticket", seconds=10, arrived_ago=(days + 3) * 86400)
    await floor.services.tickets.create(["old-on-ticket"], "complaint", "小区路灯不亮", "zezhou")
    result = await compress_pending(floor.settings, floor.services)
    assert result.compressed == 2
    assert soon_gone.exists() and not soon_gone.with_suffix(".mp3").exists()
    assert not kept.exists() and kept.with_suffix(".mp3").exists()
    assert not on_ticket.exists() and on_ticket.with_suffix(".mp3").exists()


async def test_the_running_hotline_sweeps_again_later_the_wav_a_crash_left_beside_its_mp3(floor: Floor) -> None:
    wav = await floor.call("c1", seconds=10)
    async with compression_running(floor.settings, floor.services, every=0.1, sweep_every=0.3):
        deadline = time.monotonic() + 30
        while wav.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert wav.with_suffix(".mp3").exists()
        # Another compressor (the command) crashed between its commit and the WAV's removal.
        speech_like(wav, 10)
        while wav.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert not wav.exists() and wav.with_suffix(".mp3").exists()


async def test_the_sweep_removes_a_stale_part_whatever_became_of_its_wav_and_never_a_fresh_one(
        floor: Floor) -> None:
    folder = floor.settings.paths.recordings_dir
    # A crash while ffmpeg wrote, and the WAV pruned since: no pass would write it again.
    stale = folder / "20261101-100000_gone.mp3.part"
    stale.write_bytes(b"ID3 half an mp3")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    fresh = folder / "20261205-100000_now.mp3.part"  # as ffmpeg is writing it
    fresh.write_bytes(b"ID3 being written")
    other = folder / "notes.txt.part"  # not a recording's
    other.write_bytes(b"kept")
    os.utime(other, (an_hour_ago, an_hour_ago))
    await compress_pending(floor.settings, floor.services, dry_run=True, sweep_since=0.0)
    assert stale.exists()  # a dry run removes nothing
    said: list[str] = []
    await compress_pending(floor.settings, floor.services, sweep_since=0.0, progress=said.append)
    assert not stale.exists() and fresh.exists() and other.exists()
    assert said == [f"removed {stale.name}, half an MP3 a crash left"]
    await compress_pending(floor.settings, floor.services)  # without a sweep: untouched
    assert fresh.exists()
