"""`hotline calls`: calls as a fixed-width table for the terminal, hostile caller ids escaped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from callcenter.terminal import fit


def _seconds(value: object) -> str:
    if isinstance(value, int | float):
        total = int(value)
        return f"{total // 60}:{total % 60:02d}"
    return "-"


def _recording(row: Mapping[str, object]) -> str:
    path = row.get("recording_path")
    if not path:
        return "-"
    if row.get("recording_pruned"):
        return f"deleted (retention) {Path(str(path)).name}"
    status = row.get("recording_status")
    failed = f"FAILED ({status}) " if status and status != "ok" else ""
    return f"{failed}{_seconds(row.get('recording_seconds'))} {Path(str(path)).name}"


# (header, width, right-aligned, cell); the last column is cut but not padded.
_TABLE: tuple[tuple[str, int, bool, Callable[[Mapping[str, object]], object]], ...] = (
    ("arrived", 25, False, lambda r: r.get("arrived") or "-"),
    ("number", 16, False, lambda r: r.get("caller_number") or "-"),
    ("name", 16, False, lambda r: r.get("caller_name") or "-"),
    ("outcome", 17, False, lambda r: r.get("outcome") or r.get("state") or "-"),
    ("category", 12, False, lambda r: r.get("category") or "-"),
    ("seat", 6, False, lambda r: r.get("seat") or "-"),
    ("wait", 6, True, lambda r: _seconds(r.get("wait_seconds"))),
    ("talk", 6, True, lambda r: _seconds(r.get("talk_seconds"))),
    ("recording", 48, False, _recording),
)


def format_calls_table(rows: Iterable[Mapping[str, object]]) -> str:
    """Calls as a fixed-width table, one line a call; hostile caller ids are escaped."""

    def line(cells: Iterable[str]) -> str:
        return "  ".join(cells).rstrip()

    header = line(fit(h, w, right) for h, w, right, _ in _TABLE)
    rule = line("-" * w for _, w, _, _ in _TABLE)
    body = [line(fit(cell(row), w, right) for _, w, right, cell in _TABLE) for row in rows]
    return "\n".join([header, rule, *(body or ["(no calls)"])])
