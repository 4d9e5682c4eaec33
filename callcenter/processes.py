"""Servers the hotline starts itself (PostgreSQL, Kamailio): ended by their process id,
politely first, by force only if they do not end in time; never left as zombies."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time

log = logging.getLogger(__name__)


def end(pid: int, child: subprocess.Popen[bytes] | None, name: str, first: signal.Signals = signal.SIGTERM,
        timeout: float = 15.0, group: bool = False) -> None:
    """Send `first` to the process (its whole process group with `group`) and wait for it
    to end; SIGKILL after `timeout`. `child`: our Popen of it, reaped; None: a process
    another started, watched until it is gone."""
    send = os.killpg if group else os.kill
    try:
        send(pid, first)
    except ProcessLookupError:
        if child is not None:
            child.wait()
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None:
            if child.poll() is not None:
                return
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    log.error("%s (pid %d) did not stop within %.0f s; killing it", name, pid, timeout)
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGKILL)
    if child is not None:
        child.wait()


def alive(pid: int) -> bool:
    """Whether a process with this id exists now."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
