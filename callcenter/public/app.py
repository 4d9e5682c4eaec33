"""The public site's aiohttp application: the mayor's mailbox form, a ticket's status by
its number and query code, the published cases and their Atom feed. A server of its
own beside the console: none of the console's routes, sessions or cookies; every other
path is 404. Pages are plain HTML forms (no JavaScript needed), mobile first."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from callcenter.errors import ConfigError
from callcenter.public import vocabulary as words
from callcenter.public.atom import cases_feed
from callcenter.public.codes import code_matches, decoy_hash, hash_code, new_code
from callcenter.public.form import CATEGORY_CHOICES, HONEYPOT, PROBLEM_MAX_CHARS, MailboxForm, read_form
from callcenter.public.repository import FORM, LOOKUP, PublicRepository, TicketStatus
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import StoreError
from callcenter.supervision import stop_task, supervised
from callcenter.tickets import TicketError, WrittenMessage
from callcenter.vocabulary import CATEGORY_LABELS, COMPLETED, Category, Channel, TicketState

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# The form's problem may be 100,000 characters; percent-encoded, an emoji is 12 bytes.
MAX_BODY = 2 * 1024 * 1024
CASES_PER_PAGE = 20
FEED_ENTRIES = 50
# Wrong ticket number or code from one address in the form's window before lookups are refused.
LOOKUP_FAILURES = 10

# Stricter than the console's: nothing but this site's own files, no connections, no frames.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")

SITE: web.AppKey[PublicSite] = web.AppKey("public_site")


def public_url(settings: Settings, bind: str | None = None, port: int | None = None) -> str:
    """The site's address: public.base_url, else its own bind and port as reached on this machine."""
    if settings.public.base_url and bind is None and port is None:
        return settings.public.base_url.rstrip("/")
    host = bind or settings.public.bind
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{host}]' if ':' in host else host}:{port or settings.public.port}"


def client_address(request: web.Request) -> str:
    """The citizen's address. Behind the city's reverse proxy on this machine every request
    comes from loopback: then the address the proxy appended to X-Forwarded-For counts
    (a header from anyone else is ignored: it could be forged)."""
    remote = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if loopback and forwarded.strip():
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            return remote
    return remote


class PublicSite:
    def __init__(self, settings: Settings, services: Services, clock: Callable[[], float],
                 base_url: str) -> None:
        self.settings = settings
        self.services = services
        self.repository = PublicRepository(services.store)
        self.clock = clock
        self.base_url = base_url

    @property
    def window(self) -> float:
        return self.settings.public.form_window_minutes * 60


def _site(request: web.Request) -> PublicSite:
    return request.app[SITE]


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("title", words.SITE_TITLE)
    context.setdefault("hotline", _site(request).settings.hotline.number)
    return aiohttp_jinja2.render_template(template, request, context, status=status)


def _message(request: web.Request, status: int, text: str, **headers: str) -> web.Response:
    response = _page(request, "message.html", status=status, message=text)
    response.headers.update(headers)
    return response


def _too_many(request: web.Request, wait: float, text: str) -> web.Response:
    seconds = math.ceil(wait)
    return _message(request, 429, text.format(minutes=max(1, math.ceil(seconds / 60))), **{"Retry-After": str(seconds)})


def _cross_site(request: web.Request) -> bool:
    """A form posted from another site's page (a browser says so in Sec-Fetch-Site or
    Origin); a request without either header (an old browser, a script) is let through."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:  # a browser's own word, which a page cannot forge
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    own = {request.host, urlsplit(_site(request).base_url).netloc}
    return origin == "null" or urlsplit(origin).netloc not in own


# --- the mailbox ----------------------------------------------------------------------

def _form_page(request: web.Request, form: MailboxForm, status: int = 200, trouble: str = "") -> web.Response:
    return _page(request, "mailbox.html", status=status, form=form, categories=CATEGORY_CHOICES,
                 honeypot=HONEYPOT, problem_max=PROBLEM_MAX_CHARS, here="/", trouble=trouble)


async def mailbox(request: web.Request) -> web.Response:
    return _form_page(request, MailboxForm.empty())


async def submit(request: web.Request) -> web.Response:
    site = _site(request)
    if _cross_site(request):
        return _message(request, 403, words.CROSS_SITE)
    form = read_form({key: value for key, value in (await request.post()).items() if isinstance(value, str)})
    if not form.valid:
        return _form_page(request, form, status=400)
    address = client_address(request)
    code = new_code()
    try:
        wait = await site.repository.admit(FORM, address, site.clock(), site.settings.public.form_limit, site.window)
        if wait is not None:
            log.warning("public mailbox: %s refused, over %d submissions in %.0f minutes", address,
                        site.settings.public.form_limit, site.settings.public.form_window_minutes)
            return _too_many(request, wait, words.TOO_MANY_FORMS)
        if form.robot:
            # A robot filled the field no person sees: it is answered like anyone, nothing is kept.
            log.warning("public mailbox: the hidden field was filled from %s; nothing stored", address)
            return _received(request, secrets.randbelow(90_000) + 10_000, code)
        hashed = await asyncio.to_thread(hash_code, code)
        ticket_id = await site.services.tickets.take_in(WrittenMessage(
            Channel.MAILBOX, form.problem, citizen_name=form.name, contact_number=form.phone,
            place=form.place or None, category=form.category or None, query_code_hash=hashed, actor="public"))
    except (TicketError, StoreError) as exc:
        # The citizen's text comes back with the apology: nothing typed is lost.
        log.error("public mailbox: a message from %s was not taken in: %s", address, exc)
        return _form_page(request, form, status=503, trouble=words.STORE_FAILED)
    log.info("public mailbox: ticket %d taken in from %s", ticket_id, address)
    return _received(request, ticket_id, code)


def _received(request: web.Request, ticket_id: int, code: str) -> web.Response:
    hours = _site(request).settings.channels.mailbox_response_hours
    return _page(request, "received.html", ticket_id=ticket_id, code=code, hours=f"{hours:g}")


# --- status by ticket number and query code -------------------------------------------

def _status_page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("ticket", "")
    return _page(request, "status.html", status=status, here="/status", **context)


async def status_form(request: web.Request) -> web.Response:
    ticket = request.query.get("ticket", "")
    return _status_page(request, ticket=ticket if ticket.isdigit() else "")


async def status_lookup(request: web.Request) -> web.Response:
    site = _site(request)
    if _cross_site(request):
        return _message(request, 403, words.CROSS_SITE)
    fields = await request.post()
    ticket_text, code = str(fields.get("ticket", "")).strip(), str(fields.get("code", "")).strip()
    if not ticket_text.isdigit() or len(ticket_text) > 12:
        return _status_page(request, 400, ticket=ticket_text, error=words.NEEDS_TICKET)
    if not code or len(code) > 64:
        return _status_page(request, 400, ticket=ticket_text, error=words.NEEDS_CODE)
    address = client_address(request)
    wait = await site.repository.waiting(LOOKUP, address, site.clock(), LOOKUP_FAILURES, site.window)
    if wait is not None:
        return _too_many(request, wait, words.TOO_MANY_LOOKUPS)
    found = await site.repository.status(int(ticket_text))
    # An unknown ticket costs the same hash as a wrong code: the answer and its time say nothing.
    matches = await asyncio.to_thread(code_matches, code, (found.query_code_hash if found else None) or decoy_hash())
    if found is None or not matches:
        await site.repository.admit(LOOKUP, address, site.clock(), LOOKUP_FAILURES, site.window)
        log.info("public status: a wrong ticket number or code from %s", address)
        return _status_page(request, 404, ticket=ticket_text, error=words.NOT_FOUND)
    return _status_page(request, ticket=ticket_text, found=_shown(found))


def _shown(found: TicketStatus) -> dict[str, Any]:
    state = TicketState(found.state)
    done = state in COMPLETED
    return {
        "ticket_id": found.ticket_id, "state": words.PUBLIC_STATE_LABELS[state], "done": done,
        "received": found.received or found.created, "responses": found.responses,
        "reply": found.reply if done else None, "replied": found.replied if done else None,
        "unit_name": found.unit_name if done else None,
    }


# --- published cases ------------------------------------------------------------------

def _category_labels() -> dict[str, str]:
    return {c.value: CATEGORY_LABELS[c] for c in Category}


async def cases(request: web.Request) -> web.Response:
    site = _site(request)
    page_text = request.query.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < len(page_text) < 7 and int(page_text) > 0 else 1
    rows, total = await site.repository.cases(CASES_PER_PAGE, (page - 1) * CASES_PER_PAGE)
    pages = max(1, math.ceil(total / CASES_PER_PAGE))
    response = _page(request, "cases.html", cases=rows, total=total, page=page, pages=pages,
                     labels=_category_labels(), here="/cases")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


async def case(request: web.Request) -> web.Response:
    found = await _site(request).repository.case(int(request.match_info["case_id"]))
    if found is None:
        raise web.HTTPNotFound()
    response = _page(request, "case.html", case=found, labels=_category_labels(), here="/cases")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


async def feed(request: web.Request) -> web.Response:
    site = _site(request)
    rows, _ = await site.repository.cases(FEED_ENTRIES)
    body = cases_feed(rows, site.base_url, f"{site.settings.hotline.number}市长热线 · 典型案例",
                      _category_labels(), site.clock())
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300"})


# --- the site around them -------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as short Chinese pages: an unknown path, a body too large, a store that failed."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return _message(request, 413, words.TOO_LARGE)
    except web.HTTPNotFound:
        return _message(request, 404, words.PAGE_NOT_FOUND)
    except StoreError:
        log.exception("public site: the store failed")
        return _message(request, 503, words.STORE_FAILED)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not no-referrer: with it a browser posts the site's own forms with "Origin: null".
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/assets/"):
        headers.setdefault("Cache-Control", "no-store")


def _when(text: object) -> str:
    """An ISO time as a citizen reads it: 2026-12-04 09:30."""
    return str(text or "")[:16].replace("T", " ")


def public_app(settings: Settings, services: Services, base_url: str,
               clock: Callable[[], float] = time.time) -> web.Application:
    site = PublicSite(settings, services, clock, base_url)
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
    app[SITE] = site
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["when"] = _when
    app.router.add_get("/", mailbox)
    app.router.add_get("/mailbox", mailbox)
    app.router.add_post("/mailbox", submit)
    app.router.add_get("/status", status_form)
    app.router.add_post("/status", status_lookup)
    app.router.add_get("/cases", cases)
    app.router.add_get(r"/cases/{case_id:\d{1,12}}", case)
    app.router.add_get("/cases.atom", feed)
    app.router.add_static("/assets", HERE / "static", follow_symlinks=False)
    app.on_response_prepare.append(_security_headers)

    async def pruning(app: web.Application) -> AsyncIterator[None]:
        # Hits past the window count for nothing: dropped now and then (an address's own
        # are dropped as it comes back, in `admit`).
        async def prune() -> None:
            while True:
                await site.repository.prune(clock() - site.window)
                await asyncio.sleep(site.window)

        task = asyncio.create_task(supervised("public site's hit pruning", prune), name="public hit pruning")
        yield
        await stop_task(task)

    app.cleanup_ctx.append(pruning)
    return app


@asynccontextmanager
async def public_running(settings: Settings, services: Services, bind: str | None = None,
                         port: int | None = None, clock: Callable[[], float] = time.time) -> AsyncIterator[str]:
    """Serve the public site until the block ends; yields its address."""
    bind, port = bind or settings.public.bind, port or settings.public.port
    url = public_url(settings, bind, port)
    app = public_app(settings, services, settings.public.base_url.rstrip("/") or url, clock)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, bind, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"public site: cannot listen on {bind}:{port} ({exc.strerror or exc})") from None
        yield url
    finally:
        await runner.cleanup()
