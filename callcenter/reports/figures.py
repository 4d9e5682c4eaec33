"""The briefing's figures: how shares and averages are rounded, the figure records, and
`build_briefing`, which adds up the groups the repository reads into a `Briefing`."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from callcenter.clock import iso_local
from callcenter.reports import connection
from callcenter.reports.channels import ChannelFigure, channel_figures
from callcenter.reports.connection import ReachGroups, ShiftLike, percent
from callcenter.reports.operators import OperatorFigure, operator_figures
from callcenter.reports.periods import Period, ReportError
from callcenter.reports.repository import RawFigures, ReportRepository
from callcenter.settings import ChannelsSection
from callcenter.store import Store
from callcenter.tickets.response import ResponseLimits
from callcenter.vocabulary import ABANDONED, CATEGORY_LABELS, IN_PROGRESS, Category, Satisfaction, TicketState

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
    urgings: int  # times the supervisor urged (督办) the unit on these tickets
    urged: int  # tickets urged at least once


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
    line_full: int
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
    answered_within: int = 0  # accepted within the service level of arrival (15 s)
    connection_pct: float | None = None  # accepted / offered (接通率)
    answer_rate_pct: float | None = None  # answered within / offered (15秒接通率)


@dataclass(frozen=True)
class StandardFigures:
    """GB/T 33358's telephone figures of the period (`reports.connection`)."""

    answer_seconds: int
    target_pct: float
    offered: int
    connected: int
    answered_within: int
    connection_pct: float | None
    answer_rate_pct: float | None
    worst_24h: dict[str, object] | None  # start, end, offered, connected, answered_within, *_pct
    meets_target: bool | None  # the worst 24 hours at or above the target
    days_below_target: int
    by_shift: list[dict[str, object]]
    by_seat: list[dict[str, object]]


@dataclass(frozen=True)
class KnowledgeFigures:
    """Consultations answered on the spot from the knowledge base (已据此答复)."""

    answered_from_base: int  # calls of the period
    by_unit: list[dict[str, object]]  # {unit, calls}
    by_article: list[dict[str, object]]  # {id, title, unit, calls}, the most used 50


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
    standard: StandardFigures | None = None
    operators: list[OperatorFigure] = field(default_factory=list)  # per 工号 (`reports.operators`)
    knowledge: KnowledgeFigures | None = None
    channels: list[ChannelFigure] = field(default_factory=list)  # per channel (`reports.channels`)

    def to_json(self) -> dict[str, object]:
        """The figures as the README's JSON keys: categories keyed by their value."""
        data = asdict(self)
        tickets = data["tickets"]
        tickets["by_category"] = {c["category"]: {k: v for k, v in c.items() if k != "category"}
                                  for c in tickets["by_category"]}
        return data


def _count(row: Mapping[str, object], key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _keys(period: Period) -> list[str]:
    """The series' points: every day of a month, every month of a year."""
    if period.kind == "monthly":
        return [(period.start.date() + timedelta(days=n)).isoformat() for n in range(period.days)]
    return [f"{period.start.year:04d}-{m:02d}" for m in range(1, 13)]


def figures_of(raw: RawFigures, period: Period, service_level: int, working_days: int, now: float,
               zone: ZoneInfo) -> Briefing:
    """The briefing of `period` from the groups the store returned (pure)."""
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
        n = _count(row, "n")
        category = str(row["category"])
        by_category[category] = by_category.get(category, 0) + n
        by_state[str(row["state"])] = by_state.get(str(row["state"]), 0) + n
        tickets_by_key[str(row["key"])] = tickets_by_key.get(str(row["key"]), 0) + n
        overdue += _count(row, "overdue")
        replied += _count(row, "replied")
        replied_late += _count(row, "replied_late")
    ticket_total = sum(by_category.values())
    shares = largest_remainder(list(by_category.values()), 1)
    labels = {str(c): label for c, label in CATEGORY_LABELS.items()}
    tickets = TicketFigures(
        total=ticket_total,
        by_category=[CategoryFigure(c, labels.get(c, c), n, shares[i] if shares else None)
                     for i, (c, n) in enumerate(by_category.items())],
        by_state={str(s): by_state.get(str(s), 0) for s in TicketState},
        in_progress=sum(by_state.get(str(s), 0) for s in IN_PROGRESS),
        overdue=overdue, replied=replied, replied_late=replied_late,
        by_unit=[UnitFigure(str(r["unit"]), str(r["name"]), _count(r, "n"), _count(r, "in_progress"),
                            _count(r, "overdue"), _count(r, "urgings"), _count(r, "urged"))
                 for r in raw.units],
        deadline_working_days=working_days,
        monthly_average=average(ticket_total, months) if period.kind == "yearly" else None,
    )

    abandoned = sum(total.get(str(k), 0) for k in ABANDONED)
    offered = total.get("offered", 0)
    service = ServiceFigures(
        offered=offered, answered=accepted, abandoned=abandoned,
        abandoned_ivr=total.get("abandoned_ivr", 0), abandoned_queue=total.get("abandoned_queue", 0),
        abandoned_ringing=total.get("abandoned_ringing", 0), failed=total.get("failed", 0),
        line_full=total.get("line_full", 0),
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
            rated[str(row["satisfaction"])] = _count(row, "n")
        attempts += _count(row, "attempts")
        called += _count(row, "called")
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
        point_accepted, point_in_progress = _count(row, "accepted"), _count(row, "in_progress")
        point_offered, point_within = _count(row, "offered"), _count(row, "within_sl")
        series.append(SeriesPoint(
            key, point_offered, point_accepted, point_accepted - point_in_progress, point_in_progress,
            sum(_count(row, str(k)) for k in ABANDONED),
            tickets_by_key.get(key, 0), point_within, percent(point_accepted, point_offered),
            percent(point_within, point_offered),
        ))
    by_hour = {_count(r, "hour"): r for r in raw.hourly}
    hourly = [HourPoint(h, _count(by_hour.get(h, {}), "offered"), _count(by_hour.get(h, {}), "accepted"))
              for h in range(24)]
    first, last = raw.extent.get("first"), raw.extent.get("last")
    knowledge = KnowledgeFigures(
        answered_from_base=_count(raw.knowledge[0], "answered") if raw.knowledge else 0,
        by_unit=[{"unit": str(r["unit"]), "calls": _count(r, "calls")} for r in raw.knowledge_units],
        by_article=[{"id": _count(r, "id"), "title": str(r["title"]), "unit": str(r["unit"]),
                     "calls": _count(r, "calls")} for r in raw.knowledge_articles])
    return Briefing(
        kind=period.kind, period=period.label, title=period.title,
        start=period.start.isoformat(), end=period.end.isoformat(), timezone=str(zone),
        generated=iso_local(now, zone), calls=calls, tickets=tickets, service=service,
        satisfaction=satisfaction, series=series, hourly=hourly,
        store={"first_call": iso_local(first, zone) if isinstance(first, float) else None,
               "last_call": iso_local(last, zone) if isinstance(last, float) else None},
        knowledge=knowledge,
    )


def standard_of(groups: ReachGroups, period: Period, answer_seconds: int, shifts: Sequence[ShiftLike],
                series: Sequence[SeriesPoint], zone: ZoneInfo) -> StandardFigures:
    """GB/T 33358's figures of the period from the store's groups (pure)."""
    whole = connection.total(groups)
    worst = connection.worst_window(groups.arrivals, period.start_epoch, period.end_epoch)
    worst_json: dict[str, object] | None = None
    if worst is not None:
        worst_json = {"start": iso_local(worst.start, zone),
                      "end": iso_local(worst.end, zone), **worst.reach.to_json()}
    worst_pct = worst.reach.connection_pct if worst is not None else None
    return StandardFigures(
        answer_seconds=answer_seconds, target_pct=connection.TARGET_PCT, offered=whole.offered,
        connected=whole.connected, answered_within=whole.answered_within, connection_pct=whole.connection_pct,
        answer_rate_pct=whole.answer_rate_pct, worst_24h=worst_json,
        meets_target=None if worst_pct is None else worst_pct >= connection.TARGET_PCT,
        days_below_target=sum(1 for p in series
                              if p.connection_pct is not None and p.connection_pct < connection.TARGET_PCT),
        by_shift=[{"shift": name, **reach.to_json()} for name, reach in connection.by_shift(groups, shifts)],
        by_seat=connection.seats_json(groups.seats),
    )


async def build_briefing(store: Store, period: Period, *, zone: ZoneInfo,
                         service_level_seconds: int = connection.ANSWER_SECONDS, deadline_working_days: int = 7,
                         now: float | None = None, shifts: Sequence[ShiftLike] = (),
                         operator_names: Mapping[str, str] | None = None,
                         response_limits: ResponseLimits | None = None) -> Briefing:
    """The figures of `period`; ReportError when the store or the period has no calls."""
    moment = time.time() if now is None else now
    raw = await ReportRepository(store).gather(period, service_level_seconds, moment)
    if raw.extent.get("first") is None:
        raise ReportError(
            f"{store.name} holds no calls yet: nothing to report "
            "(`hotline demo seed --month 2009-01 --shape jan-seed` writes a demo month)"
        )
    briefing = figures_of(raw, period, service_level_seconds, deadline_working_days, moment, zone)
    # Read in the same transaction as the other figures, so that they add up.
    briefing = replace(briefing, standard=standard_of(raw.reach, period, service_level_seconds, shifts,
                                                      briefing.series, zone),
                       operators=operator_figures(raw.operators, operator_names or {}),
                       channels=channel_figures(raw.channel_tickets, raw.messages_in, raw.written,
                                                briefing.service.offered, briefing.service.answered,
                                                response_limits or ResponseLimits.of(ChannelsSection()), moment))
    if briefing.service.offered == 0:
        first, last = briefing.store["first_call"], briefing.store["last_call"]
        raise ReportError(
            f"no calls arrived in {period.label} ({store.name} holds calls from "
            f"{str(first)[:10]} to {str(last)[:10]})"
        )
    return briefing
