"""Free space where the hotline writes: the recordings folder (Asterisk's MixMonitor) and
the database's folder. A full disk costs recordings first and then the store's commits,
so the health report shows how much is left before either fails (`callcenter.health`
judges it). Read with statvfs, at most every `CHECK_EVERY_SECONDS`: the wallboard asks
every second, and a network filesystem can be slow to answer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

CHECK_EVERY_SECONDS = 5.0


class FreeSpace:
    """`places` names each folder watched ("recordings", "database"); folders on one
    filesystem are reported together."""

    def __init__(self, places: Mapping[str, Path], clock: Callable[[], float] = time.monotonic,
                 every: float = CHECK_EVERY_SECONDS) -> None:
        self.places = dict(places)
        self.clock = clock
        self.every = every
        self._checked_at: float | None = None
        self._found: list[dict[str, Any]] = []

    def now(self) -> list[dict[str, Any]]:
        """Per filesystem: `what` is on it, its `path`, `free_bytes` (what an unprivileged
        writer such as Asterisk may still use) and `total_bytes`."""
        moment = self.clock()
        if self._checked_at is None or moment - self._checked_at >= self.every:
            self._found = _measured(self.places)
            self._checked_at = moment
        return [dict(found) for found in self._found]


def _measured(places: Mapping[str, Path]) -> list[dict[str, Any]]:
    by_device: dict[int, dict[str, Any]] = {}
    for what, folder in places.items():
        try:
            device = os.stat(folder).st_dev
            stats = os.statvfs(folder)
        except OSError:  # not made yet (no call recorded so far): nothing to watch there
            continue
        if device in by_device:
            by_device[device]["what"].append(what)
            continue
        by_device[device] = {"what": [what], "path": str(folder), "free_bytes": stats.f_bavail * stats.f_frsize,
                             "total_bytes": stats.f_blocks * stats.f_frsize}
    return list(by_device.values())
