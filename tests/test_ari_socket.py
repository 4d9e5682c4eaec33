"""REST over the events WebSocket and the event filter: the pure bookkeeping against a
scripted socket, then the real thing against Asterisk 22."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import aiohttp
import pytest

from callcenter.ari import AriClient, AriConfig, AriError, AriNotFound, EventStream, SocketRequests
from callcenter.calls.ari_events import EVENTS_READ
from tests.conftest import RunningAsterisk
from tests.harness import sipp


class ScriptedSocket:
    """What `SocketRequests` needs of aiohttp's client WebSocket: it keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    async def send_str(self, text: str) -> None:
        self.sent.append(json.loads(text))


def _attached() -> tuple[SocketRequests, ScriptedSocket]:
    requests, socket = SocketRequests(), ScriptedSocket()
    requests.attach(cast(aiohttp.ClientWebSocketResponse, socket))
    return requests, socket


async def _sent(socket: ScriptedSocket, count: int) -> None:
    while len(socket.sent) < count:
        await asyncio.sleep(0)


async def test_a_request_is_sent_as_a_rest_request_and_its_response_found_by_number() -> None:
    requests, socket = _attached()
    first = asyncio.create_task(requests.send("POST", "/channels/1.2/play/p1", {"media": "sound:x"}, None))
    second = asyncio.create_task(requests.send("POST", "/channels/1.2/variable", {}, {"variables": {"A": "1"}}))
    await _sent(socket, 2)
    assert socket.sent[0] == {"type": "RESTRequest", "request_id": socket.sent[0]["request_id"], "method": "POST",
                              "uri": "channels/1.2/play/p1", "query_strings": [{"name": "media", "value": "sound:x"}]}
    assert socket.sent[1]["content_type"] == "application/json"
    assert json.loads(socket.sent[1]["message_body"]) == {"variables": {"A": "1"}}
    # Answered out of order: each goes to its own request.
    requests.answered({"type": "RESTResponse", "request_id": socket.sent[1]["request_id"], "status_code": 204})
    requests.answered({"type": "RESTResponse", "request_id": socket.sent[0]["request_id"], "status_code": 200,
                       "message_body": '{"id": "p1"}'})
    assert await first == (200, '{"id": "p1"}')
    assert await second == (204, "")
    assert requests.sent == 2


async def test_a_lost_socket_fails_every_waiting_request_at_once_and_the_next_goes_elsewhere() -> None:
    requests, socket = _attached()
    waiting = asyncio.create_task(requests.send("DELETE", "/bridges/b1", {}, None))
    await _sent(socket, 1)
    requests.detach()
    with pytest.raises(ConnectionError):
        await waiting
    assert not requests.usable
    with pytest.raises(ConnectionError):
        await requests.send("GET", "/channels", {}, None)
    requests.answered({"type": "RESTResponse", "request_id": socket.sent[0]["request_id"], "status_code": 200})


async def test_a_response_nobody_waits_for_is_dropped() -> None:
    requests, _ = _attached()
    requests.answered({"type": "RESTResponse", "request_id": "999", "status_code": 200})
    requests.answered({"type": "RESTResponse"})
    assert requests.usable


def test_the_filter_keeps_every_event_the_controller_reads() -> None:
    # The call flow, the callbacks and the listen-in read these types; a type missing
    # here would never arrive (Asterisk drops it) and the flow would hang silently.
    for kind in ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelDtmfReceived", "ChannelHangupRequest",
                 "ChannelDestroyed", "PlaybackStarted", "PlaybackFinished"):
        assert kind in EVENTS_READ


def _config(running: RunningAsterisk) -> AriConfig:
    creds = running.settings.credentials()
    return AriConfig(running.settings.ari_url, creds.ari_user, creds.ari_password, running.settings.asterisk.app)


@pytest.mark.asterisk
async def test_over_the_real_socket_requests_answer_errors_come_back_and_only_the_filtered_events_arrive(
        asterisk: RunningAsterisk) -> None:
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sockets = SocketRequests()
    async with aiohttp.ClientSession() as session:
        client = AriClient(_config(asterisk), session, sockets)

        async def connected() -> None:
            await client.receive_only(EVENTS_READ)  # over HTTP: nothing reads the socket yet

        stream = EventStream(_config(asterisk), session, events.put_nowait, connected, sockets=sockets)
        reader = asyncio.create_task(stream.run())
        try:
            await asyncio.wait_for(stream.connected.wait(), 10)
            assert sockets.usable and sockets.sent == 0
            info = await client.info()
            assert info["system"]["version"].startswith("22.")
            with pytest.raises(AriNotFound):
                await client.get_channel("no-such-channel")
            assert sockets.sent == 2  # both went over the socket, not HTTP
            call = asyncio.create_task(asyncio.to_thread(
                sipp, asterisk.settings, "citizen_call_server_hangs_up.xml",
                "-s", "12345", "-set", "caller", "13912345678", "-set", "caller_name", "Citizen"))
            seen: list[str] = []
            while "StasisStart" not in seen:
                seen.append(str((await asyncio.wait_for(events.get(), 15)).get("type")))
            channel = next(iter(await client.list_channels()))["id"]
            await client.answer(channel)
            await client.create_bridge("socket-test", name="socket test")
            await client.add_to_bridge("socket-test", [channel])
            await asyncio.sleep(0.3)
            await client.hangup(channel)
            await client.destroy_bridge("socket-test")
            while "StasisEnd" not in seen:
                seen.append(str((await asyncio.wait_for(events.get(), 15)).get("type")))
            assert (await call).returncode == 0
            assert sockets.sent == 8
            # ChannelVarset, ChannelDialplan, ChannelEnteredBridge... were not sent at all,
            # and no RESTResponse reached the event handler.
            assert set(seen) <= set(EVENTS_READ), seen
            assert {"StasisStart", "StasisEnd"} <= set(seen), seen  # answered by the dialplan: no state change
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        # The socket is gone: a request goes over HTTP again, and still works.
        assert not sockets.usable
        assert (await client.info())["system"]["version"].startswith("22.")
        assert sockets.sent == 8


@pytest.mark.asterisk
async def test_a_request_on_a_socket_that_closes_fails_as_a_lost_connection(asterisk: RunningAsterisk) -> None:
    sockets = SocketRequests()
    async with aiohttp.ClientSession() as session:
        config = _config(asterisk)
        client = AriClient(config, session, sockets)
        socket = await session.ws_connect(config.events_url, params={"app": config.app},
                                          headers={"Authorization": config.authorization})
        sockets.attach(socket)
        # Nobody reads this socket, so the answer never arrives; closing it ends the wait.
        waiting = asyncio.create_task(client.info())
        while sockets.sent == 0:
            await asyncio.sleep(0.01)
        await socket.close()
        sockets.detach()
        with pytest.raises(AriError, match="ConnectionResetError"):
            await asyncio.wait_for(waiting, 5)
