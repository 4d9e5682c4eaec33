"""Test harness: free loopback ports, settings for a throw-away instance, SIPp runs."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
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


def instance_env(state_dir: Path, **overrides: str) -> dict[str, str]:
    """HOTLINE_* variables for an instance on free ports with its own state folder."""
    rtp_start = random.randrange(20000, 59000, 2)
    env = {
        "HOTLINE_HOME": str(HOME),
        "HOTLINE_PATHS_STATE_DIR": str(state_dir),
        "HOTLINE_PATHS_RECORDINGS_DIR": str(state_dir / "recordings"),
        "HOTLINE_PATHS_DATABASE": str(state_dir / "hotline.db"),
        "HOTLINE_ASTERISK_SIP_PORT": str(free_port()),
        "HOTLINE_ASTERISK_HTTP_PORT": str(free_port((socket.SOCK_STREAM,))),
        "HOTLINE_ASTERISK_AMI_PORT": str(free_port((socket.SOCK_STREAM,))),
        "HOTLINE_ASTERISK_RTP_START": str(rtp_start),
        "HOTLINE_ASTERISK_RTP_END": str(rtp_start + 400),
    }
    if "HOTLINE_PATHS_ASTERISK_ROOT" in os.environ:
        env["HOTLINE_PATHS_ASTERISK_ROOT"] = os.environ["HOTLINE_PATHS_ASTERISK_ROOT"]
    env.update(overrides)
    return env


def settings_for(env: dict[str, str]) -> Settings:
    return load_settings(env=env)


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
) -> SippResult:
    """Run one SIPp scenario from tests/sipp against the instance; wait for it."""
    binary = shutil.which("sipp")
    assert binary, "SIPp is missing: apt-get install sip-tester"
    target = f"{LOOPBACK}:{settings.asterisk.sip_port}"
    argv = [
        binary, target, "-sf", str(SIPP_DIR / scenario), "-m", str(calls), "-i", LOOPBACK,
        "-p", str(free_port((socket.SOCK_DGRAM,))), "-timeout", f"{int(timeout)}s", "-timeout_error",
        "-nostdin", "-mp", str(free_port((socket.SOCK_DGRAM,))), *args,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout + 15)
    return SippResult(proc.returncode, proc.stdout[-3000:] + proc.stderr[-3000:])
