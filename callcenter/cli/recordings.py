"""`hotline recordings prune [--dry-run]`: delete the recordings past
`recordings.retention_days` now, as the running hotline does every day."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from callcenter.cli.common import Commands, add_database_option, database_path, with_store
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


def register(commands: Commands) -> None:
    recordings = commands.add_parser("recordings", help="call recordings: prune those past the retention period")
    actions = recordings.add_subparsers(dest="recordings_action", required=True, metavar="ACTION")
    prune = actions.add_parser(
        "prune", help="delete the recordings of calls older than recordings.retention_days "
                      "(never those of calls on tickets in progress)")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    add_database_option(prune)
    prune.set_defaults(handler=_prune)
