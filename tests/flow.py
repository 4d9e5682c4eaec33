"""Fixtures' helpers for call-flow tests: the controller in-process against the session's
real Asterisk, with the shift clock set where a test wants it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from callcenter.app import controller_running, services_running
from callcenter.calls.runner import Controller
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.vocabulary import SeatState
from tests.harness import settings_for

# Call-flow timings that keep tests short: short menu time-out, ring time-out and wrap-up.
FAST = {"HOTLINE_CALLFLOW_WRAPUP_SECONDS": "1", "HOTLINE_CALLFLOW_MENU_TIMEOUT": "2",
        "HOTLINE_CALLFLOW_RING_TIMEOUT": "4"}


@dataclass
class ShiftClock:
    """Epoch seconds whose local time of day is `hh:mm` (today), ticking from there."""

    zone_settings: Settings
    hhmm: str = "03:00"

    def __post_init__(self) -> None:
        self._base = time.time()

    def __call__(self) -> float:
        zone = self.zone_settings.zone
        hour, minute = (int(x) for x in self.hhmm.split(":"))
        today = datetime.now(zone).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return today.timestamp() + (time.time() - self._base)


@dataclass
class Hotline:
    settings: Settings
    services: Services
    controller: Controller
    clock: ShiftClock
    workdir: Path

    async def wait_until(self, predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    async def seat_registered(self, seat: str, timeout: float = 10.0) -> None:
        async def registered() -> bool:
            return self.controller.seats[seat].registered

        await self.wait_until(registered, timeout, f"{seat} to register")

    async def seats_free(self, timeout: float = 10.0) -> None:
        """Every seat out of its call and its wrap-up (idle, or not yet used)."""
        async def free() -> bool:
            return all(seat.state is SeatState.IDLE for seat in self.controller.seats.values())

        await self.wait_until(free, timeout, "every seat's wrap-up to end")

    async def settled(self) -> list[dict[str, Any]]:
        """Every call ended and its after-work done (recording measured, number judged)."""
        await self.rows()
        await self.controller.after_work_done()
        await self.services.calls.flush()
        return [dict(row) for row in await self.services.calls.recent(limit=1000)]

    async def rows(self, settle: float = 10.0) -> list[dict[str, Any]]:
        """Every call row, once every call has ended in the store: SIPp is done as soon as
        its BYE is answered, a moment before Asterisk's hang-up events reach the controller."""
        async def all_done() -> bool:
            await self.services.calls.flush()
            rows = await self.services.calls.recent(limit=1000)
            return all(row.get("state") == "done" for row in rows) and not self.controller.calls

        with contextlib.suppress(AssertionError):  # a test that expects an unfinished call reads it as it is
            await self.wait_until(all_done, settle, "every call to end")
        return [dict(row) for row in await self.services.calls.recent(limit=1000)]

    async def events(self, call_id: str) -> list[dict[str, Any]]:
        await self.services.calls.flush()
        return [dict(e) for e in await self.services.calls.events(call_id)]


@asynccontextmanager
async def hotline_for(env: dict[str, str], workdir: Path, hhmm: str = "03:00",
                      **overrides: str) -> AsyncIterator[Hotline]:
    settings = settings_for(env | {"HOTLINE_PATHS_DATABASE": str(workdir / "hotline.db")} | overrides)
    clock = ShiftClock(settings, hhmm)
    async with services_running(settings) as services, \
            controller_running(settings, services, shift_clock=clock) as controller:
        yield Hotline(settings, services, controller, clock, workdir)
