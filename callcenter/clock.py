"""Time as the hotline records it: Asterisk's event timestamps, shown as local
ISO-8601 with offset, to the second."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo


def parse_ari_time(stamp: str) -> float:
    """ARI's "2026-11-28T13:35:12.123+0000" as epoch seconds."""
    # Python 3.11 reads "+0000" but not every ARI variant; normalise the offset.
    if len(stamp) > 5 and stamp[-5] in "+-" and stamp[-3] != ":":
        stamp = stamp[:-2] + ":" + stamp[-2:]
    return datetime.fromisoformat(stamp).timestamp()


def iso_local(epoch: float, zone: ZoneInfo) -> str:
    """"2026-11-28T21:35:12+08:00": local time with offset, to the second (truncated)."""
    return _iso_second(int(epoch), zone)


@functools.lru_cache(maxsize=1024)
def _iso_second(second: int, zone: ZoneInfo) -> str:
    # Every step of a call is stamped: a busy second stamps dozens of rows alike, and the
    # zone arithmetic was 3 % of the controller's Python time under load (py-spy).
    return datetime.fromtimestamp(second, zone).isoformat(timespec="seconds")


def local(epoch: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, zone)
