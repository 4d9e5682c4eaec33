"""The briefing (简报) in the console, without Asterisk: a demo month in a real store, the
real console. The JSON is the figures `hotline report --json` prints for the same store;
the HTML is the command's page, shown in the reports page's sandboxed frame (the one
response the console lets be framed, and only by itself); only the supervisor sees it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from callcenter.demo import make_demo, write_demo
from callcenter.reports import parse_month
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.harness import instance_env, run_hotline
from tests.web_helpers import (
    OUTPUT,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
)

ACCEPTED, COMPLETED, TICKETS = 620, 612, (3, 4, 2, 1, 1)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    settings = console_settings(tmp_path)
    directory = load_directory(units_file(settings))
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", directory)
    january = parse_month("2009-01", settings.zone)
    async with Store(settings.paths.database) as store:
        await write_demo(store, january, make_demo(january, calls=ACCEPTED, completed=COMPLETED, tickets=TICKETS,
                                                   zone=settings.zone, directory=directory, seed=7))
        async with console_running(settings, FakeFloor(settings, store)) as running:
            yield running


async def _supervisor(console: RunningConsole) -> Any:
    http = http_session()
    assert (await log_in(http, console.url, "supervisor", console.passwords["supervisor"])).status == 303
    return http


def _cli_json(console: RunningConsole, *args: str) -> dict[str, Any]:
    out = run_hotline(instance_env(console.settings.paths.state_dir), "report", *args, "--json",
                      "--database", str(console.settings.paths.database))
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert isinstance(figures, dict)
    return figures


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "generated"}  # the moment differs, not the figures


async def test_the_json_download_holds_the_figures_the_report_command_prints_for_the_same_store(
        console: RunningConsole) -> None:
    async with await _supervisor(console) as http:
        async with http.get(f"{console.url}/api/reports/monthly?month=2009-01&format=json&download=1") as response:
            assert response.status == 200
            disposition = response.headers["Content-Disposition"]
            monthly = await response.json()
        async with http.get(f"{console.url}/api/reports/yearly?year=2009") as response:
            assert response.status == 200
            yearly = await response.json()
    assert disposition.startswith("attachment;") and disposition.endswith(quote("简报_2009-01.json"))
    assert monthly["calls"]["accepted"] == ACCEPTED and monthly["calls"]["completed"] == COMPLETED
    assert monthly["tickets"]["total"] == sum(TICKETS)
    cli_monthly, cli_yearly = await asyncio.gather(
        asyncio.to_thread(_cli_json, console, "monthly", "--month", "2009-01"),
        asyncio.to_thread(_cli_json, console, "yearly", "--year", "2009"))
    assert _figures(monthly) == _figures(cli_monthly)
    assert _figures(yearly) == _figures(cli_yearly) and yearly["kind"] == "yearly"


async def test_the_html_may_be_framed_by_the_console_only_and_every_other_response_not_at_all(
        console: RunningConsole) -> None:
    async with await _supervisor(console) as http:
        async with http.get(f"{console.url}/api/reports/monthly?month=2009-01&format=html") as response:
            assert response.status == 200 and response.content_type == "text/html"
            framed, page = response.headers, await response.text()
        async with http.get(f"{console.url}/api/reports/monthly?month=2009-01") as response:
            as_json = response.headers
        async with http.get(f"{console.url}/reports") as response:
            console_page = response.headers
        async with http.get(f"{console.url}/api/reports/yearly?year=2009&format=html&download=1") as response:
            assert response.headers["Content-Disposition"].endswith(quote("年度简报_2009.html"))
    assert framed["X-Frame-Options"] == "SAMEORIGIN"
    policy = framed["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy and "script-src" not in policy
    assert "2009年1月" in page and "<svg" in page and "<script" not in page
    for headers in (as_json, console_page):
        assert headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", [
    "/api/reports/monthly?month=2009-13", "/api/reports/monthly?month=2009-1x", "/api/reports/monthly",
    "/api/reports/monthly?month=2009-01&format=pdf", "/api/reports/yearly?year=09", "/api/reports/yearly",
], ids=["month-13", "garbled", "no-month", "bad-format", "short-year", "no-year"])
async def test_a_bad_month_or_year_is_refused_with_a_reason(console: RunningConsole, path: str) -> None:
    async with await _supervisor(console) as http, http.get(console.url + path) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert "YYYY" in error or "format" in error


async def test_a_month_without_calls_says_so_in_json_and_in_the_page(console: RunningConsole) -> None:
    async with await _supervisor(console) as http:
        async with http.get(f"{console.url}/api/reports/monthly?month=2009-02") as response:
            assert response.status == 404
            error = (await response.json())["error"]
        async with http.get(f"{console.url}/api/reports/monthly?month=2009-02&format=html") as response:
            assert response.status == 404 and response.headers["X-Frame-Options"] == "SAMEORIGIN"
            page = await response.text()
    assert "2009年2月没有可统计的来电" in error and "no calls arrived in 2009-02" in error
    assert str(console.settings.paths.database) not in error  # the server's paths stay on the server
    assert "2009年2月没有可统计的来电" in page and "<script" not in page


async def test_an_operator_and_a_unit_are_refused_the_briefing(console: RunningConsole) -> None:
    for user in ("seat1", "zezhou-office"):
        async with http_session() as http:
            assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
            for path in ("/reports", "/api/reports/monthly?month=2009-01", "/api/reports/yearly?year=2009&format=html"):
                async with http.get(console.url + path, allow_redirects=False) as response:
                    body = await response.read()
                    assert response.status == 403, (user, path)
                    assert b"svg" not in body and str(ACCEPTED).encode() not in body


async def test_a_supervisor_picks_a_month_and_sees_its_briefing_in_the_frame_then_a_year(
        console: RunningConsole) -> None:
    OUTPUT.mkdir(exist_ok=True)
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        await page.goto(f"{console.url}/reports")
        assert await page.inner_text("header nav a.active") == "简报"
        await page.fill("#month", "2009-01")
        await page.click("#show-report")
        frame = page.frame_locator("#report-frame")
        await frame.locator("h1").wait_for(timeout=15000)
        assert "2009年1月" in await frame.locator("h1").inner_text()
        assert str(ACCEPTED) in await frame.locator("body").inner_text()
        assert await frame.locator("svg").count() >= 3
        assert await page.get_attribute("#report-frame", "sandbox") == ""
        assert await page.get_attribute("#download-json", "href") == \
            "/api/reports/monthly?month=2009-01&format=json&download=1"
        assert await page.get_attribute("#download-html", "href") == \
            "/api/reports/monthly?month=2009-01&format=html&download=1"
        async with page.expect_download() as downloading:
            await page.click("#download-json")
        download = await downloading.value
        assert download.suggested_filename == "简报_2009-01.json"
        saved = json.loads(Path(await download.path()).read_text(encoding="utf-8"))
        assert saved["calls"]["accepted"] == ACCEPTED
        await page.screenshot(path=str(OUTPUT / "reports-monthly.png"))
        # A month without calls: the frame says so.
        await page.fill("#month", "2009-02")
        await page.click("#show-report")
        await frame.locator("#no-data").wait_for(timeout=15000)
        assert "没有可统计的来电" in await frame.locator("#no-data").inner_text()
        # The yearly summary.
        await page.select_option("#kind", "yearly")
        await page.fill("#year", "2009")
        await page.click("#show-report")
        await frame.locator("h1:has-text('2009年年度工作情况')").wait_for(timeout=15000)
        assert await page.is_hidden("#month-field") and await page.is_visible("#year-field")
        await page.screenshot(path=str(OUTPUT / "reports-yearly.png"))
        # Nothing refused by a CSP, nothing failed to load, but the month without calls (404 by design).
        assert all("404" in problem for problem in problems), problems
