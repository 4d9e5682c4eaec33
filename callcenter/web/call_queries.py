"""The console's reads of the calls table that `Store` has no method for: the call log's
search (filters, pages, a total) and today's figures in one aggregate. Both go through
`Store.query`, on the store thread, after the writes already queued."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.store import Row, Store


@dataclass(frozen=True)
class CallSearch:
    since_epoch: float | None = None
    until_epoch: float | None = None
    number_prefix: str = ""
    seat: str = ""
    outcomes: Sequence[str] = ()
    category: str | None = None  # "" finds calls without a category
    limit: int = 20
    offset: int = 0

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.since_epoch is not None:
            clauses.append("arrived_epoch >= ?")
            params.append(self.since_epoch)
        if self.until_epoch is not None:
            clauses.append("arrived_epoch < ?")
            params.append(self.until_epoch)
        if self.number_prefix:
            # GLOB is case-sensitive and so can use the number index; its wildcards are escaped.
            clauses.append("caller_number GLOB ?")
            params.append(re.sub(r"([*?\[\]])", r"[\1]", self.number_prefix) + "*")
        if self.seat:
            clauses.append("seat = ?")
            params.append(self.seat)
        if self.outcomes:
            clauses.append(f"outcome IN ({', '.join('?' for _ in self.outcomes)})")
            params.extend(self.outcomes)
        if self.category is not None:
            clauses.append("coalesce(category, '') = ?")
            params.append(self.category)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def search_calls(store: Store, search: CallSearch) -> tuple[list[Row], int]:
    """One page of matching calls, newest first, and how many match in all."""
    where, params = search.where()
    total = await store.query(f"SELECT count(*) AS n FROM calls{where}", params)
    rows = await store.query(f"SELECT * FROM calls{where} ORDER BY arrived_epoch DESC, rowid DESC LIMIT ? OFFSET ?",
                             [*params, search.limit, search.offset])
    count = total[0]["n"]
    return rows, int(count) if isinstance(count, int) else 0


async def call_figures(store: Store, since_epoch: float, until_epoch: float,
                       answered_within: float) -> dict[str, float]:
    """Counts over the calls arrived in [since, until): calls; answered (a seat took it,
    ended or not); answered within `answered_within` s of queueing; each outcome; and the
    average wait of the answered calls."""
    rows = await store.query(
        "SELECT count(*) AS calls,"
        " coalesce(sum(seat_answered IS NOT NULL), 0) AS answered,"
        " coalesce(sum(seat_answered IS NOT NULL AND wait_seconds <= ?), 0) AS answered_within,"
        " coalesce(sum(outcome = 'abandoned_ivr'), 0) AS abandoned_ivr,"
        " coalesce(sum(outcome = 'abandoned_queue'), 0) AS abandoned_queue,"
        " coalesce(sum(outcome = 'abandoned_ringing'), 0) AS abandoned_ringing,"
        " coalesce(sum(outcome = 'failed'), 0) AS failed,"
        " coalesce(avg(CASE WHEN seat_answered IS NOT NULL THEN wait_seconds END), 0) AS average_wait"
        " FROM calls WHERE arrived_epoch >= ? AND arrived_epoch < ?",
        [answered_within, since_epoch, until_epoch])
    return {key: float(value) if isinstance(value, int | float) else 0.0 for key, value in rows[0].items()}
