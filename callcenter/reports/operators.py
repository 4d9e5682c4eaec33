"""The briefing's figures per operator (工号): calls answered, average talk, average
wrap-up, and the satisfaction the callbacks of their calls' tickets found; pure (the
store's groups come from `reports.repository`). Calls stored before operators existed
have no operator and are in no operator's figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callcenter.reports.connection import percent
from callcenter.store import Row


@dataclass(frozen=True)
class OperatorFigure:
    badge: str  # 工号
    name: str  # 姓名 ("" when the account has none or is gone)
    answered: int
    average_talk_seconds: float | None
    average_wrapup_seconds: float | None  # None: no wrap-up measured
    rated: int  # tickets of their calls whose callback reached the citizen
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    satisfaction_pct: float | None  # (satisfied + basically satisfied) / rated


def _int(row: Row, key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _average(total: int, n: int) -> float | None:
    return round(total / n, 1) if n else None


def operator_figures(rows: Sequence[Row], names: Mapping[str, str]) -> list[OperatorFigure]:
    """One figure per operator who answered a call in the period, by 工号."""
    figures = []
    for row in rows:
        pleased = _int(row, "satisfied") + _int(row, "basically_satisfied")
        badge = str(row["operator"])
        figures.append(OperatorFigure(
            badge=badge, name=names.get(badge, ""), answered=_int(row, "answered"),
            average_talk_seconds=_average(_int(row, "talk_sum"), _int(row, "talk_n")),
            average_wrapup_seconds=_average(_int(row, "wrapup_sum"), _int(row, "wrapup_n")),
            rated=_int(row, "rated"), satisfied=_int(row, "satisfied"),
            basically_satisfied=_int(row, "basically_satisfied"), dissatisfied=_int(row, "dissatisfied"),
            satisfaction_pct=percent(pleased, _int(row, "rated")),
        ))
    return sorted(figures, key=lambda f: (len(f.badge), f.badge))
