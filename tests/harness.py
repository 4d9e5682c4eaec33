"""Test harness: free loopback ports, settings for a throw-away instance, SIPp runs."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from callcenter.settings import Settings, load_settings

HOME = Path(__file__).resolve().parent.parent
SIPP_DIR = Path(__file__).resolve().parent / "sipp"
LOOPBACK = "127.0.0.1"


def free_port(kinds: tuple[int, ...] = (socket.SOCK_STREAM, socket.SOCK_DGRAM)) -> int:
    """A port that is free right now on loopback for every socket kind given."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as other:
                    other.bind((LOOPBACK, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found on loopback")


def free_port_and_neighbour(offset: int, neighbour_kind: int,
                            kinds: tuple[int, ...] = (socket.SOCK_STREAM, socket.SOCK_DGRAM)) -> int:
    """A free port (`kinds`) whose neighbour at port + `offset` is free too (`neighbour_kind`):
    for programs that bind a second port next to the one they are given."""
    for _ in range(200):
        port = free_port(kinds)
        try:
            with socket.socket(socket.AF_INET, neighbour_kind) as neighbour:
                neighbour.bind((LOOPBACK, port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free port with a free port + {offset} found on loopback")


def free_media_port() -> int:
    """A UDP port for SIPp's `-mp`: SIPp binds it and port + 2 as well (its video echo), so
    both must be free, or the SIPp dies at start-up with "Unable to bind video RTP socket"."""
    return free_port_and_neighbour(2, socket.SOCK_DGRAM, (socket.SOCK_DGRAM,))


def store_env(location: Path | str) -> dict[str, str]:
    """The HOTLINE_* variable that points the engine at a test's store: an SQLite file, or
    a PostgreSQL URL (`store_location`)."""
    if isinstance(location, str):
        return {"HOTLINE_STORE_URL": location}
    return {"HOTLINE_PATHS_DATABASE": str(location)}


def instance_env(state_dir: Path, **overrides: str) -> dict[str, str]:
    """HOTLINE_* variables for an instance on free ports with its own state folder.

    The call tests drive the DTMF menu (a setting, off by default) so that a key sends a
    caller to the line at once; the default flow without a menu, as GB/T 33358 wants it,
    is proven in tests/test_standard.py with `HOTLINE_CALLFLOW_MENU=false`."""
    rtp_start = random.randrange(20000, 59000, 2)
    env = {
        "HOTLINE_HOME": str(HOME),
        "HOTLINE_CALLFLOW_MENU": "true",
        "HOTLINE_PATHS_STATE_DIR": str(state_dir),
        "HOTLINE_PATHS_RECORDINGS_DIR": str(state_dir / "recordings"),
        "HOTLINE_PATHS_DATABASE": str(state_dir / "hotline.db"),
        "HOTLINE_ASTERISK_SIP_PORT": str(free_port()),
        "HOTLINE_ASTERISK_HTTP_PORT": str(free_port((socket.SOCK_STREAM,))),
        "HOTLINE_ASTERISK_AMI_PORT": str(free_port((socket.SOCK_STREAM,))),
        "HOTLINE_ASTERISK_RTP_START": str(rtp_start),
        "HOTLINE_ASTERISK_RTP_END": str(rtp_start + 400),
        # The public site starts with the hotline: on a port of its own, never a neighbour's 8090.
        "HOTLINE_PUBLIC_PORT": str(free_port((socket.SOCK_STREAM,))),
    }
    if "HOTLINE_PATHS_ASTERISK_ROOT" in os.environ:
        env["HOTLINE_PATHS_ASTERISK_ROOT"] = os.environ["HOTLINE_PATHS_ASTERISK_ROOT"]
    env.update(overrides)
    return env


def settings_for(env: dict[str, str]) -> Settings:
    return load_settings(env=env)


def run_hotline(env: dict[str, str], *args: str, without_caps: bool = False,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The `hotline` command in a child process, with only the given HOTLINE_* settings;
    `without_caps` drops the capabilities chroot and mount namespaces need."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    argv = [sys.executable, "-m", "callcenter.cli", *args]
    if without_caps:
        argv = ["setpriv", "--bounding-set=-sys_chroot,-sys_admin", *argv]
    return subprocess.run(argv, capture_output=True, text=True, env=full_env, cwd=HOME, timeout=timeout)


def assert_one_line_error(out: subprocess.CompletedProcess[str], *expected: str) -> None:
    """A clear error: exit 2, one line on stderr holding every expected text, no traceback."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@dataclass
class SippResult:
    returncode: int
    output: str


def sipp(
    settings: Settings,
    scenario: str,
    *args: str,
    calls: int = 1,
    timeout: float = 30.0,
    target: str | None = None,
) -> SippResult:
    """Run one SIPp scenario from tests/sipp against the instance (or `target`,
    "address:port": a cluster's SIP proxy); wait for it."""
    binary = shutil.which("sipp")
    assert binary, "SIPp is missing: apt-get install sip-tester"
    target = target or f"{LOOPBACK}:{settings.asterisk.sip_port}"
    argv = [
        binary, target, "-sf", str(SIPP_DIR / scenario), "-m", str(calls), "-i", LOOPBACK,
        "-p", str(free_port((socket.SOCK_DGRAM,))), "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-nostdin", "-mp", str(free_media_port()), *args,
    ]
    raw = [arg.encode("utf-8", "surrogateescape") for arg in argv]  # raw bytes pass through untouched
    proc = subprocess.run(raw, capture_output=True, text=True, errors="replace", timeout=timeout + 15)
    return SippResult(proc.returncode, proc.stdout[-3000:] + proc.stderr[-3000:])


def parse_message_log(path: Path) -> list[tuple[float, str, str]]:
    """SIPp's -trace_msg log as (time, "sent"/"received", first line of the message),
    without the OPTIONS pings Asterisk sends seat phones (qualify) and their answers: they
    are no part of any call."""
    from datetime import datetime

    entries: list[tuple[float, str, str]] = []
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    separator = "-----------------------------------------------"
    for index, line in enumerate(lines):
        if line.startswith(separator) and index + 3 < len(lines):
            stamp = line.strip("- ").strip()
            try:
                at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
            except ValueError:
                continue
            body = []
            for following in lines[index + 3:]:
                if following.startswith(separator):
                    break
                body.append(following)
            if any(h.lower().startswith("cseq:") and h.rstrip().upper().endswith(" OPTIONS") for h in body):
                continue
            direction = "sent" if " sent " in lines[index + 1] else "received"
            entries.append((at, direction, lines[index + 3].strip()))
    return entries


def first(entries: list[tuple[float, str, str]], direction: str, startswith: str, after: float = 0.0) -> float:
    for at, how, text in entries:
        if how == direction and text.startswith(startswith) and at >= after:
            return at
    raise AssertionError(f"no {direction} message starting {startswith!r} in the SIPp log")


class SeatPhone:
    """A SIPp process that registers as a seat (or a supervisor's phone) and answers (or never
    answers) its calls."""

    def __init__(self, settings: Settings, seat: str, workdir: Path, answers: bool = True,
                 answer_after_ms: int = 300, hangs_up_after_ms: int | None = None,
                 voice: Path | None = None, target: str | None = None) -> None:
        self.settings = settings
        # Where it registers: the instance's Asterisk, or a cluster's SIP proxy ("address:port").
        self.target = target or f"{LOOPBACK}:{settings.asterisk.sip_port}"
        self.voice = voice  # RTP the operator "speaks" once the call is answered (PCMU)
        self.media_port = free_media_port()
        self.seat = seat
        self.log = workdir / f"{seat}-{os.getpid()}-{random.randrange(10**6)}.log"
        self.answers = answers
        self.answer_after_ms = answer_after_ms
        self.hangs_up_after_ms = hangs_up_after_ms
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SeatPhone:
        password = self.settings.credentials().sip_password(self.seat)
        ooc = "seat_answers.xml" if self.answers else "seat_never_answers.xml"
        extra: list[str] = ["-set", "answer_after", str(self.answer_after_ms)] if self.answers else []
        if self.answers and self.hangs_up_after_ms is not None:
            ooc = "seat_answers_then_hangs_up.xml"
            extra += ["-set", "talk", str(self.hangs_up_after_ms)]
        elif self.answers and self.voice is not None:
            ooc = "seat_answers_speaking.xml"
            extra += ["-key", "audio_pcap", str(self.voice)]
        argv = [
            "sipp", self.target, "-sf", str(SIPP_DIR / "seat_phone.xml"),
            "-oocsf", str(SIPP_DIR / ooc), "-set", "user", self.seat, "-au", self.seat, "-ap", password,
            "-m", "1", "-i", LOOPBACK,
            "-p", str(free_port((socket.SOCK_DGRAM,))), "-mp", str(self.media_port),
            # -aa: answer Asterisk's OPTIONS (qualify) with 200 OK, as a live phone does.
            "-aa", "-nostdin", "-trace_msg", "-message_file", str(self.log), *extra,
        ]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Asterisk would keep the dead phone's registration: remove it for the next test.
        password = self.settings.credentials().sip_password(self.seat)
        sipp(self.settings, "unregister.xml", "-set", "user", self.seat, "-au", self.seat, "-ap", password,
             timeout=10, target=self.target)

    def __enter__(self) -> SeatPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self) -> list[tuple[float, str, str]]:
        return parse_message_log(self.log)


def voice_pcap() -> Path:
    """Two minutes of a caller's "voice" as RTP, built once per machine (tests/rtp_pcap.py)."""
    import tempfile

    from tests.rtp_pcap import write_pcma_pcap

    path = Path(tempfile.gettempdir()) / "hotline-test-voice-120s-v1.pcap"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_pcma_pcap(partial, 120)
        partial.replace(path)
    return path


GARBAGE_KEYS = "*#98765*#9876#*5"


def garbage_dtmf_pcap() -> Path:
    """Sixteen keys that are no menu choice, as distinct RFC 4733 events."""
    import tempfile

    from tests.rtp_pcap import write_dtmf_pcap

    path = Path(tempfile.gettempdir()) / f"hotline-test-garbage-dtmf-{len(GARBAGE_KEYS)}-v1.pcap"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write_dtmf_pcap(partial, GARBAGE_KEYS)
        partial.replace(path)
    return path


def call_hotline(
    settings: Settings,
    workdir: Path,
    caller: str,
    hold_ms: int,
    name: str = "Citizen",
    digit: str | None = None,
    digit_after_ms: int = 1000,
    timeout: float = 90.0,
    scenario: str | None = None,
) -> tuple[SippResult, list[tuple[float, str, str]]]:
    """One citizen call with SIPp; returns the result and SIPp's own message times."""
    log = workdir / f"caller-{random.randrange(10**9)}.log"
    args = ["-key", "audio_pcap", str(voice_pcap()), "-s", settings.hotline.number,
            "-set", "caller", caller, "-set", "caller_name", name, "-set", "hold", str(hold_ms),
            "-trace_msg", "-message_file", str(log)]
    chosen = scenario or "citizen_caller.xml"
    if digit is not None:
        chosen = scenario or "citizen_caller_dtmf.xml"
        pcap = "/usr/share/sip-tester/dtmf_2833_" + {"*": "star", "#": "pound"}.get(digit, digit) + ".pcap"
        args += ["-key", "dtmf_pcap", pcap, "-set", "dtmf_after", str(digit_after_ms)]
    elif scenario == "citizen_caller_garbage_dtmf.xml":
        args += ["-set", "dtmf_after", str(digit_after_ms), "-key", "dtmf_pcap", str(garbage_dtmf_pcap())]
    result = sipp(settings, chosen, *args, timeout=timeout)
    return result, parse_message_log(log)


def caller_argv(settings: Settings, workdir: Path, caller: str, hold_ms: int, scenario: str,
                digit: str = "0", digit_after_ms: int = 1000, name: str = "Citizen", voice: Path | None = None,
                media_port: int | None = None, target: str | None = None) -> tuple[list[str], Path]:
    """The SIPp command line of one citizen (for callers started side by side); `voice`
    the RTP they send (PCMA), `media_port` where they receive it."""
    log = workdir / f"caller-{random.randrange(10**9)}.log"
    pcap = "/usr/share/sip-tester/dtmf_2833_" + {"*": "star", "#": "pound"}.get(digit, digit) + ".pcap"
    argv = [
        "sipp", target or f"{LOOPBACK}:{settings.asterisk.sip_port}", "-sf", str(SIPP_DIR / scenario), "-m", "1",
        "-i", LOOPBACK, "-p", str(free_port((socket.SOCK_DGRAM,))),
        "-mp", str(media_port or free_media_port()),
        "-timeout", "200s", "-timeout_error", "-nostdin", "-key", "audio_pcap", str(voice or voice_pcap()),
        "-s", settings.hotline.number, "-set", "caller", caller, "-set", "caller_name", name,
        "-key", "dtmf_pcap", pcap, "-set", "dtmf_after", str(digit_after_ms),
        "-trace_msg", "-message_file", str(log),
    ]
    if "waits" not in scenario:
        argv += ["-set", "hold", str(hold_ms)]
    return argv, log
