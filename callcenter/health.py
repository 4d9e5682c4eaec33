"""The hotline's health at a glance: Asterisk up, the controller hearing it, the store
keeping up, seat phones there to answer, recordings made, space left on the disks,
callers waiting. The parts report facts; this module judges them (pure), for
`/healthz`, `hotline status` and the wallboard's alarm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A write queued this long without a commit means the store does not keep up.
MAX_WRITE_LAG_SECONDS = 5.0
# Writes the store dropped (a long fault) stay a problem this long after the last one:
# long enough for someone to see it; the count stays in /metrics and the log.
DROPPED_WRITES_ALARM_SECONDS = 3600.0
# A disk is nearly full under 200 MB free (some three hours of one call's recording),
# or under 1 % of a disk smaller than 20 GB, where 200 MB would be much of it.
LOW_SPACE_BYTES = 200 * 1024 * 1024
LOW_SPACE_SHARE = 0.01
# The wallboard's words for what a disk holds.
DISK_CONTENTS = {"recordings": ("录音", "recordings"), "database": ("数据库", "database")}


def low_space(disk: Mapping[str, Any]) -> bool:
    free, total = disk.get("free_bytes"), disk.get("total_bytes")
    if not isinstance(free, int) or not isinstance(total, int):
        return False
    return free < min(LOW_SPACE_BYTES, total * LOW_SPACE_SHARE)


def _disk_problem(disk: Mapping[str, Any]) -> str:
    names = [DISK_CONTENTS.get(str(what), (str(what), str(what))) for what in disk.get("what", [])]
    chinese, english = "和".join(zh for zh, _ in names), " and ".join(en for _, en in names)
    free = f"{int(disk['free_bytes']) / (1024 * 1024):.1f}"
    return f"{chinese}存储空间不足：剩余 {free} MB ({english} disk nearly full: {free} MB free)"


def problems(report: Mapping[str, Any]) -> list[str]:
    """What is wrong, in the supervisor's words (Chinese, with English for the log)."""
    out: list[str] = []
    if report.get("asterisk_up") is False:
        out.append("Asterisk 未运行 (Asterisk is not running)")
    controller = report.get("controller")
    if not isinstance(controller, Mapping):
        out.append("控制器未运行 (the controller is not running)")
    else:
        if not controller.get("ari_connected"):
            out.append("控制器未连接 Asterisk (ARI events not connected)")
        if controller.get("seats_registered") == 0:
            out.append("没有已注册的坐席话机 (no seat phone is registered)")
    lag = report.get("store_write_lag")
    if isinstance(lag, int | float) and lag > MAX_WRITE_LAG_SECONDS:
        out.append(f"数据库写入滞后 {lag:.0f} 秒 (store write lag {lag:.0f} s)")
    if report.get("store_commit_error"):
        out.append(f"数据库写入失败：{report['store_commit_error']} (the store cannot commit)")
    dropped, dropped_age = report.get("store_dropped_writes") or 0, report.get("store_dropped_age")
    if dropped and isinstance(dropped_age, int | float) and dropped_age < DROPPED_WRITES_ALARM_SECONDS:
        out.append(f"数据库积压过多，已丢弃 {dropped} 条记录 (the store dropped {dropped} writes it could not commit)")
    failing = controller.get("recordings_failing") if isinstance(controller, Mapping) else None
    if isinstance(failing, int) and failing > 0:
        out.append(f"录音失败：最近 {failing} 通电话的录音缺失或不完整 (the last {failing} recordings failed)")
    out += [_disk_problem(disk) for disk in report.get("disks") or [] if low_space(disk)]
    return out


def report_of(asterisk_up: bool | None, controller: Mapping[str, Any] | None, write_lag: float,
              commit_error: str | None, pending_writes: int = 0, dropped_writes: int = 0,
              dropped_age: float | None = None, disks: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The health report: the facts, the problems found in them, and `ok`. `dropped_age`:
    seconds since the store last dropped a write; `disks` as `FreeSpace.now` gives them."""
    report: dict[str, Any] = {
        "asterisk_up": asterisk_up, "controller": dict(controller) if controller is not None else None,
        "store_write_lag": round(write_lag, 1), "store_commit_error": commit_error,
        "store_pending_writes": pending_writes, "store_dropped_writes": dropped_writes,
        "store_dropped_age": None if dropped_age is None else round(dropped_age),
        "disks": [dict(disk) for disk in disks],
    }
    report["problems"] = problems(report)
    report["ok"] = not report["problems"]
    return report
