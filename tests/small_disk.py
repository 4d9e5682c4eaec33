"""A small tmpfs that a test fills to the last byte and empties again: a full disk for
real, where SQLite and Asterisk meet ENOSPC as they would in the field (root only)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path
from types import TracebackType

import pytest

CHUNKS = (1 << 20, 64 << 10, 4 << 10, 512, 1)


class SmallDisk:
    """`with SmallDisk(path, megabytes) as disk:` mounts a tmpfs at `path` (unmounted at
    the end); `fill()` writes a filler file until nothing is free, `empty()` deletes it."""

    def __init__(self, path: Path, megabytes: int) -> None:
        self.path = path
        self.megabytes = megabytes
        self.filler = path / "filler"

    def __enter__(self) -> SmallDisk:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.megabytes}m,mode=0755", "tmpfs", str(self.path)],
                       check=True)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        subprocess.run(["umount", str(self.path)], check=True)

    @property
    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def fill(self) -> int:
        """Write the filler until the disk refuses even one byte; its size."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in CHUNKS:
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        assert self.free_bytes == 0, self.free_bytes
        return self.filler.stat().st_size

    def empty(self) -> None:
        self.filler.unlink()

    def read_only(self, yes: bool = True) -> None:
        """Remounted read-only, as the kernel does to a file system it found faulty
        (errors=remount-ro), or writable again."""
        subprocess.run(["mount", "-o", f"remount,{'ro' if yes else 'rw'}", str(self.path)], check=True)
