"""The console's security, without Asterisk: a fake floor, a real store, the real app on a
free loopback port, plain HTTP from aiohttp's client."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callcenter.store import Store
from callcenter.users import load_or_create_users, read_generated_passwords, users_path, verify_password
from callcenter.web import web_app
from callcenter.web.context import PUBLIC
from tests.web_helpers import (
    FakeFloor,
    RunningConsole,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
    write_wav,
)

T0 = "2026-11-28T21:35:12+08:00"
E0 = 1795872912.0
SAMPLE = {"call_id": "1795872912.17", "seat": "seat1", "ticket_id": "1", "attachment_id": "1", "article_id": "1",
          "case_id": "1"}


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        yield running


def _routes(console: RunningConsole) -> list[tuple[str, str, bool]]:
    """(method, concrete path, public) for every route the app registers."""
    app = web_app(console.settings, console.services, console.floor)
    from callcenter.web.context import CONSOLE

    roles = app[CONSOLE].route_roles
    out = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        path = path.format_map(SAMPLE)
        if path == "/static":
            path = "/static/console.css"
        out.append((route.method, path, roles.get(route) is PUBLIC))
    return out


async def _put_call(console: RunningConsole, call_id: str, **fields: object) -> None:
    calls = console.services.calls
    row: dict[str, object] = {"caller_number": "13900000001", "arrived": T0, "arrived_epoch": E0,
                              "outcome": "answered", "seat": "seat1", "state": "done"}
    calls.save(call_id, **(row | fields))
    await calls.flush()


async def test_every_route_but_the_log_in_form_and_static_files_refuses_a_request_without_a_session(
        console: RunningConsole) -> None:
    routes = _routes(console)
    assert len(routes) >= 25
    assert {(method, path) for method, path, public in routes if public} == {
        ("GET", "/login"), ("POST", "/login"), ("GET", "/static/console.css"), ("HEAD", "/static/console.css"),
        ("GET", "/healthz"), ("GET", "/metrics"), ("POST", "/gateway/sms")}
    async with http_session() as http:
        for method, path, public in routes:
            async with http.request(method, console.url + path, allow_redirects=False,
                                    headers={"Content-Type": "application/json"}, data=b"{}") as response:
                body = await response.read()
            if public:
                # 403: POST /login without its token; 503: /healthz of a console with no Asterisk,
                # and the SMS gateway's door with no secret set (it is signed, not logged in)
                assert response.status in (200, 403, 503), (method, path, response.status)
                continue
            if path.startswith("/api/"):
                assert response.status == 401, (method, path, response.status)
                assert json.loads(body)["error"], body
            else:
                assert response.status == 303 and response.headers["Location"] == "/login", (method, path)
        # Paths that match no route say nothing either, not even "not found".
        async with http.get(f"{console.url}/api/no-such-thing", allow_redirects=False) as response:
            assert response.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{console.url}/api/floor/ws", origin=console.url)
        assert refused.value.status == 401


async def test_an_operator_is_refused_every_supervisor_route_and_every_recording(console: RunningConsole) -> None:
    recording = write_wav(console.settings.paths.recordings_dir / f"20261128-213512_{SAMPLE['call_id']}.wav")
    await _put_call(console, SAMPLE["call_id"], recording_path=str(recording))
    app = web_app(console.settings, console.services, console.floor)
    from callcenter.web.context import CONSOLE, SUPERVISORS

    supervisor_only = {(route.method, route.resource.canonical) for route, roles in app[CONSOLE].route_roles.items()
                       if roles is SUPERVISORS and route.resource is not None}
    assert ("GET", "/api/calls/{call_id}/recording") in supervisor_only and len(supervisor_only) >= 17
    async with http_session() as http:
        assert (await log_in(http, console.url, "seat1", console.passwords["seat1"])).status == 303
        csrf = await page_csrf(http, console.url, "/operator")
        for method, template in sorted(supervisor_only):
            path = template.format_map(SAMPLE)
            async with http.request(method, console.url + path, allow_redirects=False, json={},
                                    headers={"X-CSRF-Token": csrf}) as response:
                body = await response.read()
            assert response.status == 403, (method, path, response.status)
            assert b"RIFF" not in body
        for query in ("", "?download=1"):
            async with http.get(f"{console.url}/api/calls/{SAMPLE['call_id']}/recording{query}",
                                headers={"Range": "bytes=0-99"}) as response:
                assert response.status == 403 and b"RIFF" not in await response.read()
        # ...and may not write about a call taken on another seat.
        await _put_call(console, "1795872912.99", seat="seat2")
        async with http.post(f"{console.url}/api/calls/1795872912.99/summary", headers={"X-CSRF-Token": csrf},
                             json={"category": "help", "summary": "x"}) as response:
            assert response.status == 403


@pytest.mark.parametrize("stored", [
    "/etc/passwd",
    "{rec}/../outside.wav",
    "{rec}/link-out.wav",
    "{rec}/sub dir/x.wav",
    "{rec}/evil;name.wav",
    "{rec}/20261128.txt",
    "{rec}/a\x00b.wav",
    "{rec}",
    "",
], ids=["absolute-outside", "dot-dot", "symlink-out", "space", "semicolon", "not-wav", "nul", "the-folder", "empty"])
async def test_a_stored_recording_path_outside_the_folder_or_oddly_named_is_never_served(
        console: RunningConsole, stored: str, tmp_path: Path) -> None:
    rec = console.settings.paths.recordings_dir
    outside = write_wav(tmp_path / "outside.wav")
    (rec / "link-out.wav").symlink_to(outside)
    (rec / "sub dir").mkdir()
    for name in ("sub dir/x.wav", "evil;name.wav", "20261128.txt"):
        write_wav(rec / name)
    await _put_call(console, "1795872912.5", recording_path=stored.replace("{rec}", str(rec)))
    async with http_session() as http:
        await log_in(http, console.url, "supervisor", console.passwords["supervisor"])
        async with http.get(f"{console.url}/api/calls/1795872912.5/recording") as response:
            body = await response.read()
    assert response.status == 404 and b"RIFF" not in body and b"root:" not in body, (response.status, body[:80])


@pytest.mark.parametrize("call_id", [
    "..%2F..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "a%00b", "a%2Fb", "%E5%B8%82%E6%B0%91", "x" * 200, ".hidden",
    "1795872912.5%20", "1795872912.5;rm",
])
async def test_odd_call_ids_on_the_recordings_route_are_refused(console: RunningConsole, call_id: str) -> None:
    async with http_session() as http:
        await log_in(http, console.url, "supervisor", console.passwords["supervisor"])
        async with http.get(f"{console.url}/api/calls/{call_id}/recording",
                            allow_redirects=False) as response:
            body = await response.read()
    assert response.status in (400, 404), (call_id, response.status)
    assert b"RIFF" not in body and b"root:" not in body


async def test_a_recording_inside_the_folder_plays_with_range_requests_and_downloads(console: RunningConsole) -> None:
    recording = write_wav(console.settings.paths.recordings_dir / "20261128-213512_1795872912.17.wav", 2.0)
    await _put_call(console, "1795872912.17", recording_path=str(recording))
    url = f"{console.url}/api/calls/1795872912.17/recording"
    async with http_session() as http:
        await log_in(http, console.url, "supervisor", console.passwords["supervisor"])
        async with http.get(url) as whole:
            assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
            assert await whole.read() == recording.read_bytes()
        async with http.get(url, headers={"Range": "bytes=44-1043"}) as part:
            assert part.status == 206 and part.headers["Content-Range"] == f"bytes 44-1043/{recording.stat().st_size}"
            assert await part.read() == recording.read_bytes()[44:1044]
        async with http.get(url + "?download=1") as download:
            assert download.headers["Content-Disposition"] == f'attachment; filename="{recording.name}"'


async def test_a_form_or_api_call_without_its_csrf_token_is_refused(console: RunningConsole) -> None:
    async with http_session() as http:
        # The log-in form: its token must match the cookie set with the form.
        async with http.post(f"{console.url}/login", data={"username": "supervisor",
                                                          "password": console.passwords["supervisor"]},
                             allow_redirects=False) as response:
            assert response.status == 403
        async with http.get(f"{console.url}/login"):
            pass
        async with http.post(f"{console.url}/login", data={"csrf_token": "forged", "username": "supervisor",
                                                          "password": console.passwords["supervisor"]},
                             allow_redirects=False) as response:
            assert response.status == 403
        assert (await log_in(http, console.url, "supervisor", console.passwords["supervisor"])).status == 303
        csrf = await page_csrf(http, console.url, "/seats")
        async with http.post(f"{console.url}/logout", allow_redirects=False) as response:
            assert response.status == 403  # the log-out form without its hidden field
        for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
            async with http.post(f"{console.url}/api/seats/seat1", json={"action": "pause"},
                                 headers=headers) as response:
                assert response.status == 403, headers
        assert (await console.services.seats.rows()).get("seat1") is None  # nothing was written
        async with http.post(f"{console.url}/api/seats/seat1", json={"action": "pause", "reason": "会议"},
                             headers={"X-CSRF-Token": csrf}) as response:
            assert response.status == 200
        assert (await console.services.seats.rows())["seat1"]["pause_reason"] == "会议"
        async with http.post(f"{console.url}/logout", data={"csrf_token": csrf}, allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(f"{console.url}/api/me") as response:
            assert response.status == 401  # logged out for real


async def test_repeated_failed_log_ins_are_slowed_down_even_for_the_right_password(console: RunningConsole) -> None:
    right = console.passwords["supervisor"]
    async with http_session() as http:
        for _ in range(5):
            assert (await log_in(http, console.url, "supervisor", "guess")).status == 401
        refused = await log_in(http, console.url, "supervisor", right)
        assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
        console.advance(1.1)
        assert (await log_in(http, console.url, "supervisor", "guess")).status == 401  # the 6th failure
        refused = await log_in(http, console.url, "supervisor", right)
        assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 2  # each wait doubles
        console.advance(2.1)
        assert (await log_in(http, console.url, "supervisor", right)).status == 303
    # Another user from the same address is slowed too: the address counts its failures.
    async with http_session() as other:
        for _ in range(6):
            await log_in(other, console.url, "nobody", "guess")
        assert (await log_in(other, console.url, "seat2", console.passwords["seat2"])).status == 429


async def test_the_session_cookie_is_http_only_and_same_site_and_pages_send_security_headers(
        console: RunningConsole) -> None:
    async with http_session() as http:
        response = await log_in(http, console.url, "supervisor", console.passwords["supervisor"])
        cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith("hotline_session="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        async with http.get(f"{console.url}/wallboard") as page:
            headers = page.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"] and "frame-ancestors 'none'" in \
            headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
        # A WebSocket from another site's page is refused even with the cookie.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{console.url}/api/floor/ws", origin="http://evil.example")
        assert refused.value.status == 403
        ws = await http.ws_connect(f"{console.url}/api/floor/ws", origin=console.url)
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "floor"
        await ws.close()


def test_console_users_are_one_supervisor_and_one_operator_per_seat_hashed_in_a_private_file(tmp_path: Path) -> None:
    seats = ("seat1", "seat2", "seat3")
    users = load_or_create_users(tmp_path, seats)
    assert [(u.name, u.role, u.seat) for u in users.all()] == [
        ("supervisor", "supervisor", None), ("seat1", "operator", "seat1"), ("seat2", "operator", "seat2"),
        ("seat3", "operator", "seat3")]
    passwords = read_generated_passwords(tmp_path)
    credentials = tmp_path / "console-credentials.txt"
    for path in (users_path(tmp_path), credentials):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = users_path(tmp_path).read_text()
    for name, password in passwords.items():
        assert password not in stored and len(password) >= 16
        user = users.get(name)
        assert user is not None and user.password_hash.startswith("scrypt$")
        assert verify_password(password, user.password_hash) and not verify_password(password + "x",
                                                                                     user.password_hash)
    # A second start keeps every password; a new seat gets an account, appended to the credentials.
    before = credentials.read_text()
    again = load_or_create_users(tmp_path, (*seats, "seat4"))
    assert credentials.read_text().startswith(before) and "seat4" in credentials.read_text()
    assert read_generated_passwords(tmp_path)["seat1"] == passwords["seat1"]
    assert again.check("seat4", read_generated_passwords(tmp_path)["seat4"]) is not None
    assert again.check("supervisor", "wrong") is None and again.check("ghost", "x") is None


# ----------------------------------------------------------------------------- the units' accounts

# What a unit's account may reach: its page, the log-out, the home redirect, who-am-I, and
# the unit API (the lead's `/api/unit/...`, which answers only about the session's unit).
UNIT_MAY_USE = {("GET", "/unit"), ("POST", "/logout"), ("GET", "/"), ("HEAD", "/unit"), ("HEAD", "/"),
                ("GET", "/api/me"), ("HEAD", "/api/me"), ("GET", "/unit/tickets/{ticket_id}"),
                ("HEAD", "/unit/tickets/{ticket_id}")}
# The knowledge base: a unit reads and edits its own unit's articles only (tests/test_knowledge.py).
UNIT_MAY_USE |= {(method, path) for path in (
    "/knowledge", "/knowledge/new", "/knowledge/{article_id}", "/knowledge/{article_id}/edit",
    "/api/knowledge/search", "/api/knowledge/choices", "/api/knowledge/articles/{article_id}")
    for method in ("GET", "HEAD")}
UNIT_MAY_USE |= {("POST", "/api/knowledge/articles"), ("PUT", "/api/knowledge/articles/{article_id}")}


def _add_unit_account(console: RunningConsole, name: str = "zezhou-office", code: str = "zezhou") -> str:
    from callcenter.tickets.directory import load_directory, units_file
    from callcenter.users import add_unit_user

    # Added while the console runs: it must see the account without a restart.
    return add_unit_user(console.settings.paths.state_dir, name, code, load_directory(units_file(console.settings)))


def _concrete(template: str) -> str:
    path = template.format_map(SAMPLE)
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_a_unit_user_logs_in_lands_on_its_units_page_and_logs_out(console: RunningConsole) -> None:
    password = _add_unit_account(console)
    async with http_session() as http:
        response = await log_in(http, console.url, "zezhou-office", password)
        assert response.status == 303 and response.headers["Location"] == "/unit"
        async with http.get(f"{console.url}/", allow_redirects=False) as home:
            assert home.status == 303 and home.headers["Location"] == "/unit"
        async with http.get(f"{console.url}/unit") as page:
            text = await page.text()
        assert page.status == 200 and "泽州县人民政府" in text and "zezhou" in text and "本单位工单" in text
        assert "实时监控" not in text and "我的坐席" not in text and "责任单位" in text
        csrf = await page_csrf(http, console.url, "/unit")
        async with http.post(f"{console.url}/logout", data={"csrf_token": csrf}, allow_redirects=False) as out:
            assert out.status == 303
        async with http.get(f"{console.url}/unit", allow_redirects=False) as again:
            assert again.status == 303 and again.headers["Location"] == "/login"


async def test_a_unit_user_is_refused_every_staff_route_every_recording_and_the_call_log(
        console: RunningConsole) -> None:
    recording = write_wav(console.settings.paths.recordings_dir / f"20261128-213512_{SAMPLE['call_id']}.wav")
    await _put_call(console, SAMPLE["call_id"], recording_path=str(recording), caller_name="路灯张")
    app = web_app(console.settings, console.services, console.floor)
    from callcenter.web.context import CONSOLE, PUBLIC

    table = {(route.method, route.resource.canonical): roles for route, roles in app[CONSOLE].route_roles.items()
             if route.resource is not None and roles is not PUBLIC}
    open_to_units = {key for key, roles in table.items() if "unit" in roles}
    # Any route a unit may use is one of these, or answers about the session's own unit only.
    assert {key for key in open_to_units if not key[1].startswith("/api/unit/")} <= UNIT_MAY_USE, open_to_units
    refused = sorted(key for key in table if key not in open_to_units)
    assert ("GET", "/api/calls/{call_id}/recording") in refused and ("GET", "/api/calls") in refused
    assert ("GET", "/api/floor") in refused and ("GET", "/operator") in refused and len(refused) >= 24
    password = _add_unit_account(console)
    async with http_session() as http:
        assert (await log_in(http, console.url, "zezhou-office", password)).status == 303
        csrf = await page_csrf(http, console.url, "/unit")
        for method, template in refused:
            path = _concrete(template)
            async with http.request(method, console.url + path, allow_redirects=False, json={},
                                    headers={"X-CSRF-Token": csrf}) as response:
                body = await response.read()
            assert response.status == 403, (method, path, response.status)
            assert b"RIFF" not in body and "路灯".encode() not in body and b"13900000001" not in body
        for query in ("", "?download=1"):
            async with http.get(f"{console.url}/api/calls/{SAMPLE['call_id']}/recording{query}",
                                headers={"Range": "bytes=0-99"}) as response:
                assert response.status == 403 and b"RIFF" not in await response.read()
        with pytest.raises(aiohttp.WSServerHandshakeError) as socket_refused:
            await http.ws_connect(f"{console.url}/api/floor/ws", origin=console.url)
        assert socket_refused.value.status == 403
    assert (await console.services.seats.rows()).get("seat1") is None  # nothing was written


async def test_a_supervisor_and_an_operator_keep_their_routes_and_may_not_open_the_units_page(
        console: RunningConsole) -> None:
    _add_unit_account(console)
    for user, own in (("supervisor", ("/wallboard", "/calls", "/seats", "/nuisance", "/api/floor", "/api/me")),
                      ("seat1", ("/operator", "/api/operator/now", "/api/me"))):
        async with http_session() as http:
            assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
            for path in own:
                async with http.get(console.url + path, allow_redirects=False) as response:
                    assert response.status == 200, (user, path, response.status)
            async with http.get(f"{console.url}/unit", allow_redirects=False) as response:
                assert response.status == 403, user


async def test_a_unit_account_whose_unit_left_the_directory_cannot_log_in(console: RunningConsole) -> None:
    from callcenter.users import hash_password

    path = users_path(console.settings.paths.state_dir)
    stored = json.loads(path.read_text())
    stored["users"].append({"name": "gone-office", "role": "unit", "seat": None, "unit": "no-such-unit",
                            "hash": hash_password("an-old-password")})
    path.write_text(json.dumps(stored))
    async with http_session() as http:
        response = await log_in(http, console.url, "gone-office", "an-old-password")
        assert response.status == 403 and not any(
            c.startswith("hotline_session=") for c in response.headers.getall("Set-Cookie", []))
