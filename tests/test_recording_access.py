"""The recording access log (录音调阅记录): every play or download of a call's recording
is kept with who, when, which call and from where, once a listening however many Range
requests the player makes; supervisors alone read it, on a page and in the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from callcenter.clock import iso_local
from callcenter.recordings.access import ListeningRuns
from callcenter.recordings.repository import Access, AccessSearch
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user, hash_password, users_path
from callcenter.vocabulary import RecordingUse
from tests.web_helpers import (
    OUTPUT,
    Client,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
    write_wav,
)

CALL_ID = "1795872912.17"
OTHER_CALL_ID = "1795872999.3"
DIRECTOR = "director"  # a second supervisor's account, written into the users file by the test
DIRECTOR_PASSWORD = "director-password-2026"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        for call_id in (CALL_ID, OTHER_CALL_ID):
            recording = write_wav(settings.paths.recordings_dir / f"20261128-213512_{call_id}.wav", 2.0)
            running.services.calls.save(call_id, caller_number="13900000001", arrived="2026-11-28T21:35:12+08:00",
                                        arrived_epoch=1795872912.0, outcome="answered", seat="seat1", state="done",
                                        recording_path=str(recording), recording_seconds=2.0)
        await running.services.calls.flush()
        path = users_path(settings.paths.state_dir)
        accounts = json.loads(path.read_text())
        accounts["users"].append({"name": DIRECTOR, "role": "supervisor", "seat": None,
                                  "hash": hash_password(DIRECTOR_PASSWORD)})
        path.write_text(json.dumps(accounts))  # the running console reads the file again when it changes
        yield running


async def _client(http: aiohttp.ClientSession, console: RunningConsole, user: str, password: str = "") -> Client:
    assert (await log_in(http, console.url, user, password or console.passwords[user])).status == 303
    return Client(http, console.url, await page_csrf(http, console.url, "/"))


async def _fetch(client: Client, call_id: str, query: str = "", range_header: str = "") -> int:
    headers = {"Range": range_header} if range_header else {}
    async with client.http.get(f"{client.url}/api/calls/{call_id}/recording{query}", headers=headers) as response:
        await response.read()
        return response.status


async def test_each_supervisors_play_and_download_is_one_row_with_who_when_which_call_and_where(
        console: RunningConsole) -> None:
    async with http_session() as one, http_session() as two, http_session() as three:
        supervisor = await _client(one, console, "supervisor")
        director = await _client(two, console, DIRECTOR, DIRECTOR_PASSWORD)
        # The player: its start for the length, then seeks; one listening, one row.
        for range_header in ("bytes=0-", "bytes=20000-", "bytes=1-", ""):
            assert await _fetch(supervisor, CALL_ID, range_header=range_header) in (200, 206)
        assert await _fetch(supervisor, CALL_ID, "?download=1") == 200
        assert await _fetch(director, OTHER_CALL_ID, range_header="bytes=0-") == 206
        operator = await _client(three, console, "seat1")
        assert await _fetch(operator, CALL_ID) == 403  # refused, and not a listening
        log = await supervisor.get("/api/recordings/access")
    assert log["total"] == 3
    rows = [(e["user"], e["role"], e["role_label"], e["call_id"], e["kind"], e["address"]) for e in log["entries"]]
    assert rows == [  # newest first
        (DIRECTOR, "supervisor", "主管", OTHER_CALL_ID, "play", "127.0.0.1"),
        ("supervisor", "supervisor", "主管", CALL_ID, "download", "127.0.0.1"),
        ("supervisor", "supervisor", "主管", CALL_ID, "play", "127.0.0.1"),
    ]
    assert log["entries"][0]["recording"] == f"20261128-213512_{OTHER_CALL_ID}.wav"
    assert all(e["at"].startswith("20") and e["at"].endswith("+08:00") for e in log["entries"])


async def test_the_log_is_filtered_by_user_and_day_and_paged(console: RunningConsole) -> None:
    async with http_session() as one, http_session() as two:
        supervisor = await _client(one, console, "supervisor")
        director = await _client(two, console, DIRECTOR, DIRECTOR_PASSWORD)
        await _fetch(supervisor, CALL_ID)
        await _fetch(supervisor, OTHER_CALL_ID)
        await _fetch(director, CALL_ID)
        mine = await supervisor.get("/api/recordings/access?user=supervisor&per_page=1&page=2")
        assert mine["total"] == 2 and [e["call_id"] for e in mine["entries"]] == [CALL_ID]  # the older of two
        today = (await supervisor.get("/api/recordings/access"))["entries"][0]["at"][:10]
        assert (await supervisor.get(f"/api/recordings/access?from={today}&to={today}"))["total"] == 3
        assert (await supervisor.get("/api/recordings/access?to=2020-01-01"))["total"] == 0
        for bad in ("from=yesterday", "per_page=0", "page=x", "user=" + "x" * 65, "user=a%0Ab"):
            refused = await supervisor.get(f"/api/recordings/access?{bad}", status=400)
            assert refused["error"], bad


async def test_operators_and_units_are_refused_the_page_and_the_api(console: RunningConsole) -> None:
    unit_password = add_unit_user(console.settings.paths.state_dir, "zezhou-office", "zezhou",
                                  load_directory(units_file(console.settings)))
    for user, password in (("seat1", console.passwords["seat1"]), ("zezhou-office", unit_password)):
        async with http_session() as http:
            assert (await log_in(http, console.url, user, password)).status == 303
            async with http.get(f"{console.url}/api/recordings/access") as response:
                assert response.status == 403 and "error" in await response.json()
            async with http.get(f"{console.url}/recordings/access", allow_redirects=False) as response:
                assert response.status == 403
            async with http.get(f"{console.url}/api/calls/{CALL_ID}/recording") as response:
                assert response.status == 403
    assert (await console.services.recordings.access_log(AccessSearch()))[1] == 0


async def test_the_supervisors_page_lists_the_log_newest_first_and_filters_by_user(console: RunningConsole) -> None:
    async with http_session() as http:
        director = await _client(http, console, DIRECTOR, DIRECTOR_PASSWORD)
        await _fetch(director, OTHER_CALL_ID, "?download=1")
    for n in range(20):  # older listenings, a page of them: the newest two are on the first page
        at = 1795872912.0 + n
        console.services.recordings.log_access(Access(at, iso_local(at, console.settings.zone), "former-chief",
                                                      "supervisor", CALL_ID, "x.wav", "192.0.2.7", RecordingUse.PLAY))
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.goto(f"{console.url}/calls/{CALL_ID}")
        await page.click("#play")
        await page.wait_for_selector("#player[data-state=playing]")
        await page.click('nav a[href="/recordings/access"]')
        assert await page.inner_text("header nav a.active") == "录音调阅记录"
        await page.wait_for_selector("#access tbody tr:nth-child(2)")
        cells = [await row.inner_text() for row in await page.query_selector_all("#access tbody tr")]
        assert "supervisor\t主管\t在线播放\t" + CALL_ID in cells[0], cells
        assert f"{DIRECTOR}\t主管\t下载\t{OTHER_CALL_ID}" in cells[1], cells
        assert await page.inner_text("#page-info") == "第 1 / 2 页，共 22 条"
        await page.screenshot(path=str(OUTPUT / "recording-access.png"))
        await page.click("#next")
        await page.wait_for_selector("#page-info:has-text('第 2 / 2 页')")
        assert len(await page.query_selector_all("#access tbody tr")) == 2
        assert await page.is_disabled("#next") and not await page.is_disabled("#previous")
        await page.fill("#user", DIRECTOR)
        await page.click("#search-button")
        await page.wait_for_function("() => document.querySelectorAll('#access tbody tr').length === 1")
        assert await page.get_attribute("#access tbody tr", "data-user") == DIRECTOR
        await page.fill("#user", "nobody")
        await page.click("#search-button")
        await page.wait_for_selector("#access-status:has-text('没有符合条件的调阅记录')")


def test_a_fetch_continues_a_listening_until_it_has_been_silent_longer_than_the_gap() -> None:
    runs = ListeningRuns(gap=300.0)
    assert runs.starts("supervisor", CALL_ID, RecordingUse.PLAY, 1000.0)
    assert not runs.starts("supervisor", CALL_ID, RecordingUse.PLAY, 1200.0)
    assert not runs.starts("supervisor", CALL_ID, RecordingUse.PLAY, 1450.0)  # seeks keep it alive
    assert runs.starts("supervisor", CALL_ID, RecordingUse.DOWNLOAD, 1451.0)
    assert runs.starts("director", CALL_ID, RecordingUse.PLAY, 1452.0)
    assert runs.starts("supervisor", OTHER_CALL_ID, RecordingUse.PLAY, 1453.0)
    assert runs.starts("supervisor", CALL_ID, RecordingUse.PLAY, 1751.0)  # 301 s of silence: a new listening


def test_the_runs_remembered_are_bounded() -> None:
    runs = ListeningRuns(gap=300.0, max_runs=3)
    for n in range(10):
        assert runs.starts("supervisor", f"call-{n}", RecordingUse.PLAY, 1000.0 + n)
    assert not runs.starts("supervisor", "call-9", RecordingUse.PLAY, 1010.0)
    assert runs.starts("supervisor", "call-0", RecordingUse.PLAY, 1011.0)  # forgotten: logged again, never lost
