"""Memory the controller has freed, given back to the system once a minute.

glibc's malloc keeps freed memory in its arenas for reuse and returns it only now and
then, so the resident size of a long-running process climbs in steps to the high-water
mark of its busiest moment and stays there. Measured in the soak (bench/soak.py, 27
calls/s): the controller's Python heap grew by about 150 KB over the run (tracemalloc),
its resident size by 12 MB; one `malloc_trim(0)` took it from 84.2 MB back to 65.8 MB.
Trimming once a minute keeps the resident size close to what is really in use, so a real
leak would show in the memory figures instead of hiding among kept pages.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from callcenter.supervision import stop_task, supervised

log = logging.getLogger(__name__)

TRIM_EVERY_SECONDS = 60.0


def malloc_trim() -> Callable[[], int] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return lambda: int(function(0))


async def keep_trimming(trim: Callable[[], int], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        started = time.perf_counter()
        trim()  # on the event loop: a fraction of a millisecond, once a minute
        took = time.perf_counter() - started
        if took > 0.05:
            log.warning("giving freed memory back took %.0f ms", took * 1000)


@asynccontextmanager
async def trimming(every: float = TRIM_EVERY_SECONDS) -> AsyncIterator[None]:
    """Freed memory given back every `every` seconds, supervised, while the block runs."""
    trim = malloc_trim()
    if trim is None:
        yield
        return
    name = "memory trim"
    task = asyncio.create_task(supervised(name, lambda: keep_trimming(trim, every)), name=name)
    try:
        yield
    finally:
        await stop_task(task)
