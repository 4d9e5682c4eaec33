"""The hotline's health at a glance: Asterisk up, the controller hearing it, the store
keeping up, seat phones there to answer, callers waiting. The parts report facts; this
module judges them (pure), for `/healthz`, `hotline status` and the wallboard's alarm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A write queued this long without a commit means the store does not keep up.
MAX_WRITE_LAG_SECONDS = 5.0


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
    return out


def report_of(asterisk_up: bool | None, controller: Mapping[str, Any] | None, write_lag: float,
              commit_error: str | None) -> dict[str, Any]:
    """The health report: the facts, the problems found in them, and `ok`."""
    report: dict[str, Any] = {
        "asterisk_up": asterisk_up, "controller": dict(controller) if controller is not None else None,
        "store_write_lag": round(write_lag, 1), "store_commit_error": commit_error,
    }
    report["problems"] = problems(report)
    report["ok"] = not report["problems"]
    return report
