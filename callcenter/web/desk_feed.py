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

from aiohttp import WSMsgType, web

from callcenter.tickets import TicketError
from callcenter.tickets.service import TicketChange, TicketService
from callcenter.users import SUPERVISOR, UNIT
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, SUPERVISORS, UNITS, add_route, session_of
from callcenter.web.openapi import DENIED, describe
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
        self.session_alive = session_alive
        self.heartbeat = heartbeat
        self.send_timeout = send_timeout
        self._clients: dict[web.WebSocketResponse, Listener] = {}
        self._changes: asyncio.Queue[TicketChange] = asyncio.Queue(QUEUE_MAX)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self.tickets.subscribe(self._on_change)
        self._task = asyncio.create_task(self._run(), name="desk-feed")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Stop listening and close every socket (the server would otherwise wait for the
        open desks' handlers until its shutdown timeout)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        clients, self._clients = list(self._clients), {}
        await asyncio.gather(*(ws.close(code=1001, message=b"server stopping") for ws in clients),
                             return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        # Supervised: the loop catches each change's failure, so its end is a bug or stop().
        if self._task is task and not task.cancelled() and task.exception() is not None:
            log.critical("desk feed: the sending task died; live desks no longer update",
                         exc_info=task.exception())

    def add(self, ws: web.WebSocketResponse, listener: Listener) -> None:
        self._clients[ws] = listener

    def remove(self, ws: web.WebSocketResponse) -> None:
        self._clients.pop(ws, None)

    def _on_change(self, change: TicketChange) -> None:
        if not self._clients:
            return  # nobody is listening: nothing to look up or send
        if self._changes.full():
            self._changes.get_nowait()
            log.warning("desk feed: more than %d changes waiting; the oldest dropped", QUEUE_MAX)
        self._changes.put_nowait(change)

    async def _run(self) -> None:
        while True:
            try:
                change = await asyncio.wait_for(self._changes.get(), self.heartbeat)
            except TimeoutError:
                await self._beat()
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
        clients = list(self._clients.items())
        unit = await self._unit_of(change.ticket_id) if any(c.unit for _, c in clients) else None
        text = change_message(change)
        await asyncio.gather(*(self._send(ws, listener, text) for ws, listener in clients
                               if listener.unit is None or listener.unit == unit))

    async def _beat(self) -> None:
        text = json.dumps({"type": "heartbeat"})
        await asyncio.gather(*(self._send(ws, listener, text) for ws, listener in list(self._clients.items())))

    async def _send(self, ws: web.WebSocketResponse, listener: Listener, text: str) -> None:
        if not self.session_alive(listener.token):  # logged out or expired since the socket opened
            self.remove(ws)
            await ws.close(code=4401, message=b"session ended")
            return
        try:
            await asyncio.wait_for(ws.send_str(text), self.send_timeout)
        except (TimeoutError, ConnectionError, RuntimeError):
            self.remove(ws)
            await ws.close()


DESK_FEED = web.AppKey("desk_feed", DeskFeed)


async def desk_socket(request: web.Request) -> web.StreamResponse:
    # A WebSocket is not covered by the same-origin policy: refuse other sites' pages.
    origin, host = request.headers.get("Origin", ""), request.headers.get("Host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        refuse(web.HTTPForbidden, "来源不符 (cross-origin WebSocket refused)")
    listener = listener_for(session_of(request))
    if listener is None:
        refuse(web.HTTPForbidden, "无权访问 (not allowed for your role)")
    feed = request.app[DESK_FEED]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    feed.add(ws, listener)
    try:
        # Said once the socket is listening: a change committed after this is sent.
        await ws.send_str(json.dumps({"type": "ready", "unit": listener.unit}, ensure_ascii=False))
        async for message in ws:  # the desk only listens; anything it sends is ignored
            if message.type == WSMsgType.ERROR:
                break
    finally:
        feed.remove(ws)
    return ws


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
    app[DESK_FEED] = DeskFeed(console.services.tickets,
                              lambda token: console.sessions.get(token, touch=False) is not None)
    # A unit's socket is under /api/unit/ like the rest of what a unit may reach: each
    # answers only about the session's own unit.
    add_route(app, "GET", "/api/desk/ws", desk_socket, SUPERVISORS)
    add_route(app, "GET", "/api/unit/desk/ws", desk_socket, UNITS)

    async def start(app: web.Application) -> None:
        await app[DESK_FEED].start()

    async def stop(app: web.Application) -> None:
        await app[DESK_FEED].stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
