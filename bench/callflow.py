"""Call-flow benchmark: SIPp citizens at a set rate against N SIPp seats, through the real
controller and a real Asterisk 22 on loopback.

    .venv/bin/python bench/callflow.py --seats 6            # step the rate up until a failure
    .venv/bin/python bench/callflow.py --seats 60 --rate 20 # one rate only

Each step offers `rate` calls/s for `--hold` seconds. A caller presses 0 at once (skips
the IVR), waits in line, is bridged to a seat that talks `--talk-ms` and hangs up. The
step passes when SIPp saw no failed call, every call row of the step is 'answered', and
calls completed as fast as they were offered (no backlog building up).
Per step: calls/s sustained, INVITE->200 p50/p99 (SIPp), StasisStart->answer p50/p99
(the store's ARRIVED/ANSWERED events, Asterisk's timestamps; 0 since the dialplan
answers), StasisStart->greeting p50/p99 (ARRIVED to the first PLAYBACK), CPU seconds per call of
the controller, Asterisk and SIPp. See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HOME = Path(__file__).resolve().parent.parent
if str(HOME) not in sys.path:  # run as a script: make `callcenter` and `tests` importable
    sys.path.insert(0, str(HOME))

from bench.repository import BenchStore  # noqa: E402
from callcenter import pbx  # noqa: E402
from callcenter.settings import Settings, load_settings  # noqa: E402
from tests.harness import LOOPBACK, free_media_port, free_port, instance_env  # noqa: E402

BENCH_SIPP = Path(__file__).resolve().parent / "sipp"
DTMF_0 = Path("/usr/share/sip-tester/dtmf_2833_0.pcap")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Seconds the idle instance is watched after start-up.
IDLE_SECONDS = 5.0
# A step keeps up when calls complete at no less than this share of the offered rate.
KEEP_UP = 0.98
# TTS output is keyed by text, voice and rate: a cache kept here spares later runs the TTS.
PROMPT_CACHE = Path.home() / ".cache" / "callcenter" / "bench-prompts"
# The two flows a step can run: through the controller, or Asterisk's own dialplan twin.
HOTLINE, TWIN = "hotline", "twin"
# The twin's number, in the citizens' context beside the hotline's (bench instances only).
TWIN_NUMBER = "99345"
TWIN_QUEUE = "hotline-twin"
# The realistic scenario's voices: a caller's 500 Hz and a seat's 1 kHz G.711 tones.
CALLER_HZ, SEAT_HZ = 500.0, 1000.0


def say(line: str) -> None:
    print(line, flush=True)


# ----------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a live process (all its threads), from /proc; 0 when gone."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_count(pid: int | None) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return int(next(line.split()[1] for line in handle if line.startswith("Threads:")))
    except (OSError, StopIteration, ValueError):
        return 0


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def sipp_stats(path: Path) -> dict[str, str]:
    """The last line of a SIPp -trace_stat file, by column name (cumulative columns end in (C))."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    header = lines[0].rstrip(";").split(";")
    values = lines[-1].rstrip(";").split(";")
    return dict(zip(header, values, strict=False))


def stat_int(stats: dict[str, str], name: str) -> int:
    try:
        return int(stats.get(name, "0") or 0)
    except ValueError:
        return 0


def sipp_events(path: Path, offset: int) -> tuple[list[str], int]:
    """The events SIPp logged (-trace_err) after byte `offset`, without the notices every
    seat call and qualify brings ("out-of-call INVITE", "OPTIONS"); and the new end offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    text = data.decode(errors="replace")
    # Entries start with a tab-separated date; they are not always newline-terminated.
    entries = re.split(r"(?=\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d)", text)
    # Asterisk's qualify OPTIONS every 30 s are answered automatically (-aa): no event either.
    events = [e.strip() for e in entries if e.strip() and "out-of-call INVITE" not in e
              and "out-of-call OPTIONS" not in e and "unexpected INFO, NOTIFY, OPTIONS or UPDATE" not in e
              and not e.startswith("The following events occurred")]
    return events, offset + len(data)


def asterisk_warnings(path: Path, offset: int) -> tuple[int, int, int]:
    """(calls refused for load, taskprocessor overload warnings, new offset) in Asterisk's
    messages.log after byte `offset`."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return 0, 0, offset
    text = data.decode(errors="replace")
    # taskprocessor.c: "The 'x' task processor queue reached 500 scheduled tasks".
    return text.count("Maximum loadavg limit"), text.count("task processor queue reached"), offset + len(data)


def profile_summary(path: Path, top: int = 6) -> str:
    """Where the controller's Python CPU went, from py-spy's collapsed stacks (sampled
    with --gil: only the thread holding the GIL counts): the top leaf frames, and each
    sample charged to the innermost project frame (callcenter/...) that led to it."""
    leaves: dict[str, int] = {}
    ours: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"py-spy wrote no profile ({path.parent / 'py-spy.out'})"
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        # "function (file.py:line)": keep the function and the file, not the line.
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        n = int(count)
        total += n
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + n
        project = next((f for f in reversed(frames) if "callcenter/" in f), "(outside callcenter: asyncio, aiohttp)")
        ours[project] = ours.get(project, 0) + n
    if not total:
        return "py-spy: no samples"

    def ranked(counts: dict[str, int]) -> str:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return "; ".join(f"{100 * n / total:.0f}% {name}" for name, n in best)

    return (f"py-spy, {total} samples. Leaf frames: {ranked(leaves)}"
            f"\n     By project function: {ranked(ours)}")


def rtt_lines(folder: Path, timer: str) -> list[tuple[float, float]]:
    """(when it stopped, epoch ms; how long it ran, ms) for each stop of the named
    response-time timer in SIPp's -trace_rtt file(s) in `folder`."""
    found: list[tuple[float, float]] = []
    for path in folder.glob("*_rtt.csv"):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.strip().rstrip(";").split(";")
            if len(parts) >= 3 and parts[2] == timer:
                try:
                    found.append((float(parts[0]), float(parts[1])))
                except ValueError:
                    continue
    return found


def rtt_values(folder: Path) -> list[float]:
    """INVITE->200 times (ms) of every call."""
    return [took for _, took in rtt_lines(folder, "invite")]


def call_ends(folder: Path) -> list[float]:
    """When each connected call ended (epoch seconds), from the "call" timer (started at
    the 200, stopped by the hotline's BYE): the same clock for both flows."""
    return [stopped / 1000 for stopped, _ in rtt_lines(folder, "call")]


def completion_rate(ends: Sequence[float], successful: int, duration: float) -> float:
    """Calls completed per second, from the spacing of their ends between the 5th and the
    95th percentile end: unlike calls / wall time this leaves out the ramp (the first
    call's length) and a late stall of the last few calls, so a step that keeps up reads
    as its offered rate and one whose line keeps growing as what was really served."""
    ordered = sorted(ends)
    cut = len(ordered) // 20
    first, last = cut, len(ordered) - 1 - cut
    if last > first and ordered[last] > ordered[first]:
        return (last - first) / (ordered[last] - ordered[first])
    return successful / duration if duration else 0.0


def tone_pcap(frequency: float, codec: str, seconds: int = 120) -> Path:
    """A steady G.711 tone as RTP for SIPp's play_pcap_audio, built once per machine."""
    from tests.rtp_pcap import write_tone_pcap

    path = Path(tempfile.gettempdir()) / f"hotline-bench-tone-{int(frequency)}-{codec}-{seconds}s.pcap"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_tone_pcap(partial, seconds, frequency, codec)
        partial.replace(path)
    return path


# ----------------------------------------------------------------------------- results


@dataclass
class Step:
    seats: int
    rate: float
    flow: str = HOTLINE  # HOTLINE (through the controller) or TWIN (Asterisk's own dialplan and Queue())
    max_invite_p99: float | None = None  # the rule under the twin comparison: INVITE->200 p99 at most this
    calls: int = 0  # calls SIPp placed
    failed: int = 0
    sipp_failed: int = 0
    not_answered: int = 0
    missing_rows: int = 0
    retransmissions: int = 0
    seat_errors: int = 0  # unexpected messages or aborted calls at the seat phones
    refused_load: int = 0  # calls Asterisk refused because the load average passed its maxload
    overload: int = 0  # Asterisk's taskprocessor overload warnings
    drain: float = 0.0  # seconds after the last caller until the controller had finished every call
    drained: bool = True  # False: it had not within the time allowed (CPU per call then misses some work)
    asterisk_threads: int = 0  # after the drain: a count that grew shows stuck channels or tasks
    channels_left: int = 0  # channels still up after the drain
    no_key_path: int = 0  # calls that did not go to the queue on key 0 (the IVR was not skipped)
    duration: float = 0.0
    sustained: float = 0.0  # completed calls per second (the spacing of the call ends)
    kept_up: bool = True  # completions kept pace with the offered rate (no growing backlog)
    invite_p50: float | None = None
    invite_p99: float | None = None
    answer_p50: float | None = None
    answer_p99: float | None = None
    greet_p50: float | None = None
    greet_p99: float | None = None
    to_line_p50: float | None = None  # answer -> the caller joins the line, ms (greeting, menu)
    to_line_p99: float | None = None
    controller_cpu: float = 0.0  # seconds per call
    asterisk_cpu: float = 0.0
    sipp_cpu: float = 0.0
    load: float = 0.0  # 1-minute load average when the step's last caller has hung up
    outcomes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def fast_enough(self) -> bool:
        return self.max_invite_p99 is None or (self.invite_p99 is not None and self.invite_p99 <= self.max_invite_p99)

    @property
    def passed(self) -> bool:
        return self.calls > 0 and self.failed == 0 and self.kept_up and self.fast_enough


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def verdict(step: Step) -> str:
    if step.passed:
        return "ok"
    if step.failed or not step.calls:
        return "FAIL"
    return "SLOW" if not step.kept_up else "LATE"  # LATE: no failure, but INVITE->200 p99 over the rule


def step_line(step: Step) -> str:
    text = (
        f"{verdict(step):4} {step.flow:7} seats {step.seats:>2}  rate {step.rate:>5g}/s  calls {step.calls:>5}  "
        f"failed {step.failed:>4}  "
        f"{step.duration:5.1f} s  sustained {step.sustained:5.2f}/s  "
        f"INVITE->200 p50 {ms(step.invite_p50)} p99 {ms(step.invite_p99)} ms  "
        f"StasisStart->answer p50 {ms(step.answer_p50)} p99 {ms(step.answer_p99)} ms  "
        f"StasisStart->greeting p50 {ms(step.greet_p50)} p99 {ms(step.greet_p99)} ms  "
        f"answer->line p50 {ms(step.to_line_p50)} p99 {ms(step.to_line_p99)} ms  "
        f"CPU s/call: controller {step.controller_cpu:.4f} asterisk {step.asterisk_cpu:.4f} "
        f"sipp {step.sipp_cpu:.4f}  retrans {step.retransmissions}  drain {step.drain:.1f} s  load {step.load:.1f}"
    )
    if step.failed:
        details = [f"SIPp failed {step.sipp_failed}", f"not answered {step.not_answered}"]
        if step.missing_rows:
            details.append(f"no call row {step.missing_rows}")
        if step.outcomes:
            details.append("outcomes " + ", ".join(f"{k}={v}" for k, v in sorted(step.outcomes.items())))
        text += "\n     " + "; ".join(details)
    if not step.fast_enough:
        text += f"\n     INVITE->200 p99 {ms(step.invite_p99)} ms is over the rule's {step.max_invite_p99:g} ms"
    if not step.kept_up:
        text += (f"\n     fell behind: calls completed at {step.sustained:.2f}/s, under {KEEP_UP:.0%} of the "
                 f"offered {step.rate:g}/s (callers queued longer and longer)")
    if not step.drained:
        text += (f"\n     the controller had not finished the step's calls {step.drain:.0f} s after the last "
                 "caller (recordings not yet measured?): its CPU per call is short of the truth")
    if not step.passed:
        text += (f"\n     after the step: Asterisk has {step.asterisk_threads} threads and "
                 f"{step.channels_left} channels up")
    if step.refused_load:
        text += (f"\n     Asterisk refused {step.refused_load} call(s) (503, cause 42): the load average passed "
                 "its maxload (asterisk.conf), whoever caused it")
    if step.overload:
        text += f"\n     Asterisk logged {step.overload} taskprocessor overload warning(s)"
    if step.no_key_path:
        text += (f"\n     {step.no_key_path} call(s) did not go straight to the queue on key 0 (no OPERATOR "
                 "event): their times include the IVR")
    if step.seat_errors:
        text += f"\n     seat phones logged {step.seat_errors} unexpected message(s) or aborted call(s)"
    if step.note:
        text += "\n     " + step.note
    return text


def table(steps: Sequence[Step]) -> str:
    head = (f"{'':4} {'flow':7} {'seats':>5} {'rate':>6} {'calls':>6} {'failed':>6} {'dur s':>6} {'calls/s':>7} "
            f"{'inv p50':>7} {'inv p99':>7} {'ans p50':>7} {'ans p99':>7} {'grt p50':>7} {'grt p99':>7} "
            f"{'ctl cpu/call':>12} {'ast cpu/call':>12} {'sipp cpu/call':>13} {'load':>5}")
    rows = [head, "-" * len(head)]
    for s in steps:
        rows.append(
            f"{verdict(s):4} {s.flow:7} {s.seats:>5} {s.rate:>6g} {s.calls:>6} {s.failed:>6} {s.duration:>6.1f} "
            f"{s.sustained:>7.2f} "
            f"{ms(s.invite_p50):>7} {ms(s.invite_p99):>7} {ms(s.answer_p50):>7} {ms(s.answer_p99):>7} "
            f"{ms(s.greet_p50):>7} {ms(s.greet_p99):>7} "
            f"{s.controller_cpu:>12.4f} {s.asterisk_cpu:>12.4f} {s.sipp_cpu:>13.4f} {s.load:>5.1f}"
        )
    return "\n".join(rows)


# ----------------------------------------------------------------------------- processes


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this pid."""
    if proc is None or proc.returncode is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


def wait_with_rusage(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """Reap the child ourselves to get its CPU time (its /proc entry goes with it); kill it
    at the deadline. Returns (exit code, CPU seconds)."""
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline and not killed:
            proc.kill()
            killed = True
        time.sleep(0.05)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    # A SIGTERM must run the clean-up (finally) like Ctrl-C does.
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ----------------------------------------------------------------------------- the bench


@dataclass
class Options:
    seats: int
    hold: float
    talk_ms: int
    answer_ms: int
    max_wait: float
    max_calls: int
    ring_timeout: float
    keep: bool
    py_spy: str | None = None  # py-spy binary: sample the controller during each step
    controller_cmd: tuple[str, ...] = ()  # another controller command line (A/B experiments)
    env: tuple[tuple[str, str], ...] = ()  # more HOTLINE_* settings for the instance
    py_spy_native: bool = False  # sample every thread with its C frames (where the CPU goes), not the GIL
    twin: bool = False  # also install the dialplan-only twin of the flow (see install_twin)
    rtp: bool = False  # callers and seats send G.711 tones both ways (the realistic scenario)
    menu: bool = True  # the DTMF menu (callers press 0 at once); False: GB/T 33358's default flow


class Bench:
    """One throw-away hotline (Asterisk, controller, seat phones) on loopback."""

    def __init__(self, options: Options) -> None:
        self.o = options
        self.state = Path(tempfile.mkdtemp(prefix=f"hotline-bench-{options.seats}-"))
        self.work = self.state / "bench"
        self.work.mkdir()
        roster = self.state / "roster.toml"
        seats = ", ".join(f'"seat{n}"' for n in range(1, options.seats + 1))
        # One shift all day with every seat, so the wall clock never takes a seat off duty.
        roster.write_text(f'[[shift]]\nname = "bench"\nstart = "00:00"\nend = "24:00"\nseats = [{seats}]\n')
        rtp_start = 20000 + 2 * (os.getpid() % 5000)
        self.env = instance_env(
            self.state,
            HOTLINE_HOTLINE_SEATS=str(options.seats),
            HOTLINE_PATHS_ROSTER=str(roster),
            HOTLINE_CALLFLOW_WRAPUP_SECONDS="0",
            HOTLINE_CALLFLOW_RING_TIMEOUT=str(options.ring_timeout),
            # Every caller and seat channel takes an RTP port pair: 400 ports are too few here.
            HOTLINE_ASTERISK_RTP_START=str(rtp_start),
            HOTLINE_ASTERISK_RTP_END=str(rtp_start + 10000),
        ) | dict(options.env)
        self.settings: Settings = load_settings(env=self.env)
        self.asterisk_pid: int | None = None
        self.controller: subprocess.Popen[bytes] | None = None
        self.seat_phones: subprocess.Popen[bytes] | None = None
        self.caller: subprocess.Popen[bytes] | None = None
        self.asterisk_started = False
        self.stopped = False
        self.seat_log_offset = 0
        self.steps_run = 0
        self.asterisk_log = self.settings.paths.state_dir / "asterisk" / "log" / "messages.log"
        self.asterisk_log_offset = 0

    # --- start and stop ----------------------------------------------------------------

    def start(self) -> None:
        from callcenter.prompts import build_prompts

        started = time.monotonic()
        pbx.provision(self.settings, progress=lambda line: None)
        prompts = self._prompts(build_prompts)
        self.asterisk_started = True  # from here on, stop it whatever happens
        self.asterisk_pid = pbx.start(self.settings, prompts_dir=prompts, progress=lambda line: None)
        self._start_controller()
        self._start_seats()
        if self.o.twin:
            self.install_twin()
        ready = time.monotonic() - started
        # What they cost with no call at all (the controller polls the seats every second):
        # at low rates this share of "CPU per call" is not per call.
        pids = (self.controller.pid if self.controller else None, self.asterisk_pid)
        before = [cpu_seconds(pid) for pid in pids]
        time.sleep(IDLE_SECONDS)
        idle = [(cpu_seconds(pid) - b) / IDLE_SECONDS * 1000 for pid, b in zip(pids, before, strict=True)]
        say(f"ready in {ready:.0f} s: Asterisk pid {self.asterisk_pid}, controller pid "
            f"{self.controller.pid if self.controller else '-'}, {self.o.seats} seats registered "
            f"(SIPp pid {self.seat_phones.pid if self.seat_phones else '-'}); idle CPU: controller "
            f"{idle[0]:.0f} ms/s, Asterisk {idle[1]:.0f} ms/s; state in {self.state}")

    def install_twin(self) -> None:
        """The same flow in Asterisk's own dialplan, on TWIN_NUMBER of the same instance:
        Answer (at once, as the hotline's extension: without the i option Answer() waits
        up to 500 ms for the caller's media, reading frames, 18 ms of processor a call
        when there is none), MixMonitor (as the hotline's extension does before Stasis), the greeting
        (with the menu, stopped by the caller's key, as `Read`), then app_queue's Queue()
        over the same seats: longest idle (leastrecent), ringinuse=no, the controller's
        ring time-out and wrap-up, and autofill (without it app_queue rings for one caller
        at a time and the twin collapses to about 1 call/s). It does not announce the
        caller's place in line, which the hotline does: a small advantage to the twin."""
        etc = pbx.Instance.of(self.settings).etc
        mount = pbx.INSTANCE_MOUNT
        prompts = f"{mount}/sounds/greeting" + (f"&{mount}/sounds/menu" if self.o.menu else "")
        greeting = (f"Read(KEY,{prompts},1,,1,{int(self.settings.callflow.menu_timeout)})" if self.o.menu
                    else f"Playback({prompts})")
        stamp = "${STRFTIME(${EPOCH},,%Y%m%d-%H%M%S)}_${UNIQUEID}"
        with open(etc / "extensions.conf", "a") as dialplan:
            dialplan.write(
                "\n; The benchmark's dialplan-only twin of the call flow (bench/callflow.py --twin).\n"
                "[from-citizens](+)\n"
                f"exten => {TWIN_NUMBER},1,Answer(,i)\n"
                f" same => n,MixMonitor({mount}/recordings/twin-{stamp}.wav)\n"
                f" same => n,{greeting}\n"
                f" same => n,Queue({TWIN_QUEUE},,,,{int(self.o.max_wait + 60)})\n"
                " same => n,Hangup()\n")
        members = "".join(f"member => PJSIP/seat{n}\n" for n in range(1, self.o.seats + 1))
        with open(etc / "queues.conf", "a") as queues:
            queues.write(
                f"\n[{TWIN_QUEUE}]\nstrategy = leastrecent\nringinuse = no\nautofill = yes\n"
                f"timeout = {int(self.o.ring_timeout)}\nretry = 1\nwrapuptime = 0\njoinempty = yes\n"
                "leavewhenempty = no\nannounce-frequency = 0\nannounce-holdtime = no\n"
                f"announce-position = no\nmusicclass = default\n{members}")
        for command in ("dialplan reload", "module reload app_queue.so"):
            pbx.cli_command(self.settings, command)
        shown = pbx.cli_command(self.settings, f"queue show {TWIN_QUEUE}")
        if shown.count("PJSIP/seat") != self.o.seats:
            raise RuntimeError(f"the twin's queue did not load with {self.o.seats} members: {shown[:300]}")
        say(f"twin installed: {TWIN_NUMBER} -> Answer, MixMonitor, {greeting.split('(')[0]}, Queue({TWIN_QUEUE}) "
            f"of {self.o.seats} seats")

    def _prompts(self, build: Any) -> Path:
        cache = self.settings.paths.state_dir / "prompts" / ".cache"
        cache.mkdir(parents=True, exist_ok=True)
        for source in (PROMPT_CACHE, HOME / "var" / "prompts" / ".cache"):
            if source.is_dir():
                for wav in source.glob("*.wav"):
                    if not wav.name.startswith(".") and not (cache / wav.name).exists():
                        shutil.copyfile(wav, cache / wav.name)
        folder: Path = build(self.settings, progress=lambda line: None)
        PROMPT_CACHE.mkdir(parents=True, exist_ok=True)
        for wav in cache.glob("*.wav"):
            if not wav.name.startswith(".") and not (PROMPT_CACHE / wav.name).exists():
                shutil.copyfile(wav, PROMPT_CACHE / wav.name)
        return folder

    def outside_world(self) -> list[str]:
        """The prefix of a SIPp command line: SIPp stands for phones on other machines, so it
        runs at Asterisk's priority (`asterisk.nice`), and the hotline under test cannot
        starve the load it is measured with. (`nice` execs: the pid is SIPp's.)"""
        return ["nice", "-n", str(self.settings.asterisk.nice)]

    def _start_controller(self) -> None:
        out = self.work / "controller.out"
        err = self.work / "controller.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.controller = subprocess.Popen(
                # This checkout's code: `python -m` from HOME, whatever the venv has installed.
                list(self.o.controller_cmd) or [sys.executable, "-m", "callcenter.cli", "controller"],
                env=os.environ | self.env, cwd=HOME, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                start_new_session=True,  # Ctrl-C reaches only the bench, which stops it in order
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "controller connected" in out.read_text(errors="replace"):
                return
            if self.controller.poll() is not None:
                break
            time.sleep(0.1)
        tail = err.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"the controller did not connect: {' | '.join(tail) or 'no output'}")

    def _start_seats(self) -> None:
        n = self.o.seats
        passwords = self.settings.credentials().seat_passwords
        users = self.work / "seats.csv"
        lines = ["SEQUENTIAL"] + [
            f"seat{i};[authentication username=seat{i} password={passwords[f'seat{i}']}]" for i in range(1, n + 1)
        ]
        users.write_text("\n".join(lines) + "\n")
        users.chmod(0o600)
        answer = "seat_answer_rtp.xml" if self.o.rtp else "seat_answer.xml"
        voice = ["-key", "audio_pcap", str(tone_pcap(SEAT_HZ, "PCMU"))] if self.o.rtp else []
        argv = [
            *self.outside_world(), "sipp", f"{LOOPBACK}:{self.settings.asterisk.sip_port}", *voice,
            "-sf", str(BENCH_SIPP / "seats_register.xml"), "-oocsf", str(BENCH_SIPP / answer),
            "-inf", str(users), "-m", str(n), "-l", str(n), "-r", str(min(n, 50)), "-rp", "1000",
            "-i", LOOPBACK, "-p", str(free_port((socket.SOCK_DGRAM,))), "-mp", str(free_media_port()),
            "-set", "answer_after", str(self.o.answer_ms), "-set", "talk", str(self.o.talk_ms),
            "-nostdin", "-aa", "-trace_err", "-error_file", str(self.work / "seats_errors.log"),
            "-trace_stat", "-stf", str(self.work / "seats_stat.csv"), "-fd", "1",
        ]
        with open(self.work / "seats.out", "wb") as log:
            self.seat_phones = subprocess.Popen(argv, cwd=self.work, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        # The controller must see every seat (it polls ARI's endpoints and writes the seats table).
        deadline = time.monotonic() + 30
        registered = 0
        while time.monotonic() < deadline:
            if self.seat_phones.poll() is not None:
                raise RuntimeError(f"the seats' SIPp exited (code {self.seat_phones.returncode}); "
                                   f"see {self.work / 'seats.out'}")
            registered = self._registered_in_store()
            if registered == n:
                online = self._online_endpoints()
                if online != n:
                    raise RuntimeError(f"the store says {n} seats are registered but ARI lists {online} online")
                return
            time.sleep(0.2)
        raise RuntimeError(f"only {registered} of {n} seats registered within 30 s")

    def _registered_in_store(self) -> int:
        return BenchStore(self.settings.paths.database).registered_seats()

    def _ari(self, path: str) -> Any:
        creds = self.settings.credentials()
        token = base64.b64encode(f"{creds.ari_user}:{creds.ari_password}".encode()).decode()
        request = urllib.request.Request(self.settings.ari_url + path, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def _online_endpoints(self) -> int:
        endpoints = self._ari("/endpoints/PJSIP")
        names = {f"seat{i}" for i in range(1, self.o.seats + 1)}
        return sum(1 for e in endpoints if e.get("resource") in names and e.get("state") == "online")

    def stop(self) -> None:
        """Stop everything this bench started, by pid, in reverse order (once)."""
        if self.stopped:
            return
        self.stopped = True
        for proc in (self.caller, self.seat_phones):
            stop_process(proc, grace=5.0)
        stop_process(self.controller, grace=15.0)
        if self.asterisk_started:
            try:
                pbx.stop(self.settings, progress=lambda line: None)
            except Exception as exc:  # report it and go on cleaning up
                say(f"stopping Asterisk: {exc}")
        if self.o.keep:
            say(f"kept {self.state}")
        else:
            shutil.rmtree(self.state, ignore_errors=True)

    # --- one rate step ------------------------------------------------------------------

    def run_step(self, rate: float, flow: str = HOTLINE, max_invite_p99: float | None = None) -> Step:
        step = Step(self.o.seats, rate, flow, max_invite_p99)
        twin = flow == TWIN
        self.steps_run += 1
        # A fixed-width prefix per step: every caller number of the run is distinct.
        prefix = f"139{self.steps_run:03d}"
        total = max(1, min(self.o.max_calls, round(rate * self.o.hold)))
        folder = self.work / f"step-{flow}-{rate:g}-{int(time.time())}"
        folder.mkdir()
        first_rowid = BenchStore(self.settings.paths.database).last_call_rowid()
        number = TWIN_NUMBER if twin else self.settings.hotline.number
        argv, budget = self.callers_command(rate, total, prefix, folder, number=number)
        _, _, self.asterisk_log_offset = asterisk_warnings(self.asterisk_log, self.asterisk_log_offset)
        controller_before = cpu_seconds(self.controller.pid if self.controller else None)
        asterisk_before = cpu_seconds(self.asterisk_pid)
        seats_before = cpu_seconds(self.seat_phones.pid if self.seat_phones else None)
        profiler = None if twin else self._start_profiler(folder, total / rate)
        began = time.monotonic()
        with open(folder / "sipp.out", "wb") as log:
            self.caller = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        code, caller_cpu = wait_with_rusage(self.caller, budget + 15)
        step.duration = time.monotonic() - began
        step.load = os.getloadavg()[0]  # now, not after the drain: the load of the step itself
        self.caller = None
        if profiler is not None:
            try:
                profiler.wait(15)  # it stops by itself after the offered period and writes its file
            except subprocess.TimeoutExpired:
                stop_process(profiler)
            step.note = (step.note + "\n     " if step.note else "") + profile_summary(folder / "profile.txt")
        stats = sipp_stats(folder / "stat.csv")
        step.calls = stat_int(stats, "TotalCallCreated") or total
        step.sipp_failed = stat_int(stats, "FailedCall(C)")
        successful = stat_int(stats, "SuccessfulCall(C)")
        if code != 0 and step.sipp_failed == 0:
            step.sipp_failed = max(1, step.calls - successful)
            step.note = f"SIPp exit code {code}: see {folder / 'sipp.out'}"
        step.retransmissions = stat_int(stats, "Retransmissions(C)")
        invite = rtt_values(folder)
        step.invite_p50, step.invite_p99 = percentile(invite, 50), percentile(invite, 99)

        drain_began = time.monotonic()
        if twin:
            # No controller, no rows: the twin's step is over when Asterisk has no channel left.
            step.drained = self._no_channels_left()
            step.failed = step.sipp_failed
        else:
            rows, step.drained = self.settled_rows(first_rowid, step.calls)
            outcomes: dict[str, int] = {}
            for _, outcome, _, _ in rows:
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
            step.outcomes = outcomes
            step.not_answered = sum(v for k, v in outcomes.items() if k != "answered")
            step.missing_rows = max(0, step.calls - len(rows))
            step.failed = max(step.sipp_failed, step.not_answered + step.missing_rows)
            step.answer_p50, step.answer_p99 = self._answer_latency(first_rowid)
            step.greet_p50, step.greet_p99 = self._greeting_latency(first_rowid)
            step.to_line_p50, step.to_line_p99 = self._line_latency(first_rowid)
            if self.o.menu:
                step.no_key_path = BenchStore(self.settings.paths.database).calls_without_the_operator_key(
                    first_rowid)
        step.drain = time.monotonic() - drain_began
        step.asterisk_threads = thread_count(self.asterisk_pid)
        step.channels_left = self._channels()
        step.sustained = completion_rate(call_ends(folder), successful, step.duration)
        step.kept_up = step.sustained >= KEEP_UP * rate

        calls = max(1, step.calls)
        step.controller_cpu = (cpu_seconds(self.controller.pid if self.controller else None)
                               - controller_before) / calls
        step.asterisk_cpu = (cpu_seconds(self.asterisk_pid) - asterisk_before) / calls
        seats_cpu = cpu_seconds(self.seat_phones.pid if self.seat_phones else None) - seats_before
        step.sipp_cpu = (caller_cpu + seats_cpu) / calls
        step.refused_load, step.overload, self.asterisk_log_offset = asterisk_warnings(
            self.asterisk_log, self.asterisk_log_offset)
        events, self.seat_log_offset = sipp_events(self.work / "seats_errors.log", self.seat_log_offset)
        step.seat_errors = len(events)
        if events:
            (folder / "seat_events.log").write_text("\n".join(events) + "\n")
        return step

    def _no_channels_left(self, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._channels():
                return True
            time.sleep(0.25)
        return False

    def callers_command(self, rate: float, total: int, prefix: str, folder: Path,
                        stats_every: int = 1, number: str | None = None) -> tuple[list[str], float]:
        """The SIPp command line offering `total` calls at `rate` calls/s (numbers
        `prefix` + call number) to `number` (the hotline's by default), its files in
        `folder`; and SIPp's own time bound."""
        # A caller not connected within max_wait (plus its ring and talk) gives up: a failure.
        give_up_ms = int(self.o.max_wait * 1000 + self.o.answer_ms + self.o.talk_ms + 2000)
        budget = total / rate + give_up_ms / 1000 + 30
        # -r/-rp: rate calls per period; a tenth-of-a-call resolution allows rates like 2.5.
        per, period = (int(rate), 1000) if float(rate).is_integer() else (round(rate * 10), 10000)
        scenario, voice = "caller.xml", []
        if self.o.rtp:
            scenario, voice = "caller_rtp.xml", ["-key", "audio_pcap", str(tone_pcap(CALLER_HZ, "PCMA"))]
        argv = [
            *self.outside_world(), "sipp", f"{LOOPBACK}:{self.settings.asterisk.sip_port}", "-sf",
            str(BENCH_SIPP / scenario), *voice,
            "-s", number or self.settings.hotline.number, "-r", str(per), "-rp", str(period), "-m", str(total),
            "-l", str(total), "-i", LOOPBACK, "-p", str(free_port((socket.SOCK_DGRAM,))),
            "-mp", str(free_media_port()), "-key", "dtmf_pcap", str(DTMF_0),
            "-set", "prefix", prefix,
            "-recv_timeout", str(give_up_ms), "-timeout", f"{int(budget)}s", "-timeout_error",
            "-nostdin", "-aa", "-trace_stat", "-stf", str(folder / "stat.csv"), "-fd", str(stats_every),
            "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", str(folder / "errors.log"),
        ]
        return argv, budget

    def _start_profiler(self, folder: Path, seconds: float) -> subprocess.Popen[bytes] | None:
        if not self.o.py_spy or self.controller is None:
            return None
        # Sampling (100 Hz, the default) costs the controller little; raw = collapsed stacks.
        argv = [self.o.py_spy, "record", "-p", str(self.controller.pid), "-d", str(max(1, int(seconds))),
                "-f", "raw", "-o", str(folder / "profile.txt"),
                # Native frames need the process paused at each sample (py-spy refuses them with
                # --nonblocking): that run's own numbers are a little slower.
                *(["--native"] if self.o.py_spy_native else ["--nonblocking", "--gil"])]
        with open(folder / "py-spy.out", "wb") as log:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def settled_rows(self, first_rowid: int, expected: int,
                      timeout: float = 90.0) -> tuple[list[tuple[Any, ...]], bool]:
        """The step's call rows once every one is done and its recording measured (the
        controller's last piece of work for a call), so the CPU read after covers it all."""
        deadline = time.monotonic() + timeout
        rows: list[tuple[str, str, str, bool]] = []
        settled = False
        while time.monotonic() < deadline:
            rows = BenchStore(self.settings.paths.database).step_calls(first_rowid)
            busy = [r for r in rows if r[2] != "done" or r[3]]
            settled = len(rows) >= expected and not busy and not self._channels()
            if settled:
                break
            time.sleep(0.25)
        return [(r[0], r[1] if r[2] == "done" else f"open:{r[2]}", r[2], r[3]) for r in rows], settled

    def _channels(self) -> int:
        try:
            return len(self._ari("/channels"))
        except (OSError, ValueError):
            return 0

    def _answer_latency(self, first_rowid: int) -> tuple[float | None, float | None]:
        pairs = BenchStore(self.settings.paths.database).arrived_and_answered(first_rowid)
        values = [(answered - arrived) * 1000 for arrived, answered in pairs]
        return percentile(values, 50), percentile(values, 99)

    def _greeting_latency(self, first_rowid: int) -> tuple[float | None, float | None]:
        pairs = BenchStore(self.settings.paths.database).arrived_and_greeted(first_rowid)
        values = [(greeted - arrived) * 1000 for arrived, greeted in pairs]
        return percentile(values, 50), percentile(values, 99)

    def _line_latency(self, first_rowid: int) -> tuple[float | None, float | None]:
        pairs = BenchStore(self.settings.paths.database).answered_and_in_line(first_rowid)
        values = [(in_line - answered) * 1000 for answered, in_line in pairs]
        return percentile(values, 50), percentile(values, 99)


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SIPp callers at a set rate against N SIPp seats through the hotline controller.")
    parser.add_argument("--seats", type=int, default=6, help="seat phones (default 6; the variant is 60)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--rate", type=float, help="test this one rate (calls/s)")
    mode.add_argument("--find", action="store_true",
                      help="step the rate up until a step fails; report the highest zero-failure rate (default)")
    parser.add_argument("--start", type=float, help="--find: first rate (default 3 for 6 seats, 20 for 60)")
    parser.add_argument("--step", type=float, help="--find: rate increment (default 1 for 6 seats, 10 for 60)")
    parser.add_argument("--max-steps", type=int, default=10,
                        help="--find: at most this many rising steps (default 10), then up to 4 to bisect")
    parser.add_argument("--resolution", type=float,
                        help="--find: bisect between the last pass and the first failure down to this many "
                             "calls/s (default 0.5 for 6 seats, 2 for 60; 0: no bisection)")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each rate is offered (default 20)")
    parser.add_argument("--max-calls", type=int, default=2000, help="cap on calls per step (default 2000)")
    parser.add_argument("--talk-ms", type=int, default=1000, help="seat talk time before it hangs up (default 1000)")
    parser.add_argument("--answer-ms", type=int, default=100, help="seat ringing time before it answers (default 100)")
    parser.add_argument("--max-wait", type=float, default=10.0,
                        help="a caller not connected to a seat within this many seconds gives up: a failure "
                             "(default 10)")
    parser.add_argument("--ring-timeout", type=float, default=5.0, help="controller's seat ring timeout (default 5)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds of quiet between steps (default 2)")
    parser.add_argument("--max-load", type=float, default=3.0,
                        help="before a step, wait while the 1-minute load average is above this (default 3.0; "
                             "other work on the machine skews every number)")
    parser.add_argument("--load-wait", type=float, default=30.0,
                        help="wait at most this many seconds for the load to fall (default 30)")
    parser.add_argument("--json", type=Path, help="also write the steps as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state folder (logs, database)")
    parser.add_argument("--controller-cmd", metavar="CMD",
                        help="run this command as the controller instead of `python -m callcenter.cli controller` (it "
                             "gets the same HOTLINE_* environment and must print \"controller connected\"): "
                             "to compare a changed controller with the same load")
    parser.add_argument("--py-spy-native", action="store_true",
                        help="with --py-spy: sample every running thread with its native (C) frames, so SQLite, "
                             "system calls and the GIL's hand-overs show, instead of the thread holding the GIL")
    parser.add_argument("--twin", action="store_true",
                        help="also run the dialplan-only twin of the flow (Answer, MixMonitor, the greeting, "
                             "app_queue's Queue() of the same seats) on the same Asterisk, alternating with the "
                             "hotline at each rate; a step passes only with INVITE->200 p99 within --max-invite-p99")
    parser.add_argument("--rtp", action="store_true",
                        help="the realistic scenario: callers and seats send G.711 tones both ways (every call is "
                             "recorded in both flows anyway)")
    parser.add_argument("--flow", choices=("menu", "standard"), default="menu",
                        help="menu: the DTMF menu on, callers press 0 at once (default, the numbers in "
                             "bench/README.md); standard: GB/T 33358's default, the short greeting then the line")
    parser.add_argument("--max-invite-p99", type=float,
                        help="a step passes only if INVITE->200 p99 is at most this many ms (default 50 with "
                             "--twin, no limit without)")
    parser.add_argument("--py-spy", metavar="PATH", nargs="?", const="py-spy",
                        help="sample the controller with py-spy during each step (profile.txt in the step folder "
                             "with --keep) and print its top functions")
    return parser.parse_args(argv)


def run(bench: Bench, rate: float, args: argparse.Namespace, first: bool = False, flow: str = HOTLINE) -> Step:
    """One step, after a quiet pause and, if other work loads the machine, a wait for it."""
    if not first:
        time.sleep(args.settle)
    deadline = time.monotonic() + args.load_wait
    if os.getloadavg()[0] > args.max_load:
        say(f"waiting up to {args.load_wait:.0f} s for the load average ({os.getloadavg()[0]:.1f}) "
            f"to fall under {args.max_load:g}")
        while os.getloadavg()[0] > args.max_load and time.monotonic() < deadline:
            time.sleep(2)
    step = bench.run_step(rate, flow, args.max_invite_p99)
    say(step_line(step))
    return step


def missing_prerequisite() -> str | None:
    """Why the benchmark cannot run here (it runs the real Asterisk and SIPp), or None."""
    if os.geteuid() != 0:
        return "the benchmark runs the real Asterisk: run it as root"
    if shutil.which("sipp") is None:
        return "SIPp is missing: apt-get install sip-tester"
    return None


def code_version() -> str:
    """The commit under test, "+changes" when the working tree differs from it."""
    try:
        sha = subprocess.run(["git", "-C", str(HOME), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(HOME), "status", "--porcelain", "--", "callcenter", "config",
                                "dialplan"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+changes" if dirty else "")


def find_highest(step_at: Callable[[float, str], Step], rates: Sequence[float], flows: Sequence[str],
                 resolution: float, max_steps: int, bisect: bool) -> None:
    """Rising rates, each flow at each rate (their order alternating, so that machine
    noise hits both), a flow dropping out at its first step that does not pass; then
    each flow's bisection between its last pass and its first failure."""
    last_pass: dict[str, float | None] = dict.fromkeys(flows)
    first_fail: dict[str, float] = {}
    for index, rate in enumerate(rates):
        order = [f for f in (flows if index % 2 == 0 else list(reversed(flows))) if f not in first_fail]
        if not order:
            break
        for flow in order:
            if step_at(rate, flow).passed:
                last_pass[flow] = rate
            else:
                first_fail[flow] = rate
    if not bisect:
        return
    for flow, hi in first_fail.items():
        lo = last_pass[flow]
        tries = 0
        while lo is not None and hi - lo > resolution + 1e-9 and tries < max_steps:
            mid = round((lo + hi) / 2 / resolution) * resolution
            if not lo < mid < hi:
                break
            tries += 1
            if step_at(mid, flow).passed:
                lo = mid
            else:
                hi = mid


def summary(steps: Sequence[Step], flows: Sequence[str], seats: int, searched: bool) -> list[str]:
    """The highest passing rate of each flow, with its latency and CPU; with the twin, the
    ratio and the goals (at least 0.9x the twin's rate; controller CPU at most 5 ms a call
    at 40 calls/s)."""
    lines: list[str] = []
    best: dict[str, Step] = {}
    for flow in flows:
        passed = [s for s in steps if s.flow == flow and s.passed]
        if not passed:
            lines.append(f"{flow}: no step passed")
            continue
        top = best[flow] = max(passed, key=lambda s: s.rate)
        failed_above = any(s.flow == flow and not s.passed and s.rate > top.rate for s in steps)
        limit = "" if failed_above or not searched else " (no step failed: raise --start/--max-steps)"
        lines.append(
            f"{flow}: highest passing rate with {seats} seats {top.rate:g} calls/s ({top.sustained:.2f} sustained)"
            f"{limit}; INVITE->200 p50 {ms(top.invite_p50)} / p99 {ms(top.invite_p99)} ms; CPU per call "
            f"controller {top.controller_cpu * 1000:.1f} ms, Asterisk {top.asterisk_cpu * 1000:.1f} ms")
    if HOTLINE in best and TWIN in best:
        ratio = best[HOTLINE].rate / best[TWIN].rate
        lines.append(f"ratio hotline / twin: {ratio:.2f} (goal at least 0.9: {'met' if ratio >= 0.9 else 'NOT met'})")
    if HOTLINE in best:
        # Latency at 80 % of the highest passing rate (the nearest step run at or under it).
        # The dialplan answers before Stasis, so StasisStart->answer is 0 by construction;
        # StasisStart->greeting is the controller's own reaction, held to the same 20 ms.
        target = 0.8 * best[HOTLINE].rate
        near = [s for s in steps if s.flow == HOTLINE and s.passed and s.rate <= target]
        if near:
            at = max(near, key=lambda s: s.rate)
            worst = max(at.answer_p99 or 0.0, at.greet_p99 or 0.0)
            good = worst <= 20 and at.invite_p99 is not None and at.invite_p99 <= 50
            lines.append(
                f"at {at.rate:g} calls/s ({at.rate / best[HOTLINE].rate:.0%} of the highest): StasisStart->answer p99 "
                f"{ms(at.answer_p99)} ms, StasisStart->greeting p99 {ms(at.greet_p99)} ms, INVITE->200 p99 "
                f"{ms(at.invite_p99)} ms (goal at most 20 and 50: {'met' if good else 'NOT met'})")
    at_40 = [s for s in steps if s.flow == HOTLINE and s.rate == 40 and s.passed]
    if at_40:
        cpu = min(s.controller_cpu for s in at_40) * 1000
        lines.append(f"controller CPU per call at 40 calls/s: {cpu:.1f} ms (goal at most 5: "
                     f"{'met' if cpu <= 5 else 'NOT met'})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_prerequisite()
    if missing:
        say(missing)
        return 2
    big = args.seats >= 30
    start = args.start if args.start is not None else (20.0 if big else 3.0)
    increment = args.step if args.step is not None else (10.0 if big else 1.0)
    if args.resolution is None:
        args.resolution = 2.0 if big else 0.5
    if args.resolution <= 0:
        args.resolution = increment
    if args.twin and args.max_invite_p99 is None:
        args.max_invite_p99 = 50.0
    rates = [args.rate] if args.rate is not None else [start + i * increment for i in range(args.max_steps)]
    py_spy = shutil.which(args.py_spy) if args.py_spy else None
    if args.py_spy and py_spy is None:
        say(f"py-spy not found: {args.py_spy}")
        return 2
    menu = args.flow == "menu"
    options = Options(args.seats, args.hold, args.talk_ms, args.answer_ms, args.max_wait, args.max_calls,
                      args.ring_timeout, args.keep, py_spy,
                      tuple(shlex.split(args.controller_cmd)) if args.controller_cmd else (),
                      env=(("HOTLINE_CALLFLOW_MENU", "true" if menu else "false"),),
                      py_spy_native=args.py_spy_native, twin=args.twin, rtp=args.rtp, menu=menu)
    flows = (HOTLINE, TWIN) if args.twin else (HOTLINE,)
    load1, load5, _ = os.getloadavg()
    say(f"callflow bench: {args.seats} seats, talk {args.talk_ms} ms, answer after {args.answer_ms} ms, "
        f"{args.hold:g} s a step, rates {', '.join(f'{r:g}' for r in rates[:4])}"
        f"{'...' if len(rates) > 4 else ''} calls/s; flow {args.flow}"
        f"{', RTP both ways' if args.rtp else ', no voice RTP'}{', against the twin' if args.twin else ''}; "
        f"{os.cpu_count()} CPUs, load {load1:.1f} {load5:.1f}; code {code_version()}")
    steps: list[Step] = []
    # The instance under test; a step that did not pass may leave it degraded (a backlog,
    # stuck channels), so the next step gets a fresh one.
    bench = [Bench(options)]

    def step_at(rate: float, flow: str) -> Step:
        if steps and not steps[-1].passed:
            say("starting a fresh instance: the failed step may have left this one degraded")
            bench[0].stop()
            bench[0] = Bench(options)
            bench[0].start()
        step = run(bench[0], rate, args, first=not steps, flow=flow)
        steps.append(step)
        return step

    with sigterm_as_interrupt():
        try:
            bench[0].start()
            find_highest(step_at, rates, flows, args.resolution, args.max_steps, bisect=args.rate is None)
        except KeyboardInterrupt:
            say("interrupted: stopping everything")
        finally:
            bench[0].stop()
    if not steps:
        return 1
    say("")
    say(table(steps))
    for line in summary(steps, flows, args.seats, searched=args.rate is None):
        say(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) | {"passed": s.passed} for s in steps], indent=2))
    return 0 if any(s.passed for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
