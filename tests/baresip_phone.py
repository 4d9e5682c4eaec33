"""baresip as a real operator softphone: registers as a seat, auto-answers, sends RTP.

Headless: no sound card (the `ausine` module is the microphone, a sine tone; `aubridge`
is a player nobody listens to), no interactive UI (no `stdio`/`cons` module, stdin is
/dev/null), loopback only (SIP and RTP on 127.0.0.1, DNS pointed at 127.0.0.1, no
STUN/TURN/ICE/NAT-PMP modules, no HTTP or TCP control ports; its DNS client still opens
an ephemeral wildcard UDP socket, but the registrar is an IP address so it never asks).
It runs in its own process group and is stopped by its process id.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO

from callcenter.settings import Settings
from tests.harness import LOOPBACK, free_port_and_neighbour, sipp

MODULE_DIRS = (
    Path("/usr/lib/baresip/modules"),
    Path("/usr/lib/x86_64-linux-gnu/baresip/modules"),
    Path("/usr/local/lib/baresip/modules"),
)

# The only modules loaded: G.711, the tone source, a player that goes nowhere, and the
# accounts file reader. No UI (stdio, cons, httpd, ctrl_tcp), no media NAT (stun, turn, ice,
# natpmp), no menu: in baresip 1.0 the core answers by itself when answermode=auto.
MODULES = ("g711.so", "ausine.so", "aubridge.so")
TEMP_MODULES = ("account.so",)

TONE_HZ = 1000  # what the "operator" says: easy to tell from the caller's 425 Hz


def baresip_binary() -> str | None:
    return shutil.which("baresip")


def module_dir() -> Path | None:
    for folder in MODULE_DIRS:
        if all((folder / name).exists() for name in (*MODULES, *TEMP_MODULES)):
            return folder
    return None


def baresip_version() -> str:
    binary = baresip_binary()
    assert binary
    # `-h` prints the banner (with the version) and the usage, then exits.
    proc = subprocess.run([binary, "-h"], capture_output=True, text=True, errors="replace", timeout=10,
                          stdin=subprocess.DEVNULL)
    match = re.search(r"baresip v(\S+)", proc.stdout + proc.stderr)
    return match.group(1) if match else "unknown"


def free_sip_port() -> int:
    """A port for baresip's `sip_listen`: it binds UDP and TCP there and its TLS transport
    on the next port, so both must be free (a taken next port failed its start once)."""
    return free_port_and_neighbour(1, socket.SOCK_STREAM)


class BaresipPhone:
    """One baresip process registered as `seat` against the test Asterisk (UDP, loopback)."""

    def __init__(self, settings: Settings, seat: str, workdir: Path, quit_after_s: int = 300) -> None:
        self.settings = settings
        self.seat = seat
        self.home = workdir / f"baresip-{seat}"
        self.log_path = self.home / "baresip.log"
        self.sip_port = 0
        self.quit_after_s = quit_after_s
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def config_text(self, modules: Path) -> str:
        lines = [
            "poll_method\t\tepoll",
            f"sip_listen\t\t{LOOPBACK}:{self.sip_port}",
            "call_local_timeout\t120",
            "call_max_calls\t\t1",
            # The microphone: ausine only produces 48 kHz stereo; baresip resamples for G.711.
            f"audio_source\t\tausine,{TONE_HZ}",
            "ausrc_srate\t\t48000",
            "ausrc_channels\t\t2",
            # The loudspeaker and the ringer: an aubridge device without a source, i.e. nowhere.
            "audio_player\t\taubridge,nowhere",
            "audio_alert\t\taubridge,nowhere",
            "audio_level\t\tno",
            "audio_buffer\t\t20-160",
            "rtp_tos\t\t\t184",
            "rtcp_mux\t\tno",
            "jitter_buffer_delay\t5-10",
            "rtp_stats\t\tyes",  # the RTP summary (packets sent/received) when a call ends
            # Loopback only: the interface, and the only DNS server it may ask.
            f"net_interface\t\t{LOOPBACK}",
            f"dns_server\t\t{LOOPBACK}:53",
            f"module_path\t\t{modules}",
            *(f"module\t\t\t{name}" for name in MODULES),
            *(f"module_tmp\t\t{name}" for name in TEMP_MODULES),
            "",
        ]
        return "\n".join(lines)

    def account_line(self) -> str:
        password = self.settings.credentials().seat_passwords[self.seat]
        assert re.fullmatch(r"[A-Za-z0-9_-]+", password), "seat password not safe in a baresip accounts line"
        registrar = f"{LOOPBACK}:{self.settings.asterisk.sip_port}"
        params = [f"auth_pass={password}", "answermode=auto", "audio_codecs=PCMA,PCMU", "ptime=20",
                  "regint=600", "mwi=no", "call_transfer=no", "pubint=0"]
        return f"\"{self.seat}\" <sip:{self.seat}@{registrar};transport=udp>;" + ";".join(params) + "\n"

    def start(self) -> BaresipPhone:
        binary = baresip_binary()
        modules = module_dir()
        assert binary and modules, "baresip (or its modules) is missing"
        self.home.mkdir(parents=True, exist_ok=True)
        self.sip_port = free_sip_port()
        (self.home / "config").write_text(self.config_text(modules))
        accounts = self.home / "accounts"
        accounts.write_text(self.account_line())
        accounts.chmod(0o600)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # -4: IPv4 only; -v: debug log (the call's progress); -t: never outlive a crashed test.
        argv = [binary, "-4", "-v", "-f", str(self.home), "-t", str(self.quit_after_s)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.home, start_new_session=True)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def call_seconds(self) -> int | None:
        """The duration baresip logs when a call ends ("... terminated (duration: 1 min 6 secs)")."""
        match = re.search(r"Call with \S+ terminated \(duration: ([^)]*)\)", self.log())
        if match is None:
            return None
        units = {"day": 86400, "hour": 3600, "min": 60, "sec": 1}
        return sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (day|hour|min|sec)", match[1]))

    def rtp_packets(self) -> tuple[int, int] | None:
        """(sent, received) audio RTP packets of the last call, from baresip's rtp_stats summary."""
        found = re.findall(r"^packets:\s+(\d+)\s+(\d+)", self.log(), re.MULTILINE)
        return (int(found[-1][0]), int(found[-1][1])) if found else None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                # SIGTERM: baresip unregisters and exits; SIGKILL if it does not within 5 s.
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            # Asterisk would keep a killed phone's registration: remove it for the next test.
            password = self.settings.credentials().seat_passwords[self.seat]
            sipp(self.settings, "unregister.xml", "-set", "user", self.seat, "-au", self.seat, "-ap", password,
                 timeout=10)

    def __enter__(self) -> BaresipPhone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

