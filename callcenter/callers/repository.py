"""The reads behind the caller card: a number's earlier calls, its tickets in progress
and the last name a citizen gave for it. Each walks an index on the number
(`calls_number`, `tickets_caller`, `tickets_contact`) and is bounded by a LIMIT, so a
card costs the same with a million calls in the store; `plans` shows it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.calls.repository import NEWEST_FIRST
from callcenter.store import Database, Row, Store
from callcenter.vocabulary import IN_PROGRESS, sql_among

_IN_PROGRESS = sql_among(tuple(sorted(IN_PROGRESS)))

EARLIER_CALLS_SQL = {dialect: (
    "SELECT call_id, arrived, arrived_epoch, outcome, category, seat, wait_seconds, talk_seconds FROM calls"
    f" WHERE caller_number = ? AND call_id != ? ORDER BY {newest_first} LIMIT ?")
    for dialect, newest_first in NEWEST_FIRST.items()}
# A ticket is the number's when the citizen called from it or gave it as the contact. The
# number's tickets come first (SQLite's CROSS JOIN keeps that order): the planner would
# otherwise walk every ticket in progress by state and test each against the number.
# PostgreSQL takes no ON after CROSS JOIN, and its planner needs no such hint.
_OF_NUMBER = {dialect: ("(SELECT ticket_id FROM tickets WHERE caller_number = ?"
                        " UNION SELECT ticket_id FROM tickets WHERE contact_number = ?) AS mine"
                        f" {join} tickets t ON t.ticket_id = mine.ticket_id")
              for dialect, join in (("sqlite", "CROSS JOIN"), ("postgresql", "JOIN"))}
OPEN_TICKETS_SQL = {dialect: (
    "SELECT t.ticket_id, t.created, t.state, t.category, t.summary, t.unit, t.unit_name, t.deadline, t.confidential"
    f" FROM {of_number} WHERE t.merged_into IS NULL AND t.state IN ({_IN_PROGRESS})"
    " ORDER BY t.created_epoch DESC LIMIT ?") for dialect, of_number in _OF_NUMBER.items()}
# A confidential ticket's name is withheld from lists: it never names the caller on a card.
KNOWN_NAME_SQL = {dialect: (
    f"SELECT t.citizen_name FROM {of_number} WHERE t.confidential = 0"
    " AND t.citizen_name IS NOT NULL AND t.citizen_name != '' ORDER BY t.created_epoch DESC LIMIT 1")
    for dialect, of_number in _OF_NUMBER.items()}


def _rows(db: Database, sql: str, params: Sequence[object]) -> list[Row]:
    return list(db.query(sql, list(params)))


@dataclass(frozen=True)
class CallerHistory:
    """What the store knows of one number, newest first."""

    earlier_calls: list[Row]
    open_tickets: list[Row]
    known_name: str


class CallerRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def history(self, number: str, this_call: str, calls_limit: int, tickets_limit: int) -> CallerHistory:
        """The number's calls but `this_call`, its tickets in progress, and the name on its
        latest ticket that is not confidential; in one read transaction."""

        def read(db: Database) -> CallerHistory:
            calls = _rows(db, EARLIER_CALLS_SQL[db.dialect], [number, this_call, calls_limit])
            tickets = _rows(db, OPEN_TICKETS_SQL[db.dialect], [number, number, tickets_limit])
            named = _rows(db, KNOWN_NAME_SQL[db.dialect], [number, number])
            return CallerHistory(calls, tickets, str(named[0]["citizen_name"]) if named else "")

        return await self.store.snapshot(read)

    async def plans(self) -> dict[str, list[str]]:
        """The database's plan for each read (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
        EXPLAIN), one line a step: to check that they walk the number's indexes, never a
        whole table."""
        explain = "EXPLAIN QUERY PLAN" if self.store.dialect == "sqlite" else "EXPLAIN"
        samples: dict[str, tuple[str, list[object]]] = {
            "earlier_calls": (EARLIER_CALLS_SQL[self.store.dialect], ["1", "x", 1]),
            "open_tickets": (OPEN_TICKETS_SQL[self.store.dialect], ["1", "1", 1]),
            "known_name": (KNOWN_NAME_SQL[self.store.dialect], ["1", "1"])}
        return await self.store.reading(lambda db: {
            name: [str(row[-1]) for row in db.execute(f"{explain} {sql}", params).fetchall()]
            for name, (sql, params) in samples.items()})
