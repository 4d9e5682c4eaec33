"""The wallboard's live feed: the controller's floor snapshot and today's figures,
pushed to every open WebSocket.

The controller calls `changed()` synchronously on every change, which can be many a
second under load: the feed only marks itself dirty, and one task sends at most
`1 / min_interval` pushes a second, plus one every `heartbeat` seconds so that "waiting
for" ticks on screen. Each push is built once and sent to every client concurrently; a
client that cannot take it within `send_timeout` is dropped rather than let it stall the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter import pbx
from callcenter.free_space import FreeSpace
from callcenter.health import report_of
from callcenter.reports import connection
from callcenter.reports.repository import ReportRepository
from callcenter.reports.shifts import per_shift
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.vocabulary import ABANDONED, Outcome
from callcenter.web.context import FloorSource, HealthSource
from callcenter.web.pushing import Sockets

log = logging.getLogger(__name__)



def day_bounds(zone: ZoneInfo, now: float) -> tuple[float, float]:
    """Epoch seconds of local midnight today and tomorrow."""
    today = datetime.fromtimestamp(now, zone).date()
    start = datetime(today.year, today.month, today.day, tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.timestamp(), end.timestamp()


async def today_figures(services: Services, zone: ZoneInfo, now: float | None = None) -> dict[str, Any]:
    """Today's calls, answered, abandoned, average wait and service level, and GB/T
    33358's figures (`standard`).

    Service level = calls a seat answered within 15 s of arriving, as a share of the
    calls that asked for a seat and are settled (answered, or abandoned while waiting or
    ringing). Callers who hang up in the greeting or menu never asked for a seat and
    count as abandoned but not against the service level (the standard's connection
    rate counts them)."""
    moment = time.time() if now is None else now
    since, until = day_bounds(zone, moment)
    # One threshold for the wallboard and the briefing: [report] service_level_seconds (15).
    within = services.tickets.directory.service_level_seconds
    raw = await services.calls.figures(since, until, within)
    abandoned = sum(raw[outcome] for outcome in ABANDONED)
    # Asked for a seat: answered, or gave up while waiting or ringing (not in the IVR).
    offered = raw["answered"] + raw[Outcome.ABANDONED_QUEUE] + raw[Outcome.ABANDONED_RINGING]
    return {
        "calls": int(raw["calls"]), "answered": int(raw["answered"]), "abandoned": int(abandoned),
        **{str(outcome): int(raw[outcome]) for outcome in Outcome if outcome is not Outcome.ANSWERED},
        "average_wait": round(raw["average_wait"], 1),
        "service_level": round(raw["answered_within"] / offered, 3) if offered else None,
        "service_level_seconds": within,
        "since": since,
        "standard": await standard_figures(services, since, moment, within),
        "by_shift": await shift_figures(services, zone, since, until, within),
    }


async def shift_figures(services: Services, zone: ZoneInfo, since: float, until: float,
                        within: int) -> list[dict[str, object]]:
    """Today per shift of the roster: answered, abandoned, service level, average wait
    (the same meanings as the day's figures above)."""
    rows = await services.calls.figures_by_minute(since, until, within)
    weekday = datetime.fromtimestamp(since, zone).weekday()
    return [figures.to_json() for figures in per_shift(rows, services.seats.roster.shifts, weekday)]


async def standard_figures(services: Services, since: float, now: float, within: int) -> dict[str, Any]:
    """GB/T 33358 on the wallboard: the connection rate over the last 24 hours (alarm under
    95 %), and today's figures, per shift on the roster and per seat."""
    reports = ReportRepository(services.store)
    # `now + 1`: a call that arrived this very second is in the window.
    today = await reports.reach(since, now + 1, within)
    last_day = connection.total(await reports.reach(now - connection.DAY_SECONDS, now + 1, within))
    rate = last_day.connection_pct
    return {
        "answer_seconds": within, "target_pct": connection.TARGET_PCT,
        "last_24h": last_day.to_json(), "today": connection.total(today).to_json(),
        "by_shift": [{"shift": name, **reach.to_json()}
                     for name, reach in connection.by_shift(today, services.seats.roster.shifts)],
        "by_seat": connection.seats_json(today.seats),
        "alarm": rate is not None and rate < connection.TARGET_PCT,
    }


def health_report(settings: Settings, floor: FloorSource, store: Store, space: FreeSpace) -> dict[str, Any]:
    """The hotline's health now (`callcenter.health`): Asterisk (embedded: its process),
    the controller's connection, seats and recordings, the store's write lag, last
    refusal and dropped writes, and the space left for recordings and the database."""
    controller = floor.health() if isinstance(floor, HealthSource) else None
    asterisk_up = pbx.Instance.of(settings).running_pid() is not None if settings.embedded else None
    return report_of(asterisk_up, controller, store.write_lag, store.commit_error,
                     pending_writes=store.pending_writes, dropped_writes=store.dropped_writes,
                     dropped_age=store.dropped_age, disks=space.now())


def watched_space(settings: Settings) -> FreeSpace:
    """The folders whose disks the health report watches."""
    return FreeSpace({"recordings": settings.paths.recordings_dir, "database": settings.paths.database.parent})


@dataclass(frozen=True)
class Watcher:
    """An open wallboard: whose session it is."""

    token: str


class FloorFeed:
    def __init__(self, floor: FloorSource, services: Services, settings: Settings, session_alive: Callable[[str], bool],
                 space: FreeSpace, min_interval: float = 0.25, heartbeat: float = 1.0, figures_every: float = 1.0,
                 send_timeout: float = 5.0) -> None:
        self.floor = floor
        self.space = space
        self.services = services
        self.settings = settings
        self.zone = settings.zone
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self.figures_every = figures_every
        self.sockets: Sockets[Watcher] = Sockets(session_alive, send_timeout)
        self._dirty = asyncio.Event()
        self._figures: dict[str, Any] = {}
        self._figures_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self.floor.on_change(self._dirty.set)
        self._task = asyncio.create_task(self._run(), name="wallboard-feed")

    async def stop(self) -> None:
        """Stop pushing and close every socket (at shutdown: the server would otherwise wait
        for the open wallboards' handlers until its shutdown timeout)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.sockets.close_all()

    def add(self, ws: web.WebSocketResponse, session_token: str) -> None:
        self.sockets.add(ws, Watcher(session_token))

    def remove(self, ws: web.WebSocketResponse) -> None:
        self.sockets.remove(ws)

    async def message(self) -> str:
        """The floor now, with figures at most `figures_every` seconds old, as JSON text."""
        if time.monotonic() - self._figures_at >= self.figures_every:
            self._figures = await today_figures(self.services, self.zone)
            self._figures_at = time.monotonic()
        health = health_report(self.settings, self.floor, self.services.store, self.space)
        return json.dumps({"type": "floor", "floor": self.floor.snapshot(), "figures": self._figures,
                           "health": health}, ensure_ascii=False)

    async def _run(self) -> None:
        while True:
            await self.sockets.any_open.wait()
            with contextlib.suppress(TimeoutError):  # no change: a heartbeat push
                await asyncio.wait_for(self._dirty.wait(), self.heartbeat)
            self._dirty.clear()
            try:
                text = await self.message()
            except Exception:
                log.exception("wallboard: building the floor message failed")
                await asyncio.sleep(self.heartbeat)
                continue
            await self.sockets.send_to(text)
            await asyncio.sleep(self.min_interval)
