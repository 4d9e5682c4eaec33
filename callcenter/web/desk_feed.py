"""The tickets desk's live feed: every committed change of a ticket, pushed to the open
desks over a WebSocket, so a unit's reply shows on the supervisor's 已办理 list without
a reload.

`TicketService` tells its listeners synchronously, inside the request that made the
change: the listener only queues it. One task takes the queue in order, looks up the
ticket's unit once per change (only when a unit's desk is open), and sends the message
to the sockets allowed to see it: a supervisor's sees every change, a unit's only those
of tickets now with its own unit, so no unit learns another's ticket numbers. The
message carries no content (number, kind, time): the page asks the API for the rest,
which checks the session again. A client that cannot take a message within
`send_timeout` is dropped rather than let it stall the others; every `heartbeat`
seconds each socket is sent a beat and its session is checked (logged out or expired:
closed with 4401).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.tickets import TicketError
from callcenter.tickets.service import TicketChange, TicketService
from callcenter.users import SUPERVISOR, UNIT
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, UNITS, add_route, session_of
from callcenter.web.openapi import DENIED, describe
from callcenter.web.pushing import PushTask, Sockets, hold_open, run_with, same_origin_only, session_alive
from callcenter.web.sessions import Session

log = logging.getLogger(__name__)

QUEUE_MAX = 10_000  # changes waiting to be sent; past that the oldest are the least useful


@dataclass(frozen=True)
class Listener:
    """An open desk: whose session it is, and the unit it may hear about (None: all)."""

    token: str
    unit: str | None


def listener_for(session: Session) -> Listener | None:
    """Who may open the feed: a supervisor (everything), a unit account (its own unit)."""
    if session.role == SUPERVISOR:
        return Listener(session.token, None)
    if session.role == UNIT and session.unit:
        return Listener(session.token, session.unit)
    return None


def change_message(change: TicketChange) -> str:
    return json.dumps({"type": "ticket", "ticket_id": change.ticket_id, "kind": change.kind, "at": change.at},
                      ensure_ascii=False)


class DeskFeed:
    def __init__(self, tickets: TicketService, session_alive: Callable[[str], bool], heartbeat: float = 15.0,
                 send_timeout: float = 5.0) -> None:
        self.tickets = tickets
        self.heartbeat = heartbeat
        self.sockets: Sockets[Listener] = Sockets(session_alive, send_timeout)
        self._changes: asyncio.Queue[TicketChange] = asyncio.Queue(QUEUE_MAX)
        self._task = PushTask("desk feed", self._run, lambda: self.tickets.subscribe(self._on_change))

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        """Stop listening and close every socket."""
        await self._task.stop()
        await self.sockets.close_all()

    def add(self, ws: web.WebSocketResponse, listener: Listener) -> None:
        self.sockets.add(ws, listener)

    def remove(self, ws: web.WebSocketResponse) -> None:
        self.sockets.remove(ws)

    def _on_change(self, change: TicketChange) -> None:
        if not self.sockets.open:
            return  # nobody is listening: nothing to look up or send
        if self._changes.full():
            self._changes.get_nowait()
            log.warning("desk feed: more than %d changes waiting; the oldest dropped", QUEUE_MAX)
        self._changes.put_nowait(change)

    async def _run(self) -> None:
        while True:
            try:
                change = await asyncio.wait_for(self._changes.get(), self.heartbeat)
            except TimeoutError:  # a beat, which also checks each socket's session
                await self.sockets.send_to(json.dumps({"type": "heartbeat"}))
                continue
            try:
                await self._deliver(change)
            except Exception:
                log.exception("desk feed: sending %s failed", change)

    async def _unit_of(self, ticket_id: int) -> str | None:
        try:
            detail = await self.tickets.detail(ticket_id)
        except TicketError:
            return None
        unit = detail.ticket.get("unit")
        return str(unit) if unit else None

    async def _deliver(self, change: TicketChange) -> None:
        listening = list(self.sockets.open.values())
        unit = await self._unit_of(change.ticket_id) if any(c.unit for c in listening) else None
        await self.sockets.send_to(change_message(change),
                                   lambda listener: listener.unit is None or listener.unit == unit)


DESK_FEED = web.AppKey("desk_feed", DeskFeed)


async def desk_socket(request: web.Request) -> web.StreamResponse:
    same_origin_only(request)
    listener = listener_for(session_of(request))
    if listener is None:
        refuse(web.HTTPForbidden, "无权访问 (not allowed for your role)")
    feed = request.app[DESK_FEED]

    async def first() -> list[str]:
        # Said once the socket is listening: a change committed after this is sent.
        return [json.dumps({"type": "ready", "unit": listener.unit}, ensure_ascii=False)]

    return await hold_open(request, lambda ws: feed.add(ws, listener), feed.remove, first)


@describe
def desk_feed_paths() -> dict[str, Any]:
    def socket(summary: str, role: str) -> dict[str, Any]:
        return {"get": {"summary": summary, "description": (
            f"Role: {role}. Messages: {{\"type\": \"ready\"}} once, then {{\"type\": \"ticket\", \"ticket_id\", "
            "\"kind\", \"at\"}} after each committed change (kind: created, linked, forwarded, replied, closed, "
            "reopened, merged, urged, returned_to_operator, returned_by_unit, extension_requested, "
            "extension_decided, ...), and {\"type\": \"heartbeat\"} every 15 s. Closed with 4401 when the "
            "session ends."),
            "responses": {"101": {"description": "switching to WebSocket"}, **DENIED}}}

    return {
        "/api/desk/ws": socket("WebSocket: every ticket's changes, as they are committed (the director's desk)",
                               "supervisor"),
        "/api/unit/desk/ws": socket("WebSocket: the changes of my unit's tickets only", "unit"),
    }


def add_desk_feed_routes(app: web.Application) -> None:
    """The feed's routes, and the feed started and stopped with the app."""
    console = app[CONSOLE]
    feed = DeskFeed(console.services.tickets, session_alive(console.sessions))
    app[DESK_FEED] = feed
    # A unit's socket is under /api/unit/ like the rest of what a unit may reach: each
    # answers only about the session's own unit.
    add_route(app, "GET", "/api/desk/ws", desk_socket, SUPERVISORS)
    add_route(app, "GET", "/api/unit/desk/ws", desk_socket, UNITS)
    run_with(app, feed)
