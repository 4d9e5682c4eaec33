"""Benchmark: the monthly briefing over a store holding a year of data.

    .venv/bin/python bench/report_bench.py [--calls 54000] [--runs 20] [--keep PATH]

Seeds a temporary store with a year (2025, `--calls` accepted calls plus about 3%
abandoned, 146 tickets a month) through the demo seeder, then times, on that store:
the monthly briefing of each month (SQL on the store thread plus the figures), its text,
JSON and HTML; the yearly summary; and the whole `hotline report monthly` command as a
child process (Python start-up, settings, store open, report, print). Target: the
monthly briefing under 1 s. Prints the query plan to show the month is read through the
arrival-time index, not by scanning the year.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

HOME = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HOME))

from callcenter.demo import SEED_JANUARY, make_demo, split_int, write_demo  # noqa: E402
from callcenter.reports import build_briefing, format_html, format_text, parse_month, parse_year  # noqa: E402
from callcenter.reports.repository import ReportRepository  # noqa: E402
from callcenter.store import Store  # noqa: E402
from callcenter.terminal import safe_json  # noqa: E402
from callcenter.tickets import load_directory  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
YEAR = "2025"


def stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"min {1000 * ordered[0]:7.1f} ms  median {1000 * statistics.median(ordered):7.1f} ms  "
            f"p95 {1000 * p95:7.1f} ms  max {1000 * ordered[-1]:7.1f} ms  (n={len(ordered)})")


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


async def measure(args: argparse.Namespace, path: Path) -> tuple[list[float], int]:
    """Seed the store, time the briefings in-process; the monthly times and the calls seeded."""
    directory = load_directory(HOME / "config" / "units.toml")
    year = parse_year(YEAR, ZONE)

    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    started = time.perf_counter()
    data = make_demo(year, calls=args.calls, completed=args.calls - round(args.calls * 0.016),
                     tickets=split_int(146 * 12, SEED_JANUARY), zone=ZONE, directory=directory)
    made = time.perf_counter() - started
    async with Store(path) as store:
        started = time.perf_counter()
        await write_demo(store, year, data)
        wrote = time.perf_counter() - started
    size = (await asyncio.to_thread(path.stat)).st_size / 1e6
    print(f"seeded {YEAR}: {len(data.calls)} calls ({args.calls} accepted), {len(data.tickets)} tickets, "
          f"{len(data.events)} ticket events; rows made in {made:.2f} s, written in {wrote:.2f} s; "
          f"store {size:.1f} MB")

    async with Store(path) as store:
        plan = await ReportRepository(store).series_plan(parse_month(f"{YEAR}-01", ZONE))
        print("query plan of the month's calls:", "; ".join(plan))

        months = [parse_month(f"{YEAR}-{m:02d}", ZONE) for m in range(1, 13)]
        briefing_times: list[float] = []
        for _ in range(max(1, args.runs // 4)):
            for month in months:
                started = time.perf_counter()
                await build_briefing(store, month, zone=ZONE)
                briefing_times.append(time.perf_counter() - started)
        print(f"monthly briefing (figures, each month):  {stats(briefing_times)}")

        december = months[-1]
        render = {"text": 0.0, "json": 0.0, "html": 0.0}
        full: list[float] = []
        for _ in range(args.runs):
            started = time.perf_counter()
            b = await build_briefing(store, december, zone=ZONE)
            t1 = time.perf_counter()
            format_text(b, directory.title)
            t2 = time.perf_counter()
            json.dumps(b.to_json(), ensure_ascii=False)
            safe_json(b.to_json())
            t3 = time.perf_counter()
            format_html(b, directory.title)
            t4 = time.perf_counter()
            render["text"] += t2 - t1
            render["json"] += t3 - t2
            render["html"] += t4 - t3
            full.append(t4 - started)
        print(f"monthly briefing + text + JSON + HTML:   {stats(full)}")
        means = ", ".join(f"{k} {1000 * v / args.runs:.1f} ms" for k, v in render.items())
        print(f"  of which rendering, mean: {means}")
        yearly = await timed(lambda: build_briefing(store, year, zone=ZONE), max(3, args.runs // 2))
        print(f"yearly summary (figures):                {stats(yearly)}")

    return briefing_times, len(data.calls)


def time_command(path: Path, runs: int) -> list[float]:
    """The whole `hotline report monthly` as a child process, start-up to print."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | {
        "HOTLINE_HOME": str(HOME), "HOTLINE_PATHS_DATABASE": str(path),
        "HOTLINE_PATHS_STATE_DIR": str(path.parent)}
    command: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "callcenter.cli", "report", "monthly", "--month", f"{YEAR}-12"],
                             capture_output=True, text=True, env=env, cwd=HOME, check=False)
        command.append(time.perf_counter() - started)
        if out.returncode != 0:
            raise SystemExit(f"hotline report failed: {out.stderr}")
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=54000, help="accepted calls in the year (default 54000)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (default 20)")
    parser.add_argument("--keep", help="write the store here instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as folder:
        path = Path(args.keep) if args.keep else Path(folder) / "hotline.db"
        briefing_times, calls = asyncio.run(measure(args, path))
        command = time_command(path, max(3, args.runs // 4))
    print(f"`hotline report monthly` (process):      {stats(command)}")
    verdict = "PASS" if max(briefing_times) < 1.0 and statistics.median(command) < 1.0 else "FAIL"
    print(f"target: monthly briefing under 1 s over {calls} calls: {verdict}")


if __name__ == "__main__":
    main()
