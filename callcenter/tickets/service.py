"""What operators, units and the callback runner do to tickets: each operation reads,
decides (with `states`) and writes inside one store transaction (`TicketRepository.write`),
so two of them never interleave."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from callcenter.clock import iso_local
from callcenter.store import Row, Store
from callcenter.tickets.deadlines import deadline_from
from callcenter.tickets.directory import Directory
from callcenter.tickets.repository import TicketDetail, TicketRepository, TicketTables
from callcenter.tickets.states import Action, TicketError, after_callback, next_state
from callcenter.vocabulary import CallbackResult, Category, Outcome, Satisfaction, TicketState
from callcenter.workdays import working_days_between

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What a ticket command needs besides the store: the directory, the zone, the time."""

    directory: Directory
    zone: ZoneInfo
    now: float = field(default_factory=time.time)

    def at(self) -> str:
        return iso_local(self.now, self.zone)


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _live_ticket(tables: TicketTables, ticket_id: int) -> Row:
    """The ticket, if it exists and was not merged into another."""
    row = tables.ticket(ticket_id)
    if row is None:
        raise TicketError(f"no ticket {ticket_id} (`hotline tickets list --state all` lists them)")
    if row["merged_into"] is not None:
        raise TicketError(f"ticket {ticket_id} was merged into ticket {row['merged_into']}: use that one")
    return row


def _event(tables: TicketTables, ctx: Context, ticket_id: int, kind: str, state: str, actor: str | None,
           data: Mapping[str, object] | None = None) -> None:
    tables.add_event(ticket_id, ctx.at(), ctx.now, kind, state, actor, data)


def _joinable_calls(tables: TicketTables, call_ids: Sequence[str], into: int | None) -> list[Row]:
    """The rows of calls that may join a ticket: in the store, answered by an operator
    (or being answered now), and in no other ticket."""
    if not call_ids:
        raise TicketError("a ticket needs at least one call (--call CALL_ID; `hotline calls` lists them)")
    rows: list[Row] = []
    for call_id in dict.fromkeys(call_ids):
        row = tables.call(call_id)
        if row is None:
            raise TicketError(f"no call {call_id!r} in the store (`hotline calls` lists them)")
        answered = row["outcome"] == Outcome.ANSWERED or (row["outcome"] is None and row["seat_answered"] is not None)
        if not answered:
            raise TicketError(
                f"call {call_id} was not answered by an operator ({row['outcome'] or 'not yet answered'}): "
                "only a call an operator took can become a ticket"
            )
        if row["ticket_id"] is not None:
            if row["ticket_id"] == into:
                continue
            raise TicketError(
                f"call {call_id} already belongs to ticket {row['ticket_id']}: "
                f"merge the tickets instead (`hotline tickets merge {row['ticket_id']} ...`)"
            )
        rows.append(row)
    return rows


def _link(tables: TicketTables, ctx: Context, ticket_id: int, calls: Sequence[Row]) -> None:
    tables.link(ticket_id, [row["call_id"] for row in calls], ctx.at(), ctx.now)


async def create_ticket(
    store: Store,
    ctx: Context,
    *,
    calls: Sequence[str],
    category: Category,
    unit: str,
    summary: str,
    operator: str | None = None,
) -> int:
    """Turn answered calls into a new open ticket; its number."""
    found = ctx.directory.find(unit)
    text = summary.strip()
    if not text:
        raise TicketError("a ticket needs a summary of the citizen's problem (--summary)")
    deadline = deadline_from(ctx.now, ctx.zone, ctx.directory.deadline_working_days)

    def write(tables: TicketTables) -> int:
        rows = _joinable_calls(tables, calls, None)
        first = min(rows, key=lambda r: _number(r["arrived_epoch"]))
        by = operator or (str(first["seat"]) if first["seat"] else None)
        ticket_id = tables.add_ticket({
            "created": ctx.at(), "created_epoch": ctx.now, "category": str(category), "summary": text,
            "unit": found.code, "unit_name": found.name, "state": str(TicketState.OPEN),
            "state_since": ctx.at(), "state_since_epoch": ctx.now,
            "operator": by, "caller_number": first["caller_number"],
            "deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
            "deadline_estimated": int(deadline.estimated),
        })
        _link(tables, ctx, ticket_id, rows)
        _event(tables, ctx, ticket_id, "created", TicketState.OPEN, by,
               {"unit": found.code, "calls": [r["call_id"] for r in rows]})
        return ticket_id

    return await TicketRepository(store).write(write)


async def _change(store: Store, ticket_id: int, decide: Callable[[TicketTables, Row], T]) -> T:
    """Run `decide` on the live ticket inside one transaction."""

    def run(tables: TicketTables) -> T:
        return decide(tables, _live_ticket(tables, ticket_id))

    return await TicketRepository(store).write(run)


def _new_state(ctx: Context, state: TicketState) -> dict[str, object]:
    return {"state": str(state), "state_since": ctx.at(), "state_since_epoch": ctx.now}


def _restart_clock(ctx: Context) -> dict[str, object]:
    deadline = deadline_from(ctx.now, ctx.zone, ctx.directory.deadline_working_days)
    return {"deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
            "deadline_estimated": int(deadline.estimated)}


async def forward(store: Store, ctx: Context, ticket_id: int, *, unit: str | None = None,
                  actor: str | None = None, note: str | None = None) -> TicketState:
    """Forward (转办) to the ticket's unit, or to another `unit` (reassigning it)."""
    target = ctx.directory.find(unit) if unit else None

    def decide(tables: TicketTables, row: Row) -> TicketState:
        state = next_state(TicketState(str(row["state"])), Action.FORWARD)
        changes = _new_state(ctx, state) | {"forwarded": ctx.at(), "forwarded_epoch": ctx.now}
        if target is not None:
            changes |= {"unit": target.code, "unit_name": target.name}
        tables.update(ticket_id, changes)
        _event(tables, ctx, ticket_id, "forwarded", state, actor,
               {"unit": target.code if target else row["unit"], "note": note})
        return state

    return await _change(store, ticket_id, decide)


async def reply(store: Store, ctx: Context, ticket_id: int, *, text: str, by: str | None = None,
                actor: str | None = None) -> TicketState:
    """Store the unit's reply (答复)."""
    body = text.strip()
    if not body:
        raise TicketError("the reply is empty: give the unit's answer (--text)")

    def decide(tables: TicketTables, row: Row) -> TicketState:
        state = next_state(TicketState(str(row["state"])), Action.REPLY)
        created = datetime.fromtimestamp(_number(row["created_epoch"]), ctx.zone).date()
        took = working_days_between(created, datetime.fromtimestamp(ctx.now, ctx.zone).date())
        late = ctx.now >= _number(row["deadline_epoch"])
        tables.update(ticket_id, _new_state(ctx, state) | {
            "reply": body, "reply_by": by or row["unit_name"], "replied": ctx.at(), "replied_epoch": ctx.now,
        })
        _event(tables, ctx, ticket_id, "replied", state, actor,
               {"reply": body, "by": by or row["unit_name"], "working_days": took, "late": late})
        return state

    return await _change(store, ticket_id, decide)


async def close(store: Store, ctx: Context, ticket_id: int, *, actor: str | None = None,
                note: str | None = None) -> TicketState:
    def decide(tables: TicketTables, row: Row) -> TicketState:
        state = next_state(TicketState(str(row["state"])), Action.CLOSE)
        tables.update(ticket_id, _new_state(ctx, state) | {"closed": ctx.at(), "closed_epoch": ctx.now})
        _event(tables, ctx, ticket_id, "closed", state, actor, {"note": note} if note else None)
        return state

    return await _change(store, ticket_id, decide)


async def reopen(store: Store, ctx: Context, ticket_id: int, *, reason: str,
                 actor: str | None = None) -> TicketState:
    """Reopen a replied or closed ticket; the unit has a new full deadline from today."""
    why = reason.strip()
    if not why:
        raise TicketError("say why the ticket is reopened (--reason)")

    def decide(tables: TicketTables, row: Row) -> TicketState:
        state = next_state(TicketState(str(row["state"])), Action.REOPEN)
        tables.update(ticket_id, _new_state(ctx, state) | _restart_clock(ctx) | {
            "reopen_count": int(_number(row["reopen_count"])) + 1, "closed": None, "closed_epoch": None,
        })
        _event(tables, ctx, ticket_id, "reopened", state, actor, {"reason": why})
        return state

    return await _change(store, ticket_id, decide)


async def record_callback(
    store: Store,
    ctx: Context,
    ticket_id: int,
    *,
    result: CallbackResult,
    satisfaction: Satisfaction | None = None,
    call_id: str | None = None,
    actor: str | None = None,
    note: str | None = None,
) -> TicketState:
    """Record one callback attempt (回访) and apply its outcome; the ticket's new state.
    This is the one entry point for callbacks, by hand or placed over ARI (`call_id`)."""

    def decide(tables: TicketTables, row: Row) -> TicketState:
        before = TicketState(str(row["state"]))
        state = after_callback(before, result, satisfaction)
        tables.add_callback(ticket_id, ctx.at(), ctx.now, str(result),
                            None if satisfaction is None else str(satisfaction), call_id, actor, note)
        changes: dict[str, object] = {"callback_attempts": int(_number(row["callback_attempts"])) + 1}
        if satisfaction is not None:
            changes["satisfaction"] = str(satisfaction)
        if state is not before:
            changes |= _new_state(ctx, state)
            if state is TicketState.CLOSED:
                changes |= {"closed": ctx.at(), "closed_epoch": ctx.now}
            if state is TicketState.REOPENED:
                changes |= _restart_clock(ctx) | {
                    "reopen_count": int(_number(row["reopen_count"])) + 1, "closed": None, "closed_epoch": None,
                }
        tables.update(ticket_id, changes)
        _event(tables, ctx, ticket_id, "callback", state, actor, {
            "result": str(result), "satisfaction": None if satisfaction is None else str(satisfaction),
            "call_id": call_id, "note": note,
        })
        return state

    return await _change(store, ticket_id, decide)


async def link_calls(store: Store, ctx: Context, ticket_id: int, calls: Sequence[str],
                     actor: str | None = None) -> int:
    """Add more calls about the same problem to a ticket; how many were new."""

    def decide(tables: TicketTables, row: Row) -> int:
        rows = _joinable_calls(tables, calls, ticket_id)
        _link(tables, ctx, ticket_id, rows)
        if rows:
            _event(tables, ctx, ticket_id, "linked", str(row["state"]), actor,
                   {"calls": [r["call_id"] for r in rows]})
        return len(rows)

    return await _change(store, ticket_id, decide)


async def merge(store: Store, ctx: Context, target: int, sources: Sequence[int], actor: str | None = None) -> int:
    """Fold duplicate tickets into `target`: their calls move to it, and each is closed
    as merged (it no longer counts as a ticket). The number of calls moved."""
    if not sources:
        raise TicketError("name the tickets to merge into the first one")
    if target in sources:
        raise TicketError(f"ticket {target} cannot be merged into itself")

    def decide(tables: TicketTables, row: Row) -> int:
        moved = 0
        for source in dict.fromkeys(sources):
            other = _live_ticket(tables, source)
            calls = tables.call_ids(source)
            tables.move_calls(source, target)
            tables.update(source, _new_state(ctx, TicketState.CLOSED) | {
                "merged_into": target, "closed": ctx.at(), "closed_epoch": ctx.now,
            })
            _event(tables, ctx, source, "merged", TicketState.CLOSED, actor,
                   {"into": target, "from": str(other["state"])})
            _event(tables, ctx, target, "merged", str(row["state"]), actor, {"from": source, "calls": calls})
            moved += len(calls)
        return moved

    return await _change(store, target, decide)


async def get_ticket(store: Store, ticket_id: int) -> TicketDetail:
    """The ticket (merged ones too) with its calls, history and callbacks."""
    detail = await TicketRepository(store).detail(ticket_id)
    if detail is None:
        raise TicketError(f"no ticket {ticket_id} (`hotline tickets list --state all` lists them)")
    return detail


async def list_tickets(
    store: Store,
    *,
    now: float,
    states: Collection[TicketState] | None = None,
    unit: str | None = None,
    overdue_only: bool = False,
    since_epoch: float | None = None,
    until_epoch: float | None = None,
    limit: int = 100,
) -> list[Row]:
    """Tickets (merged ones left out), overdue first, then by deadline; each row has
    `calls` (how many) and `overdue` (0/1)."""
    return await TicketRepository(store).listing(now=now, states=states, unit=unit, overdue_only=overdue_only,
                                                 since_epoch=since_epoch, until_epoch=until_epoch, limit=limit)
