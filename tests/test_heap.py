"""The controller gives freed memory back to the system (callcenter.heap)."""

from __future__ import annotations

import asyncio

from callcenter.heap import keep_trimming, malloc_trim, trimming


def resident_kb() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_malloc_trim_gives_back_freed_memory_that_malloc_kept() -> None:
    trim = malloc_trim()
    assert trim is not None, "glibc's malloc_trim not found (Debian's libc has it)"
    # Blocks under malloc's mmap threshold come from its heap; a block kept after each one
    # (over 512 bytes, so from malloc too, not Python's own allocator) pins the heap, so
    # free() alone cannot shrink it, as in a long-running process.
    before = resident_kb()
    big: list[bytearray] = []
    pins: list[bytearray] = []
    for _ in range(1500):
        block = bytearray(48 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident
        big.append(block)
        pins.append(bytearray(1024))
    del block
    big.clear()
    kept = resident_kb()
    trim()
    after = resident_kb()
    assert kept - before > 40 * 1024, f"resident {before} kB -> {kept} kB: free() gave the memory back by itself"
    assert kept - after > 40 * 1024, f"resident {kept} kB -> {after} kB after malloc_trim"
    assert len(pins) == 1500


def test_keep_trimming_trims_once_each_interval() -> None:
    calls: list[int] = []

    def trim() -> int:
        calls.append(1)
        return 1

    async def run() -> None:
        task = asyncio.create_task(keep_trimming(trim, 0.01))
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert 3 <= len(calls) <= 11


def test_trimming_block_starts_and_stops_its_task() -> None:
    async def run() -> set[str]:
        async with trimming(every=0.01):
            await asyncio.sleep(0.03)
            inside = {t.get_name() for t in asyncio.all_tasks()}
        assert "memory trim" not in {t.get_name() for t in asyncio.all_tasks()}
        return inside

    assert "memory trim" in asyncio.run(run())
