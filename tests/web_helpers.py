"""Helpers for the console's tests: a fake floor (no Asterisk), the console on a free
port, log-ins over HTTP, and Playwright driving Debian's chromium."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.calls.repository import CallRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.users import read_generated_passwords
from callcenter.web import web_running
from callcenter.web.context import FloorSource
from tests.harness import HOME, free_port, instance_env, settings_for

OUTPUT = HOME / "test-output"  # git-ignored: screenshots of the pages
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--mute-audio", "--lang=zh-CN"]


class FakeFloor:
    """The controller's floor interface with a floor a test sets by hand, and the
    services over the test's store that the console is given beside it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.services = Services.on(settings, store)
        self.calls: CallRepository = self.services.calls
        self.waiting: list[dict[str, Any]] = []
        self.seat_calls: dict[str, dict[str, Any]] = {}
        self._listeners: list[Callable[[], None]] = []

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        seats = [{"seat": name, "state": "talking" if name in self.seat_calls else "idle", "since": now - 5,
                  "for_seconds": 5, "registered": True, "paused": False, "pause_reason": "", "on_shift": True,
                  "logged_in": None, "shift": "night", "call": self.seat_calls.get(name)}
                 for name in self.settings.seat_names]
        return {"at": now, "waiting": list(self.waiting), "in_ivr": 0, "seats": seats}

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def console_settings(state_dir: Path) -> Settings:
    """Settings for a throw-away console: its own state folder, recordings and roster copy."""
    roster = state_dir / "roster.toml"
    shutil.copy(HOME / "agents" / "roster.toml", roster)
    (state_dir / "recordings").mkdir(parents=True, exist_ok=True)
    return settings_for(instance_env(state_dir, HOTLINE_PATHS_ROSTER=str(roster)))


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    """A recording as MixMonitor writes one: 8 kHz mono 16-bit WAV, silent."""
    data = b"\x00\x00" * int(8000 * seconds)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16) + b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)
    return path


@dataclass
class RunningConsole:
    url: str
    settings: Settings
    services: Services
    floor: FloorSource
    clock: list[float] = field(default_factory=lambda: [1000.0])

    @property
    def passwords(self) -> dict[str, str]:
        return read_generated_passwords(self.settings.paths.state_dir)

    def advance(self, seconds: float) -> None:
        self.clock[0] += seconds


@asynccontextmanager
async def console_running(settings: Settings, floor: FakeFloor) -> AsyncIterator[RunningConsole]:
    clock = [1000.0]
    async with web_running(settings, floor.services, floor, bind="127.0.0.1",
                           port=free_port((socket.SOCK_STREAM,)), clock=lambda: clock[0]) as url:
        yield RunningConsole(url, settings, floor.services, floor, clock)


LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def http_session() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies for an IP-address host (127.0.0.1).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def log_in(http: aiohttp.ClientSession, url: str, user: str, password: str) -> aiohttp.ClientResponse:
    """Log in through the form (with its CSRF token); returns the response (not followed)."""
    async with http.get(f"{url}/login") as page:
        text = await page.text()
    match = LOGIN_TOKEN.search(text)
    assert match, text[:500]
    async with http.post(f"{url}/login", data={"csrf_token": match.group(1), "username": user, "password": password},
                         allow_redirects=False) as response:
        await response.read()
        return response


async def page_csrf(http: aiohttp.ClientSession, url: str, path: str) -> str:
    async with http.get(f"{url}{path}") as page:
        text = await page.text()
    match = PAGE_CSRF.search(text)
    assert match, text[:500]
    return match.group(1)


class Client:
    """A logged-in user's HTTP session with the CSRF token at hand: JSON in and out, the
    expected status asserted (with the body when it differs)."""

    def __init__(self, http: aiohttp.ClientSession, url: str, csrf: str) -> None:
        self.http, self.url, self.csrf = http, url, csrf

    async def get(self, path: str, status: int = 200) -> Any:
        async with self.http.get(self.url + path) as response:
            assert response.status == status, (path, response.status, await response.text())
            return await response.json()

    async def send(self, method: str, path: str, body: object = None, status: int = 200) -> Any:
        async with self.http.request(method, self.url + path, json=body,
                                     headers={"X-CSRF-Token": self.csrf}) as response:
            assert response.status == status, (path, response.status, await response.text())
            return await response.json()

    async def post(self, path: str, body: object = None, status: int = 200) -> Any:
        return await self.send("POST", path, body if body is not None else {}, status)

    async def download(self, path: str, status: int = 200) -> tuple[bytes, aiohttp.ClientResponse]:
        async with self.http.get(self.url + path) as response:
            assert response.status == status, (path, response.status)
            return await response.read(), response

    async def socket(self, path: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.http.ws_connect(self.url + path, origin=self.url)
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        return ws


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium, headless, driven by Playwright (which never downloads a browser here)."""
    from playwright.async_api import async_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install chromium (scripts/setup.sh test does)"
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def browser_log_in(browser: Any, url: str, user: str, password: str) -> Any:
    """A new 1366x768 page, logged in through the form."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                        timezone_id="Asia/Shanghai")
    page = await context.new_page()
    await page.goto(f"{url}/login")
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#login-button")
    await page.wait_for_load_state()
    return page
