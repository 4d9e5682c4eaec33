"""The recordings' WAV files, written by Asterisk's MixMonitor, read here.

MixMonitor writes the RIFF sizes only when it closes the file, so a recording cut short
by a crash has a header that claims no audio. Lengths are therefore computed from the
data actually on disk, and `repair_header` rewrites the sizes of such files.

On a full disk MixMonitor records nothing, or stops when the disk fills, and the call
goes on: `status` says what became of the recording, for the call's row.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from pathlib import Path

from callcenter.vocabulary import RecordingStatus

# A recording holding less than this share of a call that lasted at least TRUNCATED_AFTER
# seconds was cut short. Generous, because a recording can be a little shorter than the
# call for good reasons (MixMonitor starts a moment after the channel; a phone that sends
# no audio while nothing is played to it records nothing meanwhile).
TRUNCATED_SHARE = 0.5
TRUNCATED_AFTER = 10.0


def _fmt_and_data_offset(head: bytes) -> tuple[int, int] | None:
    """(byte rate, offset of the sample data) from a WAV header, or None if not a WAV."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset = 12
    byte_rate = 0
    while offset + 8 <= len(head):
        chunk, size = head[offset:offset + 4], struct.unpack("<I", head[offset + 4:offset + 8])[0]
        if chunk == b"fmt " and offset + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[offset + 16:offset + 20])[0]
        if chunk == b"data":
            return (byte_rate, offset + 8) if byte_rate else None
        offset += 8 + size + (size & 1)
    return None


def wav_seconds(path: Path) -> float | None:
    """Seconds of audio in the file, from the bytes on disk (not the header's claim)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return None
    parsed = _fmt_and_data_offset(head)
    if parsed is None:
        return None
    byte_rate, data_offset = parsed
    return max(0, size - data_offset) / byte_rate


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


async def recording_seconds_when_closed(path: Path, settle: float = 0.3, give_up_after: float = 5.0) -> float | None:
    """Wait until MixMonitor has stopped writing (size steady for `settle` s), then measure.
    The waiting is on the event loop and each look a short trip to a thread: a busy
    hotline measures hundreds of recordings at once without holding threads while asleep."""
    deadline = time.monotonic() + give_up_after
    last = -1
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        size = await asyncio.to_thread(_size, path)
        if size != last:
            last, steady_since = size, time.monotonic()
        elif size >= 0 and time.monotonic() - steady_since >= settle:
            break
        await asyncio.sleep(0.1)
    return await asyncio.to_thread(wav_seconds, path)


def status(found: bool, seconds: float | None, call_seconds: float | None) -> RecordingStatus:
    """What became of a recording: `found` whether the file exists, `seconds` of audio in
    it (None: not a WAV), `call_seconds` from the call's arrival to its end (None: unknown)."""
    if not found:
        return RecordingStatus.MISSING
    if not seconds:
        return RecordingStatus.EMPTY
    if call_seconds is not None and call_seconds >= TRUNCATED_AFTER and seconds < call_seconds * TRUNCATED_SHARE:
        return RecordingStatus.TRUNCATED
    return RecordingStatus.OK


def repair_header(path: Path) -> bool:
    """Rewrite the RIFF and data sizes to match the file; True when they were wrong."""
    with open(path, "r+b") as handle:
        head = handle.read(4096)
        size = os.fstat(handle.fileno()).st_size
        parsed = _fmt_and_data_offset(head)
        if parsed is None:
            return False
        _, data_offset = parsed
        riff_size, data_size = size - 8, size - data_offset
        if struct.unpack("<I", head[4:8])[0] == riff_size and \
                struct.unpack("<I", head[data_offset - 4:data_offset])[0] == data_size:
            return False
        handle.seek(4)
        handle.write(struct.pack("<I", riff_size))
        handle.seek(data_offset - 4)
        handle.write(struct.pack("<I", data_size))
    return True


def repair_all(folder: Path) -> int:
    """Repair every recording in the folder whose header a crash left wrong."""
    repaired = 0
    for path in folder.glob("*.wav"):
        try:
            repaired += repair_header(path)
        except OSError:
            continue
    return repaired
