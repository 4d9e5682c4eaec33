"""Concurrency benchmark: how many simultaneous recorded calls, with G.711 both ways, this
machine holds with zero failed calls and no gap over 100 ms in any recording; through the
controller and through the dialplan-only twin, on the same Asterisk, alternating.

    .venv/bin/python bench/concurrency.py                      # 100, 200, 300... until a level fails
    .venv/bin/python bench/concurrency.py --levels 150 250     # these levels only

A level of N: N SIPp citizens arrive at --ramp calls/s, each sending a 3 kHz tone from
the answer on and hanging up by itself --dwell seconds after the last of them arrived,
so all N are up together for that long. 60 SIPp seats answer and talk with a 1 kHz tone;
callers beyond the seats wait in line hearing music. Every call is recorded by
MixMonitor in both flows. A level passes with no failed call (SIPp, and for the hotline
every row answered or abandoned in line, none failed or refused) and no recording in
which the caller's tone stops for more than 100 ms (ffmpeg: a 3 kHz band-pass and
silencedetect at -35 dB, from 1 s after the start to 0.5 s before the end).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent
if str(HOME) not in sys.path:
    sys.path.insert(0, str(HOME))

from bench.callflow import (  # noqa: E402
    BENCH_SIPP,
    HOTLINE,
    TWIN,
    TWIN_NUMBER,
    Bench,
    Options,
    cpu_seconds,
    missing_prerequisite,
    say,
    sigterm_as_interrupt,
    sipp_stats,
    stat_int,
    stop_process,
    tone_pcap,
    wait_with_rusage,
)
from bench.repository import BenchStore  # noqa: E402
from tests.harness import LOOPBACK, free_media_port, free_port  # noqa: E402

DTMF_0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
GAP_MS = 100
# The callers' tone: high in the telephone band, where the music on hold has little energy
# (at 500 Hz the music filled a 150 ms gap so that no filter found it; at 3 kHz a 150 ms
# gap under the same music is found and a 60 ms one is not).
CALLER_TONE_HZ = 3000.0
SILENCE = re.compile(r"silence_start: (-?[\d.]+)|silence_end: ([\d.]+) \| silence_duration: ([\d.]+)")


@dataclass
class Level:
    flow: str
    calls: int
    failed: int = 0
    recordings: int = 0
    with_gap: int = 0  # recordings where the caller's tone stopped for more than GAP_MS
    longest_gap_ms: float = 0.0
    peak_channels: int = 0
    controller_cpu: float = 0.0  # seconds of processor per call
    asterisk_cpu: float = 0.0
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.calls > 0 and self.failed == 0 and self.with_gap == 0 and self.recordings >= self.calls


def gaps(path: Path, tone: float = CALLER_TONE_HZ) -> list[float]:
    """Stretches (seconds) longer than GAP_MS in which `tone` is absent from the recording,
    between 1 s after its start and 0.5 s before its end."""
    try:
        seconds = os.path.getsize(path) / 16000  # 8 kHz 16-bit mono, after the 44-byte header
    except OSError:
        return [float("inf")]
    if seconds < 2:
        return []
    band = f"bandpass=f={tone:g}:width_type=h:w=200,silencedetect=n=-35dB:d={GAP_MS / 1000:g}"
    run = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-ss", "1", "-t", f"{seconds - 1.5:.2f}",
                          "-i", str(path), "-af", band, "-f", "null", "-"], capture_output=True, text=True,
                         timeout=120)
    found: list[float] = []
    start: float | None = None
    for match in SILENCE.finditer(run.stderr):
        if match.group(1) is not None:
            start = float(match.group(1))
        elif match.group(3) is not None:
            found.append(float(match.group(3)))
            start = None
    if start is not None:  # silent until the end of the window
        found.append(seconds - 1.5 - start)
    return found


class ConcurrencyBench(Bench):
    def run_level(self, flow: str, calls: int, ramp: float, dwell: float) -> Level:
        level = Level(flow, calls)
        self.steps_run += 1
        folder = self.work / f"level-{flow}-{calls}-{int(time.time())}"
        folder.mkdir()
        recordings = self.settings.paths.recordings_dir
        before = set(recordings.glob("*.wav"))
        first_rowid = BenchStore(self.settings.paths.database).last_call_rowid()
        hold_ms = int((calls / ramp + dwell) * 1000)
        number = TWIN_NUMBER if flow == TWIN else self.settings.hotline.number
        per, period = (int(ramp), 1000) if float(ramp).is_integer() else (round(ramp * 10), 10000)
        argv = [
            *self.outside_world(), "sipp", f"{LOOPBACK}:{self.settings.asterisk.sip_port}", "-sf",
            str(BENCH_SIPP / "caller_hold_rtp.xml"),
            "-key", "audio_pcap", str(tone_pcap(CALLER_TONE_HZ, "PCMA")), "-key", "dtmf_pcap", str(DTMF_0),
            "-s", number, "-r", str(per), "-rp", str(period), "-m", str(calls), "-l", str(calls),
            "-i", LOOPBACK, "-p", str(free_port()), "-mp", str(free_media_port()),
            "-set", "prefix", f"138{self.steps_run:03d}", "-set", "hold", str(hold_ms),
            "-recv_timeout", str(hold_ms + 30_000), "-timeout", f"{int(hold_ms / 1000 + calls / ramp + 60)}s",
            "-timeout_error", "-nostdin", "-aa", "-trace_stat", "-stf", str(folder / "stat.csv"), "-fd", "1",
            "-trace_err", "-error_file", str(folder / "errors.log"),
        ]
        controller_before = cpu_seconds(self.controller.pid if self.controller else None)
        asterisk_before = cpu_seconds(self.asterisk_pid)
        with open(folder / "sipp.out", "wb") as log:
            self.caller = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + calls / ramp + dwell / 2
        while time.monotonic() < deadline and self.caller.poll() is None:
            level.peak_channels = max(level.peak_channels, self._channels())
            time.sleep(1.0)
        code, _ = wait_with_rusage(self.caller, hold_ms / 1000 + calls / ramp + 90)
        self.caller = None
        stats = sipp_stats(folder / "stat.csv")
        level.failed = stat_int(stats, "FailedCall(C)") or (0 if code == 0 else calls)
        self._no_channels_left()
        if flow == HOTLINE:
            rows, _ = self.settled_rows(first_rowid, calls)
            bad = [r for r in rows if r[1] not in ("answered", "abandoned_queue")]
            level.failed = max(level.failed, len(bad) + max(0, calls - len(rows)))
            if bad:
                level.note = "outcomes: " + ", ".join(sorted({str(r[1]) for r in bad}))
        else:
            time.sleep(1.0)  # MixMonitor closes its files just after the hang-up
        level.controller_cpu = (cpu_seconds(self.controller.pid if self.controller else None)
                                - controller_before) / calls
        level.asterisk_cpu = (cpu_seconds(self.asterisk_pid) - asterisk_before) / calls
        new = sorted(set(recordings.glob("*.wav")) - before)
        level.recordings = len(new)
        for path in new:
            found = gaps(path)
            if found:
                level.with_gap += 1
                level.longest_gap_ms = max(level.longest_gap_ms, max(found) * 1000)
            shutil.move(str(path), folder / path.name)  # the next level looks at its own files only
        return level


def line(level: Level) -> str:
    verdict = "ok" if level.passed else "FAIL"
    text = (f"{verdict:4} {level.flow:7} {level.calls:>5} calls up together (peak {level.peak_channels} channels)  "
            f"failed {level.failed}  recordings {level.recordings}  with a gap over {GAP_MS} ms "
            f"{level.with_gap} (longest {level.longest_gap_ms:.0f} ms)  CPU per call: controller "
            f"{level.controller_cpu * 1000:.1f} ms, Asterisk {level.asterisk_cpu * 1000:.1f} ms")
    return text + (f"\n     {level.note}" if level.note else "")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--levels", type=int, nargs="+", help="the numbers of simultaneous calls to try "
                        "(default 100, 200, 300... until a level fails in both flows)")
    parser.add_argument("--nice", type=int, help="Asterisk's (and SIPp's) priority for the run, instead of "
                        "asterisk.nice (-5): compare with 0 to see what the priority does")
    parser.add_argument("--ramp", type=float, default=25.0, help="calls per second while a level builds up (25)")
    parser.add_argument("--dwell", type=float, default=10.0,
                        help="seconds all the calls of a level stay up together (10)")
    parser.add_argument("--seats", type=int, default=60, help="seat phones (60)")
    parser.add_argument("--no-twin", action="store_true", help="the hotline only")
    parser.add_argument("--keep", action="store_true", help="keep the state folder (recordings of each level)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_prerequisite()
    if missing is None and shutil.which("ffmpeg") is None:
        missing = "ffmpeg is missing: apt-get install ffmpeg"
    if missing:
        say(missing)
        return 2
    flows = (HOTLINE,) if args.no_twin else (HOTLINE, TWIN)
    levels = args.levels or [100 * n for n in range(1, 11)]
    # Seats talk longer than any caller stays: the caller always ends the call.
    options = Options(args.seats, hold=0, talk_ms=3_600_000, answer_ms=100, max_wait=3600, max_calls=10_000,
                      ring_timeout=5.0, keep=args.keep, twin=not args.no_twin, rtp=True, menu=True,
                      env=(("HOTLINE_CALLFLOW_MENU", "true"), ("HOTLINE_CALLFLOW_MAX_WAITING", "100000"),
                           ("HOTLINE_ASTERISK_MAX_CALLS", "20000"),
                           *((("HOTLINE_ASTERISK_NICE", str(args.nice)),) if args.nice is not None else ())))
    say(f"concurrency bench: levels {', '.join(map(str, levels))}; {args.seats} seats; ramp {args.ramp:g}/s, "
        f"{args.dwell:g} s all up; flows {', '.join(flows)}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    results: list[Level] = []
    bench = ConcurrencyBench(options)
    out: set[str] = set()
    with sigterm_as_interrupt():
        try:
            bench.start()
            for index, calls in enumerate(levels):
                order = [f for f in (flows if index % 2 == 0 else tuple(reversed(flows))) if f not in out]
                if not order:
                    break
                for flow in order:
                    if results and not results[-1].passed:
                        say("starting a fresh instance: the failed level may have left this one degraded")
                        bench.stop()
                        time.sleep(15)  # what the overload left running (SIPp's retransmissions) dies down
                        bench = ConcurrencyBench(options)
                        bench.start()
                    time.sleep(3)
                    level = bench.run_level(flow, calls, args.ramp, args.dwell)
                    results.append(level)
                    say(line(level))
                    if not level.passed:
                        out.add(flow)
        except KeyboardInterrupt:
            say("interrupted: stopping everything")
        except RuntimeError as exc:  # an instance that would not start: what was measured stands
            say(f"stopped: {exc}")
        finally:
            stop_process(bench.caller)
            bench.stop()
    say("")
    for flow in flows:
        passed = [r.calls for r in results if r.flow == flow and r.passed]
        say(f"{flow}: the most simultaneous recorded calls with no failure and no gap over {GAP_MS} ms: "
            f"{max(passed) if passed else 'none'}")
    return 0 if any(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
