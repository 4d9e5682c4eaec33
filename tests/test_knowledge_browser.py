"""The knowledge base (政务信息库) in a real browser (Debian's chromium, Playwright), against
the real console and store: an operator finds the right articles for a two-character word
(低保), one character and a phrase, each hit highlighted; a 10,000-character search, FTS
syntax and HTML are answered and no script in an article or a query ever runs; the
unit's clerk edits its article in the form and sees the history. Screenshots go to
test-output/knowledge-*.png."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from callcenter.knowledge.markdown_folder import read_folder
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.test_attachments import _answered_call
from tests.test_knowledge import _as, write_articles
from tests.web_helpers import (
    OUTPUT,
    FakeFloor,
    RunningConsole,
    browser_log_in,
    chromium,
    console_running,
    console_settings,
)

WAIT = 20_000  # ms: generous on a loaded two-core machine


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[RunningConsole]:
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", load_directory(units_file(settings)))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        _answered_call(running.services.calls, "call-1", "seat1", settings.zone, time.time() - 600)
        await running.services.calls.flush()
        entries = list(read_folder(write_articles(tmp_path / "base")))
        await running.services.knowledge.import_articles(entries, "test")
        yield running


async def _search(page: Any, query: str) -> list[dict[str, Any]]:
    """Type the query, submit, and read the results as the page shows them."""
    await page.fill("#q", query)
    await page.click("#search-button")
    await page.wait_for_function("() => !document.getElementById('knowledge-status').textContent.includes('查找中')",
                                 timeout=WAIT)
    return await _results(page)


async def _results(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.eval_on_selector_all("#results li", """items => items.map(li => ({
        title: li.querySelector('.knowledge-title').textContent,
        marks: [...li.querySelectorAll('mark')].map(m => m.textContent),
        elements: [...li.querySelectorAll('*')].map(e => e.tagName.toLowerCase())}))""")
    return result


async def _no_script_ran(page: Any) -> None:
    assert await page.evaluate("() => window.pwned === undefined && document.querySelectorAll("
                               "'main script, main img, main iframe').length === 0")


async def test_an_operator_finds_articles_by_a_two_character_word_one_character_and_a_phrase_highlighted(
        console: RunningConsole) -> None:
    dialogs: list[str] = []
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "seat1", console.passwords["seat1"])
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(f"{console.url}/knowledge")
        await page.wait_for_selector("#unit option[value=zezhou]", state="attached", timeout=WAIT)
        assert "政务信息库" in await page.inner_text("header nav")

        found = await _search(page, "低保")
        assert found[0]["title"] == "最低生活保障申请条件" and "低保" in found[0]["marks"]
        assert "2020年临时救助标准" not in [r["title"] for r in found]  # expired: hidden from operators
        OUTPUT.mkdir(exist_ok=True)
        await page.screenshot(path=str(OUTPUT / "knowledge-search.png"), full_page=True)

        phrase = await _search(page, "携带户口簿")
        assert [r["title"] for r in phrase] == ["户口迁移流程"] and "携带户口簿" in phrase[0]["marks"]
        one = await _search(page, "水")
        assert [r["title"] for r in one] == ["停水通知查询"] and "水" in one[0]["marks"]
        await page.select_option("#unit", "zezhou")
        filtered = await _search(page, "低保")
        assert [r["title"] for r in filtered] == ["网页代码示例"]
        # The snippet of an article holding HTML: its tags are text, only <mark> is markup.
        assert set(filtered[0]["elements"]) <= {"a", "span", "p", "mark"}, filtered[0]["elements"]
        await _no_script_ran(page)

        # Hostile searches: FTS syntax, HTML, and 10,000 characters (through the address,
        # which is not limited as the box is), each answered with a list, never an error.
        await page.select_option("#unit", "")
        html = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
        for query in ('"低保', "NEAR(低保 户口", "低保*", html):
            await _search(page, query)
            assert not await page.is_visible("#knowledge-status.error"), query
        await page.goto(f"{console.url}/knowledge?q={quote('低保' * 5_000)}")
        await page.wait_for_function("() => /共 \\d+ 条|没有找到/.test(document.getElementById('knowledge-status')"
                                     ".textContent)", timeout=WAIT)
        assert (await _results(page))[0]["title"] == "最低生活保障申请条件"
        await _no_script_ran(page)

        # The article with HTML in its body: shown as text, nothing runs.
        await page.goto(f"{console.url}/knowledge")
        await _search(page, "网页代码")
        await page.click("#results li a")
        await page.wait_for_selector("#article:not([hidden])", timeout=WAIT)
        body = await page.inner_text("#article-body")
        assert "<script>window.pwned = 1</script>" in body and "onerror" in body
        await _no_script_ran(page)
        assert await page.is_hidden("#edit-link")  # operators read only
        await page.screenshot(path=str(OUTPUT / "knowledge-article-html.png"), full_page=True)
        await page.context.close()
    assert dialogs == []


async def test_the_units_clerk_edits_its_article_in_the_form_and_sees_the_history(console: RunningConsole) -> None:
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "zezhou-office", console.passwords["zezhou-office"])
        await page.goto(f"{console.url}/knowledge")
        await page.wait_for_selector("#results li", timeout=WAIT)
        titles = [r["title"] for r in await _results(page)]
        assert set(titles) == {"户口迁移流程", "网页代码示例"}  # its own unit's articles only
        await _search(page, "户口迁移")
        await page.click("#results li a")
        await page.wait_for_selector("#edit-link:not([hidden])", timeout=WAIT)
        await page.click("#edit-link")
        await page.wait_for_function("() => document.getElementById('title').value === '户口迁移流程'", timeout=WAIT)
        await page.fill("#body", "## 办理流程\n\n1. 网上预约\n2. 携带户口簿到派出所办理")
        await page.click("#save-button")
        await page.wait_for_selector("#versions tbody tr[data-version='2']", timeout=WAIT)
        assert "网上预约" in await page.inner_text("#article-body")
        assert await page.inner_text("#article-body h2") == "办理流程"
        history = await page.inner_text("#versions")
        assert "第 2 版" in history and "zezhou-office" in history and "第 1 版" in history
        await page.screenshot(path=str(OUTPUT / "knowledge-edited.png"), full_page=True)
        await page.context.close()


async def test_the_wallboard_shows_todays_most_used_articles(console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        found = await operator.get("/api/knowledge/search?q=%E4%BD%8E%E4%BF%9D")  # 低保
        await operator.post("/api/calls/call-1/knowledge", {"article_ids": [found["results"][0]["id"]]})
    async with chromium() as browser:
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.goto(f"{console.url}/wallboard")
        await page.wait_for_selector("#knowledge-top-today:not([hidden]) li", timeout=WAIT)
        text = await page.inner_text("#knowledge-top-today")
        assert "今日常用信息库条目" in text and "最低生活保障申请条件" in text and "1 次" in text
        await page.context.close()
