"""A thin asyncio ARI client on aiohttp: typed REST helpers and the events WebSocket.

ari-py does not import on Python 3 and the other clients are abandoned or configure
logging on import, so this is our own, about the size of the part we use.
Transport errors are translated here, once, into `AriError` / `AriNotFound`.

REST requests travel over the events WebSocket once it is open (Asterisk 22's "REST
over WebSocket": a `RESTRequest` message answered by a `RESTResponse` on the same
socket), and over HTTP before that (adoption runs before the socket is read) or when it
is down. On the socket a request costs the controller about a third of an HTTP request
through aiohttp, and Asterisk no HTTP parse and no keep-alive thread per connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from callcenter.errors import HotlineError

log = logging.getLogger(__name__)

Event = dict[str, Any]


class AriError(HotlineError):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AriNotFound(AriError):
    """The channel, bridge or playback is gone (404), usually because someone hung up."""


class AriUnauthorized(AriError):
    """ARI refused the credentials (401)."""


@dataclass(frozen=True)
class AriConfig:
    url: str  # http://127.0.0.1:8088/ari
    user: str
    password: str
    app: str

    @property
    def authorization(self) -> str:
        # aiohttp 3.14 deprecates BasicAuth objects; the header is what ARI reads anyway.
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"

    @property
    def events_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/events", "", ""))


# Seconds a REST request may take, over HTTP or the socket.
REQUEST_TIMEOUT = 10.0


class SocketRequests:
    """REST requests over the events WebSocket: each gets a number, and the reader hands
    each `RESTResponse` to the request of that number. While no socket is attached (not
    yet open, being adopted, or lost) `usable` is False and requests go over HTTP."""

    def __init__(self) -> None:
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._waiting: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self._numbers = itertools.count(1)
        self.sent = 0  # requests sent over a socket, ever (health and the benchmark read it)

    @property
    def usable(self) -> bool:
        return self._socket is not None and not self._socket.closed

    def attach(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket

    def detach(self) -> None:
        """The socket is gone: every request still waiting fails as a lost connection
        would over HTTP (the caller's error path runs), none waits for its time-out."""
        self._socket = None
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ConnectionResetError("the ARI WebSocket closed"))

    async def send(self, method: str, path: str, query: Mapping[str, str],
                   body: Mapping[str, Any] | None) -> tuple[int, str]:
        """(status, body text) of one request; ConnectionError when the socket goes."""
        socket = self._socket
        if socket is None or socket.closed:
            raise ConnectionResetError("the ARI WebSocket is not open")
        number = str(next(self._numbers))
        message: dict[str, Any] = {"type": "RESTRequest", "request_id": number, "method": method,
                                   "uri": path.lstrip("/")}
        if query:
            message["query_strings"] = [{"name": k, "value": v} for k, v in query.items()]
        if body is not None:
            message["content_type"] = "application/json"
            message["message_body"] = orjson.dumps(body).decode()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, str]] = loop.create_future()
        self._waiting[number] = future
        # A timer on the future rather than asyncio.wait_for, which wraps it in a task of
        # its own: a fifth of a request's Python time (cProfile), at ten requests a call.
        timer = loop.call_later(REQUEST_TIMEOUT, _time_out, future)
        try:
            await socket.send_str(orjson.dumps(message).decode())
            self.sent += 1
            return await future
        finally:
            timer.cancel()
            self._waiting.pop(number, None)

    def answered(self, response: Mapping[str, Any]) -> None:
        """A `RESTResponse` read from the socket; one nobody waits for (timed out) is dropped."""
        future = self._waiting.pop(str(response.get("request_id", "")), None)
        if future is not None and not future.done():
            status = response.get("status_code")
            future.set_result((status if isinstance(status, int) else 500,
                               str(response.get("message_body") or "")))


def _time_out(future: asyncio.Future[tuple[int, str]]) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer within {REQUEST_TIMEOUT:g} s"))


class AriClient:
    """REST calls. One aiohttp session, shared by every call task; the events socket's
    `SocketRequests` when given, HTTP otherwise."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession,
                 sockets: SocketRequests | None = None) -> None:
        self.config = config
        self._session = session
        self._headers = {"Authorization": config.authorization}
        self._base = config.url.rstrip("/")
        self.sockets = sockets

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int | float | bool] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        query = {k: _query_value(v) for k, v in params.items()} if params else {}
        try:
            if self.sockets is not None and self.sockets.usable:
                status, text = await self.sockets.send(method, path, query, body)
            else:
                async with self._session.request(
                    method, self._base + path, params=query, json=body, headers=self._headers,
                    timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                ) as response:
                    status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            raise AriError(f"ARI {method} {path}: {type(exc).__name__}: {exc}") from None
        if status == 404:
            raise AriNotFound(f"ARI {method} {path}: not found ({_message(text)})", 404)
        if status == 401:
            raise AriUnauthorized(f"ARI refused user {self.config.user!r} (401)", 401)
        if status >= 400:
            raise AriError(f"ARI {method} {path}: {status} {_message(text)}", status)
        return orjson.loads(text) if text.strip() else None

    # --- asterisk
    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "/asterisk/info")
        return result

    # --- channels
    async def list_channels(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/channels")
        return result

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/channels/{channel_id}")
        return result

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        """The channel leaves Stasis for the dialplan (Asterisk then drives it alone)."""
        await self.request("POST", f"/channels/{channel_id}/continue",
                           params={"context": context, "extension": extension, "priority": priority})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def play(self, channel_id: str, media: Sequence[str], playback_id: str, lang: str = "en") -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/play/{playback_id}", params={"media": ",".join(media), "lang": lang}
        )

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", params={"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def get_variable(self, channel_id: str, name: str) -> str:
        result = await self.request("GET", f"/channels/{channel_id}/variable", params={"variable": name})
        return str(result.get("value", "")) if isinstance(result, dict) else ""

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/variable", params={"variable": name, "value": value})

    async def originate(
        self,
        endpoint: str,
        channel_id: str,
        app_args: str = "",
        caller_id: str = "",
        timeout: int = 30,  # noqa: ASYNC109 - ARI's originate parameter: seconds the called phone rings
        variables: Mapping[str, str] | None = None,
        originator: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, str | int | float | bool] = {
            "endpoint": endpoint, "app": self.config.app, "appArgs": app_args, "timeout": timeout,
        }
        if caller_id:
            params["callerId"] = caller_id
        if originator:
            params["originator"] = originator
        body = {"variables": dict(variables)} if variables else None
        result: dict[str, Any] = await self.request("POST", f"/channels/{channel_id}", params=params, body=body)
        return result

    async def snoop(self, channel_id: str, snoop_id: str, spy: str, whisper: str, app_args: str = "") -> None:
        """A Snoop channel on `channel_id`, placed in the app: it hears the `spy` direction
        and speaks into the `whisper` direction (none, in, out, both)."""
        await self.request("POST", f"/channels/{channel_id}/snoop/{snoop_id}",
                           params={"app": self.config.app, "appArgs": app_args, "spy": spy, "whisper": whisper})

    async def endpoint_state(self, technology: str, resource: str) -> str:
        """An endpoint's state ("online", "offline", ...); AriNotFound if it does not exist."""
        result = await self.request("GET", f"/endpoints/{technology}/{resource}")
        return str(result.get("state", "")) if isinstance(result, dict) else ""

    # --- bridges
    async def create_bridge(self, bridge_id: str, name: str = "", kind: str = "mixing") -> None:
        await self.request("POST", f"/bridges/{bridge_id}", params={"type": kind, "name": name or bridge_id})

    async def add_to_bridge(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params={"channel": ",".join(channel_ids)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def list_bridges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/bridges")
        return result

    # --- the application
    async def receive_only(self, event_types: Sequence[str]) -> None:
        """Asterisk sends the app only these events (and the answers to requests over the
        socket, which come as events too: without `RESTResponse` in the list they are
        dropped and every request on the socket waits for its time-out)."""
        allowed = [{"type": kind} for kind in dict.fromkeys([*event_types, "RESTResponse"])]
        await self.request("PUT", f"/applications/{self.config.app}/eventFilter", body={"allowed": allowed})


def _query_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)[:200]


EventHandler = Callable[[Event], None]
ConnectedHandler = Callable[[], Awaitable[None]]


class EventStream:
    """The app's events WebSocket, reconnecting with jittered exponential backoff.

    `on_event` is called synchronously for each event, in order, and must not block:
    the controller hands events to per-call tasks, so a slow call never stalls the reader.
    `on_connected` runs after every (re)connect, before events are read: the place to
    re-adopt calls that stayed in Stasis while we were away.
    """

    def __init__(
        self,
        config: AriConfig,
        session: aiohttp.ClientSession,
        on_event: EventHandler,
        on_connected: ConnectedHandler | None = None,
        max_backoff: float = 5.0,
        on_disconnected: Callable[[], None] | None = None,
        sockets: SocketRequests | None = None,
    ) -> None:
        self.config = config
        self._session = session
        self._sockets = sockets
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.connections = 0

    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._run_once()
                delay = 0.2
            except AriUnauthorized:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("ARI events: %s; reconnecting in %.1f s", exc, delay)
            except Exception:
                # Never deaf in silence: anything else (a re-adoption that failed while
                # Asterisk restarts, a bug) is logged with its traceback, and the stream
                # connects again, which adopts the calls afresh.
                log.exception("ARI events: reading failed; reconnecting in %.1f s", delay)
            self.connected.clear()
            if self._on_disconnected is not None:
                self._on_disconnected()
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self._max_backoff)

    def _handle(self, event: dict[str, Any]) -> None:
        """One event to the handler; a failure is logged and the next event read, so one
        bad event (or one bug) never ends the reading."""
        try:
            self._on_event(event)
        except Exception:
            log.exception("ARI events: handling %s failed", str(event.get("type"))[:64])

    async def _run_once(self) -> None:
        params = {"app": self.config.app, "subscribeAll": "false"}
        try:
            ws = await self._session.ws_connect(
                self.config.events_url, params=params, headers={"Authorization": self.config.authorization},
                heartbeat=20, max_msg_size=16 * 1024 * 1024,
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AriUnauthorized(f"ARI refused user {self.config.user!r} (401)", 401) from None
            raise
        async with ws:
            self.connections += 1
            log.info("ARI events connected (app %s, connection %d)", self.config.app, self.connections)
            if self._on_connected is not None:
                await self._on_connected()  # over HTTP: nothing reads this socket yet
            sockets = self._sockets
            if sockets is not None:
                sockets.attach(ws)
            self.connected.set()
            try:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        try:
                            # orjson: a third of the time of json for Asterisk's events (the
                            # controller decodes a dozen a call, and the answers to its requests).
                            event = orjson.loads(message.data)
                        except orjson.JSONDecodeError:
                            log.error("ARI events: not JSON: %.200s", message.data)
                            continue
                        if not isinstance(event, dict):
                            continue
                        if sockets is not None and event.get("type") == "RESTResponse":
                            sockets.answered(event)
                        else:
                            self._handle(event)
                    elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
            finally:
                if sockets is not None:
                    sockets.detach()
        log.warning("ARI events connection closed")
