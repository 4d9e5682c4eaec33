"""The controller's leadership: exactly one controller drives the calls at a time.

A second controller (the standby) started against the same hotline waits until the
holder is gone, then takes over: it connects to ARI and re-adopts the calls in Stasis,
their order in the line read from the store (`Controller.adopt`). Two kinds of lease,
both released by the operating system or the database when the holder dies, so no
time-out has to pass before the standby may act:

- `FileLeadership`: an exclusive `flock` on `<state_dir>/controller.lock`; the kernel
  drops it the moment the holder's process ends, however it ends. Controllers on one
  machine (the embedded default, an SQLite store).
- `PostgresLeadership` (`callcenter.leadership.postgres`): a session-level advisory lock
  in the store's PostgreSQL; the server drops it when the holder's connection ends
  (killed process: its socket is closed by the kernel). Controllers on several machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

# How often a standby tries to take the lease: the takeover comes at most this much after
# the holder died, plus the few hundred ms of connecting to ARI and adopting the calls.
POLL_SECONDS = 0.5
LOCK_FILE = "controller.lock"


class LeadershipLost(HotlineError):
    """The lease can no longer be shown to be ours (the database went away and another
    controller may have taken it): this controller must stop driving calls."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds the leadership, as far as it says (for the standby's log line)."""

    pid: int
    host: str

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}" if self.pid else "another controller"

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname())


class Leadership(Protocol):
    """A lease of the controller's leadership."""

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True if it is ours now."""
        ...

    async def holder(self) -> Holder | None:
        """Who holds it (None: unknown or nobody)."""
        ...

    async def keep(self) -> None:
        """While held: return only when the lease is lost (LeadershipLost) or released."""
        ...

    async def release(self) -> None:
        ...


async def acquire(lease: Leadership, say: Callable[[str], None] = print, wait: bool = True) -> None:
    """Take the lease; while another holds it, wait as the standby (`wait`) or refuse."""
    if await lease.try_acquire():
        return
    holder = await lease.holder()
    if not wait:
        raise HotlineError(f"another controller is active ({holder or 'unknown'}); "
                           "stop it first, or start this one as the standby (`hotline controller`)")
    say(f"standby: another controller is active ({holder or 'unknown'}); taking over when it is gone")
    while True:  # polled: a lock held by another process or server has nothing to wait on
        await asyncio.sleep(POLL_SECONDS)
        if await lease.try_acquire():
            break
    say("standby: the active controller is gone; taking over")


class FileLeadership:
    """An exclusive flock on a file: the kernel releases it when this process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._released = asyncio.Event()

    async def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        me = Holder.me()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{me.pid} {me.host}\n".encode(), 0)
        self._fd = fd
        self._released.clear()
        log.info("leadership: holding %s", self.path)
        return True

    async def holder(self) -> Holder | None:
        with contextlib.suppress(OSError, ValueError):
            pid, host = self.path.read_text().split()
            return Holder(int(pid), host)
        return None

    async def keep(self) -> None:
        # Nothing can take a flock from its holder: held until released.
        await self._released.wait()

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
            self._released.set()


def file_leadership(state_dir: Path) -> FileLeadership:
    return FileLeadership(state_dir / LOCK_FILE)


def leadership_for(state_dir: Path, store_url: str = "") -> Leadership:
    """The lease that fits the store: PostgreSQL's advisory lock when the store is there
    (controllers may then run on several machines), else the file lock."""
    if store_url.startswith(("postgresql://", "postgres://")):
        from callcenter.leadership.postgres import PostgresLeadership

        return PostgresLeadership(store_url)
    return file_leadership(state_dir)
