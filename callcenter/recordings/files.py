"""Which recording file may be served or deleted: only a regular .wav file (or the .mp3
it was compressed into) directly in the recordings folder, whatever the call row says.

The path comes from the database, which a hostile caller id never reaches but a bug or
a hand edit might: a stored "..", NUL, a symlink pointing out of the folder or an odd
file name is refused, not followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Recording names are "<arrival time>_<call id>.wav" (see dialplan/), ".mp3" once
# compressed (recordings/compress.py): a strict pattern.
RECORDING_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,190}\.(wav|mp3)")


def _well_formed(stored_path: str) -> Path | None:
    if not stored_path or "\x00" in stored_path or len(stored_path) > 4096:
        return None
    candidate = Path(stored_path)
    if ".." in candidate.parts or not RECORDING_NAME.fullmatch(candidate.name):
        return None
    return candidate


def servable_recording(recordings_dir: Path, stored_path: str) -> Path | None:
    """The resolved file to serve (or delete) for a call row's `recording_path`, or None."""
    candidate = _well_formed(stored_path)
    if candidate is None:
        return None
    try:
        base = recordings_dir.resolve(strict=True)
        resolved = (candidate if candidate.is_absolute() else base / candidate).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    # Resolved, so a symlink inside the folder that points outside it is caught here.
    # Recordings lie flat in the folder: nothing in a subfolder is one.
    if resolved.parent != base or not resolved.is_file() or not RECORDING_NAME.fullmatch(resolved.name):
        return None
    return resolved


def missing_recording(recordings_dir: Path, stored_path: str) -> bool:
    """True when `recording_path` names a file directly in the recordings folder and
    nothing is there any more (deleted by hand, or by a prune cut short before it could
    mark the row). False for a path outside the folder or oddly named, and when the
    folder itself is missing: then nothing can be told about its files."""
    candidate = _well_formed(stored_path)
    if candidate is None:
        return False
    try:
        base = recordings_dir.resolve(strict=True)
        folder = (candidate.parent if candidate.is_absolute() else base / candidate.parent).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return folder == base and not os.path.lexists(base / candidate.name)
