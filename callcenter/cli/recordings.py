"""`hotline recordings prune [--dry-run]`: delete the recordings past
`recordings.retention_days` now, as the running hotline does every day.
`hotline recordings compress [--dry-run] [--retry-failed]`: compress the finished calls'
WAVs to MP3 now, as the running hotline does every 30 s."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from callcenter.cli.common import Commands, add_database_option, database_path, with_store
from callcenter.recordings.compress import PassResult, compress_all, per_minute
from callcenter.recordings.repository import Expired
from callcenter.recordings.retention import Fate, PruneReport, megabytes, prune_recordings
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.terminal import escape_text

# What each fate is called in the command's lines, as done and as it would be done.
_SAID = {Fate.DELETED: ("deleted", "would delete"), Fate.GONE: ("already missing, marked", "already missing"),
         Fate.REFUSED: ("refused, not touched", "refused, not touched"),
         Fate.FAILED: ("could not delete", "could not delete")}
PROGRESS_EVERY = 500  # a progress line on stderr every this many recordings


def _prune(settings: Settings, args: argparse.Namespace) -> int:
    dry_run = bool(args.dry_run)
    seen = 0

    def tell(call: Expired, fate: Fate, size: int) -> None:
        nonlocal seen
        done, would = _SAID[fate]
        size_text = f" ({megabytes(size)})" if fate is Fate.DELETED else ""
        print(f"{would if dry_run else done}: {escape_text(Path(call.recording_path).name)} "
              f"(call {escape_text(call.call_id)}){size_text}", flush=True)
        seen += 1
        if seen % PROGRESS_EVERY == 0:
            print(f"... {seen} recordings looked at", file=sys.stderr, flush=True)

    async def run(store: Store) -> PruneReport:
        return await prune_recordings(settings, Services.on(settings, store), now=time.time(), dry_run=dry_run,
                                      on_file=tell)

    report = with_store(database_path(settings, args), run)
    print(("dry run, nothing deleted: " if dry_run else "") + report.summary()
          + f" (retention {settings.recordings.retention_days} days)")
    return 0


def _compress(settings: Settings, args: argparse.Namespace) -> int:
    """Every finished call's WAV compressed now (the running hotline does it every 30 s),
    a line per recording and the bytes a call-minute before and after."""
    dry_run = bool(args.dry_run)

    def tell(line: str) -> None:
        print(escape_text(line), flush=True)

    async def run(store: Store) -> PassResult:
        return await compress_all(settings, Services.on(settings, store), dry_run=dry_run,
                                  retry_failed=bool(args.retry_failed), progress=tell)

    result = with_store(database_path(settings, args), run)
    if dry_run:
        print(f"dry run, nothing compressed: {result.compressed} recordings "
              f"({result.wav_bytes / 1e6:.1f} MB) would be compressed")
        return 0
    before, after = per_minute(result.wav_bytes, result.seconds), per_minute(result.mp3_bytes, result.seconds)
    print(f"{result.compressed} recordings compressed, {result.failed} left as WAV; "
          f"{result.wav_bytes / 1e6:.1f} MB -> {result.mp3_bytes / 1e6:.1f} MB; bytes per call-minute: "
          f"{before:.0f} before, {after:.0f} after")
    if result.missing:
        print(f"{result.missing} finished calls' WAVs are not in {settings.paths.recordings_dir} (deleted by hand, "
              "or the folder not mounted): skipped, nothing marked")
    if result.deferred:
        print(f"hotline: compression stopped: {escape_text(result.deferred)}; nothing is lost (the WAVs stay): "
              "run it again once that is mended", file=sys.stderr)
        return 1
    return 0


def register(commands: Commands) -> None:
    recordings = commands.add_parser("recordings", help="call recordings: prune those past the retention period, "
                                                        "compress the finished calls' WAVs")
    actions = recordings.add_subparsers(dest="recordings_action", required=True, metavar="ACTION")
    prune = actions.add_parser(
        "prune", help="delete the recordings of calls older than recordings.retention_days "
                      "(never those of calls on tickets in progress)")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    add_database_option(prune)
    prune.set_defaults(handler=_prune)
    compress = actions.add_parser(
        "compress", help="compress the WAV of every finished call to MP3 now (checked before the WAV is removed)")
    compress.add_argument("--dry-run", action="store_true", help="only say what would be compressed")
    compress.add_argument("--retry-failed", action="store_true",
                          help="also try again the recordings ffmpeg could not compress before (once mended)")
    add_database_option(compress)
    compress.set_defaults(handler=_compress)
