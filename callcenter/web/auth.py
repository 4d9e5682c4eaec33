"""Log-in, log-out, and the one gate every request passes: a session (unless the route
is public), the route's role, and the CSRF token on anything that changes state."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from dataclasses import replace
from typing import NoReturn

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from callcenter.errors import ConfigError
from callcenter.seats.operators import OperatorError
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import OPERATOR, SUPERVISOR, UNIT, ConsoleUser
from callcenter.web.context import CONSOLE, PUBLIC, SESSION, Console, seat_now
from callcenter.web.sessions import Session

log = logging.getLogger(__name__)

SESSION_COOKIE = "hotline_session"
LOGIN_COOKIE = "hotline_login"  # the log-in form's CSRF token (there is no session yet)
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_NAME, MAX_PASSWORD = 64, 256


def refuse(status: type[web.HTTPException], message: str, api: bool = True) -> NoReturn:
    """Raise an HTTP error; API errors carry {"error": message} as JSON."""
    if api:
        raise status(text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json")
    raise status(text=message)


LANDINGS = {SUPERVISOR: "/wallboard", OPERATOR: "/operator", UNIT: "/unit"}


def landing(session: Session) -> str:
    return LANDINGS[session.role]


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = request.app[CONSOLE]
    matched = request.match_info
    roles = console.route_roles.get(matched.route)
    if roles is PUBLIC and matched.http_exception is None:
        return await handler(request)
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        if _is_api(request):
            refuse(web.HTTPUnauthorized, "请先登录 (log in first)")
        raise web.HTTPSeeOther("/login")
    if matched.http_exception is not None:
        raise matched.http_exception  # 404 / 405, only told to someone logged in
    if roles is None or session.role not in roles:
        refuse(web.HTTPForbidden, "无权访问 (not allowed for your role)", api=_is_api(request))
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, session.csrf)
    if session.role == OPERATOR:
        # The operator's pages and calls are those of the seat they sit at now (a copy:
        # the stored session keeps the account's default seat).
        session = replace(session, seat=seat_now(console, session))
    request[SESSION] = session
    return await handler(request)


async def _check_csrf(request: web.Request, expected: str) -> None:
    token = request.headers.get(CSRF_HEADER, "")
    if not token and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = str((await request.post()).get(CSRF_FIELD, ""))
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        refuse(web.HTTPForbidden, "CSRF 校验失败，请刷新页面 (missing or wrong CSRF token)", api=_is_api(request))


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
                max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/", secure=request.secure or None,
                        max_age=max_age)


async def login_page(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE, ""), touch=False)
    if session is not None:
        raise web.HTTPSeeOther(landing(session))
    return _login_form(request, "", 200)


def _login_form(request: web.Request, error: str, status: int, user: str = "") -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    seats = request.app[CONSOLE].settings.seat_names
    response = aiohttp_jinja2.render_template("login.html", request, {"error": error, "login_token": token,
                                                                      "user_name": user, "seats": seats},
                                              status=status)
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    token, cookie = str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_COOKIE, "")
    if not token or not cookie or not hmac.compare_digest(token.encode(), cookie.encode()):
        refuse(web.HTTPForbidden, "CSRF 校验失败，请刷新登录页 (missing or wrong CSRF token)", api=False)
    name = str(form.get("username", ""))[:MAX_NAME].strip()
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    address = request.remote or "?"
    wait = console.throttle.retry_after(address, name)
    if wait > 0:
        log.warning("console: log-in as %r from %s refused for %.0f s (too many failures)", name, address, wait)
        response = _login_form(request, f"登录失败次数过多，请 {int(wait) + 1} 秒后再试。", 429, name)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    console.throttle.failed(address, name)  # counted before the slow check, so parallel guesses count too
    user = await _check_password(console, name, password)
    if user is None:
        log.warning("console: failed log-in as %r from %s", name, address)
        return _login_form(request, "用户名或密码错误。", 401, name)
    console.throttle.succeeded(address, name)
    if user.role == UNIT and not await _unit_is_active(console, user.unit or ""):
        log.warning("console: unit account %r refused: unit %r is not active in the directory", user.name, user.unit)
        return _login_form(request, "本单位不在单位名录中或已停用，请联系热线管理员。", 403, name)
    seat = str(form.get("seat", ""))[:MAX_NAME].strip()
    if seat and user.role == OPERATOR:
        refused = await _take_seat(console, user, seat)
        if refused:
            return _login_form(request, refused, 409, name)
    session = console.sessions.create(user)
    log.info("console: %s (%s) logged in from %s", user.name, user.role, address)
    response = web.HTTPSeeOther(landing(session))
    _set_cookie(request, response, SESSION_COOKIE, session.token)
    response.del_cookie(LOGIN_COOKIE, path="/")
    raise response


async def _take_seat(console: Console, user: ConsoleUser, seat: str) -> str:
    """Log the operator in at the seat they chose on the log-in form; why not, or ""."""
    if seat not in console.settings.seat_names or not user.badge:
        return f"没有坐席 {seat}。"
    try:
        await console.services.seats.log_in(user.badge, seat)
    except OperatorError as exc:
        return f"无法在 {seat} 签入：{exc}"
    log.info("console: operator %s (%s) logged in at %s", user.badge, user.name, seat)
    return ""


async def _check_password(console: Console, name: str, password: str) -> ConsoleUser | None:
    async with console.password_checks:
        return await asyncio.to_thread(console.users.check, name, password)


async def _unit_is_active(console: Console, code: str) -> bool:
    """A unit account works only while its unit is in config/units.toml and not retired."""
    try:
        directory = await asyncio.to_thread(load_directory, units_file(console.settings))
    except ConfigError as exc:
        log.error("console: %s", exc)
        return False
    unit = directory.get(code)
    return unit is not None and unit.active


async def logout(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    session = request[SESSION]
    console.sessions.drop(session)
    log.info("console: %s logged out", session.user)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
