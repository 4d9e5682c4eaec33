"""A capture of the ARI traffic the controller sees, as JSON lines, for replayed tests.

Like panoramisk's recorded AMI streams: what Asterisk said and answered is written down
once, against the real thing, and the controller is then tested by feeding it back.
One line per fact, in the order they happened:

    {"kind": "start", "t": 0.0}                        a controller began capturing
    {"kind": "connected", "t": 0.012}                  the events WebSocket (re)connected
    {"kind": "event", "t": 1.503, "event": {...}}      an ARI event, as delivered
    {"kind": "request", "t": 1.51, "method": "POST", "path": "/channels/1.2/answer",
     "params": {}, "body": null, "status": 200, "reply": null, "error": null}

`t` is seconds since the writer started (monotonic, to the millisecond): a replay runs
on its own clock, so absolute times would only make two recordings differ. Ids are
written as they were on the wire; making them comparable is the replay's business.
A request's `t` is when it was sent; its line is written when the answer came.
`status` is 200 for any success (`AriClient.request` does not tell 200 from 204, and
nothing reads it), the ARI status of an `AriError`, 0 for a transport failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import aiohttp

from callcenter.ari import AriClient, AriConfig, AriError, Event, SocketRequests

EventHandler = Callable[[Event], None]
ConnectedHandler = Callable[[], Awaitable[None]]


class CaptureWriter:
    """Appends capture lines to `path`; each line is flushed as it is written, so a
    controller that dies keeps its capture up to the moment it died."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._start = clock()
        self._write({"kind": "start"})

    def offset(self) -> float:
        return round(self._clock() - self._start, 3)

    def event(self, event: Mapping[str, Any]) -> None:
        self._write({"kind": "event", "event": dict(event)})

    def connected(self) -> None:
        self._write({"kind": "connected"})

    def request(
        self,
        t: float,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        status: int,
        reply: Any = None,
        error: str | None = None,
    ) -> None:
        self._write({
            "kind": "request", "t": t, "method": method, "path": path, "params": dict(params or {}),
            "body": None if body is None else dict(body), "status": status, "reply": reply, "error": error,
        }, stamped=False)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _write(self, line: dict[str, Any], stamped: bool = True) -> None:
        if self._file is None:
            return  # closed: the controller outlived its capture (shutdown order); nothing to keep
        if stamped:
            line = {"kind": line.pop("kind"), "t": self.offset(), **line}
        # One write per line: lines of concurrent call tasks never interleave.
        self._file.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()


class CapturingAriClient(AriClient):
    """An `AriClient` that writes every request and its reply (or error) to a capture."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession, writer: CaptureWriter,
                 sockets: SocketRequests | None = None) -> None:
        super().__init__(config, session, sockets)
        self.writer = writer

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int | float | bool] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        sent = self.writer.offset()
        try:
            reply = await super().request(method, path, params=params, body=body)
        except AriError as exc:
            self.writer.request(sent, method, path, params, body, exc.status, error=str(exc))
            raise
        self.writer.request(sent, method, path, params, body, 200, reply=reply)
        return reply


def capturing(config: AriConfig, session: aiohttp.ClientSession, writer: CaptureWriter | None,
              sockets: SocketRequests | None = None) -> AriClient:
    """The ARI client: capturing when there is a writer, the plain one otherwise."""
    if writer is None:
        return AriClient(config, session, sockets)
    return CapturingAriClient(config, session, writer, sockets)


def tap(handler: EventHandler, writer: CaptureWriter | None) -> EventHandler:
    """`handler`, writing each event to the capture before handing it on."""
    if writer is None:
        return handler

    def tapped(event: Event) -> None:
        writer.event(event)
        handler(event)

    return tapped


def tap_connected(handler: ConnectedHandler, writer: CaptureWriter | None) -> ConnectedHandler:
    """`handler` (the re-adoption after each connect), marking the connect in the capture
    first: a replay knows where to re-adopt, and the requests that follow are the adoption's."""
    if writer is None:
        return handler

    async def tapped() -> None:
        writer.connected()
        await handler()

    return tapped
