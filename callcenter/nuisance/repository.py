"""Nuisance history (`nuisance_events`: every flag, clear and operator mark, with who,
when and why) and the reads of a number's recent calls the rules need. Indexed by
number and time, so a check stays fast with a million calls in the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callcenter.nuisance.rules import PastCall
from callcenter.store import Database, Store, clean_text


def _rows(db: Database, sql: str, params: Sequence[object]) -> list[dict[str, Any]]:
    return list(db.query(sql, list(params)))


class NuisanceRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def history(self, number: str) -> list[dict[str, Any]]:
        """The number's flags, clears and marks, oldest first."""
        return await self.store.reading(lambda db: _history(db, number))

    async def at_arrival(self, number: str, since_epoch: float | None) -> tuple[list[dict[str, Any]], int]:
        """The number's history and (with `since_epoch`) its arrivals since then, in one
        trip to the store thread: the check every arriving call pays."""
        return await self.store.reading(lambda db: (
            _history(db, number), 0 if since_epoch is None else _arrivals_since(db, number, since_epoch)))

    async def after_call(self, number: str, since_epoch: float) -> tuple[list[dict[str, Any]], list[PastCall]]:
        """The number's history and its ended calls since then, in one trip to the store
        thread: the judgement after every call."""
        return await self.store.reading(lambda db: (
            _history(db, number), _ended_calls_since(db, number, since_epoch)))

    async def flagged_histories(self, now: float) -> list[dict[str, Any]]:
        """The whole history of every number with a flag not yet expired at `now`."""
        return await self.store.reading(lambda db: _rows(
            db,
            "SELECT * FROM nuisance_events WHERE number IN (SELECT DISTINCT number FROM nuisance_events "
            "WHERE action = 'flag' AND expires_epoch > ?) ORDER BY number, at_epoch, id",
            [now],
        ))

    async def record(self, number: str, action: str, *, at: str, at_epoch: float, rule: str | None = None,
                     reason: str | None = None, by: str | None = None, call_id: str | None = None,
                     expires_epoch: float | None = None) -> None:
        """Append a flag, clear or mark, committed now (commands must not wait for a batch)."""
        row = {"number": clean_text(number), "action": action, "rule": rule,
               "reason": None if reason is None else clean_text(reason), "by": None if by is None else clean_text(by),
               "call_id": call_id, "at": at, "at_epoch": at_epoch, "expires_epoch": expires_epoch}

        def write(db: Database) -> None:
            db.execute(
                "INSERT INTO nuisance_events (number, action, rule, reason, by, call_id, at, at_epoch, expires_epoch)"
                " VALUES (:number, :action, :rule, :reason, :by, :call_id, :at, :at_epoch, :expires_epoch)", row)

        await self.store.transaction(write)




def _history(db: Database, number: str) -> list[dict[str, Any]]:
    return _rows(db, "SELECT * FROM nuisance_events WHERE number = ? ORDER BY at_epoch, id", [number])


def _arrivals_since(db: Database, number: str, since_epoch: float) -> int:
    rows = _rows(db, "SELECT count(*) AS n FROM calls WHERE caller_number = ? AND arrived_epoch >= ?",
                 [number, since_epoch])
    return int(str(rows[0]["n"]))


def _ended_calls_since(db: Database, number: str, since_epoch: float) -> list[PastCall]:
    rows = _rows(db, "SELECT arrived_epoch, outcome, talk_seconds FROM calls WHERE caller_number = ? "
                     "AND arrived_epoch >= ? AND state = 'done'", [number, since_epoch])
    return [PastCall(float(str(r["arrived_epoch"])), str(r["outcome"] or ""),
                     int(str(r["talk_seconds"])) if r["talk_seconds"] is not None else None) for r in rows]
