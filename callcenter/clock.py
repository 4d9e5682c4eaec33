"""Time as the hotline records it: Asterisk's event timestamps, shown as local
ISO-8601 with offset, to the second."""

from __future__ import annotations

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
    return datetime.fromtimestamp(int(epoch), zone).isoformat(timespec="seconds")


def local(epoch: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, zone)
