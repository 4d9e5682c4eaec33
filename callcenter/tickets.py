"""Tickets (留单): a citizen's problem the operator could not settle on the call.

The operator summarises the call, chooses a category and the responsible unit from the
directory (`config/units.toml`), and the ticket is forwarded to that unit, which must
reply within 7 working days (`workdays`). Several calls about one problem belong to one
ticket: `link` adds calls, `merge` folds duplicate tickets into one. After the reply the
citizen is called back (回访) and says whether they are satisfied.

    open -forward-> forwarded -reply-> replied -close-> closed
    forwarded -forward-> forwarded          (to another unit)
    replied | closed -reopen-> reopened -forward | reply-> ...
    callback reached: satisfied / basically satisfied closes a replied ticket,
                      dissatisfied reopens a replied or closed one (the clock restarts)

open, forwarded and reopened tickets are in progress (办理中); replied and closed ones
are completed (已办结). A call is completed when it has no ticket (settled on the call)
or its ticket is completed. A ticket is overdue while in progress past its deadline.

Decisions are pure functions (`next_state`, `after_callback`); each command reads,
decides and writes inside one store transaction, so two operators never interleave.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import re
import sys
import time
import tomllib
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from callcenter.clock import iso_local
from callcenter.errors import ConfigError, HotlineError
from callcenter.settings import Settings
from callcenter.store import Row, Store, escape_text, fit
from callcenter.workdays import add_working_days, working_days_between


class TicketError(HotlineError):
    """A ticket command that cannot be done: the message says why and what to do."""


class Category(StrEnum):
    HELP = "help"
    COMPLAINT = "complaint"
    CONSULTATION = "consultation"
    SUGGESTION = "suggestion"
    OTHER = "other"


# The seed's words: 求助、投诉举报、咨询、建议 and 其他; the briefing says 投诉类.
CATEGORY_LABELS: dict[Category, str] = {
    Category.HELP: "求助",
    Category.COMPLAINT: "投诉举报",
    Category.CONSULTATION: "咨询",
    Category.SUGGESTION: "建议",
    Category.OTHER: "其他",
}


class State(StrEnum):
    OPEN = "open"
    FORWARDED = "forwarded"
    REPLIED = "replied"
    CLOSED = "closed"
    REOPENED = "reopened"


STATE_LABELS: dict[State, str] = {
    State.OPEN: "待转办",
    State.FORWARDED: "已转办",
    State.REPLIED: "已答复",
    State.CLOSED: "已办结",
    State.REOPENED: "重新办理",
}
IN_PROGRESS: frozenset[State] = frozenset({State.OPEN, State.FORWARDED, State.REOPENED})  # 办理中
COMPLETED: frozenset[State] = frozenset({State.REPLIED, State.CLOSED})  # 已办结


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


SATISFACTION_LABELS: dict[Satisfaction, str] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
}


class CallbackResult(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


class Action(StrEnum):
    FORWARD = "forward"
    REPLY = "reply"
    CLOSE = "close"
    REOPEN = "reopen"


_TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.OPEN, Action.FORWARD): State.FORWARDED,
    (State.FORWARDED, Action.FORWARD): State.FORWARDED,
    (State.REOPENED, Action.FORWARD): State.FORWARDED,
    (State.FORWARDED, Action.REPLY): State.REPLIED,
    (State.REOPENED, Action.REPLY): State.REPLIED,
    (State.REPLIED, Action.CLOSE): State.CLOSED,
    (State.REPLIED, Action.REOPEN): State.REOPENED,
    (State.CLOSED, Action.REOPEN): State.REOPENED,
}


def next_state(state: State, action: Action) -> State:
    """The state `action` leads to; TicketError naming the states it is allowed in."""
    try:
        return _TRANSITIONS[(state, action)]
    except KeyError:
        allowed = sorted(s for (s, a) in _TRANSITIONS if a is action)
        raise TicketError(
            f"cannot {action} a ticket that is {state}: only one that is {' or '.join(allowed)}"
        ) from None


def after_callback(state: State, result: CallbackResult, satisfaction: Satisfaction | None) -> State:
    """The state after a callback to the citizen (回访). A callback follows the unit's
    reply; only a reached citizen gives a satisfaction, which closes a replied ticket,
    or, when dissatisfied, reopens it for the unit to handle again."""
    if state not in COMPLETED:
        raise TicketError(f"a callback follows the unit's reply, and this ticket is {state}")
    if result is not CallbackResult.REACHED:
        if satisfaction is not None:
            raise TicketError(f"a callback that was {result} has no satisfaction")
        return state
    if satisfaction is None:
        raise TicketError("a reached citizen's callback needs the satisfaction")
    if satisfaction is Satisfaction.DISSATISFIED:
        return State.REOPENED
    return State.CLOSED if state is State.REPLIED else state


_ALIASES: dict[str, Category] = {
    **{c.value: c for c in Category},
    **{label: c for c, label in CATEGORY_LABELS.items()},
    "投诉": Category.COMPLAINT, "举报": Category.COMPLAINT, "report": Category.COMPLAINT,
    "求助类": Category.HELP, "投诉类": Category.COMPLAINT, "咨询类": Category.CONSULTATION,
    "建议类": Category.SUGGESTION,
}


def parse_category(text: str) -> Category:
    found = _ALIASES.get(text.strip().lower())
    if found is None:
        known = ", ".join(f"{c.value} ({CATEGORY_LABELS[c]})" for c in Category)
        raise TicketError(f"unknown category {text!r}: use one of {known}")
    return found


# ----------------------------------------------------------------- the unit directory


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class Directory:
    """`config/units.toml`: the responsible units and the ticket and briefing settings."""

    source: Path
    units: tuple[Unit, ...]
    deadline_working_days: int = 7
    title: str = "12345市长热线"
    service_level_seconds: int = 20
    _index: dict[str, Unit] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for unit in self.units:
            for key in (unit.code.lower(), unit.name, *unit.aliases):
                self._index.setdefault(key, unit)

    def get(self, code: str) -> Unit | None:
        unit = self._index.get(code.lower())
        return unit if unit is not None and unit.code == code else None

    def find(self, text: str) -> Unit:
        """The unit named by its code, name or an alias; TicketError with suggestions."""
        key = text.strip()
        unit = self._index.get(key) or self._index.get(key.lower())
        if unit is None:
            close = difflib.get_close_matches(key, list(self._index), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise TicketError(
                f"unknown unit {text!r} (not in {self.source}){hint} `hotline tickets units` lists them"
            )
        if not unit.active:
            raise TicketError(f"unit {unit.name} ({unit.code}) is retired in {self.source}: choose another")
        return unit


def units_file(settings: Settings) -> Path:
    return settings.home / "config" / "units.toml"


_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def load_directory(path: Path) -> Directory:
    """Read and check the directory; ConfigError naming the file and key on any fault."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: the directory of units is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"unit", "tickets", "report"}
    if unknown:
        raise ConfigError(f"{path}: unknown section [{sorted(unknown)[0]}]")

    def number(section: str, key: str, default: int, low: int, high: int) -> int:
        table = raw.get(section, {})
        value = table.get(key, default) if isinstance(table, dict) else default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{path}: {section}.{key} must be a whole number {low}-{high}, got {value!r}")
        return value

    units: list[Unit] = []
    seen: dict[str, str] = {}
    entries = raw.get("unit", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[unit]] entries")
    for n, entry in enumerate(entries, 1):
        where = f"{path}: unit #{n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is not a table")
        extra = set(entry) - {"code", "name", "kind", "aliases", "active"}
        if extra:
            raise ConfigError(f"{where}: unknown key {sorted(extra)[0]!r}")
        code, name, kind = entry.get("code"), entry.get("name"), entry.get("kind", "department")
        aliases, active = entry.get("aliases", []), entry.get("active", True)
        if not isinstance(code, str) or not _CODE.match(code):
            raise ConfigError(f"{where}: code must be lower-case letters, digits and -, got {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where} ({code}): name must be text")
        if kind not in ("county", "department", "other"):
            raise ConfigError(f"{where} ({code}): kind must be county, department or other, got {kind!r}")
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise ConfigError(f"{where} ({code}): aliases must be a list of names")
        if not isinstance(active, bool):
            raise ConfigError(f"{where} ({code}): active must be true or false")
        for key in (code, name, *aliases):
            if key in seen and seen[key] != code:
                raise ConfigError(f"{where} ({code}): {key!r} already names unit {seen[key]}")
            seen[key] = code
        units.append(Unit(code, name.strip(), kind, tuple(a.strip() for a in aliases), active))
    report = raw.get("report", {})
    title = report.get("title", "12345市长热线") if isinstance(report, dict) else None
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"{path}: report.title must be text")
    return Directory(
        source=path,
        units=tuple(units),
        deadline_working_days=number("tickets", "deadline_working_days", 7, 1, 60),
        title=title.strip(),
        service_level_seconds=number("report", "service_level_seconds", 20, 1, 3600),
    )


# ------------------------------------------------------------------------- deadlines


@dataclass(frozen=True, slots=True)
class TicketDeadline:
    day: date
    end_epoch: float  # the end of that day in the hotline's zone
    estimated: bool


def deadline_from(epoch: float, zone: ZoneInfo, working_days: int) -> TicketDeadline:
    """The deadline of a ticket created (or reopened) at `epoch`: the end of the
    `working_days`-th working day after that day."""
    start = datetime.fromtimestamp(epoch, zone).date()
    found = add_working_days(start, working_days)
    following = found.day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone).timestamp()
    return TicketDeadline(found.day, end, found.estimated)


def is_overdue(row: Mapping[str, object], now: float) -> bool:
    deadline = row.get("deadline_epoch")
    return (
        str(row.get("state")) in IN_PROGRESS
        and row.get("merged_into") is None
        and isinstance(deadline, int | float)
        and now >= deadline
    )


# -------------------------------------------------------------------- store operations

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """What a ticket command needs besides the store: the directory, the zone, the time."""

    directory: Directory
    zone: ZoneInfo
    now: float = field(default_factory=time.time)

    def at(self) -> str:
        return iso_local(self.now, self.zone)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _one(db: Database, sql: str, params: Sequence[object]) -> Row | None:
    rows = list(db.query(sql, list(params)))
    return rows[0] if rows else None


def _ticket(db: Database, ticket_id: int) -> Row:
    row = _one(db, "SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id])
    if row is None:
        raise TicketError(f"no ticket {ticket_id} (`hotline tickets list --state all` lists them)")
    if row["merged_into"] is not None:
        raise TicketError(f"ticket {ticket_id} was merged into ticket {row['merged_into']}: use that one")
    return row


def _event(db: Database, ctx: Context, ticket_id: int, kind: str, state: str, actor: str | None,
           data: Mapping[str, object] | None = None) -> None:
    db.table("ticket_events").insert({
        "ticket_id": ticket_id, "at": ctx.at(), "at_epoch": ctx.now, "kind": kind, "state": state,
        "actor": actor, "data": None if not data else json.dumps(dict(data), ensure_ascii=False),
    })


def _check_calls(db: Database, call_ids: Sequence[str], into: int | None) -> list[Row]:
    """The rows of calls that may join a ticket: in the store, answered by an operator
    (or being answered now), and in no other ticket."""
    if not call_ids:
        raise TicketError("a ticket needs at least one call (--call CALL_ID; `hotline calls` lists them)")
    rows: list[Row] = []
    for call_id in dict.fromkeys(call_ids):
        row = _one(db, "SELECT c.call_id, c.outcome, c.seat_answered, c.caller_number, c.seat, c.arrived_epoch,"
                   " tc.ticket_id FROM calls c LEFT JOIN ticket_calls tc ON tc.call_id = c.call_id"
                   " WHERE c.call_id = ?", [call_id])
        if row is None:
            raise TicketError(f"no call {call_id!r} in the store (`hotline calls` lists them)")
        answered = row["outcome"] == "answered" or (row["outcome"] is None and row["seat_answered"] is not None)
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


def _link(db: Database, ctx: Context, ticket_id: int, calls: Iterable[Row]) -> None:
    db.table("ticket_calls").insert_all(
        {"call_id": row["call_id"], "ticket_id": ticket_id, "linked": ctx.at(), "linked_epoch": ctx.now}
        for row in calls
    )


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

    def write(db: Database) -> int:
        rows = _check_calls(db, calls, None)
        first = min(rows, key=lambda r: _num(r["arrived_epoch"]))
        by = operator or (str(first["seat"]) if first["seat"] else None)
        ticket_id = db.table("tickets").insert({
            "created": ctx.at(), "created_epoch": ctx.now, "category": str(category), "summary": text,
            "unit": found.code, "unit_name": found.name, "state": str(State.OPEN),
            "state_since": ctx.at(), "state_since_epoch": ctx.now,
            "operator": by, "caller_number": first["caller_number"],
            "deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
            "deadline_estimated": int(deadline.estimated),
        }).last_pk
        assert isinstance(ticket_id, int)
        _link(db, ctx, ticket_id, rows)
        _event(db, ctx, ticket_id, "created", State.OPEN, by,
               {"unit": found.code, "calls": [r["call_id"] for r in rows]})
        return ticket_id

    return await store.transaction(write)


async def _change(store: Store, ticket_id: int, decide: Callable[[Database, Row], T]) -> T:
    def run(db: Database) -> T:
        return decide(db, _ticket(db, ticket_id))

    return await store.transaction(run)


def _set(db: Database, ticket_id: int, changes: Mapping[str, object]) -> None:
    db.table("tickets").update(ticket_id, dict(changes))


def _new_state(ctx: Context, state: State) -> dict[str, object]:
    return {"state": str(state), "state_since": ctx.at(), "state_since_epoch": ctx.now}


def _restart_clock(ctx: Context) -> dict[str, object]:
    deadline = deadline_from(ctx.now, ctx.zone, ctx.directory.deadline_working_days)
    return {"deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
            "deadline_estimated": int(deadline.estimated)}


async def forward(store: Store, ctx: Context, ticket_id: int, *, unit: str | None = None,
                  actor: str | None = None, note: str | None = None) -> State:
    """Forward (转办) to the ticket's unit, or to another `unit` (reassigning it)."""
    target = ctx.directory.find(unit) if unit else None

    def decide(db: Database, row: Row) -> State:
        state = next_state(State(str(row["state"])), Action.FORWARD)
        changes = _new_state(ctx, state) | {"forwarded": ctx.at(), "forwarded_epoch": ctx.now}
        if target is not None:
            changes |= {"unit": target.code, "unit_name": target.name}
        _set(db, ticket_id, changes)
        _event(db, ctx, ticket_id, "forwarded", state, actor,
               {"unit": target.code if target else row["unit"], "note": note})
        return state

    return await _change(store, ticket_id, decide)


async def reply(store: Store, ctx: Context, ticket_id: int, *, text: str, by: str | None = None,
                actor: str | None = None) -> State:
    """Store the unit's reply (答复)."""
    body = text.strip()
    if not body:
        raise TicketError("the reply is empty: give the unit's answer (--text)")

    def decide(db: Database, row: Row) -> State:
        state = next_state(State(str(row["state"])), Action.REPLY)
        created = datetime.fromtimestamp(_num(row["created_epoch"]), ctx.zone).date()
        took = working_days_between(created, datetime.fromtimestamp(ctx.now, ctx.zone).date())
        late = ctx.now >= _num(row["deadline_epoch"])
        _set(db, ticket_id, _new_state(ctx, state) | {
            "reply": body, "reply_by": by or row["unit_name"], "replied": ctx.at(), "replied_epoch": ctx.now,
        })
        _event(db, ctx, ticket_id, "replied", state, actor,
               {"reply": body, "by": by or row["unit_name"], "working_days": took, "late": late})
        return state

    return await _change(store, ticket_id, decide)


async def close(store: Store, ctx: Context, ticket_id: int, *, actor: str | None = None,
                note: str | None = None) -> State:
    def decide(db: Database, row: Row) -> State:
        state = next_state(State(str(row["state"])), Action.CLOSE)
        _set(db, ticket_id, _new_state(ctx, state) | {"closed": ctx.at(), "closed_epoch": ctx.now})
        _event(db, ctx, ticket_id, "closed", state, actor, {"note": note} if note else None)
        return state

    return await _change(store, ticket_id, decide)


async def reopen(store: Store, ctx: Context, ticket_id: int, *, reason: str, actor: str | None = None) -> State:
    """Reopen a replied or closed ticket; the unit has a new full deadline from today."""
    why = reason.strip()
    if not why:
        raise TicketError("say why the ticket is reopened (--reason)")

    def decide(db: Database, row: Row) -> State:
        state = next_state(State(str(row["state"])), Action.REOPEN)
        _set(db, ticket_id, _new_state(ctx, state) | _restart_clock(ctx) | {
            "reopen_count": int(_num(row["reopen_count"])) + 1, "closed": None, "closed_epoch": None,
        })
        _event(db, ctx, ticket_id, "reopened", state, actor, {"reason": why})
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
) -> State:
    """Record one callback attempt (回访) and apply its outcome; the ticket's new state.
    This is the one entry point for callbacks, by hand or placed over ARI (`call_id`)."""

    def decide(db: Database, row: Row) -> State:
        before = State(str(row["state"]))
        state = after_callback(before, result, satisfaction)
        db.table("ticket_callbacks").insert({
            "ticket_id": ticket_id, "at": ctx.at(), "at_epoch": ctx.now, "result": str(result),
            "satisfaction": None if satisfaction is None else str(satisfaction),
            "call_id": call_id, "actor": actor, "note": note,
        })
        changes: dict[str, object] = {"callback_attempts": int(_num(row["callback_attempts"])) + 1}
        if satisfaction is not None:
            changes["satisfaction"] = str(satisfaction)
        if state is not before:
            changes |= _new_state(ctx, state)
            if state is State.CLOSED:
                changes |= {"closed": ctx.at(), "closed_epoch": ctx.now}
            if state is State.REOPENED:
                changes |= _restart_clock(ctx) | {
                    "reopen_count": int(_num(row["reopen_count"])) + 1, "closed": None, "closed_epoch": None,
                }
        _set(db, ticket_id, changes)
        _event(db, ctx, ticket_id, "callback", state, actor, {
            "result": str(result), "satisfaction": None if satisfaction is None else str(satisfaction),
            "call_id": call_id, "note": note,
        })
        return state

    return await _change(store, ticket_id, decide)


async def link_calls(store: Store, ctx: Context, ticket_id: int, calls: Sequence[str],
                     actor: str | None = None) -> int:
    """Add more calls about the same problem to a ticket; how many were new."""

    def decide(db: Database, row: Row) -> int:
        rows = _check_calls(db, calls, ticket_id)
        _link(db, ctx, ticket_id, rows)
        if rows:
            _event(db, ctx, ticket_id, "linked", str(row["state"]), actor, {"calls": [r["call_id"] for r in rows]})
        return len(rows)

    return await _change(store, ticket_id, decide)


async def merge(store: Store, ctx: Context, target: int, sources: Sequence[int], actor: str | None = None) -> int:
    """Fold duplicate tickets into `target`: their calls move to it, and each is closed
    as merged (it no longer counts as a ticket). The number of calls moved."""
    if not sources:
        raise TicketError("name the tickets to merge into the first one")
    if target in sources:
        raise TicketError(f"ticket {target} cannot be merged into itself")

    def decide(db: Database, row: Row) -> int:
        moved = 0
        for source in dict.fromkeys(sources):
            other = _ticket(db, source)
            calls = [r["call_id"] for r in db.query("SELECT call_id FROM ticket_calls WHERE ticket_id = ?", [source])]
            db.execute("UPDATE ticket_calls SET ticket_id = ? WHERE ticket_id = ?", [target, source])
            _set(db, source, _new_state(ctx, State.CLOSED) | {
                "merged_into": target, "closed": ctx.at(), "closed_epoch": ctx.now,
            })
            _event(db, ctx, source, "merged", State.CLOSED, actor, {"into": target, "from": str(other["state"])})
            _event(db, ctx, target, "merged", str(row["state"]), actor, {"from": source, "calls": calls})
            moved += len(calls)
        return moved

    return await _change(store, target, decide)


@dataclass
class TicketDetail:
    ticket: Row
    calls: list[Row]
    events: list[Row]
    callbacks: list[Row]


async def get_ticket(store: Store, ticket_id: int) -> TicketDetail:
    def read(db: Database) -> TicketDetail:
        row = _one(db, "SELECT * FROM tickets WHERE ticket_id = ?", [ticket_id])
        if row is None:
            raise TicketError(f"no ticket {ticket_id} (`hotline tickets list --state all` lists them)")
        calls = list(db.query(
            "SELECT c.call_id, c.arrived, c.caller_number, c.caller_name, c.seat, c.category, c.talk_seconds,"
            " c.recording_path, tc.linked FROM ticket_calls tc LEFT JOIN calls c ON c.call_id = tc.call_id"
            " WHERE tc.ticket_id = ? ORDER BY c.arrived_epoch, tc.call_id", [ticket_id]))
        events = list(db.query("SELECT * FROM ticket_events WHERE ticket_id = ? ORDER BY id", [ticket_id]))
        for event in events:
            if isinstance(event["data"], str):
                event["data"] = json.loads(event["data"])
        callbacks = list(db.query("SELECT * FROM ticket_callbacks WHERE ticket_id = ? ORDER BY id", [ticket_id]))
        return TicketDetail(row, calls, events, callbacks)

    return await store.snapshot(read)


async def list_tickets(
    store: Store,
    *,
    now: float,
    states: Collection[State] | None = None,
    unit: str | None = None,
    overdue_only: bool = False,
    since_epoch: float | None = None,
    until_epoch: float | None = None,
    limit: int = 100,
) -> list[Row]:
    """Tickets (merged ones left out), overdue first, then by deadline; each row has
    `calls` (how many) and `overdue` (0/1)."""
    active = ", ".join(f"'{s}'" for s in sorted(IN_PROGRESS))
    where = ["t.merged_into IS NULL"]
    params: list[object] = [now]
    if states is not None:
        where.append(f"t.state IN ({', '.join('?' for _ in states)})")
        params.extend(str(s) for s in states)
    if unit is not None:
        where.append("t.unit = ?")
        params.append(unit)
    if since_epoch is not None:
        where.append("t.created_epoch >= ?")
        params.append(since_epoch)
    if until_epoch is not None:
        where.append("t.created_epoch < ?")
        params.append(until_epoch)
    sql = (
        f"SELECT * FROM (SELECT t.*, (t.state IN ({active}) AND t.deadline_epoch <= ?) AS overdue,"
        " (SELECT count(*) FROM ticket_calls tc WHERE tc.ticket_id = t.ticket_id) AS calls"
        f" FROM tickets t WHERE {' AND '.join(where)})"
        + (" WHERE overdue" if overdue_only else "")
        + " ORDER BY overdue DESC, state IN ('replied', 'closed'), deadline_epoch, ticket_id LIMIT ?"
    )
    params.append(limit)
    return await store.snapshot(lambda db: list(db.query(sql, params)))


# ------------------------------------------------------------------------ formatting

_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _json_char(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\n" or unicodedata.category(ch) not in _UNSAFE:
        return ch
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def safe_json(value: object) -> str:
    """JSON with Chinese readable and terminal-active characters \\u-escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return re.sub("[^\x20-\x7e]", _json_char, text)


def _days(seconds: float) -> int:
    return max(1, int(seconds // 86400) + 1)


def overdue_text(row: Mapping[str, object], now: float) -> str:
    if is_overdue(row, now):
        return f"OVERDUE {_days(now - _num(row['deadline_epoch']))}d"
    replied, deadline = row.get("replied_epoch"), row.get("deadline_epoch")
    if isinstance(replied, int | float) and isinstance(deadline, int | float) and replied >= deadline:
        return "replied late"
    return ""


def _colour(line: str, on: bool) -> str:
    return f"\x1b[1;31m{line}\x1b[0m" if on else line


_TABLE: tuple[tuple[str, int, Callable[[Mapping[str, object], float], object]], ...] = (
    ("ticket", 7, lambda r, now: r.get("ticket_id")),
    ("state", 10, lambda r, now: r.get("state")),
    ("deadline", 11, lambda r, now: str(r.get("deadline") or "-") + ("*" if r.get("deadline_estimated") else "")),
    ("flag", 12, overdue_text),
    ("category", 12, lambda r, now: r.get("category")),
    ("unit", 20, lambda r, now: r.get("unit_name")),
    ("calls", 5, lambda r, now: r.get("calls")),
    ("created", 16, lambda r, now: str(r.get("created") or "")[:16].replace("T", " ")),
    ("summary", 40, lambda r, now: r.get("summary")),
)


def format_tickets_table(rows: Sequence[Mapping[str, object]], now: float, colour: bool = False) -> str:
    """Tickets as a fixed-width table; overdue ones are flagged (and red on a terminal)."""

    def line(cells: Iterable[str]) -> str:
        return "  ".join(cells).rstrip()

    out = [line(fit(h, w) for h, w, _ in _TABLE), line("-" * w for _, w, _ in _TABLE)]
    for row in rows:
        out.append(_colour(line(fit(cell(row, now), w) for _, w, cell in _TABLE), colour and is_overdue(row, now)))
    if not rows:
        out.append("(no tickets)")
    overdue = sum(1 for r in rows if is_overdue(r, now))
    if overdue:
        out.append(f"{overdue} overdue (past the {'deadline' if overdue == 1 else 'deadlines'}, still in progress)")
    if any(r.get("deadline_estimated") for r in rows):
        out.append("* deadline estimated: the holiday calendar does not cover that year yet")
    return "\n".join(out)


def format_ticket(detail: TicketDetail, now: float, colour: bool = False) -> str:
    t = detail.ticket
    state = State(str(t["state"]))
    head = f"ticket {t['ticket_id']}  {state} ({STATE_LABELS[state]})"
    flag = overdue_text(t, now)
    if t.get("merged_into") is not None:
        head += f"  merged into ticket {t['merged_into']}"
    elif flag:
        head += f"  {flag}"
    lines = [_colour(head, colour and is_overdue(t, now))]

    def add(label: str, value: object) -> None:
        lines.append(f"{label:<13}{escape_text(value)}")

    category = Category(str(t["category"]))
    add("category", f"{category} ({CATEGORY_LABELS[category]})")
    add("unit", f"{t['unit_name']} ({t['unit']})")
    add("summary", t["summary"])
    add("created", f"{t['created']}  operator {t['operator'] or '-'}  caller {t['caller_number'] or '-'}")
    estimated = "  (estimated: the holiday calendar does not cover that year yet)" if t["deadline_estimated"] else ""
    add("deadline", f"{t['deadline']} (end of day){estimated}")
    if t["forwarded"]:
        add("forwarded", t["forwarded"])
    if t["reply"]:
        add("reply", f"{t['reply']}")
        add("replied", f"{t['replied']} by {t['reply_by']}")
    if t["closed"]:
        add("closed", t["closed"])
    if t["satisfaction"]:
        add("satisfaction", f"{t['satisfaction']} ({SATISFACTION_LABELS[Satisfaction(str(t['satisfaction']))]})")
    add("callbacks", f"{t['callback_attempts']} attempt(s)")
    if t["reopen_count"]:
        add("reopened", f"{t['reopen_count']} time(s)")
    lines.append(f"calls ({len(detail.calls)}):")
    for c in detail.calls:
        lines.append("  " + "  ".join([fit(c.get("arrived") or "-", 25), fit(c.get("caller_number") or "-", 16),
                                       fit(c.get("seat") or "-", 6), escape_text(c.get("call_id"))]).rstrip())
    lines.append("history:")
    for e in detail.events:
        data = e.get("data")
        pairs = data.items() if isinstance(data, dict) else []
        extra = ", ".join(f"{k}={v}" for k, v in pairs if v not in (None, "", []))
        lines.append("  " + "  ".join([fit(e.get("at"), 25), fit(e.get("kind"), 10), fit(e.get("state"), 10),
                                       fit(e.get("actor") or "-", 8), escape_text(extra)]).rstrip())
    return "\n".join(lines)


def format_units(directory: Directory) -> str:
    lines = [f"{'code':<20}{'kind':<12}name (aliases)"]
    for unit in directory.units:
        aliases = f" ({', '.join(unit.aliases)})" if unit.aliases else ""
        retired = "  [retired]" if not unit.active else ""
        lines.append(f"{unit.code:<20}{unit.kind:<12}{unit.name}{aliases}{retired}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ CLI


def database_path(settings: Settings, args: argparse.Namespace, must_exist: bool = True) -> Path:
    path = Path(args.database) if getattr(args, "database", None) else settings.paths.database
    if must_exist and not path.exists():
        raise HotlineError(
            f"{path}: no database yet: the hotline has taken no calls "
            "(`hotline demo seed --month 2009-01 --shape jan-seed` writes a demo month)"
        )
    return path


def _month_range(text: str, zone: ZoneInfo) -> tuple[float, float]:
    from callcenter.reports import parse_month

    period = parse_month(text, zone)
    return period.start_epoch, period.end_epoch


def _colour_wanted() -> bool:
    import os

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def cli_tickets(settings: Settings, args: argparse.Namespace) -> int:
    """`hotline tickets ...` (see `cli_tickets.add_commands` for the options)."""
    directory = load_directory(units_file(settings))
    action = args.tickets_action or "list"
    if action == "units":
        print(format_units(directory))
        return 0
    ctx = Context(directory, settings.zone)
    path = database_path(settings, args)
    actor = getattr(args, "by", None) or getattr(args, "operator", None)

    async def run() -> str:
        async with Store(path) as store:
            if action == "list":
                states: Collection[State] | None
                if args.state == "all":
                    states = None
                elif args.state == "active":
                    states = IN_PROGRESS
                else:
                    states = {State(args.state)}
                span = _month_range(args.month, settings.zone) if args.month else (None, None)
                unit = directory.find(args.unit).code if args.unit else None
                rows = await list_tickets(store, now=ctx.now, states=states, unit=unit, overdue_only=args.overdue,
                                          since_epoch=span[0], until_epoch=span[1], limit=args.limit)
                return safe_json(rows) if args.json else format_tickets_table(rows, ctx.now, _colour_wanted())
            if action == "show":
                detail = await get_ticket(store, args.ticket)
                if args.json:
                    return safe_json({"ticket": detail.ticket, "overdue": is_overdue(detail.ticket, ctx.now),
                                      "calls": detail.calls, "events": detail.events, "callbacks": detail.callbacks})
                return format_ticket(detail, ctx.now, _colour_wanted())
            if action == "new":
                number = await create_ticket(store, ctx, calls=args.call, category=parse_category(args.category),
                                             unit=args.unit, summary=args.summary, operator=args.operator)
                detail = await get_ticket(store, number)
                t = detail.ticket
                estimated = " (estimated: no holiday notice for that year yet)" if t["deadline_estimated"] else ""
                return (f"ticket {number} opened: {t['category']} for {t['unit_name']}, "
                        f"{len(detail.calls)} call(s), reply due by {t['deadline']}{estimated}")
            if action == "link":
                added = await link_calls(store, ctx, args.ticket, args.call, actor)
                return f"ticket {args.ticket}: {added} call(s) linked"
            if action == "merge":
                moved = await merge(store, ctx, args.ticket, args.other, actor)
                return f"ticket {args.ticket}: merged {', '.join(map(str, args.other))} ({moved} call(s) moved)"
            if action == "forward":
                await forward(store, ctx, args.ticket, unit=args.unit, actor=actor, note=args.note)
            elif action == "reply":
                await reply(store, ctx, args.ticket, text=args.text, by=args.by, actor=actor)
            elif action == "close":
                await close(store, ctx, args.ticket, actor=actor, note=args.note)
            elif action == "reopen":
                await reopen(store, ctx, args.ticket, reason=args.reason, actor=actor)
            elif action == "callback":
                satisfaction = Satisfaction(args.satisfaction) if args.satisfaction else None
                result = CallbackResult(args.result) if args.result else (
                    CallbackResult.REACHED if satisfaction else CallbackResult.NO_ANSWER)
                await record_callback(store, ctx, args.ticket, result=result, satisfaction=satisfaction,
                                      actor=actor, note=args.note)
            else:  # pragma: no cover - argparse only offers the actions above
                raise TicketError(f"unknown tickets action {action!r}")
            detail = await get_ticket(store, args.ticket)
            t = detail.ticket
            label = STATE_LABELS[State(str(t["state"]))]
            return f"ticket {args.ticket}: {t['state']} ({label}), deadline {t['deadline']}"

    print(asyncio.run(run()))
    return 0
