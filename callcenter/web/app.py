"""The console's aiohttp application and its life cycle beside the controller."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.errors import ConfigError
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.supervision import stop_task, supervised
from callcenter.users import ConsoleUsers, load_or_create_users
from callcenter.web.api import FEED, add_api_routes
from callcenter.web.attachments_api import add_attachment_routes
from callcenter.web.auth import gate
from callcenter.web.cases_api import add_case_routes
from callcenter.web.context import CONSOLE, PUBLIC, Console, FloorSource
from callcenter.web.desk_feed import add_desk_feed_routes
from callcenter.web.exports_api import add_export_routes
from callcenter.web.knowledge_api import add_knowledge_routes
from callcenter.web.listen_in_api import add_listen_in_routes
from callcenter.web.live import FloorFeed, watched_space
from callcenter.web.operator_feed import add_workspace_routes
from callcenter.web.operators_api import add_operator_routes
from callcenter.web.pages import add_page_routes
from callcenter.web.pushing import session_alive
from callcenter.web.recordings_api import add_recording_routes
from callcenter.web.reports_api import FRAMED_CSP, FRAMED_PATHS, add_report_routes
from callcenter.web.repository import LoginFailureRepository, SessionRepository
from callcenter.web.sessions import LoginThrottle, Session, Sessions, session_of_row
from callcenter.web.sms_api import add_sms_routes
from callcenter.web.threeway_api import add_three_way_routes
from callcenter.web.tickets_api import add_ticket_routes

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_BODY = 256 * 1024  # summaries and rosters are small; the one upload (attachments_api) streams
# A request line of up to 128 KiB (aiohttp's default is 8190 bytes): a search of the knowledge
# base pasted from a document, 10,000 Chinese characters percent-encoded, is answered (its
# first words are looked for) rather than refused before it reaches the handler.
MAX_REQUEST_LINE = 128 * 1024

# No inline script or style anywhere: the pages' code is in static/, so a caller name that
# slipped through escaping still could not run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def web_address(settings: Settings) -> tuple[str, int]:
    """Where the console listens: settings [web] bind and port (HOTLINE_WEB_BIND / _PORT)."""
    return settings.web.bind, settings.web.port


def console_url(settings: Settings, bind: str | None = None, port: int | None = None) -> str:
    """The console's address as a browser on this machine reaches it."""
    default_bind, default_port = web_address(settings)
    host = bind or default_bind
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # bound everywhere, reached on loopback
    scheme = "https" if settings.web_tls else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port or default_port}"


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The console's HTTPS context from web.tls_cert / web.tls_key; ConfigError naming the
    file when one cannot be used."""
    files = settings.web_tls
    if files is None:
        return None
    cert, key = files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"web console: cannot use the certificate {cert} with the key {key} ({exc})") from None
    return context


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    # The briefing's page alone may be framed, and by the console only (the reports page's sandboxed iframe).
    framed = request.path in FRAMED_PATHS and response.content_type == "text/html"
    headers.setdefault("Content-Security-Policy", FRAMED_CSP if framed else CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN" if framed else "DENY")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")


def _account_allows(users: ConsoleUsers, session: Session) -> bool:
    """The session's account still exists, is not disabled and has the password the
    session was opened with (the users file is re-read when it changes: a stat a use)."""
    user = users.get(session.user)
    return user is not None and not user.disabled and user.password_hash == session.credential


def web_app(settings: Settings, services: Services, floor: FloorSource, users: ConsoleUsers | None = None,
            clock: Callable[[], float] = time.time) -> web.Application:
    """The console application (not yet listening). `clock` drives sessions and the log-in
    throttle (tests move it)."""
    app = web.Application(middlewares=[gate], client_max_size=MAX_BODY)
    users = users or load_or_create_users(settings.paths.state_dir, settings.seat_names)
    sessions = Sessions(clock, valid=lambda session: _account_allows(users, session),
                        store=SessionRepository(services.store))
    failures = LoginFailureRepository(services.store)
    throttle = LoginThrottle(clock, store=failures)
    space = watched_space(settings)
    console = Console(settings, services, floor, users, sessions, throttle, clock, space)
    app[CONSOLE] = console
    app[FEED] = FloorFeed(floor, services, settings, session_alive(sessions), space)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    add_page_routes(app)
    add_api_routes(app)
    add_recording_routes(app)
    add_ticket_routes(app)
    add_export_routes(app)
    add_report_routes(app)
    add_attachment_routes(app)  # its upload streams: client_max_size does not apply to it
    add_desk_feed_routes(app)
    add_three_way_routes(app)
    add_operator_routes(app)
    add_workspace_routes(app)
    add_listen_in_routes(app)
    add_knowledge_routes(app)
    add_case_routes(app)
    add_sms_routes(app)  # the gateway's: signed, no session; reads its body itself, bounded
    static = app.router.add_static("/static", HERE / "static", follow_symlinks=False)
    for route in static:
        console.route_roles[route] = PUBLIC
    app.on_response_prepare.append(_security_headers)

    async def start_feed(app: web.Application) -> None:
        await app[FEED].start()

    async def restore_sessions(app: web.Application) -> None:
        # Sessions the store kept through a restart: people stay logged in.
        repository = SessionRepository(services.store)
        rows = await repository.live(clock(), sessions.idle, sessions.absolute)
        sessions.restore([session_of_row(row) for row in rows])

    async def stop_feed(app: web.Application) -> None:
        await app[FEED].stop()

    async def throttle_kept(app: web.Application) -> AsyncIterator[None]:
        # The failures the store kept through a restart: a guesser's wait goes on. Then the
        # store's copy is pruned as the window passes (memory forgets by itself).
        throttle.restore(await failures.recent(clock() - throttle.window))

        async def prune() -> None:
            while True:
                await asyncio.sleep(throttle.window)
                await failures.prune(clock() - throttle.window)

        pruning = asyncio.create_task(supervised("log-in throttle pruning", prune), name="log-in throttle pruning")
        yield
        await stop_task(pruning)

    app.on_startup.append(restore_sessions)
    app.cleanup_ctx.append(throttle_kept)
    app.on_startup.append(start_feed)
    app.on_shutdown.append(stop_feed)
    return app


@asynccontextmanager
async def web_running(settings: Settings, services: Services, floor: FloorSource, bind: str | None = None,
                      port: int | None = None, clock: Callable[[], float] = time.time) -> AsyncIterator[str]:
    """Serve the console until the block ends; yields its base URL."""
    default_bind, default_port = web_address(settings)
    bind, port = bind or default_bind, port or default_port
    app = web_app(settings, services, floor, clock=clock)
    # The access log would print every wallboard poll; log-ins and commands are logged instead.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, max_line_size=MAX_REQUEST_LINE)
    await runner.setup()
    try:
        site = web.TCPSite(runner, bind, port, ssl_context=tls_context(settings))
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"web console: cannot listen on {bind}:{port} ({exc.strerror or exc})") from None
        yield console_url(settings, bind, port)
    finally:
        await runner.cleanup()
