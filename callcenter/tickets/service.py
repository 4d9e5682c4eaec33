"""What operators, the supervisor, units and the callback runner do to tickets: each
operation reads, decides (with `states`) and writes inside one store transaction
(`TicketRepository.write`), so two of them never interleave.

`TicketService` is the desk the console uses (built once in `callcenter.services`); the
module functions are the same operations for callers holding only a store and a
`Context` (the command line, the callback runner, the demo)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.settings import Settings
from callcenter.store import Row, Store
from callcenter.tickets.confidential import is_confidential, withheld
from callcenter.tickets.deadlines import TicketDeadline, deadline_from, extended, working_days_left
from callcenter.tickets.directory import Directory
from callcenter.tickets.repository import TicketDetail, TicketQuery, TicketRepository, TicketTables
from callcenter.tickets.response import ResponseLimits
from callcenter.tickets.search import query_words
from callcenter.tickets.states import (
    Action,
    NotYourTicket,
    ReturnedTo,
    TicketError,
    after_callback,
    check_extension_request,
    check_unit,
    granted_days,
    next_state,
    parse_category,
)
from callcenter.vocabulary import (
    CONFIDENTIAL_CLEARED,
    CONFIDENTIAL_SET,
    IN_PROGRESS,
    REVEALED,
    WRITTEN_CHANNELS,
    CallbackResult,
    Category,
    Channel,
    MessageStatus,
    Outcome,
    Satisfaction,
    TicketState,
)
from callcenter.words import highlighted
from callcenter.workdays import working_days_between

log = logging.getLogger(__name__)

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


def _clean(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


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
    citizen_name: str | None = None,
    contact_number: str | None = None,
    address: str | None = None,
    channel: Channel = Channel.PHONE,
    actor: str | None = None,
    confidential: bool = False,
) -> int:
    """Turn answered calls into a new open ticket; its number. The contact number is
    the first call's caller unless given. A ticket that came by phone needs its call;
    one from the mailbox, a text, the forum or typed in by hand may have none.
    `confidential`: the citizen asked that the unit never sees who they are (保密)."""
    found = ctx.directory.find(unit)
    text = summary.strip()
    if not text:
        raise TicketError("a ticket needs a summary of the citizen's problem (--summary)")
    if not calls and channel is Channel.PHONE:
        raise TicketError("a ticket needs at least one call (--call CALL_ID; `hotline calls` lists them)")
    deadline = deadline_from(ctx.now, ctx.zone, ctx.directory.deadline_working_days)

    def write(tables: TicketTables) -> int:
        rows = _joinable_calls(tables, calls, None) if calls else []
        first = min(rows, key=lambda r: _number(r["arrived_epoch"])) if rows else None
        by = operator or (str(first["seat"]) if first and first["seat"] else None)
        caller = first["caller_number"] if first else None
        ticket_id = tables.add_ticket({
            "created": ctx.at(), "created_epoch": ctx.now, "category": str(category), "summary": text,
            "unit": found.code, "unit_name": found.name, "state": str(TicketState.OPEN),
            "state_since": ctx.at(), "state_since_epoch": ctx.now,
            "operator": by, "caller_number": caller,
            "deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
            "deadline_estimated": int(deadline.estimated),
            "citizen_name": _clean(citizen_name), "contact_number": _clean(contact_number) or caller,
            "address": _clean(address), "channel": str(channel), "confidential": int(confidential),
        })
        _link(tables, ctx, ticket_id, rows)
        created: dict[str, object] = {"unit": found.code, "calls": [r["call_id"] for r in rows],
                                      "channel": str(channel)}
        if confidential:
            created["confidential"] = True
        _event(tables, ctx, ticket_id, "created", TicketState.OPEN, actor or by, created)
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
                  actor: str | None = None, note: str | None = None, intake_unit: str | None = None) -> TicketState:
    """Forward (转办) to the ticket's unit, or to another `unit` (reassigning it). A ticket
    held by the `intake_unit` (a written message not yet given to anyone) needs the
    responsible unit named: the hotline's office does not answer its own intake."""
    target = ctx.directory.find(unit) if unit else None

    def decide(tables: TicketTables, row: Row) -> TicketState:
        state = next_state(TicketState(str(row["state"])), Action.FORWARD)
        if intake_unit is not None and (target.code if target else row["unit"]) == intake_unit:
            raise TicketError(f"ticket {ticket_id} is held by {row['unit_name']} until it is forwarded:"
                              " name the responsible unit to forward it to")
        changes = _new_state(ctx, state) | {"forwarded": ctx.at(), "forwarded_epoch": ctx.now,
                                            "returned_to": None}
        if target is not None:
            changes |= {"unit": target.code, "unit_name": target.name}
        tables.update(ticket_id, changes)
        _event(tables, ctx, ticket_id, "forwarded", state, actor,
               {"unit": target.code if target else row["unit"], "note": note})
        return state

    return await _change(store, ticket_id, decide)


async def reply(store: Store, ctx: Context, ticket_id: int, *, text: str, by: str | None = None,
                actor: str | None = None, unit: str | None = None) -> TicketState:
    """Store the unit's reply (答复); when `unit` is given, only if the ticket is with it."""
    body = text.strip()
    if not body:
        raise TicketError("the reply is empty: give the unit's answer (--text)")

    def decide(tables: TicketTables, row: Row) -> TicketState:
        if unit is not None:
            check_unit(str(row["unit"]), unit, ticket_id)
        state = next_state(TicketState(str(row["state"])), Action.REPLY)
        created = datetime.fromtimestamp(_number(row["created_epoch"]), ctx.zone).date()
        took = working_days_between(created, datetime.fromtimestamp(ctx.now, ctx.zone).date())
        late = ctx.now >= _number(row["deadline_epoch"])
        tables.update(ticket_id, _new_state(ctx, state) | {
            "reply": body, "reply_by": by or row["unit_name"], "replied": ctx.at(), "replied_epoch": ctx.now,
            "returned_to": None, "pending_extension_days": None, "pending_extension_reason": None,
        })
        # A reply settles an extension still waiting for the supervisor: it is dropped.
        data: dict[str, object] = {"reply": body, "by": by or row["unit_name"], "working_days": took, "late": late}
        if row.get("pending_extension_days") is not None:
            data["extension_dropped"] = row["pending_extension_days"]
        _event(tables, ctx, ticket_id, "replied", state, actor, data)
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
    no_more_than: int | None = None,
) -> TicketState:
    """Record one callback attempt (回访) and apply its outcome; the ticket's new state.
    This is the one entry point for callbacks, by hand or placed over ARI (`call_id`).
    `no_more_than`: the attempts allowed; given, the count is raised to it so that no
    further attempt follows (a number that can never be dialled)."""

    def decide(tables: TicketTables, row: Row) -> TicketState:
        before = TicketState(str(row["state"]))
        state = after_callback(before, result, satisfaction)
        tables.add_callback(ticket_id, ctx.at(), ctx.now, str(result),
                            None if satisfaction is None else str(satisfaction), call_id, actor, note)
        attempts = int(_number(row["callback_attempts"])) + 1
        changes: dict[str, object] = {"callback_attempts": max(attempts, no_more_than or 0)}
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
        secret_from: list[int] = []
        for source in dict.fromkeys(sources):
            other = _live_ticket(tables, source)
            if is_confidential(other):
                secret_from.append(source)
            calls = tables.call_ids(source)
            tables.move_calls(source, target)
            tables.update(source, _new_state(ctx, TicketState.CLOSED) | {
                "merged_into": target, "closed": ctx.at(), "closed_epoch": ctx.now,
            })
            tables.merged(source, target)
            _event(tables, ctx, source, "merged", TicketState.CLOSED, actor,
                   {"into": target, "from": str(other["state"])})
            _event(tables, ctx, target, "merged", str(row["state"]), actor, {"from": source, "calls": calls})
            moved += len(calls)
        # The citizen of a duplicate asked for secrecy: their calls and details now live on
        # the target, which must keep it.
        if secret_from and not is_confidential(row):
            tables.update(target, {"confidential": 1})
            _event(tables, ctx, target, CONFIDENTIAL_SET, str(row["state"]), actor, {"merged_from": secret_from})
        return moved

    return await _change(store, target, decide)


async def get_ticket(store: Store, ticket_id: int) -> TicketDetail:
    """The ticket (merged ones too) with its calls, history and callbacks."""
    detail = await TicketRepository(store).detail(ticket_id)
    if detail is None:
        raise TicketError(f"no ticket {ticket_id} (`hotline tickets list --state all` lists them)")
    return detail


async def reveal_ticket(store: Store, ctx: Context, ticket_id: int, reader: str | None) -> TicketDetail:
    """The ticket in full, as `get_ticket`, for the hotline's staff: reading a
    confidential one is a line of its history (`revealed`, who and when), and the
    timeline returned shows it. Any other ticket is only read (no write lock taken)."""
    detail = await get_ticket(store, ticket_id)
    if not is_confidential(detail.ticket):
        return detail

    def log_reveal(tables: TicketTables) -> None:
        row = tables.ticket(ticket_id)
        if row is not None:
            _event(tables, ctx, ticket_id, REVEALED, str(row["state"]), reader)

    await TicketRepository(store).write(log_reveal)
    return await get_ticket(store, ticket_id)


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
    `calls` (how many) and `overdue` (0/1). A confidential ticket's citizen fields are
    withheld: a list never shows them."""
    query = TicketQuery(states=states, unit=unit, overdue_only=overdue_only, since_epoch=since_epoch,
                        until_epoch=until_epoch, limit=limit)
    return [withheld(row) for row in (await TicketRepository(store).listing(query, now)).rows]


# ----------------------------------------------------------------------------- the desk

SIMILAR_DAYS = 30  # how far back a ticket of the same number is suggested


@dataclass(frozen=True)
class TicketChange:
    """One committed change of a ticket: `kind` is the operation ("created", "forwarded",
    "replied", "urged", ...)."""

    ticket_id: int
    kind: str
    actor: str | None
    at: float


@dataclass(frozen=True)
class WrittenMessage:
    """A citizen's message that came in writing: by the mailbox form, SMS or the forum."""

    channel: Channel
    body: str
    received_epoch: float | None = None  # when the citizen sent it (the gateway's time); None: now
    citizen_name: str | None = None
    contact_number: str | None = None
    place: str | None = None
    category: str | None = None  # a word `parse_category` knows; None: other
    title: str | None = None  # a forum post's title
    external_id: str | None = None  # its id at its source: the gateway's message id, the forum post's
    link: str | None = None  # the forum post's address
    query_code_hash: str | None = None  # the mailbox's query code, hashed
    actor: str | None = None  # who took it in ("public", "sms", "forum", or a person)


# A written ticket's summary: the title and the start of the message (the message is kept whole).
SUMMARY_CHARS = 200


def _summary_of(title: str | None, body: str) -> str:
    text = " ".join(body.split())
    head = f"{title.strip()}：" if title and title.strip() else ""
    cut = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"
    return head + cut


class TicketService:
    """The tickets desk: what operators, the supervisor and the units do to tickets.
    Each change is one store transaction and one line of the ticket's history (who,
    when); a refusal is a TicketError saying why and what to do instead.

    The operations the module functions above also offer (for callers holding only a
    store: the command line, the callback runner) run through them on this service's
    store, so both ways behave the same."""

    def __init__(self, settings: Settings, repository: TicketRepository, calls: CallRepository,
                 directory: Directory, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.repository = repository
        self.calls = calls
        self.directory = directory
        self._clock = clock
        self._listeners: list[Callable[[TicketChange], None]] = []

    def subscribe(self, listener: Callable[[TicketChange], None]) -> Callable[[], None]:
        """Call `listener` (synchronously: it must only schedule work) after every change
        this service commits; returns the function that unsubscribes it. The console's
        live lists and the mail notices listen here."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self, ticket_id: int, kind: str, actor: str | None) -> None:
        change = TicketChange(ticket_id, kind, actor, self._clock())
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a listener's bug must not undo a committed change
                log.exception("a ticket change listener failed on %s", change)

    def _context(self) -> Context:
        return Context(self.directory, self.settings.zone, self._clock())

    @property
    def limits(self) -> ResponseLimits:
        return ResponseLimits.of(self.settings.channels)

    @property
    def _store(self) -> Store:
        return self.repository.store

    async def _change(self, ticket_id: int, decide: Callable[[TicketTables, Row], T]) -> T:
        def run(tables: TicketTables) -> T:
            return decide(tables, _live_ticket(tables, ticket_id))

        return await self.repository.write(run)

    # --- the operator -----------------------------------------------------------------

    async def create(self, call_ids: Sequence[str], category: Category | str, summary: str, unit: str,
                     operator: str | None = None, citizen_name: str | None = None,
                     contact_number: str | None = None, address: str | None = None,
                     channel: Channel = Channel.PHONE, actor: str | None = None, confidential: bool = False) -> int:
        """A new open ticket from answered calls; its number."""
        ticket_id = await create_ticket(
            self._store, self._context(), calls=call_ids, category=parse_category(str(category)), unit=unit,
            summary=summary, operator=operator, citizen_name=citizen_name, contact_number=contact_number,
            address=address, channel=Channel(channel), actor=actor, confidential=confidential)
        self._changed(ticket_id, "created", actor)
        return ticket_id

    async def link_calls(self, ticket_id: int, call_ids: Sequence[str], actor: str | None = None) -> int:
        linked = await link_calls(self._store, self._context(), ticket_id, call_ids, actor=actor)
        self._changed(ticket_id, "linked", actor)
        return linked

    async def similar(self, number: str, summary: str, now: float, limit: int = 10) -> list[Row]:
        """Tickets in progress the new one may repeat: first those of the same number
        (caller or contact) made in the last 30 days, then those whose summary shares a
        word with `summary` (bm25 best first). Each row says `reason` ("same number" or
        "similar summary"), and `snippet`: the summary as [text, matched] pieces."""
        words = query_words(summary) if summary.strip() else []
        found: dict[int, Row] = {}
        if number.strip():
            for row in await self.repository.same_number(number.strip(), now - SIMILAR_DAYS * 86400, limit):
                found[_whole(row["ticket_id"])] = row | {"reason": "same number"}
        if words and len(found) < limit:
            for row in await self.repository.matching(words, limit):
                found.setdefault(_whole(row["ticket_id"]), row | {"reason": "similar summary"})
        out: list[Row] = []
        for row in list(found.values())[:limit]:
            row.pop("search_tokens", None)
            row["snippet"] = [list(piece) for piece in highlighted(str(row["summary"]), words)]
            out.append(withheld(row))
        return out

    # --- written channels (mailbox, SMS, forum) ----------------------------------------

    async def take_in(self, message: WrittenMessage) -> int:
        """A citizen's written message becomes a new open ticket, held by the intake unit
        ([channels] intake_unit) until the supervisor forwards it; its number. The
        message is the ticket's first line of `ticket_messages`; its response is due
        within its channel's limit. A message whose id at its source is stored already
        is refused (TicketError): the same message never makes two tickets."""
        channel = Channel(message.channel)
        if channel not in WRITTEN_CHANNELS:
            raise TicketError(f"a {channel} message is not taken in in writing")
        body = _required(message.body, "the citizen's message is empty")
        ctx = self._context()
        received = message.received_epoch if message.received_epoch is not None else ctx.now
        unit = self.directory.find(self.settings.channels.intake_unit)
        deadline = deadline_from(ctx.now, ctx.zone, self.directory.deadline_working_days)
        category = parse_category(message.category) if message.category else Category.OTHER

        def write(tables: TicketTables) -> int:
            if message.external_id and tables.message_seen(str(channel), message.external_id):
                raise TicketError(f"this {channel} message ({message.external_id}) was taken in already")
            ticket_id = tables.add_ticket({
                "created": ctx.at(), "created_epoch": ctx.now, "category": str(category),
                "summary": _summary_of(message.title, body), "unit": unit.code, "unit_name": unit.name,
                "state": str(TicketState.OPEN), "state_since": ctx.at(), "state_since_epoch": ctx.now,
                "operator": None, "caller_number": None,
                "deadline": deadline.day.isoformat(), "deadline_epoch": deadline.end_epoch,
                "deadline_estimated": int(deadline.estimated),
                "citizen_name": _clean(message.citizen_name), "contact_number": _clean(message.contact_number),
                "address": _clean(message.place), "channel": str(channel), "confidential": 0,
                "received": iso_local(received, ctx.zone), "received_epoch": received,
                "response_due_epoch": self.limits.due(channel, received),
                "query_code_hash": message.query_code_hash, "source_ref": message.external_id,
                "source_link": message.link,
            })
            self._add_message_in(tables, ticket_id, channel, body, received, message)
            _event(tables, ctx, ticket_id, "created", TicketState.OPEN, message.actor,
                   {"unit": unit.code, "calls": [], "channel": str(channel)})
            return ticket_id

        ticket_id = await self.repository.write(write)
        self._changed(ticket_id, "created", message.actor)
        return ticket_id

    async def add_to(self, ticket_id: int, message: WrittenMessage) -> int:
        """A further message from the citizen on a ticket of theirs (an SMS from the same
        number, for one); the message's id. Refused like `take_in` for a message stored already."""
        body = _required(message.body, "the citizen's message is empty")
        ctx = self._context()
        received = message.received_epoch if message.received_epoch is not None else ctx.now

        def decide(tables: TicketTables, row: Row) -> int:
            if message.external_id and tables.message_seen(str(message.channel), message.external_id):
                raise TicketError(f"this {message.channel} message ({message.external_id}) was taken in already")
            message_id = self._add_message_in(tables, ticket_id, Channel(message.channel), body, received, message)
            _event(tables, ctx, ticket_id, "message", TicketState(str(row["state"])), message.actor,
                   {"channel": str(message.channel), "message": message_id})
            return message_id

        message_id = await self._change(ticket_id, decide)
        self._changed(ticket_id, "message", message.actor)
        return message_id

    def _add_message_in(self, tables: TicketTables, ticket_id: int, channel: Channel, body: str, received: float,
                        message: WrittenMessage) -> int:
        return tables.add_message({
            "ticket_id": ticket_id, "channel": str(channel), "direction": "in",
            "at": iso_local(received, self.settings.zone), "at_epoch": received,
            "body": body, "address": _clean(message.contact_number), "external_id": message.external_id,
            "automatic": 0, "public": 0, "actor": message.actor, "status": str(MessageStatus.RECEIVED),
        })

    async def respond(self, ticket_id: int, text: str, actor: str | None, *, automatic: bool = False) -> int:
        """A message to the citizen on a written ticket; its id. An SMS is queued for the
        gateway; a mailbox or forum response is kept (the status page shows it; the
        forum's moderators get it in the export). A person's first response stops the
        ticket's response clock; an automatic one (the ticket number sent back at once)
        moves the limit to `follow_up` after it (`ResponseLimits.due`)."""
        body = _required(text, "a response needs its text")
        ctx = self._context()
        limits = self.limits

        def decide(tables: TicketTables, row: Row) -> int:
            channel = Channel(str(row["channel"]))
            if channel not in WRITTEN_CHANNELS:
                raise TicketError(f"ticket {ticket_id} came by {channel}: it is answered in the call, not in writing")
            status = MessageStatus.QUEUED if channel is Channel.SMS else MessageStatus.KEPT
            message_id = tables.add_message({
                "ticket_id": ticket_id, "channel": str(channel), "direction": "out", "at": ctx.at(),
                "at_epoch": ctx.now, "body": body, "address": row["contact_number"], "external_id": None,
                "automatic": int(automatic), "public": 1, "actor": actor, "status": str(status),
            })
            received = row["received_epoch"]
            changes: dict[str, object] = {}
            if automatic and row["acknowledged_epoch"] is None:
                changes["acknowledged_epoch"] = ctx.now
                if isinstance(received, int | float) and row["responded_epoch"] is None:
                    changes["response_due_epoch"] = limits.due(channel, float(received), ctx.now)
            elif not automatic and row["responded_epoch"] is None:
                changes.update(responded=ctx.at(), responded_epoch=ctx.now, responded_by=actor)
            if changes:
                tables.update(ticket_id, changes)
            _event(tables, ctx, ticket_id, "acknowledged" if automatic else "responded",
                   TicketState(str(row["state"])), actor, {"message": message_id, "channel": str(channel)})
            return message_id

        message_id = await self._change(ticket_id, decide)
        self._changed(ticket_id, "responded", actor)
        return message_id

    # --- the supervisor ---------------------------------------------------------------

    async def forward(self, ticket_id: int, unit: str | None = None, note: str | None = None,
                      actor: str | None = None) -> TicketState:
        state = await forward(self._store, self._context(), ticket_id, unit=unit, actor=actor, note=note,
                              intake_unit=self.settings.channels.intake_unit)
        self._changed(ticket_id, "forwarded", actor)
        return state

    async def forward_many(self, ids: Sequence[int], actor: str | None = None) -> dict[str, object]:
        """Forward each ticket to its unit, each in its own transaction: which were
        forwarded, and why the others were not."""
        done: list[int] = []
        failed: list[dict[str, object]] = []
        for ticket_id in dict.fromkeys(ids):
            try:
                await self.forward(ticket_id, actor=actor)
            except TicketError as exc:
                failed.append({"ticket_id": ticket_id, "reason": str(exc)})
            else:
                done.append(ticket_id)
        return {"forwarded": done, "failed": failed}

    async def merge(self, target: int, sources: Sequence[int], actor: str | None = None) -> int:
        merged = await merge(self._store, self._context(), target, sources, actor=actor)
        self._changed(target, "merged", actor)
        return merged

    async def close(self, ticket_id: int, note: str | None = None, actor: str | None = None) -> TicketState:
        state = await close(self._store, self._context(), ticket_id, actor=actor, note=note)
        self._changed(ticket_id, "closed", actor)
        return state

    async def reopen(self, ticket_id: int, reason: str, actor: str | None = None) -> TicketState:
        state = await reopen(self._store, self._context(), ticket_id, reason=reason, actor=actor)
        self._changed(ticket_id, "reopened", actor)
        return state

    async def return_to_operator(self, ticket_id: int, note: str, actor: str | None = None) -> TicketState:
        """Send an open ticket back to its operator to complete or correct (the note
        says what); it waits on them (`returned_to` operator) until forwarded."""
        why = _required(note, "say what the operator should complete or correct (note)")
        ctx = self._context()

        def decide(tables: TicketTables, row: Row) -> TicketState:
            state = next_state(TicketState(str(row["state"])), Action.SEND_BACK)
            tables.update(ticket_id, {"returned_to": str(ReturnedTo.OPERATOR)})
            _event(tables, ctx, ticket_id, "returned", state, actor,
                   {"to": str(ReturnedTo.OPERATOR), "note": why, "operator": row["operator"]})
            return state

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "returned_to_operator", actor)
        return result

    async def resubmit(self, ticket_id: int, operator: str, note: str, summary: str | None = None,
                       unit: str | None = None, category: Category | str | None = None,
                       actor: str | None = None, confidential: bool | None = None) -> TicketState:
        """The operator answers a ticket returned to them: the summary, unit, category or
        confidentiality corrected (each optional), a note saying what changed; it is open
        again for the supervisor's review. Only the ticket's own operator, only while it
        is returned to them."""
        why = _required(note, "say what was completed or corrected (note)")
        ctx = self._context()
        changes: dict[str, object] = {}
        if summary is not None:
            changes["summary"] = _required(summary, "the summary cannot be empty")
        if unit is not None:
            found = self.directory.find(unit)
            changes |= {"unit": found.code, "unit_name": found.name}
        if category is not None:
            changes["category"] = str(parse_category(str(category)))

        def decide(tables: TicketTables, row: Row) -> TicketState:
            if row["returned_to"] != str(ReturnedTo.OPERATOR):
                raise TicketError(f"ticket {ticket_id} is not waiting on its operator: only a returned one can be "
                                  "sent back to the supervisor")
            if str(row["operator"] or "") != operator:
                raise NotYourTicket(f"ticket {ticket_id} was written by {row['operator']}, not {operator}")
            state = TicketState(str(row["state"]))
            changed = dict(changes)
            if confidential is not None and confidential != is_confidential(row):
                changed["confidential"] = int(confidential)
            tables.update(ticket_id, changed | {"returned_to": None})  # open again, for the supervisor's review
            if "summary" in changed:
                tables.reindex(ticket_id)
            _event(tables, ctx, ticket_id, "resubmitted", state, actor,
                   {"note": why, "changed": sorted(changed)})
            if "confidential" in changed:
                _event(tables, ctx, ticket_id, CONFIDENTIAL_SET if confidential else CONFIDENTIAL_CLEARED, state,
                       actor, {"note": why})
            return state

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "resubmitted", actor)
        return result

    async def urge(self, ticket_id: int, note: str | None = None, actor: str | None = None) -> int:
        """Urge (督办) the unit on a ticket it has in hand; how many times it has been urged."""
        ctx = self._context()

        def decide(tables: TicketTables, row: Row) -> int:
            state = next_state(TicketState(str(row["state"])), Action.URGE)
            count = _whole(row["urge_count"]) + 1
            tables.update(ticket_id, {"urge_count": count, "last_urged_epoch": ctx.now})
            _event(tables, ctx, ticket_id, "urged", state, actor,
                   {"unit": row["unit"], "note": _clean(note), "count": count,
                    "overdue": ctx.now >= _number(row["deadline_epoch"])})
            return count

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "urged", actor)
        return result

    async def set_confidential(self, ticket_id: int, confidential: bool, note: str | None = None,
                               actor: str | None = None) -> bool:
        """Make the ticket confidential (保密) or no longer so, in any state; the unit sees
        the citizen's details again only once it is cleared. A move that changes nothing
        is refused, so every line of the history is a real change."""
        ctx = self._context()
        kind = CONFIDENTIAL_SET if confidential else CONFIDENTIAL_CLEARED

        def decide(tables: TicketTables, row: Row) -> bool:
            if is_confidential(row) == confidential:
                already = "confidential" if confidential else "not confidential"
                raise TicketError(f"ticket {ticket_id} is already {already}")
            tables.update(ticket_id, {"confidential": int(confidential)})
            _event(tables, ctx, ticket_id, kind, str(row["state"]), actor, {"note": _clean(note)} if note else None)
            return confidential

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, kind, actor)
        return result

    async def decide_extension(self, ticket_id: int, grant: bool, actor: str | None = None,
                               days: int | None = None, note: str | None = None) -> str:
        """Grant (by the days asked, or `days`) or refuse the unit's pending request for
        more time. A grant moves the deadline on by that many working days from the
        current one; the event keeps the old and the new deadline. The new deadline."""
        ctx = self._context()

        def decide(tables: TicketTables, row: Row) -> str:
            state = next_state(TicketState(str(row["state"])), Action.EXTEND)
            pending = row["pending_extension_days"]
            added = granted_days(_whole(pending) if pending is not None else None, days)
            cleared = {"pending_extension_days": None, "pending_extension_reason": None}
            if not grant:
                tables.update(ticket_id, cleared)
                _event(tables, ctx, ticket_id, "extension_refused", state, actor,
                       {"days": pending, "reason": row["pending_extension_reason"], "note": _clean(note)})
                return str(row["deadline"])
            old = TicketDeadline(date.fromisoformat(str(row["deadline"])), _number(row["deadline_epoch"]),
                                 bool(row["deadline_estimated"]))
            new = extended(old, ctx.zone, added)
            tables.update(ticket_id, cleared | {
                "deadline": new.day.isoformat(), "deadline_epoch": new.end_epoch,
                "deadline_estimated": int(new.estimated)})
            _event(tables, ctx, ticket_id, "extension_granted", state, actor, {
                "asked": pending, "days": added, "reason": row["pending_extension_reason"], "note": _clean(note),
                "old_deadline": old.day.isoformat(), "new_deadline": new.day.isoformat()})
            return new.day.isoformat()

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "extension_decided", actor)
        return result

    # --- the responsible unit ---------------------------------------------------------

    async def reply(self, ticket_id: int, unit: str, text: str, actor: str | None = None) -> TicketState:
        """The unit's answer to its own ticket."""
        named = self.directory.get(unit)
        state = await reply(self._store, self._context(), ticket_id, text=text, by=named.name if named else unit,
                            actor=actor, unit=unit)
        self._changed(ticket_id, "replied", actor)
        return state

    async def request_extension(self, ticket_id: int, unit: str, days: int, reason: str,
                                actor: str | None = None) -> int:
        """The unit asks for `days` more working days (1-30) with a reason; one request
        waits for the supervisor at a time. The days asked."""
        why = _required(reason, "say why the unit needs more time (reason)")
        ctx = self._context()

        def decide(tables: TicketTables, row: Row) -> int:
            check_unit(str(row["unit"]), unit, ticket_id)
            state = TicketState(str(row["state"]))
            pending = row["pending_extension_days"]
            check_extension_request(state, days, _whole(pending) if pending is not None else None)
            tables.update(ticket_id, {"pending_extension_days": days, "pending_extension_reason": why})
            _event(tables, ctx, ticket_id, "extension_requested", state, actor,
                   {"unit": unit, "days": days, "reason": why, "deadline": row["deadline"]})
            return days

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "extension_requested", actor)
        return result

    async def unit_return(self, ticket_id: int, unit: str, reason: str, actor: str | None = None) -> TicketState:
        """The unit returns a ticket that is not its business: open again, waiting on
        the supervisor (`returned_to` supervisor) to forward it elsewhere."""
        why = _required(reason, "say why the ticket is not the unit's business (reason)")
        ctx = self._context()

        def decide(tables: TicketTables, row: Row) -> TicketState:
            check_unit(str(row["unit"]), unit, ticket_id)
            state = next_state(TicketState(str(row["state"])), Action.UNIT_RETURN)
            tables.update(ticket_id, _new_state(ctx, state) | {
                "returned_to": str(ReturnedTo.SUPERVISOR),
                "pending_extension_days": None, "pending_extension_reason": None})
            _event(tables, ctx, ticket_id, "returned", state, actor,
                   {"to": str(ReturnedTo.SUPERVISOR), "unit": unit, "reason": why,
                    "extension_dropped": row["pending_extension_days"]})
            return state

        result = await self._change(ticket_id, decide)
        self._changed(ticket_id, "returned_by_unit", actor)
        return result

    # --- reading ----------------------------------------------------------------------

    async def detail(self, ticket_id: int) -> TicketDetail:
        """The ticket (merged ones too) with its calls, history and callbacks, as stored:
        for the code's own use, or for a reader who is then shown only what it may see."""
        return await get_ticket(self._store, ticket_id)

    async def reveal(self, ticket_id: int, reader: str | None) -> TicketDetail:
        """The ticket in full for a member of the hotline's staff: reading a confidential
        one is logged (`revealed`). Not a change the desks are told of: a page that
        reloaded on it would log another reading, and so on."""
        return await reveal_ticket(self._store, self._context(), ticket_id, reader)

    async def listing(
        self,
        *,
        now: float | None = None,
        states: Collection[TicketState] | None = None,
        unit: str | None = None,
        category: Category | str | None = None,
        channel: Channel | str | None = None,
        since_epoch: float | None = None,
        until_epoch: float | None = None,
        overdue_only: bool = False,
        returned_to: ReturnedTo | str | None = None,
        operator: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        """One page of tickets (overdue first, then in progress, then by deadline) and
        how many match in all. Each row has `calls`, `overdue` (0/1) and
        `working_days_left` (negative when overdue; None once replied or closed), counted
        on the holiday calendar from today in the hotline's zone. A confidential ticket's
        citizen fields are withheld: only the logged detail view shows them."""
        moment = self._clock() if now is None else now
        query = TicketQuery(
            states=states, unit=unit, category=None if category is None else Category(category),
            channel=None if channel is None else Channel(channel), since_epoch=since_epoch,
            until_epoch=until_epoch, overdue_only=overdue_only,
            returned_to=None if returned_to is None else str(ReturnedTo(returned_to)), operator=operator,
            limit=limit, offset=offset)
        page = await self.repository.listing(query, moment)
        today = datetime.fromtimestamp(moment, self.settings.zone).date()
        rows = [withheld(row) for row in page.rows]
        for row in rows:
            in_progress = str(row["state"]) in IN_PROGRESS
            row["working_days_left"] = (working_days_left(date.fromisoformat(str(row["deadline"])), today)
                                        if in_progress else None)
        return rows, page.total


def _required(text: str | None, why: str) -> str:
    value = (text or "").strip()
    if not value:
        raise TicketError(why)
    return value


def _whole(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0
