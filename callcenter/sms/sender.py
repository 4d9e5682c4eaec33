"""Replies to citizens out through the SMS gateway: every `ticket_messages` row queued by
the desk (`TicketService.respond` on an SMS ticket, a person's or the acknowledgement)
is posted to `sms.gateway_url` by one supervised task, woken when a reply is queued and
every `POLL_SECONDS` besides. A failure is retried with backoff; after `MAX_ATTEMPTS`
the row is `failed` with the error, for `hotline sms outbox` and the desk to show."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Protocol

import aiohttp

from callcenter.settings import Settings
from callcenter.sms.repository import SmsRepository
from callcenter.sms.signature import signed_headers
from callcenter.store import Row
from callcenter.supervision import stop_task, supervised
from callcenter.tickets import TicketService
from callcenter.tickets.service import TicketChange

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (2.0, 10.0, 30.0, 120.0)  # after the 1st, 2nd, ... failure
SEND_TIMEOUT = 15.0


class GatewayError(Exception):
    """The gateway did not take the message (the text says how)."""


class Gateway(Protocol):
    async def send(self, to: str, text: str, ref: int) -> str | None:
        """Hand one message to the gateway; its id there (or None); GatewayError on refusal."""


class HttpGateway:
    """POSTs `{"to", "text", "from", "ref"}` to the gateway's URL, signed like the uplink."""

    def __init__(self, url: str, sender_number: str, secret: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.sender_number = sender_number
        self.secret = secret
        self.clock = clock
        self._http: aiohttp.ClientSession | None = None

    async def send(self, to: str, text: str, ref: int) -> str | None:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        body = json.dumps({"to": to, "text": text, "from": self.sender_number, "ref": ref},
                          ensure_ascii=False).encode()
        try:
            async with self._http.post(self.url, data=body, headers=signed_headers(self.secret, body,
                                                                                   self.clock())) as answer:
                reply = await answer.text()
                if answer.status >= 300:
                    raise GatewayError(f"HTTP {answer.status}: {reply[:200]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError(f"{type(exc).__name__}: {exc}") from None
        try:
            found = json.loads(reply).get("id") if reply.strip() else None
        except (json.JSONDecodeError, AttributeError):
            found = None
        return None if found is None else str(found)[:100]

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


class SmsSender:
    def __init__(self, repository: SmsRepository, gateway: Gateway | None,
                 backoff: tuple[float, ...] = BACKOFF_SECONDS, poll_seconds: float = POLL_SECONDS) -> None:
        self.repository = repository
        self.gateway = gateway
        self.backoff = backoff
        self.poll_seconds = poll_seconds
        self.wake = asyncio.Event()
        self._not_before: dict[int, float] = {}  # message id -> monotonic time of its next try
        self._said_no_gateway = False

    def on_ticket_change(self, change: TicketChange) -> None:
        if change.kind == "responded":
            self.wake.set()

    async def run(self) -> None:
        while True:
            self.wake.clear()  # before sending: a reply queued while sending wakes the next round
            await self.send_due()
            waits = [t - time.monotonic() for t in self._not_before.values()]
            timeout = max(0.05, min([self.poll_seconds, *waits]))
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def send_due(self) -> int:
        """Send every queued reply whose time has come; how many were sent."""
        rows = await self.repository.queued()
        if self.gateway is None:
            if rows and not self._said_no_gateway:
                log.warning("sms: %d replies queued but sms.gateway_url is empty: nothing is sent", len(rows))
                self._said_no_gateway = True
            return 0
        sent = 0
        now = time.monotonic()
        for row in rows:
            message_id = int(str(row["id"]))
            if self._not_before.get(message_id, 0.0) > now:
                continue
            sent += await self._send(row, message_id)
        return sent

    async def _send(self, row: Row, message_id: int) -> int:
        assert self.gateway is not None
        try:
            gateway_id = await self.gateway.send(str(row["address"] or ""), str(row["body"]), message_id)
        except GatewayError as exc:
            attempts = int(str(row["attempts"])) + 1
            give_up = attempts >= MAX_ATTEMPTS
            await self.repository.attempt_failed(message_id, str(exc), give_up)
            if give_up:
                self._not_before.pop(message_id, None)
                log.error("sms: reply %s to ticket %s failed for good after %d attempts: %s", message_id,
                          row["ticket_id"], attempts, exc)
            else:
                delay = self.backoff[min(attempts, len(self.backoff)) - 1]
                self._not_before[message_id] = time.monotonic() + delay
                log.warning("sms: reply %s not sent (attempt %d, again in %.0f s): %s", message_id, attempts,
                            delay, exc)
            return 0
        self._not_before.pop(message_id, None)
        await self.repository.sent(message_id, gateway_id)
        return 1


@asynccontextmanager
async def sms_sender_running(settings: Settings, repository: SmsRepository, tickets: TicketService,
                             gateway: Gateway | None = None) -> AsyncIterator[SmsSender]:
    """The sender, supervised, woken by the desk's responses; stopped when the block ends."""
    http = None
    if gateway is None and settings.sms.gateway_url:
        http = HttpGateway(settings.sms.gateway_url, settings.sms.number, settings.sms.secret)
        gateway = http
    sender = SmsSender(repository, gateway)
    unsubscribe = tickets.subscribe(sender.on_ticket_change)
    task = asyncio.create_task(supervised("sms sender", sender.run), name="sms sender")
    try:
        yield sender
    finally:
        unsubscribe()
        await stop_task(task)
        if http is not None:
            await http.close()
