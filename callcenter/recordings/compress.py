"""Recordings compressed after the call: each call's WAV (8 kHz 16-bit, about 0.96 MB a
minute) becomes a mono MP3 of `recordings.mp3_kbps` (8 kbit/s, 0.06 MB a minute, by
default), checked before the WAV goes.

Why MP3: the console's Chromium plays MP3 and Ogg Opus alike, but an auditor's or a
court's PC opens an MP3 with whatever player it has, which is not true of Opus. Why 8
kbit/s (MPEG-2.5 at the phone's 8 kHz): 16 times smaller than the WAV, and measured on
the hotline's own prompts, the speech bands up to 2.5 kHz keep their level within 0.5
dB (above 2.8 kHz 4 dB are lost) and 1 kHz and 3 kHz tones come back 2 dB lower, at their frequency;
16 kbit/s keeps the top band too, at 8 times smaller.

The order makes a crash at any point lose neither file:
1. ffmpeg writes `<name>.mp3.part` (at low priority), which is flushed to disk;
2. its length is read back (ffprobe) and must match the WAV's (within 0.5 s or 2 %);
3. it is renamed `<name>.mp3` (atomic), 0640 and owned like the WAV;
4. the call's row is changed to the MP3 and committed;
5. only then is the WAV deleted.
A `.part` left by a crash is written again from the start; an `.mp3` whose row still
names the WAV is made again (steps 1-4 over it); a WAV whose row names its MP3 is deleted
when the compressor starts and every hour (`compress_pending(sweep_since=...)`), as is
a `.part` older than any ffmpeg run (one whose WAV was pruned since would stay for
ever). A recording ffmpeg
cannot compress (cut, empty, not audio) stays a WAV, the reason on its row, and is not
tried again; a fault of the machine (a disk full, read-only or failing, ffmpeg or ffprobe
missing or too slow) ends the pass with nothing marked, and the next pass tries again.
One compressor runs at a time (a lock in the state folder): the running hotline's task
skips a pass while `hotline recordings compress` holds it, and the command says so and
stops while the hotline's pass runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.recordings.files import RECORDING_NAME, servable_recording
from callcenter.recordings.wav import readable_wav_seconds
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.supervision import stop_task, supervised
from callcenter.vocabulary import RECORDING_COMPRESSED

log = logging.getLogger(__name__)

DEFAULT_KBPS = 8
# How far the MP3's length may be from the WAV's: MP3 frames pad the end by a few ms.
LENGTH_SLACK_SECONDS = 0.5
LENGTH_SLACK_SHARE = 0.02
FFMPEG_TIMEOUT = 300.0
PROBE_TIMEOUT = 60.0
PART_SUFFIX = ".part"
# ffmpeg is stopped after FFMPEG_TIMEOUT: a .part older than this is a crash's.
PART_STALE_SECONDS = 2 * FFMPEG_TIMEOUT
# In the state folder: held by whichever compressor runs a pass.
LOCK_NAME = "compress.lock"
# The running hotline looks for finished calls to compress this often, this many a pass.
PASS_SECONDS = 30.0
PASS_LIMIT = 200


class CompressionFailed(Exception):
    """ffmpeg could not make a good MP3 of the recording (said in one line). `lasting`:
    the recording itself is at fault (cut, not audio) and is not tried again; otherwise
    the machine is (a disk full or read-only, ffmpeg or ffprobe missing, too slow) and the
    next pass tries again."""

    def __init__(self, reason: str, lasting: bool = True) -> None:
        super().__init__(reason)
        self.lasting = lasting


class CompressionBusy(HotlineError):
    """Another compression (the running hotline's, or another command's) holds the lock."""


# ffmpeg's words for a fault of the machine rather than of the recording.
_MACHINE_FAULTS = ("No space left on device", "Disk quota exceeded", "Cannot allocate memory",
                   "Input/output error", "Read-only file system")


@dataclass(frozen=True)
class Compressed:
    mp3: Path
    wav_bytes: int
    mp3_bytes: int
    seconds: float


def mp3_seconds(path: Path) -> float | None:
    """The MP3's length by ffprobe, or None when the file cannot be read as one;
    CompressionFailed (the machine's) when ffprobe itself is missing or hangs."""
    try:
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                str(path)], capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise CompressionFailed(f"ffprobe took over {PROBE_TIMEOUT:.0f} s", lasting=False) from None
    except OSError as exc:
        raise CompressionFailed(f"cannot run ffprobe: {exc.strerror or exc}", lasting=False) from None
    try:
        return float(probe.stdout.strip())
    except ValueError:
        return None


def _lengths_agree(wav: float, mp3: float | None) -> bool:
    return mp3 is not None and abs(mp3 - wav) <= max(LENGTH_SLACK_SECONDS, LENGTH_SLACK_SHARE * wav)


def compress_file(wav: Path, kbps: int = DEFAULT_KBPS) -> Compressed:
    """Steps 1-3 above for one WAV (blocking: run it in a thread); CompressionFailed says
    why not, `lasting` only when the recording itself is at fault."""
    mp3 = wav.with_suffix(".mp3")
    part = wav.with_name(mp3.name + PART_SUFFIX)
    try:
        return _make_mp3(wav, mp3, part, kbps)
    except OSError as exc:
        # Reading the WAV or writing beside it failed (a read-only or failing disk, a
        # folder gone): the machine's fault, whatever the file.
        raise CompressionFailed(f"{Path(exc.filename or wav).name}: {exc.strerror or exc}", lasting=False) from None
    finally:
        with contextlib.suppress(OSError):  # after a failure; already renamed after a success
            part.unlink(missing_ok=True)


def _make_mp3(wav: Path, mp3: Path, part: Path, kbps: int) -> Compressed:
    seconds = readable_wav_seconds(wav)
    if not seconds:
        raise CompressionFailed("no audio in the WAV")
    part.unlink(missing_ok=True)  # a crash's, half written
    try:
        run = subprocess.run(
            ["nice", "-n", "10", "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav),
             "-ac", "1", "-c:a", "libmp3lame", "-b:a", f"{kbps}k", "-f", "mp3", str(part)],
            capture_output=True, text=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise CompressionFailed(f"ffmpeg took over {FFMPEG_TIMEOUT:.0f} s", lasting=False) from None
    except OSError as exc:  # nice itself could not run
        raise CompressionFailed(f"cannot run ffmpeg: {exc.strerror or exc}", lasting=False) from None
    if run.returncode != 0:
        first = next((line for line in run.stderr.splitlines() if line.strip()), f"exit code {run.returncode}")
        # 126/127: nice found no ffmpeg to run.
        machine = run.returncode in (126, 127) or any(fault in run.stderr for fault in _MACHINE_FAULTS)
        raise CompressionFailed(f"ffmpeg: {first[:200]}", lasting=not machine)
    got = mp3_seconds(part)
    if not _lengths_agree(seconds, got):
        # On a full disk ffmpeg can end with 0 and a short file: the machine's fault then.
        room = _free_bytes(part.parent)
        needed = seconds * kbps * 1000 / 8 + 65536
        if room is not None and room < needed:
            raise CompressionFailed(f"no room for the MP3 ({room} bytes free, {needed:.0f} needed)", lasting=False)
        raise CompressionFailed(f"the MP3 lasts {got} s, the WAV {seconds:.2f} s")
    _sync(part)
    _same_owner(part, wav)
    os.chmod(part, 0o640)
    os.replace(part, mp3)
    _sync(mp3.parent)  # the rename itself survives a power cut
    return Compressed(mp3, wav.stat().st_size, mp3.stat().st_size, seconds)


def _same_owner(mp3: Path, wav: Path) -> None:
    """The MP3 belongs to whoever owned the WAV (Asterisk's user and group), as a file the
    recording's readers already read; left as it is where the compressor may not chown."""
    owner = wav.stat()
    with contextlib.suppress(PermissionError):
        os.chown(mp3, owner.st_uid, owner.st_gid)


def _free_bytes(folder: Path) -> int | None:
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _take_lock(path: Path) -> int:
    """The compression lock's file descriptor (closing it lets go), or CompressionBusy."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CompressionBusy("another compression of the recordings is running (the running hotline's "
                              "or another command's); try again when it is done") from None
    return fd


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class PassResult:
    compressed: int = 0
    failed: int = 0
    deferred: str = ""  # why the pass stopped early for a fault of the machine ("" it did not)
    wav_bytes: int = 0
    mp3_bytes: int = 0
    seconds: float = 0.0
    # Calls whose WAV is not in the folder (deleted by hand, the folder not mounted): skipped,
    # never marked, since a folder that comes back has them again.
    missing: int = 0
    # Where the next pass goes on from (the last candidate read) when this one read a full
    # page; None: the next starts from the oldest again. Without it, a page of calls that
    # can be neither compressed nor marked would be read again and again, and nothing
    # newer would ever be compressed.
    resume_after: tuple[float, str] | None = None

    def add(self, other: PassResult) -> None:
        self.compressed += other.compressed
        self.failed += other.failed
        self.deferred = self.deferred or other.deferred
        self.wav_bytes += other.wav_bytes
        self.mp3_bytes += other.mp3_bytes
        self.seconds += other.seconds
        self.missing += other.missing
        self.resume_after = other.resume_after


Progress = Callable[[str], None]


async def compress_pending(settings: Settings, services: Services, limit: int = PASS_LIMIT,
                           dry_run: bool = False, progress: Progress | None = None,
                           sweep_since: float | None = None, after: tuple[float, str] | None = None) -> PassResult:
    """One pass: the WAVs of finished calls compressed (steps 1-5), from the oldest or from
    past `after` (the last pass's `resume_after`); with `sweep_since`, first what a crash
    left: the WAVs beside the MP3s of calls since then (after step 4) and the stale `.part`
    files (in step 1). Never a file outside the recordings folder."""
    if dry_run:
        return await _compress_pass(settings, services, limit, dry_run, progress, sweep_since, after)
    async with _one_compressor(settings):
        return await _compress_pass(settings, services, limit, dry_run, progress, sweep_since, after)


async def compress_all(settings: Settings, services: Services, *, dry_run: bool = False, retry_failed: bool = False,
                       progress: Progress | None = None, limit: int = PASS_LIMIT) -> PassResult:
    """`hotline recordings compress`: what a crash left swept, with `retry_failed` the
    earlier failures forgotten, then pass after pass (of `limit`) until nothing is left or
    the machine fails. The lock is held throughout, so the running hotline's pass cannot
    slip in between two passes and stop the command half done."""
    if dry_run:
        if retry_failed and progress:
            failed = await services.recordings.failed_compressions()
            progress(f"would try again: {failed} recordings that failed before")
        total = PassResult()
        while True:  # every page, so that the count is the whole of it
            page = await _compress_pass(settings, services, limit, True, progress, None, total.resume_after)
            total.add(page)
            if page.resume_after is None:
                return total
    async with _one_compressor(settings):
        if retry_failed:
            again = await services.recordings.retry_failed_compressions()
            if progress:
                progress(f"tried again: {again} recordings that failed before")
        total = PassResult()
        sweep_since: float | None = 0.0  # every compressed call's leftover WAV, however old
        while True:
            done = await _compress_pass(settings, services, limit, False, progress, sweep_since, total.resume_after)
            sweep_since = None
            total.add(done)
            if done.resume_after is None:  # the last page read, or the machine failed
                return total


@asynccontextmanager
async def _one_compressor(settings: Settings) -> AsyncIterator[None]:
    """The lock held while the block runs, or CompressionBusy. One compressor at a time:
    the running hotline's task and `hotline recordings compress` would otherwise write the
    same .part, and one could delete the WAV the other is reading."""
    lock = await asyncio.to_thread(_take_lock, settings.paths.state_dir / LOCK_NAME)
    try:
        yield
    finally:
        os.close(lock)


async def _compress_pass(settings: Settings, services: Services, limit: int, dry_run: bool,
                         progress: Progress | None, sweep_since: float | None,
                         after: tuple[float, str] | None = None) -> PassResult:
    folder = settings.paths.recordings_dir
    result = PassResult()
    if sweep_since is not None and not dry_run:
        compressed = await services.recordings.compressed_since(sweep_since)
        wavs, parts = await asyncio.to_thread(_sweep, folder, compressed, time.time())
        if progress:
            for call_id, mp3 in wavs:
                progress(f"{call_id}: removed the WAV a crash left beside {mp3.name}")
            for part in parts:
                progress(f"removed {part.name}, half an MP3 a crash left")
    # A recording the retention prune deletes within a day is not worth compressing (one
    # it keeps for a ticket in progress is).
    keep_from = time.time() - (settings.recordings.retention_days - 1) * 86400.0
    candidates = await services.recordings.uncompressed(limit, arrived_since=keep_from, after=after)
    if len(candidates) == limit:
        result.resume_after = candidates[-1].place
    for call in candidates:
        # The folder's checks and sizes are file system calls: off the event loop too.
        wav, size = await asyncio.to_thread(_wav_to_compress, folder, call.recording_path)
        if wav is None:
            result.missing += 1
            if progress:
                progress(f"{call.call_id}: its WAV is not in the recordings folder, skipped")
            continue
        if dry_run:
            result.compressed += 1
            result.wav_bytes += size
            if progress:
                progress(f"would compress: {wav.name} ({size / 1e6:.2f} MB)")
            continue
        try:
            done = await asyncio.to_thread(compress_file, wav, settings.recordings.mp3_kbps)
        except CompressionFailed as exc:
            if not exc.lasting:
                # The machine's fault: the next file would fail alike. Nothing is marked;
                # the WAVs stay and the next pass tries again.
                result.deferred = str(exc)
                result.resume_after = None  # from the oldest again, once the machine is mended
                log.warning("recordings: compression stops until the next pass: %s (%s)", exc, wav.name)
                if progress:
                    progress(f"stopped at {wav.name}: {exc}")
                break
            result.failed += 1
            log.warning("call %s: recording %s left uncompressed: %s", call.call_id, wav.name, exc)
            services.calls.save(call.call_id, recording_compress_failed=str(exc)[:300])
            if progress:
                progress(f"left as WAV: {wav.name}: {exc}")
            continue
        services.calls.save(call.call_id, recording_path=str(done.mp3), recording_wav_bytes=done.wav_bytes,
                            recording_bytes=done.mp3_bytes)
        now = time.time()
        services.calls.log(call.call_id, RECORDING_COMPRESSED, now, iso_local(now, settings.zone),
                           data={"recording": done.mp3.name, "wav_bytes": done.wav_bytes,
                                 "mp3_bytes": done.mp3_bytes, "kbps": settings.recordings.mp3_kbps})
        await services.calls.flush()  # step 4 committed before step 5
        await asyncio.to_thread(_remove_leftover, wav)
        result.compressed += 1
        result.wav_bytes += done.wav_bytes
        result.mp3_bytes += done.mp3_bytes
        result.seconds += done.seconds
        if progress:
            progress(f"compressed: {wav.name} {done.wav_bytes / 1e6:.2f} MB -> {done.mp3.name} "
                     f"{done.mp3_bytes / 1e6:.3f} MB ({done.seconds:.0f} s)")
    return result


def _wav_to_compress(folder: Path, stored_path: str) -> tuple[Path | None, int]:
    """The row's WAV, if it is one in the folder, and its size."""
    wav = servable_recording(folder, stored_path)
    if wav is None or wav.suffix != ".wav":
        return None, 0
    return wav, wav.stat().st_size


def _remove_leftover(wav: Path) -> bool:
    try:
        wav.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:  # its row names the MP3 already: a later sweep removes it
        log.warning("recordings: cannot remove %s yet: %s", wav.name, exc.strerror or exc)
        return False
    return True


def _sweep(folder: Path, compressed: list[tuple[str, str]], now: float) -> tuple[list[tuple[str, Path]], list[Path]]:
    """What a crash left, removed: (call id, MP3) of the compressed calls whose WAV was
    still beside the MP3, and the stale `.part` files (one thread trip for both)."""
    wavs = []
    for call_id, path in compressed:
        mp3 = servable_recording(folder, path)
        if mp3 is not None and _remove_leftover(mp3.with_suffix(".wav")):
            wavs.append((call_id, mp3))
    return wavs, _remove_stale_parts(folder, now)


def _remove_stale_parts(folder: Path, now: float) -> list[Path]:
    """The `<recording>.mp3.part` files no ffmpeg is writing any more, removed. A pass
    rewrites the `.part` of a WAV it compresses, but not one whose WAV was pruned or left
    as it is since the crash: that one would stay for ever."""
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        log.warning("recordings: cannot look for leftovers in %s: %s", folder, exc.strerror or exc)
        return []
    removed = []
    for entry in entries:
        name = entry.name.removesuffix(PART_SUFFIX)
        if name == entry.name or not RECORDING_NAME.fullmatch(name) or not name.endswith(".mp3"):
            continue
        try:
            # Never a symbolic link's target; never a .part young enough to be written now
            # (by another instance sharing the folder: the lock is per state folder).
            if not entry.is_file(follow_symlinks=False) or \
                    now - entry.stat(follow_symlinks=False).st_mtime < PART_STALE_SECONDS:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("recordings: cannot remove %s yet: %s", entry.name, exc.strerror or exc)
            continue
        removed.append(Path(entry.path))
    return removed


def per_minute(total_bytes: int, seconds: float) -> float:
    """Bytes per call-minute."""
    return total_bytes / (seconds / 60) if seconds else 0.0


# At start, and every SWEEP_EVERY after, the compressor removes what a crash (of this
# process, or of a `hotline recordings compress` run) left: the WAVs beside MP3s of calls
# this recent, and the stale .part files.
SWEEP_SECONDS = 7 * 86400.0
SWEEP_EVERY = 3600.0


async def keep_compressing(settings: Settings, services: Services, every: float = PASS_SECONDS,
                           sweep_every: float = SWEEP_EVERY, limit: int = PASS_LIMIT) -> None:
    sweep_since: float | None = time.time() - SWEEP_SECONDS
    swept = time.monotonic()
    after: tuple[float, str] | None = None
    missing, missing_said = 0, 0  # in this round of pages from the oldest; in the last said
    while True:
        if time.monotonic() - swept >= sweep_every:
            sweep_since, swept = time.time() - SWEEP_SECONDS, time.monotonic()
        try:
            result = await compress_pending(settings, services, limit, sweep_since=sweep_since, after=after)
        except CompressionBusy:
            log.info("recordings: another compression is running; trying again in %.0f s", every)
            await asyncio.sleep(every)
            continue
        sweep_since = None
        if result.compressed or result.failed:
            log.info("recordings: %d compressed (%.0f -> %.0f bytes a call-minute), %d left as WAV",
                     result.compressed, per_minute(result.wav_bytes, result.seconds),
                     per_minute(result.mp3_bytes, result.seconds), result.failed)
        missing += result.missing
        after = result.resume_after
        if after is None:  # a round ended: say once what it could not find
            if missing and missing != missing_said:
                log.warning("recordings: %d finished calls' WAVs are not in %s (deleted by hand, or the folder "
                            "not mounted); they are skipped until they are back", missing,
                            settings.paths.recordings_dir)
            missing_said, missing = missing, 0
        await asyncio.sleep(every if after is None else 0)


@asynccontextmanager
async def compression_running(settings: Settings, services: Services, every: float = PASS_SECONDS,
                              sweep_every: float = SWEEP_EVERY, limit: int = PASS_LIMIT) -> AsyncIterator[None]:
    """The compressor, supervised, while the block runs (nothing when compression is off)."""
    if settings.recordings.compress == "off":
        yield
        return
    name = "recording compression"
    task = asyncio.create_task(
        supervised(name, lambda: keep_compressing(settings, services, every, sweep_every, limit)), name=name)
    try:
        yield
    finally:
        await stop_task(task)

