"""How long recordings are kept: `recordings.retention_days` after the call arrived.

The running hotline prunes once at start and then every day (`retention_running`,
supervised); `hotline recordings prune [--dry-run]` does the same by hand. A recording
past the period is deleted and its call row marked (`calls.recording_pruned`, and a
RECORDING_PRUNED step in its timeline), so the console says the recording was deleted
rather than show a player that cannot play. Never deleted: the recording of a call on a
ticket still in progress (the unit or a review may need to hear it), and anything that
is not a recording directly in the recordings folder (`files.servable_recording`).

The file is deleted first and the row marked after: a prune cut short in between leaves
a row whose file is gone, which the next prune finds and marks (`missing_recording`);
the other order could leave a file nobody would ever delete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from callcenter.clock import iso_local
from callcenter.recordings.files import missing_recording, servable_recording
from callcenter.recordings.repository import Expired
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.supervision import stop_task, supervised
from callcenter.vocabulary import RECORDING_PRUNED

log = logging.getLogger(__name__)

DAY = 86400.0
BATCH = 500  # calls read, and their files deleted, at a time


class Fate(StrEnum):
    """What became of one expired recording."""

    DELETED = "deleted"
    GONE = "gone"  # the file was no longer there: the row is marked all the same
    REFUSED = "refused"  # outside the recordings folder or oddly named: never touched
    FAILED = "failed"  # could not be deleted (permissions...): tried again next time


@dataclass
class PruneReport:
    cutoff: str  # calls that arrived before this local time had their recordings pruned
    dry_run: bool
    counts: dict[Fate, int] = field(default_factory=lambda: dict.fromkeys(Fate, 0))
    deleted_bytes: int = 0
    kept_for_tickets: int = 0

    def summary(self) -> str:
        """One line: what was deleted (or would be), and what was kept and why."""
        verb = "would delete" if self.dry_run else "deleted"
        parts = [f"{verb} {self.counts[Fate.DELETED]} recordings ({megabytes(self.deleted_bytes)})"
                 f" of calls before {self.cutoff}"]
        if self.counts[Fate.GONE]:
            parts.append(f"{self.counts[Fate.GONE]} already missing (rows {'would be ' if self.dry_run else ''}marked)")
        parts.append(f"{self.kept_for_tickets} kept: on tickets in progress")
        if self.counts[Fate.REFUSED]:
            parts.append(f"{self.counts[Fate.REFUSED]} refused: not a recording in the recordings folder")
        if self.counts[Fate.FAILED]:
            parts.append(f"{self.counts[Fate.FAILED]} could not be deleted (tried again next time)")
        return "; ".join(parts)


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


FileListener = Callable[[Expired, Fate, int], None]


def _dispose_all(recordings_dir: Path, calls: list[Expired], dry_run: bool) -> list[tuple[Fate, int]]:
    return [_dispose(recordings_dir, call, dry_run) for call in calls]


def _dispose(recordings_dir: Path, call: Expired, dry_run: bool) -> tuple[Fate, int]:
    """Delete one expired recording (unless `dry_run`): its fate and its size."""
    path = servable_recording(recordings_dir, call.recording_path)
    if path is None:
        return (Fate.GONE if missing_recording(recordings_dir, call.recording_path) else Fate.REFUSED), 0
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return Fate.GONE, 0
    except OSError as exc:
        log.warning("recordings: cannot delete %s of call %s: %s", path, call.call_id, exc)
        return Fate.FAILED, 0
    return Fate.DELETED, size


async def prune_recordings(settings: Settings, services: Services, *, now: float, dry_run: bool = False,
                           on_file: FileListener | None = None) -> PruneReport:
    """Delete the recordings of calls that arrived more than `recordings.retention_days`
    before `now` and mark their rows; with `dry_run`, only say what would be done.
    `on_file` hears each expired recording's fate, for a command to print."""
    cutoff = now - settings.recordings.retention_days * DAY
    report = PruneReport(datetime.fromtimestamp(cutoff, settings.zone).isoformat(timespec="minutes"), dry_run,
                         kept_for_tickets=await services.recordings.kept_for_tickets(cutoff))
    calls, recordings_dir = services.calls, settings.paths.recordings_dir
    after = (float("-inf"), "")
    while batch := await services.recordings.expired(cutoff, after, BATCH):
        after = (batch[-1].arrived_epoch, batch[-1].call_id)
        fates = await asyncio.to_thread(_dispose_all, recordings_dir, batch, dry_run)
        at = iso_local(time.time(), settings.zone)
        for call, (fate, size) in zip(batch, fates, strict=True):
            report.counts[fate] += 1
            report.deleted_bytes += size
            if on_file is not None:
                on_file(call, fate, size)
            if fate in (Fate.DELETED, Fate.GONE) and not dry_run:
                calls.save(call.call_id, recording_pruned=at)
                calls.log(call.call_id, RECORDING_PRUNED, time.time(), at,
                          data={"recording": Path(call.recording_path).name, "bytes": size,
                                "retention_days": settings.recordings.retention_days})
            elif fate is Fate.REFUSED:
                log.warning("recordings: call %s names a recording outside %s or oddly named (%r): not touched",
                            call.call_id, recordings_dir, call.recording_path)
        await calls.flush()
    return report


async def keep_pruning(settings: Settings, services: Services, every: float = DAY,
                       clock: Callable[[], float] = time.time) -> None:
    """Prune now, then every `every` seconds; each prune's summary is logged."""
    while True:
        report = await prune_recordings(settings, services, now=clock())
        log.info("recordings: %s", report.summary())
        await asyncio.sleep(every)


@asynccontextmanager
async def retention_running(settings: Settings, services: Services, every: float = DAY,
                            clock: Callable[[], float] = time.time) -> AsyncIterator[None]:
    """The daily prune, supervised, while the block runs."""
    name = "recording retention"
    task = asyncio.create_task(supervised(name, lambda: keep_pruning(settings, services, every, clock)), name=name)
    try:
        yield
    finally:
        await stop_task(task)
