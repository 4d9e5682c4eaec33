"""What the console's live feeds share (the wallboard, the tickets desk, the operator's
workspace): the Origin check of a WebSocket, the open sockets with whose session each
is, a send that checks the session and gives up on a slow client, and the one task that
pushes, supervised."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import WSMsgType, web

from callcenter.web.auth import refuse
from callcenter.web.sessions import Sessions

log = logging.getLogger(__name__)


def same_origin_only(request: web.Request) -> None:
    """A WebSocket is not covered by the same-origin policy: refuse other sites' pages."""
    origin, host = request.headers.get("Origin", ""), request.headers.get("Host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        refuse(web.HTTPForbidden, "来源不符 (cross-origin WebSocket refused)")


def session_alive(sessions: Sessions) -> Callable[[str], bool]:
    """Whether a socket's session still holds (not logged out, expired or its password changed)."""
    return lambda token: sessions.get(token, touch=False) is not None


async def hold_open(request: web.Request, added: Callable[[web.WebSocketResponse], None],
                    removed: Callable[[web.WebSocketResponse], None],
                    first: Callable[[], Awaitable[Sequence[str]]]) -> web.WebSocketResponse:
    """Open the socket, give it to the feed (`added`), send the `first` messages, and hold
    it until the client leaves; the screens only listen, so what they send is ignored."""
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    # Listening before the first message is made: a change after it is pushed.
    added(ws)
    try:
        for text in await first():
            await ws.send_str(text)
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        removed(ws)
    return ws


class Feed(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def run_with(app: web.Application, feed: Feed) -> None:
    """Start the feed with the app, stop it (closing its sockets) as the app shuts down."""

    async def start(app: web.Application) -> None:
        await feed.start()

    async def stop(app: web.Application) -> None:
        await feed.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


class Holder(Protocol):
    """Whose socket it is: at least the session's token, checked at every send."""

    @property
    def token(self) -> str: ...


H = TypeVar("H", bound=Holder)


class Sockets(Generic[H]):
    """A feed's open sockets and who holds each. A send checks the session first
    (logged out or expired since the socket opened: closed with 4401); a client that
    cannot take a message within `send_timeout` is dropped rather than let it stall the
    others."""

    def __init__(self, session_alive: Callable[[str], bool], send_timeout: float) -> None:
        self.session_alive = session_alive
        self.send_timeout = send_timeout
        self.open: dict[web.WebSocketResponse, H] = {}
        self.any_open = asyncio.Event()

    def add(self, ws: web.WebSocketResponse, holder: H) -> None:
        self.open[ws] = holder
        self.any_open.set()

    def remove(self, ws: web.WebSocketResponse) -> H | None:
        holder = self.open.pop(ws, None)
        if not self.open:
            self.any_open.clear()
        return holder

    async def send(self, ws: web.WebSocketResponse, holder: H, text: str) -> None:
        if not self.session_alive(holder.token):
            self.remove(ws)
            await ws.close(code=4401, message=b"session ended")
            return
        try:
            await asyncio.wait_for(ws.send_str(text), self.send_timeout)
        except (TimeoutError, ConnectionError, RuntimeError):
            self.remove(ws)
            await ws.close()

    async def send_to(self, text: str, chosen: Callable[[H], bool] = lambda holder: True) -> None:
        """`text` to every socket whose holder is `chosen`, concurrently."""
        await asyncio.gather(*(self.send(ws, holder, text) for ws, holder in list(self.open.items())
                               if chosen(holder)))

    async def close_all(self) -> None:
        """At shutdown: the server would otherwise wait for the open sockets' handlers
        until its shutdown timeout."""
        sockets, self.open = list(self.open), {}
        self.any_open.clear()
        await asyncio.gather(*(ws.close(code=1001, message=b"server stopping") for ws in sockets),
                             return_exceptions=True)


class PushTask:
    """The one task that pushes a feed, and its subscription to what the feed tells:
    `listen()` subscribes and returns the way to unsubscribe. The loop catches each
    message's failure, so its end is a bug (logged as critical: the screens no longer
    update) or `stop()`."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]],
                 listen: Callable[[], Callable[[], None]]) -> None:
        self.name = name
        self.run = run
        self.listen = listen
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self.listen()
        self._task = asyncio.create_task(self.run(), name=self.name)
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._task is task and not task.cancelled() and task.exception() is not None:
            log.critical("%s: the sending task died; its screens no longer update", self.name,
                         exc_info=task.exception())
