"""The tickets desk's JSON API (工单): operators write a ticket from a call, the
supervisor (the director's desk) reviews, forwards, merges, closes, reopens, returns
and urges, and each responsible unit sees only its own tickets and replies, asks for
more time or returns a ticket that is not its business.

The rules live in `callcenter.tickets` (the service refuses a move the ticket's state
does not allow, or a unit acting on another unit's ticket); this module checks input,
enforces who may call what, and maps `TicketError` to HTTP once."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any

from aiohttp import web

from callcenter.calls.repository import CallSearch
from callcenter.store import Row
from callcenter.tickets import TicketError, WrittenMessage
from callcenter.tickets.attachments import TicketAttachments
from callcenter.tickets.confidential import contact_note, is_confidential, withheld
from callcenter.tickets.deadlines import is_overdue, working_days_left
from callcenter.tickets.directory import Unit
from callcenter.tickets.states import NotYourTicket
from callcenter.vocabulary import (
    IN_PROGRESS,
    RESPONSE_STANDING_LABELS,
    REVEALED,
    WRITTEN_CHANNELS,
    Category,
    Channel,
    ResponseStanding,
    TicketState,
)
from callcenter.web.api import (
    CALL_ID,
    SUMMARY_MAX,
    _body,
    _call_id,
    _call_row,
    _may_touch,
    _text,
    call_json,
    path_number,
    reply,
)
from callcenter.web.auth import refuse
from callcenter.web.context import (
    CONSOLE,
    OPERATORS,
    STAFF,
    SUPERVISORS,
    UNITS,
    Console,
    Roles,
    add_route,
    session_of,
)
from callcenter.web.openapi import _body as _body_schema
from callcenter.web.openapi import _error, _ok, _op, _path, describe

NOTE_MAX, NAME_MAX, ADDRESS_MAX, NUMBER_MAX, REPLY_MAX = 500, 50, 200, 32, 4000
RESPONSE_MAX = 2000  # a response to the citizen (an SMS is split by the gateway)
AWAITING_MAX = 200  # the desk's list of written messages awaiting a person's response
PER_PAGE_MAX = 100
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
CONTACT = re.compile(r"[0-9+\-() ]{3,32}")
BULK_MAX = 100
RECENT_CALLS = 8  # the operator's own answered calls offered for 留单


def _ticket_id(request: web.Request) -> int:
    return path_number(request, "ticket_id", web.HTTPBadRequest, "工单编号无效 (bad ticket number)")


async def _do(work: Awaitable[Any]) -> Any:
    """Run a ticket operation; a refusal of the domain becomes a 409 with its reason,
    an unknown ticket a 404."""
    try:
        return await work
    except NotYourTicket as exc:
        refuse(web.HTTPForbidden, f"这不是本单位的工单 ({exc})")
    except TicketError as exc:
        message = str(exc)
        if message.startswith("no ticket"):
            refuse(web.HTTPNotFound, f"没有这张工单 ({message})")
        refuse(web.HTTPConflict, f"无法办理：{message}")


def _choice(value: object, allowed: Mapping[str, Any] | type[Any], name: str, required: bool = True) -> str | None:
    values = [str(v) for v in allowed] if isinstance(allowed, type) else list(allowed)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or value not in values:
        refuse(web.HTTPBadRequest, f"{name} 须为 {', '.join(values)} 之一")
    return value


def _ids(data: Mapping[str, Any], key: str) -> list[int]:
    value = data.get(key)
    if not isinstance(value, list) or not value or len(value) > BULK_MAX or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        refuse(web.HTTPBadRequest, f"{key} 须为 1-{BULK_MAX} 个工单编号的列表")
    return list(dict.fromkeys(value))


def _plain(result: object) -> object:
    """An operation's result as JSON: a state, a count, a ticket number."""
    return result if isinstance(result, str | int | None) else str(result)


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    """An optional true/false field (None when absent)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        refuse(web.HTTPBadRequest, f"{key} 须为 true 或 false")
    return value


def _days(value: object, name: str = "days") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 30:
        refuse(web.HTTPBadRequest, f"{name} 须为 1-30 个工作日")
    return value


def _unit_json(unit: Unit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind, "aliases": list(unit.aliases)}


# ----------------------------------------------------------------------------- shared by the staff


async def units(request: web.Request) -> web.Response:
    """The unit picker: units whose code, name or an alias contains `q` (all without)."""
    console = request.app[CONSOLE]
    query = request.query.get("q", "").strip().lower()[:50]
    found = [unit for unit in console.services.tickets.directory.units
             if unit.active and (not query or query in unit.code.lower() or query in unit.name
                                 or any(query in alias for alias in unit.aliases))]
    return reply({"units": [_unit_json(unit) for unit in found[:50]]})


async def similar(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    number = request.query.get("number", "").strip()[:NUMBER_MAX]
    summary = request.query.get("summary", "").strip()[:SUMMARY_MAX]
    if not number and not summary:
        refuse(web.HTTPBadRequest, "请给出号码或诉求内容 (give number or summary)")
    found = await console.services.tickets.similar(number, summary, time.time())
    return reply({"tickets": found})


# ----------------------------------------------------------------------------- the operator


async def create_from_call(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    row = await _call_row(console, _call_id(request))
    _may_touch(console, request, row)
    data = await _body(request)
    category = _choice(data.get("category"), Category, "category")
    summary = _text(data, "summary", SUMMARY_MAX, required=True)
    unit = _text(data, "unit", 50, required=True)
    name = _text(data, "citizen_name", NAME_MAX)
    contact = _text(data, "contact_number", NUMBER_MAX) or str(row.get("caller_number") or "")
    if contact and not CONTACT.fullmatch(contact):
        refuse(web.HTTPBadRequest, "联系电话只能包含数字、+、-、括号和空格 (bad contact number)")
    address = _text(data, "address", ADDRESS_MAX)
    session = session_of(request)
    ticket_id = await _do(console.services.tickets.create(
        [str(row["call_id"])], str(category), summary, unit, operator=session.seat or session.user,
        citizen_name=name, contact_number=contact, address=address, channel=Channel.PHONE,
        actor=session.user, confidential=bool(_flag(data, "confidential"))))
    return reply({"ticket_id": ticket_id}, status=201)


async def create_without_call(request: web.Request) -> web.Response:
    """A ticket with no call: typed in by hand (channel `manual`, to the unit named), or a
    written message that came another way (a letter typed in: `mailbox`), which is taken
    in like the channel's own: held by the intake unit, its response clock running."""
    console = request.app[CONSOLE]
    data = await _body(request)
    channel = Channel(str(_choice(data.get("channel"), {str(c): c for c in Channel if c is not Channel.PHONE},
                                  "channel")))
    category = _choice(data.get("category"), Category, "category")
    summary = _text(data, "summary", SUMMARY_MAX, required=True)
    name = _text(data, "citizen_name", NAME_MAX)
    contact = _text(data, "contact_number", NUMBER_MAX)
    if contact and not CONTACT.fullmatch(contact):
        refuse(web.HTTPBadRequest, "联系电话只能包含数字、+、-、括号和空格 (bad contact number)")
    address = _text(data, "address", ADDRESS_MAX)
    session = session_of(request)
    tickets = console.services.tickets
    if channel is Channel.MANUAL:
        unit = _text(data, "unit", 50, required=True)
        ticket_id = await _do(tickets.create(
            [], str(category), summary, unit, operator=session.seat or session.user, citizen_name=name,
            contact_number=contact, address=address, channel=channel, actor=session.user,
            confidential=bool(_flag(data, "confidential"))))
    else:
        ticket_id = await _do(tickets.take_in(WrittenMessage(
            channel=channel, body=summary, citizen_name=name or None, contact_number=contact or None,
            place=address or None, category=category, actor=session.user)))
    return reply({"ticket_id": ticket_id}, status=201)


async def operator_calls(request: web.Request) -> web.Response:
    """The last answered calls of the operator's seat, each with the ticket it is on (if any)."""
    console = request.app[CONSOLE]
    rows, _ = await console.services.calls.search(CallSearch(seat=str(session_of(request).seat or ""),
                                                             outcomes=("answered",), limit=RECENT_CALLS))
    on_ticket = await console.services.tickets.repository.tickets_of_calls([str(row["call_id"]) for row in rows])
    return reply({"calls": [call_json(row) | {"ticket_id": on_ticket.get(str(row["call_id"]))} for row in rows]})


async def operator_returned(request: web.Request) -> web.Response:
    """The tickets the supervisor returned to this operator, each with the note saying why."""
    console = request.app[CONSOLE]
    session = session_of(request)
    rows, _ = await console.services.tickets.listing(returned_to="operator", operator=str(session.seat or ""),
                                                     limit=50)
    out = []
    for row in rows:
        events = (await console.services.tickets.detail(int(str(row["ticket_id"])))).events
        note: object = None
        returned_by: object = None
        for event in events:
            data = event.get("data")
            if event.get("kind") == "returned" and isinstance(data, dict) and data.get("to") == "operator":
                note, returned_by = data.get("note"), event.get("actor")
        out.append({key: row.get(key) for key in ("ticket_id", "created", "category", "summary", "unit", "unit_name",
                                                   "state", "citizen_name", "contact_number", "address",
                                                   "confidential")}
                   | {"return_note": note, "returned_by": returned_by})
    return reply({"tickets": out})


async def operator_resubmit(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    ticket_id = _ticket_id(request)
    data = await _body(request)
    summary = _text(data, "summary", SUMMARY_MAX) or None
    unit = _text(data, "unit", 50) or None
    category = _choice(data.get("category"), Category, "category", required=False)
    session = session_of(request)
    state = await _do(console.services.tickets.resubmit(
        ticket_id, str(session.seat or ""), _text(data, "note", NOTE_MAX, required=True), summary=summary,
        unit=unit, category=category, actor=session.user, confidential=_flag(data, "confidential")))
    return reply({"ticket_id": ticket_id, "result": _plain(state)})


@describe
def operator_returned_paths() -> dict[str, Any]:
    return {
        "/api/operator/returned": {"get": _op(
            "Tickets the supervisor returned to me, each with the note (return_note)", "operator",
            {"200": _ok("tickets")})},
        "/api/operator/tickets/{ticket_id}/resubmit": {"post": _op(
            "Send a returned ticket back to the supervisor, corrected (summary, unit, category) with a note",
            "operator", {"200": _ok("resubmitted"), "400": _error("bad input"),
                         "403": _error("not this operator's ticket"), "409": _error("not returned to me")},
            parameters=[_path("ticket_id", "the ticket's number")],
            requestBody=_body_schema({"type": "object", "required": ["note"], "properties": {
                "note": {"type": "string", "maxLength": 500}, "summary": {"type": "string", "maxLength": 500},
                "unit": {"type": "string"}, "category": {"type": "string"},
                "confidential": {"type": "boolean", "description": "the citizen asks for secrecy (保密)"}}}))},
    }


@describe
def operator_calls_paths() -> dict[str, Any]:
    return {"/api/operator/calls": {"get": _op(
        "My seat's last answered calls, each with the ticket it is on (ticket_id, or null)", "operator",
        {"200": _ok("calls")})}}


async def link_call(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    ticket_id = _ticket_id(request)
    data = await _body(request)
    call_id = data.get("call_id")
    if not isinstance(call_id, str) or not CALL_ID.fullmatch(call_id):
        refuse(web.HTTPBadRequest, "通话编号无效 (bad call id)")
    row = await _call_row(console, call_id)
    _may_touch(console, request, row)
    await _do(console.services.tickets.link_calls(ticket_id, [call_id], actor=session_of(request).user))
    return reply({"ticket_id": ticket_id, "linked": call_id})


# ----------------------------------------------------------------------------- written channels


def _epoch(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


async def awaiting_response(request: web.Request) -> web.Response:
    """Written tickets no person has answered yet, soonest due first, each with its
    channel, the seconds left (negative once late) and its standing (GB/T 33358)."""
    console = request.app[CONSOLE]
    tickets = console.services.tickets
    now = console.clock()
    limits = tickets.limits
    rows = await tickets.repository.awaiting_response(AWAITING_MAX)
    listed = []
    for row in rows:
        channel = str(row["channel"])
        received, acknowledged, due = (_epoch(row[key]) for key in (
            "received_epoch", "acknowledged_epoch", "response_due_epoch"))
        standing = limits.standing(channel, received or 0.0, acknowledged, None, now)
        due = due or now
        listed.append(row | {
            "seconds_left": round(due - now), "limit_seconds": limits.limit(channel),
            "standing": None if standing is None else str(standing),
            "standing_label": None if standing is None else RESPONSE_STANDING_LABELS[ResponseStanding(standing)]})
    labels = {str(k): v for k, v in RESPONSE_STANDING_LABELS.items()}
    return reply({"tickets": listed, "now": now, "nearing_share": limits.nearing_share, "standing_labels": labels})


async def respond(request: web.Request) -> web.Response:
    """A staff member's response to the citizen on a written ticket: an SMS is queued
    for the gateway, a mailbox or forum response kept for the status page."""
    console = request.app[CONSOLE]
    ticket_id = _ticket_id(request)
    data = await _body(request)
    text = _text(data, "text", RESPONSE_MAX, required=True)
    detail = await _do(console.services.tickets.detail(ticket_id))
    if Channel(str(detail.ticket["channel"])) not in WRITTEN_CHANNELS:
        refuse(web.HTTPBadRequest, "电话工单在通话中答复，不能书面答复 (not a written ticket)")
    message_id = await _do(console.services.tickets.respond(ticket_id, text, session_of(request).user))
    return reply({"ticket_id": ticket_id, "message_id": message_id})


# ----------------------------------------------------------------------------- the supervisor's desk


def _listing_filters(console: Console, query: Mapping[str, str]) -> dict[str, Any]:
    zone = console.settings.zone
    filters: dict[str, Any] = {}
    state = query.get("state", "")
    if state and state != "active":
        filters["states"] = [TicketState(str(_choice(state, TicketState, "state")))]
    unit = query.get("unit", "")
    if unit:
        if console.services.tickets.directory.get(unit) is None:
            refuse(web.HTTPBadRequest, "没有这个承办单位 (unknown unit)")
        filters["unit"] = unit
    category = query.get("category", "")
    if category:
        filters["category"] = _choice(category, Category, "category")
    channel = query.get("channel", "")
    if channel:
        filters["channel"] = _choice(channel, Channel, "channel")
    month = query.get("month", "")
    if month:
        if not MONTH.fullmatch(month):
            refuse(web.HTTPBadRequest, "month 须为 YYYY-MM")
        year, number = int(month[:4]), int(month[5:])
        start = datetime(year, number, 1, tzinfo=zone)
        end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=zone)
        filters["since_epoch"], filters["until_epoch"] = start.timestamp(), end.timestamp()
    if query.get("overdue") in ("1", "true"):
        filters["overdue_only"] = True
    return filters


def _page(query: Mapping[str, str]) -> tuple[int, int]:
    def whole(name: str, default: int, high: int) -> int:
        text = query.get(name, "")
        if not text:
            return default
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= high:
            refuse(web.HTTPBadRequest, f"{name} 须为 1-{high} 的整数")
        return int(text)

    return whole("page", 1, 100000), whole("per_page", 20, PER_PAGE_MAX)


async def tickets_list(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    filters = _listing_filters(console, request.query)
    page, per_page = _page(request.query)
    rows, total = await console.services.tickets.listing(now=time.time(), limit=per_page,
                                                         offset=(page - 1) * per_page, **filters)
    return reply({"tickets": rows, "total": total, "page": page, "per_page": per_page})


async def _detail(console: Console, ticket_id: int, *, unit: str | None = None,
                  reader: str | None = None) -> dict[str, Any]:
    """The ticket with its calls, history, callbacks and files: for a unit (`unit`) only
    its own and without the call log; for the hotline's staff (`reader`) in full, the
    reading of a confidential ticket logged."""
    tickets = console.services.tickets
    detail = await _do(tickets.detail(ticket_id) if unit is not None else tickets.reveal(ticket_id, reader))
    if unit is not None and detail.ticket.get("unit") != unit:
        refuse(web.HTTPForbidden, "这不是本单位的工单 (not your unit's ticket)")
    names = console.services.seats.operator_names()
    calls = [call_json(call, names) for call in detail.calls]
    events = detail.events
    if unit is not None:  # a unit never sees the call log or recordings, nor who read the citizen's details
        calls = [{"call_id": c["call_id"], "arrived": c["arrived"]} for c in calls]
        events = [event for event in events if event.get("kind") != REVEALED]
    ticket = detail.ticket
    if str(ticket.get("state")) in IN_PROGRESS:  # as the lists count it: on the holiday calendar, from today
        today = datetime.fromtimestamp(time.time(), console.settings.zone).date()
        ticket["working_days_left"] = working_days_left(date.fromisoformat(str(ticket["deadline"])), today)
        ticket["overdue"] = int(is_overdue(ticket, time.time()))
    attachments = await TicketAttachments.on(console.settings, console.services.store).listing(ticket_id)
    messages = [] if unit is not None else detail.messages  # the intake is the hotline's: a unit never sees them
    return {"ticket": ticket, "calls": calls, "events": events, "callbacks": detail.callbacks,
            "attachments": attachments, "messages": messages}


async def ticket_detail(request: web.Request) -> web.Response:
    return reply(await _detail(request.app[CONSOLE], _ticket_id(request), reader=session_of(request).user))


Move = Callable[[Console, int, dict[str, Any], str], Awaitable[Any]]


def _move(run: Move) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        console = request.app[CONSOLE]
        ticket_id = _ticket_id(request)
        data = await _body(request)
        result = await _do(run(console, ticket_id, data, session_of(request).user))
        return reply({"ticket_id": ticket_id, "result": _plain(result)})

    return handler


def _forward(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    unit = _text(data, "unit", 50) or None
    return console.services.tickets.forward(ticket_id, unit=unit, note=_text(data, "note", NOTE_MAX) or None,
                                            actor=actor)


def _close(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.close(ticket_id, note=_text(data, "note", NOTE_MAX) or None, actor=actor)


def _reopen(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.reopen(ticket_id, reason=_text(data, "reason", NOTE_MAX, required=True),
                                           actor=actor)


def _merge(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.merge(ticket_id, _ids(data, "others"), actor=actor)


def _return_to_operator(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.return_to_operator(ticket_id, _text(data, "note", NOTE_MAX, required=True),
                                                       actor=actor)


def _urge(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.urge(ticket_id, _text(data, "note", NOTE_MAX), actor=actor)


def _confidential(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    wanted = _flag(data, "confidential")
    if wanted is None:
        refuse(web.HTTPBadRequest, "confidential 须为 true 或 false")
    return console.services.tickets.set_confidential(ticket_id, wanted, note=_text(data, "note", NOTE_MAX) or None,
                                                     actor=actor)


def _decide_extension(console: Console, ticket_id: int, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    grant = data.get("grant")
    if not isinstance(grant, bool):
        refuse(web.HTTPBadRequest, "grant 须为 true 或 false")
    days = _days(data["days"]) if grant and data.get("days") is not None else None
    return console.services.tickets.decide_extension(ticket_id, grant, actor=actor, days=days)


async def forward_many(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data = await _body(request)
    outcome = await console.services.tickets.forward_many(_ids(data, "ids"), actor=session_of(request).user)
    return reply(outcome)


# ----------------------------------------------------------------------------- the responsible unit


# The unit's list filter (state=...): what it has in hand, what it has done, or one state.
UNIT_STATES: dict[str, list[TicketState]] = {
    "all": [TicketState.FORWARDED, TicketState.REOPENED, TicketState.REPLIED, TicketState.CLOSED],
    "in_hand": [TicketState.FORWARDED, TicketState.REOPENED],
    **{str(state): [state] for state in (TicketState.FORWARDED, TicketState.REOPENED, TicketState.REPLIED,
                                         TicketState.CLOSED)},
}


def _unit_of(request: web.Request) -> str:
    unit = session_of(request).unit
    if not unit:
        refuse(web.HTTPForbidden, "本账号未关联承办单位 (no unit on this account)")
    return unit


async def unit_tickets(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    unit = _unit_of(request)
    page, per_page = _page(request.query)
    state = _choice(request.query.get("state", ""), UNIT_STATES, "state", required=False)
    rows, total = await console.services.tickets.listing(
        now=time.time(), unit=unit, limit=per_page, offset=(page - 1) * per_page,
        states=UNIT_STATES[state or "all"], overdue_only=request.query.get("overdue") in ("1", "true"))
    number = console.settings.hotline.number
    return reply({"tickets": [_for_unit(row, number) for row in rows], "total": total, "page": page,
                  "per_page": per_page})


def _for_unit(row: Row, hotline_number: str) -> dict[str, Any]:
    """What a unit sees of a ticket: the matter, the citizen's contact, the deadline. Of
    a confidential one, no citizen's details: a note that contact goes through the hotline."""
    keep = ("ticket_id", "created", "category", "summary", "unit", "unit_name", "state", "state_since",
            "deadline", "deadline_estimated", "working_days_left", "overdue", "citizen_name", "contact_number",
            "address", "channel", "reply", "replied", "urge_count", "pending_extension_days",
            "pending_extension_reason", "confidential")
    shown: dict[str, Any] = {key: row.get(key) for key in keep}
    if is_confidential(row):
        shown = withheld(shown) | {"contact_note": contact_note(hotline_number)}
    return shown


async def unit_ticket_detail(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    detail = await _detail(console, _ticket_id(request), unit=_unit_of(request))
    detail["ticket"] = _for_unit(detail["ticket"], console.settings.hotline.number)
    return reply(detail)


def _unit_move(run: Callable[[Console, int, str, dict[str, Any], str], Awaitable[Any]]
               ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        console = request.app[CONSOLE]
        ticket_id, unit = _ticket_id(request), _unit_of(request)
        data = await _body(request)
        result = await _do(run(console, ticket_id, unit, data, session_of(request).user))
        return reply({"ticket_id": ticket_id, "result": _plain(result)})

    return handler


def _unit_reply(console: Console, ticket_id: int, unit: str, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.reply(ticket_id, unit, _text(data, "text", REPLY_MAX, required=True), actor=actor)


def _unit_extension(console: Console, ticket_id: int, unit: str, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.request_extension(ticket_id, unit, _days(data.get("days")),
                                                      _text(data, "reason", NOTE_MAX, required=True), actor=actor)


def _unit_return(console: Console, ticket_id: int, unit: str, data: dict[str, Any], actor: str) -> Awaitable[Any]:
    return console.services.tickets.unit_return(ticket_id, unit, _text(data, "reason", NOTE_MAX, required=True),
                                                actor=actor)


ROUTES: tuple[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]], Roles], ...] = (
    ("GET", "/api/units", units, STAFF),
    ("GET", "/api/tickets/similar", similar, STAFF),
    ("POST", "/api/calls/{call_id}/ticket", create_from_call, STAFF),
    ("POST", "/api/tickets", create_without_call, STAFF),
    ("POST", "/api/tickets/{ticket_id}/calls", link_call, STAFF),
    ("GET", "/api/operator/calls", operator_calls, OPERATORS),
    ("GET", "/api/operator/returned", operator_returned, OPERATORS),
    ("POST", "/api/operator/tickets/{ticket_id}/resubmit", operator_resubmit, OPERATORS),
    ("GET", "/api/tickets", tickets_list, SUPERVISORS),
    ("POST", "/api/tickets/forward", forward_many, SUPERVISORS),
    ("GET", "/api/tickets/awaiting-response", awaiting_response, STAFF),
    ("GET", "/api/tickets/{ticket_id}", ticket_detail, SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/respond", respond, STAFF),
    ("POST", "/api/tickets/{ticket_id}/forward", _move(_forward), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/merge", _move(_merge), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/close", _move(_close), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/reopen", _move(_reopen), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/return", _move(_return_to_operator), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/urge", _move(_urge), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/extension", _move(_decide_extension), SUPERVISORS),
    ("POST", "/api/tickets/{ticket_id}/confidential", _move(_confidential), SUPERVISORS),
    ("GET", "/api/unit/tickets", unit_tickets, UNITS),
    ("GET", "/api/unit/tickets/{ticket_id}", unit_ticket_detail, UNITS),
    ("POST", "/api/unit/tickets/{ticket_id}/reply", _unit_move(_unit_reply), UNITS),
    ("POST", "/api/unit/tickets/{ticket_id}/extension", _unit_move(_unit_extension), UNITS),
    ("POST", "/api/unit/tickets/{ticket_id}/return", _unit_move(_unit_return), UNITS),
)


def add_ticket_routes(app: web.Application) -> None:
    for method, path, handler, roles in ROUTES:
        add_route(app, method, path, handler, roles)
