"""How long does checking a caller against the nuisance rules take with a million calls
in the store? (It must stay well under 10 ms: it is on every call's way in.)

    .venv/bin/python bench/nuisance_check.py [--calls 1000000] [--numbers 200000] [--checks 2000]

Builds a temporary store (the schema through the Store's own migrations, then a bulk
insert of synthetic calls through the calls repository), then times
`NuisanceService.check_arrival` (what every arriving call pays) and
`NuisanceService.evaluate_after_call` (what every ended call pays) through the store,
on its thread, as the controller does. Prints p50 / p99 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callcenter.calls.repository import CallRepository
from callcenter.services import Services
from callcenter.store import Store
from tests.harness import instance_env, settings_for


async def fill(calls: CallRepository, count: int, numbers: int, seed: int = 12345) -> None:
    """Synthetic ended calls, written through the calls repository in bulk."""
    rng = random.Random(seed)
    now = time.time()
    start = now - 365 * 86400
    outcomes = ["answered"] * 8 + ["abandoned_ivr", "abandoned_queue"]
    batch: list[dict[str, object]] = []
    for index in range(count):
        at = start + (now - start) * index / count
        batch.append({"call_id": f"bench-{index}", "caller_number": f"13{rng.randrange(numbers):09d}",
                      "arrived_epoch": at, "outcome": rng.choice(outcomes), "talk_seconds": rng.randrange(0, 400),
                      "state": "done"})
        if len(batch) == 50_000 or index == count - 1:
            await calls.insert_many(batch, [])
            batch.clear()
            print(f"  {index + 1:,} calls inserted", flush=True)


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{name:<24} n={len(samples):<6} p50={statistics.median(ordered) * 1000:7.3f} ms  "
            f"p99={p99 * 1000:7.3f} ms  max={ordered[-1] * 1000:7.3f} ms")


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(instance_env(Path(folder)))
        database = settings.paths.database
        print(f"filling {database} with {args.calls:,} calls from {args.numbers:,} numbers...", flush=True)
        started = time.perf_counter()
        async with Store(database) as store:  # creates the schema through the migrations
            await fill(CallRepository(store), args.calls, args.numbers)
        print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)
        rng = random.Random(7)
        async with Store(database) as store:
            nuisance = Services.on(settings, store).nuisance
            # A few flagged numbers so the history lookups find something.
            for index in range(100):
                await nuisance.flag(f"13{index:09d}", "bench", "bench")
            arrival, after = [], []
            for _ in range(args.checks):
                number = f"13{rng.randrange(args.numbers):09d}"
                t0 = time.perf_counter()
                await nuisance.check_arrival(number)
                t1 = time.perf_counter()
                await nuisance.evaluate_after_call(number)
                t2 = time.perf_counter()
                arrival.append(t1 - t0)
                after.append(t2 - t1)
        print(f"{args.calls:,} calls in the store, {args.checks} numbers checked (through the store thread):")
        print(summary("check at arrival", arrival))
        print(summary("evaluate after a call", after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--numbers", type=int, default=200_000)
    parser.add_argument("--checks", type=int, default=2000)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
