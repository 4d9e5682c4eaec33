"""Background tasks that nobody awaits are supervised: a task that dies is logged
loudly and started again, never left dead in silence; and every task started is
stopped the same way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def supervised(name: str, work: Callable[[], Awaitable[None]], *, restart_after: float = 5.0,
                     max_restart: float = 300.0) -> None:
    """Run `work` for ever: when it dies (or ends), say so loudly and start it again,
    waiting longer after each quick death; a cancel stops it."""
    loop = asyncio.get_running_loop()
    delay = restart_after
    while True:
        started = loop.time()
        try:
            await work()
            log.critical("%s ended by itself; starting it again in %.0f s", name, delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.critical("%s died; starting it again in %.0f s", name, delay, exc_info=True)
        if loop.time() - started > 60.0:  # it had been running a while: start quickly again
            delay = restart_after
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_restart)


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel the task and wait until it has ended."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
