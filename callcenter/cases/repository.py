"""Every SQL statement about published cases (`published_cases`, `case_log`)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from callcenter.store import Database, Row, Store


class CaseRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def candidates(self, limit: int = 100) -> list[Row]:
        """Closed tickets not published now, newest first."""
        return await self.store.reading(lambda db: list(db.query(
            "SELECT t.ticket_id, t.created, t.category, t.summary, t.unit_name, t.closed FROM tickets t"
            " LEFT JOIN published_cases c ON c.ticket_id = t.ticket_id"
            " WHERE t.state = 'closed' AND t.merged_into IS NULL"
            " AND (c.case_id IS NULL OR c.withdrawn_epoch IS NOT NULL)"
            " ORDER BY t.closed_epoch DESC LIMIT ?", [limit])))

    async def ticket(self, ticket_id: int) -> Row | None:
        rows = await self.store.reading(lambda db: list(db.query(
            "SELECT ticket_id, state, category, summary, reply, unit_name, citizen_name, contact_number"
            " FROM tickets WHERE ticket_id = ?", [ticket_id])))
        return rows[0] if rows else None

    async def published(self) -> list[Row]:
        return await self.store.reading(lambda db: list(db.query(
            "SELECT * FROM published_cases ORDER BY updated_epoch DESC")))

    async def log(self, limit: int = 200) -> list[Row]:
        return await self.store.reading(lambda db: list(db.query(
            "SELECT * FROM case_log ORDER BY id DESC LIMIT ?", [limit])))

    async def publish(self, fields: Mapping[str, object], at: str, actor: str | None) -> int:
        """Insert the ticket's case or publish it again (one row per ticket); logged."""

        def write(db: Database) -> int:
            found = list(db.query("SELECT case_id FROM published_cases WHERE ticket_id = ?", [fields["ticket_id"]]))
            row = dict(fields) | {"withdrawn": None, "withdrawn_epoch": None, "withdrawn_by": None,
                                  "withdraw_reason": None}
            if found:
                case_id = int(found[0]["case_id"])
                db.table("published_cases").update(case_id, row)
            else:
                case_id = int(str(db.table("published_cases").insert(row).last_pk))
            _log(db, case_id, int(str(fields["ticket_id"])), at, float(str(fields["updated_epoch"])), "published",
                 actor, {"title": fields["title"]})
            return case_id

        return await self.store.transaction(write)

    async def withdraw(self, case_id: int, at: str, at_epoch: float, actor: str | None, reason: str) -> bool:
        """Take a published case down; False when there is no such case published now."""

        def write(db: Database) -> bool:
            found = list(db.query("SELECT ticket_id FROM published_cases WHERE case_id = ? AND withdrawn_epoch IS NULL",
                                  [case_id]))
            if not found:
                return False
            db.execute("UPDATE published_cases SET withdrawn = ?, withdrawn_epoch = ?, withdrawn_by = ?,"
                       " withdraw_reason = ?, updated_epoch = ? WHERE case_id = ?",
                       [at, at_epoch, actor, reason, at_epoch, case_id])
            _log(db, case_id, int(found[0]["ticket_id"]), at, at_epoch, "withdrawn", actor, {"reason": reason})
            return True

        return await self.store.transaction(write)


def _log(db: Database, case_id: int, ticket_id: int, at: str, at_epoch: float, action: str, actor: str | None,
         data: Mapping[str, object]) -> None:
    db.execute("INSERT INTO case_log (case_id, ticket_id, at, at_epoch, action, actor, data)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)",
               [case_id, ticket_id, at, at_epoch, action, actor, json.dumps(dict(data), ensure_ascii=False)])
