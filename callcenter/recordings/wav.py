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
from collections.abc import Awaitable, Callable
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
    return _look(path)[1]


def readable_wav_seconds(path: Path) -> float | None:
    """Seconds of audio in the file (None: not a WAV); OSError when it cannot be read at
    all, which is the disk's or the folder's fault rather than the recording's."""
    return _measure(path)[1]


def _look(path: Path) -> tuple[int, float | None]:
    """(bytes, seconds of audio) of the file; (-1, None) when there is none."""
    try:
        return _measure(path)
    except OSError:
        return -1, None


def _measure(path: Path) -> tuple[int, float | None]:
    with open(path, "rb", buffering=0) as handle:  # unbuffered: no isatty() system call
        head = handle.read(4096)
        size = os.fstat(handle.fileno()).st_size
    parsed = _fmt_and_data_offset(head)
    return size, None if parsed is None else max(0, size - parsed[1]) / parsed[0]


Look = Callable[[Path], Awaitable[tuple[int, float | None]]]


async def look_in_a_thread(path: Path) -> tuple[int, float | None]:
    return await asyncio.to_thread(_look, path)


class GatheredLooks:
    """Looks at recording files in batches: every look asked for within `gather` seconds
    goes to a thread in one trip. At 40 calls a second each call's own trips (two looks)
    cost more processor time than the looks themselves: a worker thread woken, the GIL
    handed over and back, the event loop woken, eighty times a second."""

    def __init__(self, gather: float = 0.1) -> None:
        self.gather = gather
        self._asked: dict[Path, list[asyncio.Future[tuple[int, float | None]]]] = {}
        self._trips: set[asyncio.Task[None]] = set()

    async def look(self, path: Path) -> tuple[int, float | None]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[int, float | None]] = loop.create_future()
        if not self._asked:
            loop.call_later(self.gather, self._go)
        self._asked.setdefault(path, []).append(answer)
        return await answer

    def _go(self) -> None:
        asked, self._asked = self._asked, {}
        trip = asyncio.get_running_loop().create_task(self._trip(asked))
        self._trips.add(trip)
        trip.add_done_callback(self._trips.discard)

    @staticmethod
    async def _trip(asked: dict[Path, list[asyncio.Future[tuple[int, float | None]]]]) -> None:
        try:
            found = await asyncio.to_thread(lambda: {path: _look(path) for path in asked})
        except BaseException as exc:  # cancelled at shut-down, or a bug: nobody waits forever
            for answers in asked.values():
                for answer in answers:
                    if not answer.done():
                        answer.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            raise
        for path, answers in asked.items():
            for answer in answers:
                if not answer.done():
                    answer.set_result(found[path])


async def recording_when_closed(path: Path, settle: float = 0.3, give_up_after: float = 5.0,
                                look: Look = look_in_a_thread) -> tuple[bool, float | None]:
    """(whether the file exists, seconds of audio in it) once MixMonitor has stopped
    writing: two looks `settle` s apart that find the same size. A look reads the header
    and the size off the event loop (`look`, by default a thread trip of its own); the
    waiting is on the event loop, so a busy hotline measures hundreds of recordings at
    once without holding threads asleep."""
    deadline = time.monotonic() + give_up_after
    size, seconds = await look(path)
    while time.monotonic() < deadline:
        await asyncio.sleep(settle)
        again, seconds = await look(path)
        if again == size:
            break
        size = again
    return size >= 0, seconds


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
