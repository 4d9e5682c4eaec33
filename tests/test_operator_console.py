"""Operators logging in at seats from the console, without Asterisk: the log-in form's
seat, the 签入坐席 API and its roles (an operator only themselves; a unit nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.seats import load_roster
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user, set_operator_name
from tests.web_helpers import (
    LOGIN_TOKEN,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        yield running


async def _sitting(console: RunningConsole) -> dict[str, str | None]:
    return await console.services.seats.occupants()


async def test_an_operator_choosing_a_seat_on_the_log_in_form_sits_there(console: RunningConsole) -> None:
    async with http_session() as http:
        async with http.get(f"{console.url}/login") as page:
            text = await page.text()
        match = LOGIN_TOKEN.search(text)
        assert match and '<option value="seat4">' in text
        form = {"csrf_token": match.group(1), "username": "seat3", "password": console.passwords["seat3"],
                "seat": "seat4"}
        async with http.post(f"{console.url}/login", data=form, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/operator"
    sitting = await _sitting(console)
    assert sitting["seat4"] == "1003" and sitting["seat3"] == ""


async def test_a_seat_taken_by_another_operator_refuses_the_log_in_and_says_by_whom(console: RunningConsole) -> None:
    await console.services.seats.log_in("1003", "seat4")
    async with http_session() as http:
        async with http.get(f"{console.url}/login") as page:
            match = LOGIN_TOKEN.search(await page.text())
        assert match
        form = {"csrf_token": match.group(1), "username": "seat5", "password": console.passwords["seat5"],
                "seat": "seat4"}
        async with http.post(f"{console.url}/login", data=form, allow_redirects=False) as response:
            text = await response.text()
        assert response.status == 409
        assert "seat4 已由话务员 1003 签入" in text
        async with http.get(f"{console.url}/operators", allow_redirects=False) as page:
            assert page.status == 303  # no session was opened
    assert (await _sitting(console))["seat5"] == "1005"


async def test_an_operator_logs_themselves_in_and_out_but_never_another_operator(console: RunningConsole) -> None:
    async with http_session() as http:
        assert (await log_in(http, console.url, "seat1", console.passwords["seat1"])).status == 303
        csrf = {"X-CSRF-Token": await page_csrf(http, console.url, "/operators")}
        for path, body in (("/api/operators/login", {"badge": "1002", "seat": "seat5"}),
                           ("/api/operators/logout", {"badge": "1002"})):
            async with http.post(console.url + path, json=body, headers=csrf) as response:
                assert response.status == 403, path
                assert "只能为自己签入签出" in (await response.json())["error"]
        assert (await _sitting(console))["seat2"] == "1002"
        async with http.post(f"{console.url}/api/operators/login", json={"seat": "seat5"}, headers=csrf) as response:
            assert response.status == 200
            assert (await response.json())["badge"] == "1001"
        async with http.get(f"{console.url}/api/operators") as response:
            listed = await response.json()
        assert listed["me"] == "1001"
        assert next(o for o in listed["operators"] if o["badge"] == "1001")["seat"] == "seat5"
        async with http.post(f"{console.url}/api/operators/logout", json={}, headers=csrf) as response:
            assert response.status == 200
        async with http.post(f"{console.url}/api/operators/logout", json={}, headers=csrf) as response:
            assert response.status == 409  # sits nowhere now
    assert "1001" not in (await _sitting(console)).values()


async def test_a_supervisor_logs_any_operator_in_and_bad_input_gets_a_clear_error(console: RunningConsole) -> None:
    async with http_session() as http:
        assert (await log_in(http, console.url, "supervisor", console.passwords["supervisor"])).status == 303
        csrf = {"X-CSRF-Token": await page_csrf(http, console.url, "/operators")}
        for body, status in (({"badge": "1004", "seat": "seat6"}, 200), ({"badge": "1005", "seat": "seat6"}, 409),
                             ({"seat": "seat6"}, 400), ({"badge": "1004", "seat": "seat99"}, 400),
                             ({"badge": 1004, "seat": "seat6"}, 400), ({"badge": "9999", "seat": "seat1"}, 409)):
            async with http.post(f"{console.url}/api/operators/login", json=body, headers=csrf) as response:
                assert response.status == status, (body, await response.text())
                if status != 200:
                    assert (await response.json())["error"]
    assert (await _sitting(console))["seat6"] == "1004"


async def test_a_unit_may_neither_see_nor_move_operators(console: RunningConsole) -> None:
    password = add_unit_user(console.settings.paths.state_dir, "zezhou-office", "zezhou",
                             load_directory(units_file(console.settings)))
    async with http_session() as http:
        assert (await log_in(http, console.url, "zezhou-office", password)).status == 303
        csrf = {"X-CSRF-Token": await page_csrf(http, console.url, "/unit")}
        async with http.get(f"{console.url}/api/operators") as response:
            assert response.status == 403
        async with http.post(f"{console.url}/api/operators/login", json={"badge": "1003", "seat": "seat4"},
                             headers=csrf) as response:
            assert response.status == 403
        async with http.get(f"{console.url}/operators", allow_redirects=False) as response:
            assert response.status == 403
    assert (await _sitting(console))["seat4"] == "1004"


class FloorWithOperators(FakeFloor):
    """The fake floor, naming who sits at each seat as the controller's snapshot does."""

    def __init__(self, settings: Settings, store: Store, sitting: dict[str, str]) -> None:
        super().__init__(settings, store)
        self.sitting = sitting

    def snapshot(self) -> dict[str, Any]:
        floor = super().snapshot()
        names = self.services.seats.operator_names()
        for seat in floor["seats"]:
            seat["operator"] = self.sitting.get(seat["seat"], "")
            seat["operator_name"] = names.get(seat["operator"], "")
        return floor


async def test_an_operator_at_another_seat_works_on_that_seats_calls_not_their_default_seats(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        floor = FloorWithOperators(settings, store, {"seat5": "1001"})  # 1001's default seat is seat1
        floor.seat_calls["seat5"] = {"call_id": "c5", "number": "13900000005", "name": "", "category": "",
                                     "phase": "talking", "three_way": None}
        for call_id, seat in (("c5", "seat5"), ("c1", "seat1")):
            floor.calls.save(call_id, caller_number="13900000005", arrived="2026-12-04T10:00:00+08:00",
                             arrived_epoch=1796349600.0, seat=seat, seat_answered="2026-12-04T10:00:05+08:00")
        await store.flush()
        async with console_running(settings, floor) as console, http_session() as http:
            assert (await log_in(http, console.url, "seat1", console.passwords["seat1"])).status == 303
            async with http.get(f"{console.url}/api/operator/now") as response:
                now = await response.json()
            assert now["seat"]["seat"] == "seat5" and now["call"]["call_id"] == "c5"
            csrf = {"X-CSRF-Token": await page_csrf(http, console.url, "/operator")}
            summary = {"category": "help", "summary": "问路"}
            async with http.post(f"{console.url}/api/calls/c5/summary", json=summary, headers=csrf) as response:
                assert response.status == 200
            async with http.post(f"{console.url}/api/calls/c1/summary", json=summary, headers=csrf) as response:
                assert response.status == 403  # their default seat's call is not theirs now


async def test_in_the_browser_an_operator_takes_another_seat_and_the_wallboard_names_them_per_shift(
        tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        floor = FloorWithOperators(settings, store, {"seat4": "1003"})
        async with console_running(settings, floor) as console, chromium() as browser:
            set_operator_name(settings.paths.state_dir, "1003", "李慧")
            operator = await browser_log_in(browser, console.url, "seat3", console.passwords["seat3"])
            await operator.click('nav a[href="/operators"]')
            mine = '#operators tr[data-badge="1003"]'
            await operator.wait_for_selector(mine)
            assert await operator.locator('#operators tr[data-badge="1004"] button.login').count() == 0
            await operator.select_option(f"{mine} select.seat-choice", "seat4")
            await operator.click(f"{mine} button.login")
            await operator.wait_for_selector(f'{mine}[data-seat="seat4"]')
            assert (await console.services.seats.occupants())["seat4"] == "1003"
            roster = load_roster(settings.paths.roster, settings.seat_names)
            supervisor = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
            await supervisor.wait_for_selector('.seat-card[data-seat="seat4"] .operator[data-operator="1003"]')
            assert await supervisor.inner_text('.seat-card[data-seat="seat4"] .operator') == "李慧 工号 1003"
            await supervisor.wait_for_selector("#shift-figures tbody tr")
            shown = await supervisor.eval_on_selector_all("#shift-figures tbody tr",
                                                          "rows => rows.map(r => r.dataset.shift)")
            assert shown == [shift.name for shift in roster.shifts]
            assert await supervisor.locator("#knowledge-top-today").count() == 1
