"""The operator's workspace, pushed live: each operator's socket gets their own seat's
view (its state, the call on it or the last one, and the caller card) whenever it
changes, instead of the page asking every second.

The controller calls `changed()` synchronously on every step of every call: the feed
only marks itself dirty, and one task at most every `min_interval` seconds reads the
floor, compares each watched seat with what it last sent, and builds the view of those
that changed, each seat on its own (one seat's slow read never holds back another's ring). The
caller card is built once per call on a seat (when it starts ringing), off the
controller's path, and kept while the call stays there. A view goes only to the
sockets of that seat; a client that cannot take it within `send_timeout` is dropped
rather than let it stall the others; every `heartbeat` seconds each socket gets a beat
and its session is checked (logged out or expired: closed with 4401).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.callers.card import CallerCard, CallerCards
from callcenter.callers.repository import CallerRepository
from callcenter.calls.repository import CallSearch
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Row
from callcenter.users import OPERATOR
from callcenter.vocabulary import SeatState
from callcenter.web.api import call_json, reply, summary_of
from callcenter.web.auth import refuse
from callcenter.web.context import CONSOLE, OPERATORS, FloorSource, add_route, session_of
from callcenter.web.openapi import DENIED, describe
from callcenter.web.pushing import PushTask, Sockets, hold_open, run_with, same_origin_only, session_alive
from callcenter.web.sessions import Session

log = logging.getLogger(__name__)


def seat_of(session: Session) -> str | None:
    """The seat this session's operator works at now (the gate puts the seat they are
    logged in at into the session: `context.seat_now`). Everything of the workspace asks
    here, so a change of how people sit down at seats is a change of this function only."""
    return session.seat if session.role == OPERATOR and session.seat else None


@dataclass(frozen=True)
class Listener:
    """An open workspace: whose session it is and the seat it shows."""

    token: str
    seat: str


def seat_key(seat: dict[str, Any]) -> str:
    """What makes a seat's view worth sending again: everything but the seconds counter
    the page keeps by itself."""
    return json.dumps({key: value for key, value in seat.items() if key != "for_seconds"}, sort_keys=True,
                      ensure_ascii=False)


class SeatViews:
    """A seat's view for the workspace, and the caller cards of the calls on the seats."""

    def __init__(self, services: Services, settings: Settings) -> None:
        self.services = services
        self.wrapup_seconds = settings.callflow.wrapup_seconds
        self.cards = CallerCards(CallerRepository(services.store), services.nuisance)
        self._cards: dict[str, CallerCard] = {}  # seat -> the card of the call it shows

    async def _card(self, seat: str, row: Row, name_on_call: str) -> CallerCard:
        call_id = str(row["call_id"])
        kept = self._cards.get(seat)
        if kept is not None and kept.call_id == call_id:
            return kept
        card = await self.cards.card(call_id, str(row.get("caller_number") or ""),
                                     name_on_call or str(row.get("caller_name") or ""))
        self._cards[seat] = card
        return card

    async def view(self, seat: dict[str, Any]) -> dict[str, Any]:
        """The seat now: its state (with the wrap-up length), the call on it or else the
        last one it had (to finish its summary), and that call's caller card."""
        calls = self.services.calls
        name = str(seat["seat"])
        live = seat.get("call") or None
        row: Row | None = await calls.get(str(live["call_id"])) if live else None
        if row is None:
            rows, _ = await calls.search(CallSearch(seat=name, limit=1))
            row = rows[0] if rows else None
        call: dict[str, Any] | None = None
        card: CallerCard | None = None
        if row is not None:
            call = call_json(row)
            is_live = live is not None and live.get("call_id") == row.get("call_id")
            call["live"] = is_live
            call["phase"] = live.get("phase") if is_live and live is not None else None
            # A three-way call's state (the unit dialled or joined, or why it failed), for the screen.
            call["three_way"] = live.get("three_way") if is_live and live is not None else None
            events = await calls.events(str(row["call_id"]))
            call["summary"] = summary_of(events)
            # What the caller chose in the menu, even after the operator set another category.
            menu = next((e.get("data") for e in events if e.get("kind") == "CATEGORY"), None)
            call["menu_category"] = menu.get("category") if isinstance(menu, dict) else None
            card = await self._card(name, row, str((live or {}).get("name") or ""))
            call["flagged"] = bool(row.get("nuisance")) or card.flag is not None
        ringing = seat.get("state") == str(SeatState.RINGING)
        shown = None if card is None else card.to_json()
        return {"type": "seat", "seat": {**seat, "wrapup_seconds": self.wrapup_seconds}, "call": call,
                "earlier_calls": [] if shown is None else shown["earlier_calls"], "card": shown,
                "rang_at": seat.get("since") if ringing else None, "pushed_at": time.time()}

    def forget(self, seat: str) -> None:
        self._cards.pop(seat, None)


class OperatorFeed:
    def __init__(self, floor: FloorSource, views: SeatViews, session_alive: Callable[[str], bool],
                 min_interval: float = 0.05, heartbeat: float = 15.0, send_timeout: float = 5.0) -> None:
        self.floor = floor
        self.views = views
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self.sockets: Sockets[Listener] = Sockets(session_alive, send_timeout)
        self._sent: dict[str, str] = {}  # seat -> seat_key of the view last sent
        self._building: dict[str, asyncio.Task[None]] = {}  # seat -> its view being built and sent
        self._dirty = asyncio.Event()
        self._task = PushTask("operator feed", self._run, lambda: self.floor.on_change(self._dirty.set))

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        """Stop pushing and close every socket."""
        await self._task.stop()
        building = list(self._building.values())
        for task in building:
            task.cancel()
        await asyncio.gather(*building, return_exceptions=True)
        await self.sockets.close_all()

    def add(self, ws: web.WebSocketResponse, listener: Listener) -> None:
        self.sockets.add(ws, listener)

    def remove(self, ws: web.WebSocketResponse) -> None:
        listener = self.sockets.remove(ws)
        if listener is not None and listener.seat not in self._watched():
            self._sent.pop(listener.seat, None)  # nobody watches it: the next one starts afresh
            self.views.forget(listener.seat)

    def _watched(self) -> set[str]:
        return {listener.seat for listener in self.sockets.open.values()}

    def seat_now(self, seat: str) -> dict[str, Any] | None:
        return next((s for s in self.floor.snapshot()["seats"] if s["seat"] == seat), None)

    async def _run(self) -> None:
        while True:
            await self.sockets.any_open.wait()
            try:
                await asyncio.wait_for(self._dirty.wait(), self.heartbeat)
            except TimeoutError:  # a beat, which also checks each socket's session
                await self.sockets.send_to(json.dumps({"type": "heartbeat"}))
                continue
            self._dirty.clear()
            watched = self._watched()
            for seat in self.floor.snapshot()["seats"]:
                name = seat["seat"]
                if name in watched and name not in self._building and self._sent.get(name) != seat_key(seat):
                    # Each seat's view on its own: a slow read for one never holds back another's ring.
                    task = asyncio.create_task(self._push(seat), name=f"operator view {name}")
                    self._building[name] = task
                    task.add_done_callback(functools.partial(self._built, name))
            await asyncio.sleep(self.min_interval)

    def _built(self, seat: str, task: asyncio.Task[None]) -> None:
        self._building.pop(seat, None)
        self._dirty.set()  # the seat may have changed while its view was built: look again

    async def _push(self, seat: dict[str, Any]) -> None:
        name = str(seat["seat"])
        try:
            view = await self.views.view(seat)
        except Exception:
            log.exception("operator feed: building the view of %s failed", name)
            self._dirty.set()  # try again at the next round
            return
        self._sent[name] = seat_key(seat)
        await self.sockets.send_to(json.dumps(view, ensure_ascii=False), lambda listener: listener.seat == name)


OPERATOR_FEED = web.AppKey("operator_feed", OperatorFeed)


def _my_seat(request: web.Request) -> tuple[Session, dict[str, Any]]:
    session = session_of(request)
    seat = seat_of(session)
    if seat is None:
        refuse(web.HTTPForbidden, "本账号没有坐席 (your account works at no seat)")
    now = request.app[OPERATOR_FEED].seat_now(seat)
    if now is None:
        refuse(web.HTTPNotFound, "本账号的坐席不存在 (your seat is not configured)")
    return session, now


async def operator_now(request: web.Request) -> web.Response:
    """The seat's view once (what the socket pushes): for a page that just acted."""
    _, seat = _my_seat(request)
    return reply(await request.app[OPERATOR_FEED].views.view(seat))


async def operator_socket(request: web.Request) -> web.StreamResponse:
    same_origin_only(request)
    session, seat = _my_seat(request)
    feed = request.app[OPERATOR_FEED]
    listener = Listener(session.token, str(seat["seat"]))

    async def first() -> list[str]:
        return [json.dumps({"type": "ready", "seat": listener.seat}, ensure_ascii=False),
                json.dumps(await feed.views.view(seat), ensure_ascii=False)]

    return await hold_open(request, lambda ws: feed.add(ws, listener), feed.remove, first)


@describe
def operator_feed_paths() -> dict[str, Any]:
    return {"/api/operator/ws": {"get": {
        "summary": "WebSocket: my seat's workspace, pushed whenever it changes", "description": (
            "Role: operator. Messages: {\"type\": \"ready\", \"seat\"} once, then {\"type\": \"seat\", \"seat\" "
            "(state, since, paused, pause_reason, wrapup_seconds, ...), \"call\" (the call on the seat, or its "
            "last one; live, phase, three_way, summary, menu_category, flagged), \"earlier_calls\", \"card\" "
            "(number, name, flagged, flag, earlier_calls with outcomes, open_tickets of the number, built_at), "
            "\"rang_at\" (epoch of the ring while ringing), \"pushed_at\"} at once and on every change of the "
            "seat, and {\"type\": \"heartbeat\"} every 15 s. Only the session's own seat is ever sent. Closed "
            "with 4401 when the session ends."),
        "responses": {"101": {"description": "switching to WebSocket"}, **DENIED}}}}


def add_workspace_routes(app: web.Application) -> None:
    """The workspace's routes, and its feed started and stopped with the app."""
    console = app[CONSOLE]
    feed = OperatorFeed(console.floor, SeatViews(console.services, console.settings), session_alive(console.sessions))
    app[OPERATOR_FEED] = feed
    add_route(app, "GET", "/api/operator/now", operator_now, OPERATORS)
    add_route(app, "GET", "/api/operator/ws", operator_socket, OPERATORS)
    run_with(app, feed)
