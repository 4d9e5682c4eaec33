"""The SMS gateway's door into the console: `POST /gateway/sms`. No session and no CSRF
token (the gateway is a machine): the HMAC signature with the shared secret
(`callcenter.sms.signature`) is its authentication, checked before the body is parsed.
Refusals store nothing: 503 no secret set, 413 a body over MAX_BODY, 401 unsigned or
badly signed or outside the time window, 400 not a message, 409 this id taken in already."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from callcenter.sms.intake import SmsIntake
from callcenter.sms.repository import SmsRepository
from callcenter.sms.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from callcenter.sms.uplink import UplinkError, parse_uplink
from callcenter.tickets import TicketError
from callcenter.web.api import reply
from callcenter.web.context import CONSOLE, PUBLIC, add_route

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a message is at most a few KB of JSON


def _answer(status: int, **body: object) -> web.Response:
    return reply(body, status)


async def _bounded_body(request: web.Request) -> bytes | None:
    """The body, or None once it is over MAX_BODY (read no further than that)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = bytearray()
    while chunk := await request.content.read(16 * 1024):
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


async def uplink(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    settings = console.settings
    if not settings.sms.secret:
        return _answer(503, error="SMS is not configured here (HOTLINE_SMS_SECRET is not set)")
    body = await _bounded_body(request)
    if body is None:
        return _answer(413, error=f"the body is larger than {MAX_BODY} bytes")
    now = time.time()
    try:
        verify(settings.sms.secret, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER),
               body, now, settings.sms.window_seconds)
    except SignatureError as exc:
        log.warning("sms gateway: refused a request from %s: %s", request.remote, exc)
        return _answer(401, error=str(exc))
    try:
        message = parse_uplink(body)
    except UplinkError as exc:
        return _answer(400, error=str(exc))
    services = console.services
    intake = SmsIntake(settings, services.tickets, SmsRepository(services.store))
    try:
        taken = await intake.take(message, now)
    except TicketError as exc:  # this gateway id is stored already: a replay or a resend
        return _answer(409, error=str(exc), id=message.message_id)
    return _answer(200, ticket_id=taken.ticket_id, joined=taken.joined)


def add_sms_routes(app: web.Application) -> None:
    add_route(app, "POST", "/gateway/sms", uplink, PUBLIC)
