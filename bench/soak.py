"""Soak benchmark: a steady load for a long time, watching for what grows.

    .venv/bin/python bench/soak.py                       # 30 min at 27 calls/s, 60 seats
    .venv/bin/python bench/soak.py --minutes 5 --rate 10 # a short look
    .venv/bin/python bench/soak.py --tracemalloc         # and where the controller's memory grew

The same throw-away hotline as bench/callflow.py (real Asterisk, the controller as its
own process, SIPp seats and callers on loopback), in the default call flow (no menu: the
greeting, then the line). The default rate is half the highest zero-failure rate that
bench/callflow.py measured with 60 seats (54 calls/s, bench/README.md). Every `--sample`
seconds: calls settled, the controller's and Asterisk's resident memory (VmRSS) and open
file descriptors, the database's size (with its WAL). At the end: failed calls (must be
0), and per process the slope of its memory over the calls settled after the warm-up
(least squares, KB a call and MB an hour at this rate), descriptors first and last.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent
if str(HOME) not in sys.path:  # run as a script: make `callcenter` and `tests` importable
    sys.path.insert(0, str(HOME))

from bench.callflow import (  # noqa: E402
    Bench,
    Options,
    code_version,
    missing_prerequisite,
    say,
    sigterm_as_interrupt,
    sipp_stats,
    stat_int,
)
from bench.repository import BenchStore  # noqa: E402
from callcenter import pbx  # noqa: E402
from callcenter.settings import Settings  # noqa: E402

# Half of 54 calls/s, bench/callflow.py's highest zero-failure rate with 60 seats.
DEFAULT_RATE = 27.0
# A slope under this many KB a call is flat: 0.05 KB a call is 120 MB over 2.4 million
# calls, more than a year of a city's hotline (a few thousand calls a day).
FLAT_KB_PER_CALL = 0.05


@dataclass
class Sample:
    seconds: float  # since the first call was offered
    settled: int  # calls done (rows in state 'done')
    controller_kb: int
    asterisk_kb: int
    controller_fds: int
    asterisk_fds: int
    database_bytes: int
    loaded: bool = True  # taken while the callers' SIPp ran (the slopes use only these)


def rss_kb(pid: int | None) -> int:
    """Resident memory of a live process in KB (VmRSS), 0 when gone."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def database_bytes(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += Path(f"{path}{suffix}").stat().st_size
    return total


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys over xs (None with fewer than 3 points or no spread)."""
    n = len(xs)
    if n < 3:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass
class Growth:
    name: str
    kb_per_call: float | None  # over every sample after the warm-up
    mb_per_hour: float | None
    first_kb: int
    last_kb: int
    # Over the second half of those samples only: memory that grows in steps while
    # malloc's arenas and Asterisk's pools reach their high-water mark, then stops, is
    # no leak; a leak keeps its slope to the end.
    late_kb_per_call: float | None = None

    @property
    def flat(self) -> bool:
        return self.kb_per_call is not None and self.kb_per_call < FLAT_KB_PER_CALL

    @property
    def levelled_off(self) -> bool:
        return self.late_kb_per_call is not None and self.late_kb_per_call < FLAT_KB_PER_CALL

    @property
    def verdict(self) -> str:
        if self.flat:
            return "flat"
        if self.levelled_off:
            return "levelled off (flat over the second half)"
        return f"GROWING (over {FLAT_KB_PER_CALL} KB a call)"


def growth(name: str, samples: Sequence[Sample], kb: Sequence[int]) -> Growth:
    per_call = slope([s.settled for s in samples], kb)
    per_second = slope([s.seconds for s in samples], kb)
    half = len(samples) // 2
    late = slope([s.settled for s in samples[half:]], kb[half:])
    return Growth(name, per_call, None if per_second is None else per_second * 3600 / 1024,
                  kb[0] if kb else 0, kb[-1] if kb else 0, late)


def sample_line(s: Sample) -> str:
    return (f"{s.seconds:6.0f} s  {s.settled:7d} calls  controller {s.controller_kb / 1024:6.1f} MB "
            f"{s.controller_fds:3d} fds  Asterisk {s.asterisk_kb / 1024:6.1f} MB {s.asterisk_fds:4d} fds  "
            f"database {s.database_bytes / 1e6:7.1f} MB")


def growth_line(g: Growth) -> str:
    if g.kb_per_call is None or g.mb_per_hour is None:
        return f"{g.name}: too few samples after the warm-up for a slope"
    late = "" if g.late_kb_per_call is None else f"; second half {g.late_kb_per_call:.3f} KB a call"
    return (f"{g.name}: {g.first_kb / 1024:.1f} -> {g.last_kb / 1024:.1f} MB after the warm-up; slope "
            f"{g.kb_per_call:.3f} KB a call, {g.mb_per_hour:.1f} MB an hour at this rate{late}: {g.verdict}")


def heap_growth(first: Path, last: Path, top: int = 12) -> list[str]:
    """Where the controller's Python heap grew between two tracemalloc snapshots, summed
    by the innermost line of ours on the way (file:line in callcenter/) and the line that
    allocated (in a library, often)."""
    before = tracemalloc.Snapshot.load(str(first))
    after = tracemalloc.Snapshot.load(str(last))
    grown: dict[tuple[str, str], list[int]] = {}
    for stat in after.compare_to(before, "traceback"):
        frames = list(stat.traceback)  # oldest call first
        ours = next((f for f in reversed(frames) if "/callcenter/" in f.filename), None)
        allocating = frames[-1]

        def where(frame: tracemalloc.Frame | None) -> str:
            return "-" if frame is None else f"{frame.filename.removeprefix(f'{HOME}/')}:{frame.lineno}"

        entry = grown.setdefault((where(ours), where(allocating)), [0, 0])
        entry[0] += stat.size_diff
        entry[1] += stat.count_diff
    ranked = sorted(grown.items(), key=lambda item: -item[1][0])[:top]
    return [f"  {size / 1024:+9.1f} KB {count:+7d} blocks  {ours}  (allocated at {allocating})"
            for (ours, allocating), (size, count) in ranked]


# Asterisk's objects that a call creates and should leave behind it: their counts after
# the warm-up and at the end tell a leak of ours (a bridge never destroyed, a topic
# never unsubscribed) from the allocator's own growth. Debian builds Asterisk without
# MALLOC_DEBUG, so `memory show summary` does not exist there.
ASTERISK_COUNTS = {
    "channels": "core show channels count",
    "bridges": "bridge show all",
    "taskprocessors": "core show taskprocessors",
    "stasis topics": "stasis show topics",
    "threads": "core show threads",
}


def asterisk_counts(settings: Settings) -> dict[str, int]:
    """Counts of Asterisk's objects from its CLI (over AMI): the first number of the
    count commands, else the lines of the listing."""
    counts: dict[str, int] = {}
    for name, command in ASTERISK_COUNTS.items():
        try:
            out = pbx.cli_command(settings, command)
        except Exception as exc:  # a figure missing is no reason to lose the soak's others
            say(f"Asterisk CLI {command!r}: {exc}")
            continue
        if name == "channels":
            found = re.search(r"(\d+) active channels?", out)
            counts[name] = int(found.group(1)) if found else -1
        elif name == "threads":
            found = re.search(r"(\d+) threads listed", out)
            counts[name] = int(found.group(1)) if found else -1
        else:
            counts[name] = sum(1 for line in out.splitlines() if line.strip()) - 2  # header lines
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A steady load for a long time: failed calls, memory, descriptors.")
    parser.add_argument("--seats", type=int, default=60, help="seat phones (default 60)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE,
                        help=f"calls offered a second (default {DEFAULT_RATE:g}: half the 60-seat maximum)")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load lasts (default 30)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="minutes left out of the slopes: caches and pools filling up (default 3)")
    parser.add_argument("--talk-ms", type=int, default=1000, help="seat talk time (default 1000)")
    parser.add_argument("--answer-ms", type=int, default=100, help="seat ringing time (default 100)")
    parser.add_argument("--max-wait", type=float, default=10.0,
                        help="a caller not with a seat within this many seconds gives up: a failure (default 10)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="run the controller with tracemalloc (bench/traced_controller.py) and print where its "
                             "Python heap grew between the warm-up and the end (slows it: not for the numbers)")
    parser.add_argument("--json", type=Path, help="also write the samples and slopes as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state folder")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prerequisite = missing_prerequisite()
    if prerequisite:
        say(prerequisite)
        return 2
    total = max(1, round(args.rate * args.minutes * 60))
    controller_cmd: tuple[str, ...] = ()
    if args.tracemalloc:
        controller_cmd = (sys.executable, str(HOME / "bench" / "traced_controller.py"))
    options = Options(args.seats, args.minutes * 60, args.talk_ms, args.answer_ms, args.max_wait, total,
                      ring_timeout=5.0, keep=args.keep, controller_cmd=controller_cmd,
                      env=(("HOTLINE_CALLFLOW_MENU", "false"),))
    say(f"soak: {args.seats} seats, {args.rate:g} calls/s for {args.minutes:g} min ({total} calls), default flow, "
        f"talk {args.talk_ms} ms; sample every {args.sample:g} s, warm-up {args.warmup:g} min; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; code {code_version()}")
    bench = Bench(options)
    samples: list[Sample] = []
    snapshots = bench.state / "snapshots"
    snapshots.mkdir()
    if args.tracemalloc:
        bench.env["BENCH_SNAPSHOTS"] = str(snapshots)
    failed = sipp_failed = not_answered = missing = 0
    outcomes: dict[str, int] = {}
    counts: list[dict[str, int]] = []  # Asterisk's objects after the warm-up and at the end
    with sigterm_as_interrupt():
        try:
            bench.start()
            controller = bench.controller.pid if bench.controller else None
            database = bench.settings.paths.database
            store = BenchStore(database)
            first_rowid = store.last_call_rowid()
            folder = bench.work / "soak"
            folder.mkdir()
            argv, budget = bench.callers_command(args.rate, total, "139100", folder, stats_every=60)

            def take_sample(seconds: float, loaded: bool = True) -> Sample:
                return Sample(seconds, store.settled_calls(first_rowid), rss_kb(controller),
                              rss_kb(bench.asterisk_pid), open_fds(controller), open_fds(bench.asterisk_pid),
                              database_bytes(database), loaded)

            began = time.monotonic()
            with open(folder / "sipp.out", "wb") as log:
                bench.caller = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            warmed = False
            next_at = began
            while True:
                done = bench.caller.poll() is not None
                now = time.monotonic()
                if now >= next_at or done:
                    sample = take_sample(now - began, loaded=not done)
                    samples.append(sample)
                    if len(samples) % max(1, round(60 / args.sample)) == 1 or done:
                        say(sample_line(sample))
                    next_at += args.sample
                    if not warmed and sample.seconds >= args.warmup * 60:
                        warmed = True
                        counts.append(asterisk_counts(bench.settings))
                        if args.tracemalloc and controller:
                            os.kill(controller, signal.SIGUSR1)
                if done or now - began > budget + 60:
                    break
                time.sleep(min(1.0, max(0.0, next_at - time.monotonic())))
            code = bench.caller.wait(30) if bench.caller.poll() is None else bench.caller.returncode
            bench.caller = None
            rows, drained = bench.settled_rows(first_rowid, total)
            samples.append(take_sample(time.monotonic() - began, loaded=False))
            say(sample_line(samples[-1]) + "  (settled)")
            counts.append(asterisk_counts(bench.settings))
            if args.tracemalloc and controller:
                os.kill(controller, signal.SIGUSR1)
                time.sleep(3)
            stats = sipp_stats(folder / "stat.csv")
            sipp_failed = stat_int(stats, "FailedCall(C)")
            if code != 0 and sipp_failed == 0:
                sipp_failed = 1
                say(f"SIPp exit code {code}: see {folder / 'sipp.out'}")
            for _, outcome, _, _ in rows:
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
            for outcome, cause, calls in store.causes_of_unanswered(first_rowid):
                say(f"not answered: {calls} x {outcome}: {cause or '(no cause recorded)'}")
            not_answered = sum(v for k, v in outcomes.items() if k != "answered")
            missing = max(0, total - len(rows))
            failed = max(sipp_failed, not_answered + missing)
            if not drained:
                say("the controller did not finish every call within 90 s of the last one")
                failed = max(failed, 1)
        except KeyboardInterrupt:
            say("interrupted: stopping everything")
            failed = max(failed, 1)
        finally:
            heap = []
            found = sorted(snapshots.glob("snapshot-*.pickle"), key=lambda p: int(p.stem.split("-")[1]))
            if len(found) >= 2:
                heap = heap_growth(found[0], found[-1])
            bench.stop()
    if not samples:
        return 1
    # Under load only: Asterisk gives back several MB when its channels and threads are
    # gone, and that drop at the end would pass for a flatter slope.
    after = [s for s in samples if s.seconds >= args.warmup * 60 and s.loaded] or samples
    slopes = [growth("controller", after, [s.controller_kb for s in after]),
              growth("Asterisk", after, [s.asterisk_kb for s in after])]
    say("")
    say(f"calls: {total} offered, {sum(outcomes.values())} rows, outcomes {outcomes}; failed {failed} "
        f"(SIPp {sipp_failed}, not answered {not_answered}, rows missing {missing})")
    for g in slopes:
        say(growth_line(g))
    say(f"after the load (idle): controller {samples[-1].controller_kb / 1024:.1f} MB, "
        f"Asterisk {samples[-1].asterisk_kb / 1024:.1f} MB")
    say(f"descriptors: controller {samples[0].controller_fds} -> {samples[-1].controller_fds}, "
        f"Asterisk {samples[0].asterisk_fds} -> {samples[-1].asterisk_fds}")
    if len(counts) == 2:
        say("Asterisk's objects, warm-up (under load) -> end (idle): " + ", ".join(
            f"{name} {counts[0].get(name, '?')} -> {counts[1].get(name, '?')}" for name in ASTERISK_COUNTS))
    settled = max(1, samples[-1].settled)
    say(f"database: {samples[0].database_bytes / 1e6:.1f} -> {samples[-1].database_bytes / 1e6:.1f} MB "
        f"({(samples[-1].database_bytes - samples[0].database_bytes) / settled / 1024:.2f} KB a call)")
    if heap:
        say("controller's Python heap, warm-up -> end (tracemalloc, largest growth first):")
        for line in heap:
            say(line)
    if args.json:
        slopes_json = [asdict(g) | {"flat": g.flat, "levelled_off": g.levelled_off} for g in slopes]
        args.json.write_text(json.dumps({"samples": [asdict(s) for s in samples], "slopes": slopes_json,
                                         "failed": failed, "outcomes": outcomes, "asterisk_counts": counts}, indent=2))
    return 0 if failed == 0 and all(g.flat or g.levelled_off for g in slopes) else 1


if __name__ == "__main__":
    sys.exit(main())
