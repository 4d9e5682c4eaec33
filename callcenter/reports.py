"""The monthly briefing (简报) and the yearly summary, computed from the store.

What the figures mean in terms of the store (docs/report-keys.md says the same for the
JSON keys):

- A call belongs to the period in which it *arrived* (`calls.arrived_epoch` in
  [start, end) of the period in the hotline's zone).
- A call is **accepted** (受理) when an operator answered it: outcome `answered` (or no
  outcome yet and `seat_answered` set: being talked now). Nuisance calls that an operator
  answered count, as the seed's operators still answer them; they are also shown apart.
- An accepted call is **in progress** (办理中) when it belongs to a ticket that is open,
  forwarded or reopened *now*; otherwise it is **completed** (已办结): settled on the
  call, or its ticket replied or closed. The briefing states the position at the moment
  it is produced, as the real one (made on the 5th) does.
- **Tickets** (留单) of the period are those *created* in it, merged duplicates left out.
- Shares that make up a whole (completed/in progress, the five categories) are rounded
  by the largest-remainder method, so that they add up to exactly 100%: this is what the
  seed's table does (19 of 61 is 31.15%, printed 31.2% so that the five add up to 100.0).
- Averages (daily, monthly) are rounded half to even, as the seed prints them:
  5734/31 = 184.97 -> 185, and 1758/12 = 146.5 -> 146.
- Service figures: offered = every call that arrived; abandoned = hung up in the IVR,
  in the queue or while a seat rang; the average wait and the service level (share
  answered within `service_level_seconds`, 20 s) are over accepted calls, `wait_seconds`
  being queue-to-answer. Satisfaction = (satisfied + basically satisfied) / tickets whose
  callback reached the citizen.

Every figure is aggregated in SQL (GROUP BY over the indexed arrival time) inside one
read transaction on the store thread; Python only adds up at most 31 groups.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.settings import Settings
from callcenter.store import Store, display_width, fit
from callcenter.tickets import (
    CATEGORY_LABELS,
    IN_PROGRESS,
    SATISFACTION_LABELS,
    Category,
    Directory,
    Satisfaction,
    database_path,
    load_directory,
    safe_json,
    units_file,
)


class ReportError(HotlineError):
    """A report that cannot be made (a bad month, no calls): the message says why."""


# ------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    kind: str  # "monthly" or "yearly"
    label: str  # "2009-01" or "2008"
    start: datetime  # aware, in the hotline's zone
    end: datetime

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    @property
    def end_epoch(self) -> float:
        return self.end.timestamp()

    @property
    def days(self) -> int:
        return (self.end.date() - self.start.date()).days

    @property
    def title(self) -> str:
        if self.kind == "monthly":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.year}年"

    def days_counted(self, now: float) -> int:
        """Days the daily average divides by: all of them once the period is over, the
        days begun so far while it runs."""
        if now >= self.end_epoch:
            return self.days
        today = datetime.fromtimestamp(now, self.start.tzinfo).date()
        return max(0, min(self.days, (today - self.start.date()).days + 1))

    def months_counted(self, now: float) -> int:
        """Months the monthly averages of a year divide by: 12, or those begun so far."""
        if self.kind == "monthly":
            return 1
        if now >= self.end_epoch:
            return 12
        if now < self.start_epoch:
            return 0
        return datetime.fromtimestamp(now, self.start.tzinfo).month


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str, zone: ZoneInfo) -> Period:
    """'2009-01' as the month in the hotline's zone; ReportError for a month that does not exist."""
    match = _MONTH.match(text.strip())
    year, month = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not match or not 1 <= month <= 12 or not 1970 <= year <= 9998:
        raise ReportError(f"--month {text!r}: no such month; give YYYY-MM, e.g. 2009-01")
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return Period("monthly", f"{year:04d}-{month:02d}", start, end)


def parse_year(text: str, zone: ZoneInfo) -> Period:
    value = text.strip()
    if not value.isdigit() or len(value) != 4 or not 1970 <= int(value) <= 9998:
        raise ReportError(f"--year {text!r}: no such year; give YYYY, e.g. 2008")
    year = int(value)
    return Period("yearly", value, datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))


# ------------------------------------------------------------------------ rounding


def largest_remainder(counts: Sequence[int], decimals: int) -> list[float] | None:
    """Percentages of `counts` with `decimals` places that add up to exactly 100: each
    is rounded down, and the units still missing go to the largest remainders (ties:
    the larger count, then the earlier item). None when the total is 0."""
    total = sum(counts)
    if total <= 0:
        return None
    unit = 10**decimals
    scaled = [Fraction(100 * unit * c, total) for c in counts]
    floors = [math.floor(s) for s in scaled]
    missing = 100 * unit - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (-(scaled[i] - floors[i]), -counts[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return [float(Decimal(f) / unit) for f in floors]


def percent(part: int | float, whole: int | float, decimals: int = 2) -> float | None:
    """A standalone rate, rounded half up; None when `whole` is 0."""
    if not whole:
        return None
    exact = Fraction(part) * 100 / Fraction(whole)
    value = Decimal(exact.numerator) / Decimal(exact.denominator)
    return float(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def average(total: int, n: int) -> int | None:
    """Rounded half to even, as the seed's 185 (184.97) and 146 (146.5)."""
    return round(Fraction(total, n)) if n > 0 else None


def average_exact(total: int | float, n: int, decimals: int = 2) -> float | None:
    return round(total / n, decimals) if n > 0 else None


# ------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class CallFigures:
    accepted: int
    completed: int
    completed_pct: float | None
    in_progress: int
    in_progress_pct: float | None
    days: int
    daily_average: int | None
    daily_average_exact: float | None
    monthly_average: int | None = None  # yearly only


@dataclass(frozen=True)
class CategoryFigure:
    category: str
    label: str
    count: int
    pct: float | None


@dataclass(frozen=True)
class UnitFigure:
    unit: str
    name: str
    count: int
    in_progress: int
    overdue: int


@dataclass(frozen=True)
class TicketFigures:
    total: int
    by_category: list[CategoryFigure]
    by_state: dict[str, int]
    in_progress: int
    overdue: int
    replied: int
    replied_late: int
    by_unit: list[UnitFigure]
    deadline_working_days: int
    monthly_average: int | None = None  # yearly only


@dataclass(frozen=True)
class ServiceFigures:
    offered: int
    answered: int
    abandoned: int
    abandoned_ivr: int
    abandoned_queue: int
    abandoned_ringing: int
    failed: int
    abandon_rate_pct: float | None
    average_wait_seconds: float | None
    service_level_seconds: int
    answered_within_service_level: int
    service_level_pct: float | None
    average_talk_seconds: float | None
    nuisance_calls: int


@dataclass(frozen=True)
class SatisfactionFigures:
    rated: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    satisfaction_pct: float | None
    tickets_called_back: int
    callback_attempts: int


@dataclass(frozen=True)
class SeriesPoint:
    key: str  # "2009-01-05" (monthly: days) or "2008-03" (yearly: months)
    offered: int
    accepted: int
    completed: int
    in_progress: int
    abandoned: int
    tickets: int


@dataclass(frozen=True)
class HourPoint:
    hour: int
    offered: int
    accepted: int


@dataclass(frozen=True)
class Briefing:
    kind: str
    period: str
    title: str
    start: str
    end: str
    timezone: str
    generated: str
    calls: CallFigures
    tickets: TicketFigures
    service: ServiceFigures
    satisfaction: SatisfactionFigures
    series: list[SeriesPoint]
    hourly: list[HourPoint]
    store: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        tickets = data["tickets"]
        tickets["by_category"] = {c["category"]: {k: v for k, v in c.items() if k != "category"}
                                  for c in tickets["by_category"]}
        return data


# --------------------------------------------------------------------------- SQL

_ACCEPTED = "(c.outcome = 'answered' OR (c.outcome IS NULL AND c.seat_answered IS NOT NULL))"
_ACTIVE = "({} IN (" + ", ".join(f"'{s}'" for s in sorted(IN_PROGRESS)) + "))"

_SERIES_SQL = f"""
SELECT substr(c.arrived, 1, :width) AS key,
  count(*) AS offered,
  coalesce(sum({_ACCEPTED}), 0) AS accepted,
  coalesce(sum({_ACCEPTED} AND {_ACTIVE.format('t.state')}), 0) AS in_progress,
  coalesce(sum(c.outcome = 'abandoned_ivr'), 0) AS abandoned_ivr,
  coalesce(sum(c.outcome = 'abandoned_queue'), 0) AS abandoned_queue,
  coalesce(sum(c.outcome = 'abandoned_ringing'), 0) AS abandoned_ringing,
  coalesce(sum(c.outcome = 'failed'), 0) AS failed,
  coalesce(sum(CASE WHEN {_ACCEPTED} THEN c.wait_seconds END), 0) AS wait_sum,
  count(CASE WHEN {_ACCEPTED} THEN c.wait_seconds END) AS wait_n,
  coalesce(sum({_ACCEPTED} AND c.wait_seconds <= :sl), 0) AS within_sl,
  coalesce(sum(CASE WHEN {_ACCEPTED} THEN c.talk_seconds END), 0) AS talk_sum,
  count(CASE WHEN {_ACCEPTED} THEN c.talk_seconds END) AS talk_n,
  coalesce(sum({_ACCEPTED} AND c.nuisance = 1), 0) AS nuisance
FROM calls c
LEFT JOIN ticket_calls tc ON tc.call_id = c.call_id
LEFT JOIN tickets t ON t.ticket_id = tc.ticket_id
WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end
GROUP BY key ORDER BY key
"""

# `arrived` is local time with offset ("2009-01-05T09:12:30+08:00"): its characters
# 12-13 are the local hour, whatever the zone's offset or summer time.
_HOURLY_SQL = f"""
SELECT CAST(substr(c.arrived, 12, 2) AS INTEGER) AS hour, count(*) AS offered,
  coalesce(sum({_ACCEPTED}), 0) AS accepted
FROM calls c WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.arrived IS NOT NULL
GROUP BY hour ORDER BY hour
"""

_TICKETS_SQL = f"""
SELECT category, state, substr(created, 1, :width) AS key, count(*) AS n,
  coalesce(sum({_ACTIVE.format('state')} AND deadline_epoch <= :now), 0) AS overdue,
  coalesce(sum(state IN ('replied', 'closed')), 0) AS replied,
  coalesce(sum(state IN ('replied', 'closed') AND replied_epoch >= deadline_epoch), 0) AS replied_late
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY category, state, key
"""

_UNITS_SQL = f"""
SELECT unit, max(unit_name) AS name, count(*) AS n,
  coalesce(sum({_ACTIVE.format('state')}), 0) AS in_progress,
  coalesce(sum({_ACTIVE.format('state')} AND deadline_epoch <= :now), 0) AS overdue
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY unit ORDER BY n DESC, unit
"""

_SATISFACTION_SQL = """
SELECT satisfaction, count(*) AS n, coalesce(sum(callback_attempts), 0) AS attempts,
  coalesce(sum(callback_attempts > 0), 0) AS called
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY satisfaction
"""

_EXTENT_SQL = "SELECT min(arrived_epoch) AS first, max(arrived_epoch) AS last FROM calls"


@dataclass
class _Raw:
    series: list[dict[str, object]]
    hourly: list[dict[str, object]]
    tickets: list[dict[str, object]]
    units: list[dict[str, object]]
    satisfaction: list[dict[str, object]]
    extent: dict[str, object]


def _gather(db: Database, period: Period, service_level: int, now: float) -> _Raw:
    width = 10 if period.kind == "monthly" else 7
    params = {"start": period.start_epoch, "end": period.end_epoch, "width": width, "sl": service_level, "now": now}

    def rows(sql: str) -> list[dict[str, object]]:
        names = set(re.findall(r":(\w+)", sql))
        return list(db.query(sql, {k: v for k, v in params.items() if k in names}))

    return _Raw(rows(_SERIES_SQL), rows(_HOURLY_SQL), rows(_TICKETS_SQL), rows(_UNITS_SQL),
                rows(_SATISFACTION_SQL), rows(_EXTENT_SQL)[0])


def _int(row: Mapping[str, object], key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _keys(period: Period) -> list[str]:
    if period.kind == "monthly":
        return [(period.start.date() + timedelta(days=n)).isoformat() for n in range(period.days)]
    return [f"{period.start.year:04d}-{m:02d}" for m in range(1, 13)]


def _figures(raw: _Raw, period: Period, service_level: int, working_days: int, now: float, zone: ZoneInfo
             ) -> Briefing:
    total: dict[str, int] = {}
    for row in raw.series:
        for key, value in row.items():
            if key != "key" and isinstance(value, int | float):
                total[key] = total.get(key, 0) + int(value)
    accepted, in_progress = total.get("accepted", 0), total.get("in_progress", 0)
    completed = accepted - in_progress
    split = largest_remainder([completed, in_progress], 2)
    days = period.days_counted(now)
    months = period.months_counted(now)
    calls = CallFigures(
        accepted=accepted, completed=completed, completed_pct=split[0] if split else None,
        in_progress=in_progress, in_progress_pct=split[1] if split else None, days=days,
        daily_average=average(accepted, days), daily_average_exact=average_exact(accepted, days),
        monthly_average=average(accepted, months) if period.kind == "yearly" else None,
    )

    by_category = dict.fromkeys((str(c) for c in Category), 0)
    by_state: dict[str, int] = {}
    tickets_by_key: dict[str, int] = {}
    overdue = replied = replied_late = 0
    for row in raw.tickets:
        n = _int(row, "n")
        category = str(row["category"])
        by_category[category] = by_category.get(category, 0) + n
        by_state[str(row["state"])] = by_state.get(str(row["state"]), 0) + n
        tickets_by_key[str(row["key"])] = tickets_by_key.get(str(row["key"]), 0) + n
        overdue += _int(row, "overdue")
        replied += _int(row, "replied")
        replied_late += _int(row, "replied_late")
    ticket_total = sum(by_category.values())
    shares = largest_remainder(list(by_category.values()), 1)
    labels = {str(c): label for c, label in CATEGORY_LABELS.items()}
    tickets = TicketFigures(
        total=ticket_total,
        by_category=[CategoryFigure(c, labels.get(c, c), n, shares[i] if shares else None)
                     for i, (c, n) in enumerate(by_category.items())],
        by_state={s: by_state.get(s, 0) for s in ("open", "forwarded", "replied", "closed", "reopened")},
        in_progress=sum(by_state.get(str(s), 0) for s in IN_PROGRESS),
        overdue=overdue, replied=replied, replied_late=replied_late,
        by_unit=[UnitFigure(str(r["unit"]), str(r["name"]), _int(r, "n"), _int(r, "in_progress"), _int(r, "overdue"))
                 for r in raw.units],
        deadline_working_days=working_days,
        monthly_average=average(ticket_total, months) if period.kind == "yearly" else None,
    )

    abandoned = sum(total.get(k, 0) for k in ("abandoned_ivr", "abandoned_queue", "abandoned_ringing"))
    offered = total.get("offered", 0)
    service = ServiceFigures(
        offered=offered, answered=accepted, abandoned=abandoned,
        abandoned_ivr=total.get("abandoned_ivr", 0), abandoned_queue=total.get("abandoned_queue", 0),
        abandoned_ringing=total.get("abandoned_ringing", 0), failed=total.get("failed", 0),
        abandon_rate_pct=percent(abandoned, offered),
        average_wait_seconds=average_exact(total.get("wait_sum", 0), total.get("wait_n", 0), 1),
        service_level_seconds=service_level, answered_within_service_level=total.get("within_sl", 0),
        service_level_pct=percent(total.get("within_sl", 0), accepted),
        average_talk_seconds=average_exact(total.get("talk_sum", 0), total.get("talk_n", 0), 1),
        nuisance_calls=total.get("nuisance", 0),
    )

    rated: dict[str, int] = {}
    attempts = called = 0
    for row in raw.satisfaction:
        if row["satisfaction"] is not None:
            rated[str(row["satisfaction"])] = _int(row, "n")
        attempts += _int(row, "attempts")
        called += _int(row, "called")
    pleased = rated.get(Satisfaction.SATISFIED, 0) + rated.get(Satisfaction.BASICALLY_SATISFIED, 0)
    satisfaction = SatisfactionFigures(
        rated=sum(rated.values()), satisfied=rated.get(Satisfaction.SATISFIED, 0),
        basically_satisfied=rated.get(Satisfaction.BASICALLY_SATISFIED, 0),
        dissatisfied=rated.get(Satisfaction.DISSATISFIED, 0),
        satisfaction_pct=percent(pleased, sum(rated.values())), tickets_called_back=called,
        callback_attempts=attempts,
    )

    by_key = {str(r["key"]): r for r in raw.series}
    series = []
    for key in _keys(period):
        row = by_key.get(key, {})
        a, p = _int(row, "accepted"), _int(row, "in_progress")
        series.append(SeriesPoint(
            key, _int(row, "offered"), a, a - p, p,
            sum(_int(row, k) for k in ("abandoned_ivr", "abandoned_queue", "abandoned_ringing")),
            tickets_by_key.get(key, 0),
        ))
    by_hour = {_int(r, "hour"): r for r in raw.hourly}
    hourly = [HourPoint(h, _int(by_hour.get(h, {}), "offered"), _int(by_hour.get(h, {}), "accepted"))
              for h in range(24)]
    first, last = raw.extent.get("first"), raw.extent.get("last")
    return Briefing(
        kind=period.kind, period=period.label, title=period.title,
        start=period.start.isoformat(), end=period.end.isoformat(), timezone=str(zone),
        generated=iso_local(now, zone), calls=calls, tickets=tickets, service=service,
        satisfaction=satisfaction, series=series, hourly=hourly,
        store={"first_call": iso_local(first, zone) if isinstance(first, float) else None,
               "last_call": iso_local(last, zone) if isinstance(last, float) else None},
    )


async def build_briefing(store: Store, period: Period, *, zone: ZoneInfo, service_level_seconds: int = 20,
                         deadline_working_days: int = 7, now: float | None = None) -> Briefing:
    """The figures of `period`; ReportError when the store or the period has no calls."""
    moment = time.time() if now is None else now
    raw = await store.snapshot(lambda db: _gather(db, period, service_level_seconds, moment))
    if raw.extent.get("first") is None:
        raise ReportError(
            f"{store.path} holds no calls yet: nothing to report "
            "(`hotline demo seed --month 2009-01 --shape jan-seed` writes a demo month)"
        )
    briefing = _figures(raw, period, service_level_seconds, deadline_working_days, moment, zone)
    if briefing.service.offered == 0:
        first, last = briefing.store["first_call"], briefing.store["last_call"]
        raise ReportError(
            f"no calls arrived in {period.label} ({store.path} holds calls from "
            f"{str(first)[:10]} to {str(last)[:10]})"
        )
    return briefing


# --------------------------------------------------------------------------- text


def _pct(value: float | None, decimals: int) -> str:
    return "—" if value is None else f"{value:.{decimals}f}"


def _n(value: int | None) -> str:
    return "—" if value is None else str(value)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = int(round(seconds))
    return f"{whole // 60}分{whole % 60}秒" if whole >= 60 else f"{seconds:.1f}秒"


# The briefing's own words for the categories (投诉类, not 投诉举报类).
_BRIEF_LABELS = {"help": "求助类", "complaint": "投诉类", "consultation": "咨询类", "suggestion": "建议类",
                 "other": "其他"}


def _category_sentence(b: Briefing) -> str:
    parts = [f"{_BRIEF_LABELS.get(c.category, c.label)}{c.count}件，占留单受理量的{_pct(c.pct, 1)}%"
             for c in b.tickets.by_category]
    return "，其中：" + "；".join(parts) if b.tickets.total else ""


def headline(b: Briefing) -> str:
    """The briefing's opening paragraph, in the seed's own wording."""
    c = b.calls
    if b.kind == "monthly":
        return (
            f"受理来电{c.accepted}件，其中，已办结来电{c.completed}件，占来电总件数的{_pct(c.completed_pct, 2)}%；"
            f"处在办理中的来电为{c.in_progress}件，占来电总件数的{_pct(c.in_progress_pct, 2)}%。"
            f"月日均受理来电{_n(c.daily_average)}件，留单受理{b.tickets.total}件{_category_sentence(b)}。"
        )
    return (
        f"{b.title}，市长热线累计受理来电{c.accepted}件，其中，办结的来电为{c.completed}件，"
        f"办结率达{_pct(c.completed_pct, 2)}%；处在办理中的来电为{c.in_progress}件，"
        f"占来电总件数的{_pct(c.in_progress_pct, 2)}%。每月受理来电{_n(c.monthly_average)}件，"
        f"平均每天受理{_n(c.daily_average)}件。通过政府部门办理的留单达{b.tickets.total}个，"
        f"每月办理数达{_n(b.tickets.monthly_average)}个{_category_sentence(b)}。"
    )


def _service_lines(b: Briefing) -> list[str]:
    s, q, t = b.service, b.satisfaction, b.tickets
    lines = [
        f"服务情况：呼入来电{s.offered}件，接听{s.answered}件；放弃{s.abandoned}件"
        f"（语音导航中挂机{s.abandoned_ivr}件，排队中挂机{s.abandoned_queue}件，振铃中挂机{s.abandoned_ringing}件），"
        f"放弃率{_pct(s.abandon_rate_pct, 2)}%；呼叫失败{s.failed}件。"
        f"平均等待{_duration(s.average_wait_seconds)}，服务水平（{s.service_level_seconds}秒内接听）"
        f"{_pct(s.service_level_pct, 2)}%，平均通话{_duration(s.average_talk_seconds)}。"
        + (f"其中骚扰来电{s.nuisance_calls}件。" if s.nuisance_calls else ""),
        f"回访满意度：回访{q.tickets_called_back}件（共拨打{q.callback_attempts}次），其中听取意见{q.rated}件："
        f"满意{q.satisfied}件，基本满意{q.basically_satisfied}件，不满意{q.dissatisfied}件，"
        f"满意率{_pct(q.satisfaction_pct, 2)}%。",
        f"留单办理：办理中{t.in_progress}件，其中逾期未答复{t.overdue}件；已答复{t.replied}件，"
        f"其中超过{t.deadline_working_days}个工作日答复{t.replied_late}件。",
    ]
    if t.by_unit:
        top = "，".join(f"{u.name}{u.count}件" for u in t.by_unit[:10])
        more = f"等{len(t.by_unit)}个单位" if len(t.by_unit) > 10 else ""
        lines.append(f"承办单位：{top}{more}。")
    return lines


def format_text(b: Briefing, title: str) -> str:
    name = "工作简报" if b.kind == "monthly" else "年度工作情况"
    head = f"{title} {b.title}{name}"
    lines = [head, "=" * display_width(head), "", headline(b), "", *_service_lines(b)]
    if b.kind == "yearly":
        widths = (8, 10, 10, 10, 10, 8)

        def row(cells: Sequence[object]) -> str:
            return fit(cells[0], widths[0]) + "".join(fit(c, w, True) for c, w in zip(cells[1:], widths[1:],
                                                                                      strict=True))

        lines += ["", "各月情况：", row(("月份", "受理来电", "已办结", "办理中", "办结率%", "留单"))]
        for p in b.series:
            rate = largest_remainder([p.completed, p.in_progress], 2)
            lines.append(row((p.key, p.accepted, p.completed, p.in_progress, _pct(rate[0] if rate else None, 2),
                              p.tickets)))
    lines += ["", f"统计时段：{b.start} 至 {b.end}（{b.timezone}），按来电到达时间；办理状态截至 {b.generated}。"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML

_COLOURS = {"accepted": "#2f6db5", "completed": "#2f6db5", "in_progress": "#e8a33d", "abandoned": "#c8553d",
            "tickets": "#5b8c5a", "grid": "#d9dde3", "text": "#333"}
_CATEGORY_COLOURS = ["#2f6db5", "#c8553d", "#5b8c5a", "#e8a33d", "#7d6ba8"]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ticks(value: int) -> tuple[int, int]:
    """A round step (1, 2 or 5 times a power of ten) for about five grid lines, and the
    top of the axis: the first multiple of the step at or above `value`."""
    rough = max(1, math.ceil(value / 5))
    magnitude = 10 ** (len(str(rough)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step * max(1, math.ceil(value / step)), step


def svg_bars(labels: Sequence[str], stacks: Sequence[tuple[str, str, Sequence[int]]], title: str,
             width: int = 760, height: int = 260, every: int = 1) -> str:
    """Stacked vertical bars: `stacks` are (name, colour, values per label)."""
    left, bottom, top, right = 48, 34, 26, 10
    inner_w, inner_h = width - left - right, height - top - bottom
    totals = [sum(s[2][i] for s in stacks) for i in range(len(labels))]
    peak, step = _ticks(max(totals, default=0))
    slot = inner_w / max(1, len(labels))
    bar = max(1.0, slot * 0.72)
    out = [f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>{_e(title)}</title>']
    for value in range(0, peak + 1, step):
        y = top + inner_h - inner_h * value / peak
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{_COLOURS["grid"]}"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value}</text>')
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = float(top + inner_h)
        for name, colour, values in stacks:
            h = inner_h * values[i] / peak
            if h > 0:
                out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                           f'fill="{colour}"><title>{_e(label)} {_e(name)}: {values[i]}</title></rect>')
            base -= h
        if i % every == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'class="axis">{_e(label)}</text>')
    legend_x = left
    for name, colour, _ in stacks:
        out.append(f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{legend_x + 16}" y="16" class="legend">{_e(name)}</text>')
        legend_x += 26 + 14 * len(name)
    out.append("</svg>")
    return "".join(out)


def svg_hbars(items: Sequence[tuple[str, int, str]], title: str, width: int = 560, colours: Sequence[str] = ()) -> str:
    """Horizontal bars: (label, value, text shown after the bar)."""
    row, label_w, pad = 26, 190, 8
    height = row * len(items) + 2 * pad
    peak = max((v for _, v, _ in items), default=0) or 1
    inner = width - label_w - 110
    out = [f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>{_e(title)}</title>']
    for i, (label, value, text) in enumerate(items):
        y = pad + i * row
        colour = colours[i % len(colours)] if colours else _COLOURS["accepted"]
        w = inner * value / peak
        out.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="label">{_e(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{colour}"/>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="label">{_e(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def svg_donut(parts: Sequence[tuple[str, int, str]], centre: str, title: str, size: int = 220) -> str:
    radius, stroke = 70, 34
    circumference = 2 * math.pi * radius
    total = sum(v for _, v, _ in parts) or 1
    c = size / 2
    out = [f'<svg class="chart" role="img" aria-label="{_e(title)}" viewBox="0 0 {size + 200} {size}" '
           f'width="{size + 200}" height="{size}"><title>{_e(title)}</title>',
           f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="{_COLOURS["grid"]}" stroke-width="{stroke}"/>']
    offset = 0.0
    for i, (label, value, colour) in enumerate(parts):
        length = circumference * value / total
        if length > 0:
            out.append(f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="{colour}" '
                       f'stroke-width="{stroke}" stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
                       f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {c} {c})">'
                       f'<title>{_e(label)}: {value}</title></circle>')
        offset += length
        out.append(f'<rect x="{size + 10}" y="{40 + 26 * i}" width="14" height="14" fill="{colour}"/>'
                   f'<text x="{size + 30}" y="{52 + 26 * i}" class="label">{_e(label)} {value}</text>')
    out.append(f'<text x="{c}" y="{c + 7}" text-anchor="middle" class="centre">{_e(centre)}</text></svg>')
    return "".join(out)


_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
color:#333;margin:2rem auto;max-width:1000px;padding:0 1rem;line-height:1.6}
h1{font-size:1.6rem;border-bottom:3px solid #2f6db5;padding-bottom:.4rem}
h2{font-size:1.15rem;margin-top:2rem;color:#2f6db5}
.lead{font-size:1.05rem;background:#f4f7fb;padding:1rem;border-left:4px solid #2f6db5}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{flex:1 1 140px;border:1px solid #d9dde3;border-radius:6px;padding:.6rem .8rem}
.card b{display:block;font-size:1.5rem;color:#2f6db5}
.card.warn b{color:#c8553d}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d9dde3;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.chart text{font-size:11px;fill:#333}.chart .centre{font-size:22px;font-weight:bold}
.chart .legend,.chart .label{font-size:12px}
footer{margin-top:2rem;font-size:.85rem;color:#666}
"""


def format_html(b: Briefing, title: str) -> str:
    c, t, s, q = b.calls, b.tickets, b.service, b.satisfaction

    def card(label: str, value: object, warn: bool = False) -> str:
        return f'<div class="card{" warn" if warn else ""}"><b>{_e(value)}</b>{_e(label)}</div>'

    cards = [
        card("受理来电（件）", c.accepted),
        card("已办结", f"{_pct(c.completed_pct, 2)}%"),
        card("办理中（件）", c.in_progress),
        card("日均受理（件）", c.daily_average),
        card("留单（件）", t.total),
        card("逾期未答复（件）", t.overdue, warn=t.overdue > 0),
        card(f"服务水平（{s.service_level_seconds}秒）", f"{_pct(s.service_level_pct, 2)}%"),
        card("满意率", f"{_pct(q.satisfaction_pct, 2)}%"),
    ]
    labels = [p.key[-2:] if b.kind == "monthly" else f"{int(p.key[-2:])}月" for p in b.series]
    if b.kind == "monthly":
        flow = svg_bars(labels, [("已办结", _COLOURS["completed"], [p.completed for p in b.series]),
                                 ("办理中", _COLOURS["in_progress"], [p.in_progress for p in b.series]),
                                 ("放弃", _COLOURS["abandoned"], [p.abandoned for p in b.series])],
                        "每日来电", every=1 if len(labels) <= 16 else 2)
    else:
        flow = svg_bars(labels, [("已办结", _COLOURS["completed"], [p.completed for p in b.series]),
                                 ("办理中", _COLOURS["in_progress"], [p.in_progress for p in b.series]),
                                 ("放弃", _COLOURS["abandoned"], [p.abandoned for p in b.series])], "各月来电")
    categories = svg_hbars([(_BRIEF_LABELS.get(x.category, x.label), x.count, f"{x.count}件 {_pct(x.pct, 1)}%")
                            for x in t.by_category], "留单分类", colours=_CATEGORY_COLOURS)
    done = svg_donut([("已办结", c.completed, _COLOURS["completed"]),
                      ("办理中", c.in_progress, _COLOURS["in_progress"])], f"{_pct(c.completed_pct, 2)}%", "办结情况")
    hours = svg_bars([f"{h.hour}" for h in b.hourly], [("接听", _COLOURS["accepted"], [h.accepted for h in b.hourly]),
                                                      ("未接听", _COLOURS["abandoned"],
                                                       [h.offered - h.accepted for h in b.hourly])],
                     "来电时段分布（时）", every=2)
    satisfied = svg_hbars([(SATISFACTION_LABELS[Satisfaction.SATISFIED], q.satisfied, str(q.satisfied)),
                           (SATISFACTION_LABELS[Satisfaction.BASICALLY_SATISFIED], q.basically_satisfied,
                            str(q.basically_satisfied)),
                           (SATISFACTION_LABELS[Satisfaction.DISSATISFIED], q.dissatisfied, str(q.dissatisfied))],
                          "回访满意度", colours=["#5b8c5a", "#2f6db5", "#c8553d"])
    units = svg_hbars([(u.name, u.count, f"{u.count}件" + (f"（逾期{u.overdue}）" if u.overdue else ""))
                       for u in t.by_unit[:10]], "承办单位（前10）", width=640)
    service_rows = [
        ("呼入来电", s.offered), ("接听", s.answered), ("放弃", s.abandoned),
        ("　语音导航中挂机", s.abandoned_ivr), ("　排队中挂机", s.abandoned_queue),
        ("　振铃中挂机", s.abandoned_ringing), ("呼叫失败", s.failed),
        ("放弃率", f"{_pct(s.abandon_rate_pct, 2)}%"), ("平均等待", _duration(s.average_wait_seconds)),
        (f"服务水平（{s.service_level_seconds}秒内接听）", f"{_pct(s.service_level_pct, 2)}%"),
        ("平均通话", _duration(s.average_talk_seconds)), ("骚扰来电", s.nuisance_calls),
        ("回访件数 / 拨打次数", f"{q.tickets_called_back} / {q.callback_attempts}"),
        ("满意率", f"{_pct(q.satisfaction_pct, 2)}%"),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in service_rows)
    monthly = ""
    if b.kind == "yearly":
        body = "".join(
            f"<tr><td>{_e(p.key)}</td><td>{p.accepted}</td><td>{p.completed}</td><td>{p.in_progress}</td>"
            f"<td>{p.tickets}</td></tr>" for p in b.series)
        monthly = ("<h2>各月情况</h2><table><tr><th>月份</th><th>受理来电</th><th>已办结</th><th>办理中</th>"
                   f"<th>留单</th></tr>{body}</table>")
    name = "工作简报" if b.kind == "monthly" else "年度工作情况"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} {_e(b.title)}{name}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)} {_e(b.title)}{name}</h1>
<p class="lead">{_e(headline(b))}</p>
<div class="cards">{''.join(cards)}</div>
<h2>{'每日来电' if b.kind == 'monthly' else '各月来电'}</h2>{flow}
<h2>办结情况</h2>{done}
<h2>留单分类</h2>{categories}
<h2>服务指标</h2><table>{table}</table>
<h2>来电时段分布</h2>{hours}
<h2>回访满意度</h2>{satisfied}
<h2>承办单位</h2>{units if t.by_unit else '<p>本期无留单。</p>'}
{monthly}
<footer>{''.join(f'<p>{_e(line)}</p>' for line in _service_lines(b))}
<p>统计时段：{_e(b.start)} 至 {_e(b.end)}（{_e(b.timezone)}），按来电到达时间；办理状态截至 {_e(b.generated)}。
已办结与办理中、各类留单的占比按最大余数法取整，合计为100%。</p></footer>
</body></html>
"""


# ---------------------------------------------------------------------------- CLI


def cli_report(settings: Settings, args: argparse.Namespace) -> int:
    """`hotline report monthly --month YYYY-MM` / `hotline report yearly --year YYYY`."""
    directory: Directory = load_directory(units_file(settings))
    zone = settings.zone
    period = parse_month(args.month, zone) if args.report_kind == "monthly" else parse_year(args.year, zone)
    path = database_path(settings, args)

    async def run() -> Briefing:
        async with Store(path) as store:
            return await build_briefing(store, period, zone=zone,
                                        service_level_seconds=directory.service_level_seconds,
                                        deadline_working_days=directory.deadline_working_days)

    briefing = asyncio.run(run())
    if args.html:
        target = Path(args.html)
        try:
            target.write_text(format_html(briefing, directory.title), encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{target}: cannot write the page: {exc.strerror or exc}") from None
    if args.json:
        print(safe_json(briefing.to_json()))
    elif args.html:
        print(f"wrote {args.html}")
    else:
        print(format_text(briefing, directory.title))
    return 0
