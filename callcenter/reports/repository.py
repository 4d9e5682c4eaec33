"""The briefing's SQL: every figure aggregated in SQLite (GROUP BY over the indexed arrival
or creation time) inside one read transaction on the store thread, so the figures add up
and Python only adds up at most 31 groups."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callcenter.reports.connection import Reach, ReachGroups, SeatReach
from callcenter.reports.periods import Period
from callcenter.store import Database, Row, Store
from callcenter.vocabulary import COMPLETED, IN_PROGRESS, Outcome, Satisfaction, sql_among

# Accepted (受理): an operator answered it; no outcome yet with a seat's answer is a call being talked now.
_ACCEPTED = f"(c.outcome = '{Outcome.ANSWERED}' OR (c.outcome IS NULL AND c.seat_answered IS NOT NULL))"
_ACTIVE = "({} IN (" + sql_among(tuple(sorted(IN_PROGRESS))) + "))"
_DONE = "(state IN (" + sql_among(tuple(sorted(COMPLETED))) + "))"

_SERIES_SQL = f"""
SELECT substr(c.arrived, 1, :width) AS key,
  count(*) AS offered,
  count(*) FILTER (WHERE {_ACCEPTED}) AS accepted,
  count(*) FILTER (WHERE {_ACCEPTED} AND {_ACTIVE.format('t.state')}) AS in_progress,
  count(*) FILTER (WHERE c.outcome = '{Outcome.ABANDONED_IVR}') AS abandoned_ivr,
  count(*) FILTER (WHERE c.outcome = '{Outcome.ABANDONED_QUEUE}') AS abandoned_queue,
  count(*) FILTER (WHERE c.outcome = '{Outcome.ABANDONED_RINGING}') AS abandoned_ringing,
  count(*) FILTER (WHERE c.outcome = '{Outcome.FAILED}') AS failed,
  count(*) FILTER (WHERE c.outcome = '{Outcome.LINE_FULL}') AS line_full,
  coalesce(sum(CASE WHEN {_ACCEPTED} THEN c.wait_seconds END), 0) AS wait_sum,
  count(CASE WHEN {_ACCEPTED} THEN c.wait_seconds END) AS wait_n,
  count(*) FILTER (WHERE {_ACCEPTED} AND c.answer_seconds <= :sl) AS within_sl,
  coalesce(sum(CASE WHEN {_ACCEPTED} THEN c.talk_seconds END), 0) AS talk_sum,
  count(CASE WHEN {_ACCEPTED} THEN c.talk_seconds END) AS talk_n,
  count(*) FILTER (WHERE {_ACCEPTED} AND c.nuisance = 1) AS nuisance
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
  count(*) FILTER (WHERE {_ACCEPTED}) AS accepted
FROM calls c WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.arrived IS NOT NULL
GROUP BY hour ORDER BY hour
"""

_TICKETS_SQL = f"""
SELECT category, state, substr(created, 1, :width) AS key, count(*) AS n,
  count(*) FILTER (WHERE {_ACTIVE.format('state')} AND deadline_epoch <= :now) AS overdue,
  count(*) FILTER (WHERE {_DONE}) AS replied,
  count(*) FILTER (WHERE {_DONE} AND replied_epoch >= deadline_epoch) AS replied_late
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY category, state, key
"""

_UNITS_SQL = f"""
SELECT unit, max(unit_name) AS name, count(*) AS n,
  count(*) FILTER (WHERE {_ACTIVE.format('state')}) AS in_progress,
  count(*) FILTER (WHERE {_ACTIVE.format('state')} AND deadline_epoch <= :now) AS overdue,
  coalesce(sum(urge_count), 0) AS urgings, count(*) FILTER (WHERE urge_count > 0) AS urged
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY unit ORDER BY n DESC, unit
"""

_SATISFACTION_SQL = """
SELECT satisfaction, count(*) AS n, coalesce(sum(callback_attempts), 0) AS attempts,
  count(*) FILTER (WHERE callback_attempts > 0) AS called
FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL
GROUP BY satisfaction
"""

# Per operator (工号) of the accepted calls; a ticket's satisfaction is its latest callback's.
_OPERATORS_SQL = f"""
SELECT c.operator AS operator, count(DISTINCT c.call_id) AS answered,
  coalesce(sum(c.talk_seconds), 0) AS talk_sum, count(c.talk_seconds) AS talk_n,
  coalesce(sum(c.wrapup_seconds), 0) AS wrapup_sum, count(c.wrapup_seconds) AS wrapup_n,
  count(DISTINCT CASE WHEN t.satisfaction IS NOT NULL THEN t.ticket_id END) AS rated,
  count(DISTINCT CASE WHEN t.satisfaction = '{Satisfaction.SATISFIED}' THEN t.ticket_id END) AS satisfied,
  count(DISTINCT CASE WHEN t.satisfaction = '{Satisfaction.BASICALLY_SATISFIED}' THEN t.ticket_id END)
    AS basically_satisfied,
  count(DISTINCT CASE WHEN t.satisfaction = '{Satisfaction.DISSATISFIED}' THEN t.ticket_id END) AS dissatisfied
FROM calls c
LEFT JOIN ticket_calls tc ON tc.call_id = c.call_id
LEFT JOIN tickets t ON t.ticket_id = tc.ticket_id AND t.merged_into IS NULL
WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.operator IS NOT NULL AND {_ACCEPTED}
GROUP BY c.operator
"""

# Consultations answered on the spot from the knowledge base (calls.answered_from_base),
# by arrival; by the unit whose article answered, and by article (a call answered from
# two articles counts for each).
_KNOWLEDGE_SQL = """
SELECT count(*) AS answered FROM calls c
WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.answered_from_base IS NOT NULL
"""
_KNOWLEDGE_UNITS_SQL = """
SELECT a.unit AS unit, count(DISTINCT u.call_id) AS calls
FROM knowledge_uses u JOIN calls c ON c.call_id = u.call_id JOIN knowledge_articles a ON a.article_id = u.article_id
WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end
GROUP BY a.unit ORDER BY calls DESC, a.unit
"""
_KNOWLEDGE_ARTICLES_SQL = """
SELECT a.article_id AS id, a.title AS title, a.unit AS unit, count(*) AS calls
FROM knowledge_uses u JOIN calls c ON c.call_id = u.call_id JOIN knowledge_articles a ON a.article_id = u.article_id
WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end
GROUP BY a.article_id ORDER BY calls DESC, a.article_id LIMIT 50
"""

# The split by channel: tickets created, citizens' written messages received, and each
# written ticket's response epochs (`reports.channels` weighs them against the limits).
_CHANNEL_TICKETS_SQL = """
SELECT channel, count(*) AS n FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL GROUP BY 1
"""
_MESSAGES_IN_SQL = """
SELECT channel, count(*) AS n FROM ticket_messages
WHERE direction = 'in' AND at_epoch >= :start AND at_epoch < :end GROUP BY channel
"""
_WRITTEN_SQL = """
SELECT channel, received_epoch, acknowledged_epoch, responded_epoch FROM tickets
WHERE created_epoch >= :start AND created_epoch < :end AND merged_into IS NULL AND response_due_epoch IS NOT NULL
"""
_EXTENT_SQL = "SELECT min(arrived_epoch) AS first, max(arrived_epoch) AS last FROM calls"

# GB/T 33358's figures (reports.connection): settled calls by local weekday and minute of
# arrival. `arrived` holds local time with offset, so its date and its characters 12-16
# are the local day and time; the weekday (Monday 0) of the bare date is the local one
# (given the offset, SQLite's strftime would turn the moment into UTC first). The two
# databases name the weekday differently: SQLite's %w counts from Sunday, PostgreSQL's
# isodow from Monday (1).
_SETTLED = "(c.outcome IS NOT NULL OR c.seat_answered IS NOT NULL)"
_WEEKDAY = {
    "sqlite": "(CAST(strftime('%w', substr(c.arrived, 1, 10)) AS INTEGER) + 6) % 7",
    "postgresql": "CAST(extract(isodow FROM CAST(substr(c.arrived, 1, 10) AS date)) AS INTEGER) - 1",
}
_REACH_SQL = {dialect: f"""
SELECT {weekday} AS weekday,
  CAST(substr(c.arrived, 12, 2) AS INTEGER) * 60 + CAST(substr(c.arrived, 15, 2) AS INTEGER) AS minute,
  count(*) AS offered, count(*) FILTER (WHERE c.seat_answered IS NOT NULL) AS connected,
  count(*) FILTER (WHERE c.seat_answered IS NOT NULL AND c.answer_seconds <= :within) AS answered_within
FROM calls c WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.arrived IS NOT NULL AND {_SETTLED}
GROUP BY weekday, minute
""" for dialect, weekday in _WEEKDAY.items()}
_SEATS_SQL = f"""
SELECT c.seat AS seat, count(*) FILTER (WHERE c.seat_answered IS NOT NULL) AS connected,
  count(*) FILTER (WHERE c.seat_answered IS NOT NULL AND c.answer_seconds <= :within) AS answered_within,
  count(*) FILTER (WHERE c.outcome = '{Outcome.ABANDONED_RINGING}') AS abandoned_ringing
FROM calls c WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND c.seat IS NOT NULL AND {_SETTLED}
GROUP BY c.seat
"""
# Rings a seat let go (the caller went back in line): the call's row names the seat
# that answered it in the end, so these come from the call's steps.
_MISSED_SQL = """
SELECT seat, count(*) AS missed FROM call_events
WHERE kind IN ('RINGNOANSWER', 'RINGFAILED') AND at_epoch >= :start AND at_epoch < :end AND seat IS NOT NULL
GROUP BY seat
"""
_ARRIVALS_SQL = f"""
SELECT c.arrived_epoch AS at, CASE WHEN c.seat_answered IS NOT NULL THEN 1 ELSE 0 END AS connected,
  CASE WHEN c.seat_answered IS NOT NULL AND c.answer_seconds <= :within THEN 1 ELSE 0 END AS within
FROM calls c WHERE c.arrived_epoch >= :start AND c.arrived_epoch < :end AND {_SETTLED}
ORDER BY c.arrived_epoch
"""


def _int(row: Row, key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _reach_groups(db: Database, params: dict[str, object], with_arrivals: bool) -> ReachGroups:
    by_minute = {(_int(r, "weekday"), _int(r, "minute")): Reach(_int(r, "offered"), _int(r, "connected"),
                                                                 _int(r, "answered_within"))
                 for r in db.query(_REACH_SQL[db.dialect], params)}
    window = {k: params[k] for k in ("start", "end")}
    missed = {str(r["seat"]): _int(r, "missed") for r in db.query(_MISSED_SQL, window)}
    seats = []
    for r in db.query(_SEATS_SQL, params):
        seat = str(r["seat"])
        rung = _int(r, "connected") + _int(r, "abandoned_ringing") + missed.pop(seat, 0)
        seats.append(SeatReach(seat, rung, _int(r, "connected"), _int(r, "answered_within")))
    seats += [SeatReach(seat, n, 0, 0) for seat, n in missed.items()]
    arrivals = [(float(r["at"]) if isinstance(r["at"], int | float) else 0.0, bool(r["connected"]), bool(r["within"]))
                for r in db.query(_ARRIVALS_SQL, params)] if with_arrivals else []
    return ReachGroups(by_minute, seats, arrivals)


@dataclass
class RawFigures:
    """The groups the SQL returns, before they are added up (`figures`)."""

    series: list[Row]  # per day (monthly) or month (yearly), by arrival
    hourly: list[Row]  # per local hour of arrival
    tickets: list[Row]  # per category, state and day or month of creation
    units: list[Row]  # per unit, most tickets first
    satisfaction: list[Row]  # per satisfaction given (None: none yet)
    extent: Row  # the first and last arrival the store holds
    reach: ReachGroups  # GB/T 33358's groups, with every settled arrival (the worst 24 hours)
    knowledge: list[Row]  # one row: calls answered from the knowledge base
    knowledge_units: list[Row]  # per unit of the articles that answered them
    knowledge_articles: list[Row]  # per article, the most used first (50)
    operators: list[Row] = field(default_factory=list)  # per operator (工号) of the accepted calls
    channel_tickets: list[Row] = field(default_factory=list)  # per channel: tickets created
    messages_in: list[Row] = field(default_factory=list)  # per channel: citizens' written messages received
    written: list[Row] = field(default_factory=list)  # each written ticket's response epochs


def _parameters(period: Period, service_level: int, now: float) -> dict[str, object]:
    return {"start": period.start_epoch, "end": period.end_epoch, "width": 10 if period.kind == "monthly" else 7,
            "sl": service_level, "now": now}


def _gather(db: Database, params: dict[str, object]) -> RawFigures:
    def rows(sql: str) -> list[Row]:
        names = set(re.findall(r":(\w+)", sql))
        return list(db.query(sql, {k: v for k, v in params.items() if k in names}))

    reach = _reach_groups(db, {"start": params["start"], "end": params["end"], "within": params["sl"]},
                          with_arrivals=True)
    return RawFigures(rows(_SERIES_SQL), rows(_HOURLY_SQL), rows(_TICKETS_SQL), rows(_UNITS_SQL),
                      rows(_SATISFACTION_SQL), rows(_EXTENT_SQL)[0], reach, rows(_KNOWLEDGE_SQL),
                      rows(_KNOWLEDGE_UNITS_SQL), rows(_KNOWLEDGE_ARTICLES_SQL), operators=rows(_OPERATORS_SQL),
                      channel_tickets=rows(_CHANNEL_TICKETS_SQL), messages_in=rows(_MESSAGES_IN_SQL),
                      written=rows(_WRITTEN_SQL))


class ReportRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def gather(self, period: Period, service_level: int, now: float) -> RawFigures:
        """The period's groups, read in one transaction; tickets in progress as of `now`."""
        params = _parameters(period, service_level, now)
        return await self.store.snapshot(lambda db: _gather(db, params))

    async def reach(self, start: float, end: float, within_seconds: int) -> ReachGroups:
        """GB/T 33358's groups over calls arrived in [start, end) (`reports.connection`),
        without the arrivals (the briefing's `gather` reads those for the worst 24 hours)."""
        params: dict[str, object] = {"start": start, "end": end, "within": within_seconds}
        return await self.store.snapshot(lambda db: _reach_groups(db, params, with_arrivals=False))

    async def series_plan(self, period: Period, service_level: int = 15) -> list[str]:
        """How the database reads the period's calls (SQLite's EXPLAIN QUERY PLAN,
        PostgreSQL's EXPLAIN), for the benchmark: through the arrival-time index, not by
        scanning every call."""
        params = _parameters(period, service_level, 0.0)
        del params["now"]

        def plan(db: Database) -> list[str]:
            explain = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
            return [str(r[-1]) for r in db.execute(explain + _SERIES_SQL, params).fetchall()]

        return await self.store.snapshot(plan)
