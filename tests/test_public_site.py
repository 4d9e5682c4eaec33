"""The public site over HTTP, without Asterisk: the mailbox form (a honeypot, a rate
limit per address that survives a restart, hostile input stored whole and shown
escaped), a ticket's status by its number and query code (nothing else of the ticket,
a wrong code told apart from nothing), the published cases and their Atom feed parsed
back, and none of the console's routes."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import feedparser  # type: ignore[import-untyped]
import pytest

from callcenter.app import where_lines
from callcenter.public.codes import ALPHABET, CODE_LENGTH, code_matches, hash_code, new_code
from callcenter.public.form import PROBLEM_MAX_CHARS
from callcenter.public.repository import FORM
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from callcenter.web import web_app
from tests.public_helpers import (
    RunningPublic,
    citizen_form,
    public_site_running,
    publish_case,
    receipt,
    submit,
)
from tests.web_helpers import FakeFloor, console_settings, http_session

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return console_settings(tmp_path)


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[RunningPublic]:
    async with Store(settings.paths.database) as store, \
            public_site_running(settings, Services.on(settings, store)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with http_session() as session:
        yield session


async def _status(http: aiohttp.ClientSession, url: str, ticket: object, code: str, expect: int = 200,
                  headers: dict[str, str] | None = None) -> str:
    async with http.post(f"{url}/status", data={"ticket": str(ticket), "code": code},
                         headers=headers or {}) as response:
        text = await response.text()
        assert response.status == expect, (response.status, text[:500])
        return text


async def _ticket_count(services: Services) -> int:
    return await services.store.reading(lambda db: int(db.execute("SELECT count(*) FROM tickets").fetchone()[0]))


# --- the mailbox form -----------------------------------------------------------------

async def test_a_submitted_form_becomes_a_mailbox_ticket_with_a_number_and_a_code_only_hashed(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    ticket_id, code = receipt(await submit(http, site.url, citizen_form()))
    assert len(code) >= 8 and set(code) <= set(ALPHABET)
    detail = await site.services.tickets.detail(ticket_id)
    row = detail.ticket
    assert (row["channel"], row["unit"], row["state"], row["category"]) == ("mailbox", "hotline-office", "open",
                                                                            "help")
    assert (row["citizen_name"], row["contact_number"], row["address"]) == ("王女士", "13912345678", "城区凤台街")
    stored_hash = str(row["query_code_hash"])
    assert code not in stored_hash and code_matches(code, stored_hash)
    assert [m["body"] for m in detail.messages] == ["小区门口路灯坏了一个月，晚上出行不便。"]
    assert [e["actor"] for e in detail.events] == ["public"]


async def test_a_form_missing_fields_or_with_a_bad_number_is_shown_again_with_chinese_messages_and_nothing_stored(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    page = await submit(http, site.url, citizen_form(name="", phone="12ab", problem="  ", category="bribe"),
                        status=400)
    for message in ("请填写您的姓名", "联系电话只能是 5 至 20 位数字", "请填写您反映的问题", "请从列表中选择问题类别"):
        assert message in page
    for phone in ("1234", "1" * 21, "+86-139 1234 5678x"):
        assert "联系电话只能是" in await submit(http, site.url, citizen_form(phone=phone), status=400)
    assert receipt(await submit(http, site.url, citizen_form(phone="+86 139-1234-5678")))
    assert await _ticket_count(site.services) == 1


async def test_script_in_every_field_is_stored_as_typed_and_shown_escaped(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    # Shown again (a bad number): every field comes back escaped, none as markup.
    page = await submit(http, site.url, citizen_form(name=HOSTILE[:40], phone=HOSTILE, problem=HOSTILE,
                                                     place=HOSTILE, category=HOSTILE), status=400)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    ticket_id, _ = receipt(await submit(http, site.url, citizen_form(name=HOSTILE[:40], problem=HOSTILE,
                                                                     place=HOSTILE)))
    row = (await site.services.tickets.detail(ticket_id)).ticket
    assert (row["citizen_name"], row["address"]) == (HOSTILE[:40], HOSTILE)
    assert (await site.services.tickets.detail(ticket_id)).messages[0]["body"] == HOSTILE


async def test_100_kb_of_text_and_emoji_is_stored_whole(site: RunningPublic, http: aiohttp.ClientSession) -> None:
    line = "路灯不亮🚧😡，请尽快修理。<b>夜里</b> & 'quotes'\n"
    problem = (line * (102_400 // len(line.encode()) + 1)).strip()
    assert len(problem.encode()) >= 100 * 1024 and len(problem) <= PROBLEM_MAX_CHARS
    ticket_id, _ = receipt(await submit(http, site.url, citizen_form(problem=problem, name="李🙂")))
    detail = await site.services.tickets.detail(ticket_id)
    assert detail.messages[0]["body"] == problem and detail.ticket["citizen_name"] == "李🙂"


async def test_a_problem_over_the_limit_gets_a_clear_message_and_the_text_back(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    problem = "长" * (PROBLEM_MAX_CHARS + 1)
    page = await submit(http, site.url, citizen_form(problem=problem), status=400)
    assert f"反映的问题最多 {PROBLEM_MAX_CHARS} 字，您填写了 {PROBLEM_MAX_CHARS + 1} 字" in page
    assert problem in page  # what they typed is not lost
    huge = io.BytesIO(urlencode(citizen_form(problem="x" * (3 * 1024 * 1024))).encode())
    async with http.post(f"{site.url}/mailbox", data=huge,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        assert response.status == 413 and "提交的内容太长" in await response.text()
    assert await _ticket_count(site.services) == 0


async def test_a_message_that_cannot_be_taken_in_comes_back_with_an_apology_and_the_text(
        settings: Settings, http: aiohttp.ClientSession) -> None:
    no_intake = dataclasses.replace(settings, channels=dataclasses.replace(settings.channels, intake_unit="gone"))
    async with Store(settings.paths.database) as store, \
            public_site_running(no_intake, Services.on(no_intake, store)) as site:
        page = await submit(http, site.url, citizen_form(problem="路灯坏了 <b>"), status=503)
        assert "系统繁忙，请稍后再试" in page and "路灯坏了 &lt;b&gt;</textarea>" in page
        assert await _ticket_count(site.services) == 0


async def test_a_robot_filling_the_hidden_field_is_answered_like_a_person_and_nothing_is_stored(
        site: RunningPublic, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    form_page = await (await http.get(f"{site.url}/")).text()
    assert re.search(r'<div class="hp" aria-hidden="true">\s*<label for="website">', form_page)
    with caplog.at_level(logging.WARNING, logger="callcenter.public.app"):
        page = await submit(http, site.url, citizen_form(website="http://spam.example"))
    assert receipt(page)
    assert await _ticket_count(site.services) == 0
    assert any("hidden field was filled" in record.getMessage() for record in caplog.records)


async def test_fifty_submissions_a_minute_from_one_address_are_refused_beyond_the_limit_even_after_a_restart(
        settings: Settings, http: aiohttp.ClientSession) -> None:
    limit = settings.public.form_limit
    clock = [time.time()]
    statuses: list[int] = []
    async with Store(settings.paths.database) as store, \
            public_site_running(settings, Services.on(settings, store), clock) as site:
        for n in range(50):
            async with http.post(f"{site.url}/mailbox", data=citizen_form(problem=f"第{n}条")) as response:
                statuses.append(response.status)
                if response.status == 429:
                    retry_after = int(response.headers["Retry-After"])
                    assert 0 < retry_after <= settings.public.form_window_minutes * 60
                    assert "您提交得太频繁了" in await response.text()
            site.advance(1.2)  # 50 in a minute
        assert statuses.count(200) == limit and statuses.count(429) == 50 - limit
        assert await _ticket_count(site.services) == limit
    # Started again on the same database: the address is still over its limit.
    async with Store(settings.paths.database) as store, \
            public_site_running(settings, Services.on(settings, store), clock) as site:
        await submit(http, site.url, citizen_form(), status=429)
        # Another address (the city's proxy on loopback says whom it forwards) is not.
        await submit(http, site.url, citizen_form(), headers={"X-Forwarded-For": "203.0.113.7"})
        site.advance(settings.public.form_window_minutes * 60)
        await submit(http, site.url, citizen_form())
        assert await _ticket_count(site.services) == limit + 2


async def test_old_hits_are_pruned(site: RunningPublic, http: aiohttp.ClientSession) -> None:
    await submit(http, site.url, citizen_form())
    assert await site.repository.hits(FORM, "127.0.0.1") == 1
    await site.repository.prune(site.clock[0] + 1)
    assert await site.repository.hits(FORM, "127.0.0.1") == 0


async def test_a_form_posted_from_another_site_is_refused(site: RunningPublic, http: aiohttp.ClientSession) -> None:
    await submit(http, site.url, citizen_form(), status=403, headers={"Origin": "https://evil.example"})
    await submit(http, site.url, citizen_form(), status=403, headers={"Sec-Fetch-Site": "cross-site"})
    await _status(http, site.url, 1, "ABCDEFGHJK", expect=403, headers={"Origin": "null"})
    assert await _ticket_count(site.services) == 0
    await submit(http, site.url, citizen_form(), headers={"Origin": site.url, "Sec-Fetch-Site": "same-origin"})


# --- status by number and code --------------------------------------------------------

async def test_the_status_shows_the_state_the_public_responses_and_once_replied_the_units_reply_and_nothing_else(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    desk = site.services.tickets
    ticket_id, code = receipt(await submit(http, site.url, citizen_form()))
    page = await _status(http, site.url, ticket_id, code.lower())  # typed in lower case: still the code
    assert 'id="ticket-state">受理中<' in page and "unit-reply" not in page
    await desk.respond(ticket_id, "您的留言已收到，正在转交承办单位。", actor="supervisor")
    await desk.forward(ticket_id, unit="zezhou", note="内部备注：该市民多次来电", actor="supervisor")
    page = await _status(http, site.url, ticket_id, code)
    assert 'id="ticket-state">办理中<' in page and "您的留言已收到，正在转交承办单位。" in page
    assert "unit-name" not in page  # the unit is named with its reply
    await desk.reply(ticket_id, "zezhou", "已安排维修，路灯于12月5日修复。", actor="zezhou-office")
    page = await _status(http, site.url, ticket_id, code)
    unit_name = str((await desk.detail(ticket_id)).ticket["unit_name"])
    assert 'id="ticket-state">已答复<' in page and "已安排维修，路灯于12月5日修复。" in page
    assert f'id="unit-name">{unit_name}<' in page
    for private in ("内部备注", "多次来电", "王女士", "13912345678", "小区门口路灯坏了一个月", "zezhou-office"):
        assert private not in page
    await desk.close(ticket_id, actor="supervisor")
    assert 'id="ticket-state">已办结<' in await _status(http, site.url, ticket_id, code)


async def test_a_wrong_code_and_an_unknown_ticket_get_the_same_answer(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    first, first_code = receipt(await submit(http, site.url, citizen_form()))
    second, _ = receipt(await submit(http, site.url, citizen_form(name="张先生")))
    answers = [await _status(http, site.url, ticket, code, expect=404)
               for ticket, code in ((first, "WRONGCODE2"), (second, first_code), (99999, first_code))]
    errors = {re.sub(r'value="\d+"', "", page) for page in answers}
    assert len(errors) == 1 and "工单号或查询码不正确" in answers[0]
    assert "张先生" not in "".join(answers)
    page = await _status(http, site.url, "", "X", expect=400)
    assert "请填写工单号" in page


async def test_guessing_codes_from_one_address_is_stopped_after_ten_wrong_lookups(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    ticket_id, code = receipt(await submit(http, site.url, citizen_form()))
    for _ in range(10):
        await _status(http, site.url, ticket_id, new_code(), expect=404)
    async with http.post(f"{site.url}/status", data={"ticket": str(ticket_id), "code": code}) as response:
        assert response.status == 429 and int(response.headers["Retry-After"]) > 0
        assert "查询失败次数过多" in await response.text()
    # The citizen's own lookups from elsewhere still work; and here once the window has passed.
    await _status(http, site.url, ticket_id, code, headers={"X-Forwarded-For": "198.51.100.4"})
    site.advance(site.settings.public.form_window_minutes * 60 + 1)
    await _status(http, site.url, ticket_id, code)


def test_a_query_code_is_drawn_from_the_unambiguous_alphabet_and_checked_against_its_salted_hash() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set(ALPHABET) & set("01ILO")
    code = new_code()
    first, second = hash_code(code), hash_code(code)
    assert first != second  # salted
    assert code_matches(code, first) and code_matches(f" {code[:5]}-{code[5:].lower()} ", first)
    assert not code_matches(new_code(), first)
    for damaged in (None, "", "x", first.replace("pbkdf2", "md5"), first[:-3] + "zzz"):
        assert not code_matches(code, damaged)


# --- nothing of the console -----------------------------------------------------------

def _console_paths(settings: Settings, services: Services) -> set[str]:
    app = web_app(settings, services, FakeFloor(settings, services.store))
    paths = {re.sub(r"\{[^}]+\}", "1", resource.canonical) for resource in app.router.resources()}
    return {path if path != "/static" else "/static/console.css" for path in paths}


async def test_every_console_route_and_recording_is_404_on_the_public_site(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    paths = _console_paths(site.settings, site.services)
    assert {"/login", "/api/desk/ws", "/tickets", "/static/console.css"} <= paths and len(paths) > 40
    shared = {"/"}  # the console's start page and the form share the address, nothing else
    extra = {"/ws", "/api/calls", "/recordings/call-1.wav", "/recordings/../hotline.db", "/attachments/1",
             "/metrics", "/assets/../app.py", "/assets/../../store/schema.py", "/static/public.css"}
    for path in sorted(paths - shared | extra):
        for method in ("GET", "POST"):
            async with http.request(method, site.url + path, allow_redirects=False) as response:
                assert response.status == 404, (method, path, response.status)
                assert "Set-Cookie" not in response.headers


async def test_no_ticket_call_or_recording_is_reachable_without_its_code(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    ticket_id = await site.services.tickets.take_in(WrittenMessage(
        Channel.MAILBOX, "私密的问题", citizen_name="赵某", contact_number="13800000000", actor="public"))
    for path in (f"/tickets/{ticket_id}", f"/api/tickets/{ticket_id}", f"/status?ticket={ticket_id}",
                 "/cases", "/cases.atom", f"/cases/{ticket_id}"):
        async with http.get(site.url + path) as response:
            text = await response.text()
            assert "私密的问题" not in text and "赵某" not in text, path
    # A ticket without a code (taken in otherwise) is never found, whatever is typed.
    await _status(http, site.url, ticket_id, "", expect=400)
    await _status(http, site.url, ticket_id, "AAAAAAAAAA", expect=404)


async def test_pages_carry_a_strict_policy_no_inline_code_and_a_phone_viewport(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    for path in ("/", "/mailbox", "/status", "/cases", "/nowhere"):
        async with http.get(site.url + path) as response:
            page = await response.text()
            headers = response.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert (headers["X-Frame-Options"], headers["X-Content-Type-Options"]) == ("DENY", "nosniff")
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        assert not re.search(r"<script(?![^>]*\bsrc=)", page) and " style=" not in page and "<style" not in page
        assert "Set-Cookie" not in headers
    async with http.get(f"{site.url}/assets/public.css") as response:
        assert response.status == 200 and "max-age" not in response.headers.get("Cache-Control", "")


def test_the_startup_lines_name_the_public_site_only_when_it_is_on(settings: Settings) -> None:
    assert any(line.strip().startswith(f"public site: http://127.0.0.1:{settings.public.port}")
               for line in where_lines(settings))
    off = dataclasses.replace(settings, public=dataclasses.replace(settings.public, enabled=False))
    assert not any("public site" in line for line in where_lines(off))


# --- published cases ------------------------------------------------------------------

async def _tickets(services: Services, count: int) -> list[int]:
    return [await services.tickets.take_in(WrittenMessage(Channel.MAILBOX, f"问题{n}", actor="public"))
            for n in range(count)]


async def test_the_cases_page_lists_live_cases_newest_first_in_pages(
        site: RunningPublic, http: aiohttp.ClientSession) -> None:
    empty: Any = feedparser.parse(await (await http.get(f"{site.url}/cases.atom")).read())
    assert not empty.bozo and empty.entries == []
    assert "暂无公开的案例" in await (await http.get(f"{site.url}/cases")).text()
    tickets = await _tickets(site.services, 27)
    start = 1_780_000_000.0
    for n, ticket in enumerate(tickets[:25]):
        await publish_case(site, ticket, f"案例{n:02d}", f"正文{n}", start + n * 60)
    withdrawn = await publish_case(site, tickets[25], "已撤回的案例", "x", start + 9000, withdrawn=True)
    draft = await publish_case(site, tickets[26], "尚未发布的案例", "x", start + 9000, published=False)
    first = await (await http.get(f"{site.url}/cases")).text()
    assert re.findall(r">案例(\d\d)<", first) == [f"{n:02d}" for n in range(24, 4, -1)]
    assert "共 25 件" in first and "已撤回" not in first and "尚未发布" not in first
    second = await (await http.get(f"{site.url}/cases?page=2")).text()
    assert re.findall(r">案例(\d\d)<", second) == ["04", "03", "02", "01", "00"]
    for bad in ("abc", "-1", "0", "99999999999"):
        async with http.get(f"{site.url}/cases?page={bad}") as response:
            assert response.status == 200
    for hidden in (withdrawn, draft, 424242):
        async with http.get(f"{site.url}/cases/{hidden}") as response:
            assert response.status == 404 and "页面不存在" in await response.text()


async def test_a_mailbox_item_published_as_a_case_is_on_the_page_and_in_the_atom_feed_without_name_or_number(
        settings: Settings, http: aiohttp.ClientSession) -> None:
    base = "https://12345.jcgov.example/mailbox"
    with_base = dataclasses.replace(settings, public=dataclasses.replace(settings.public, base_url=base))
    async with Store(settings.paths.database) as store, \
            public_site_running(with_base, Services.on(with_base, store)) as site:
        services = site.services
        ticket_id, _ = receipt(await submit(http, site.url, citizen_form(name="王秀英", phone="13912345678")))
        await services.tickets.forward(ticket_id, unit="zezhou", actor="supervisor")
        await services.tickets.reply(ticket_id, "zezhou", "路灯已修复。", actor="zezhou-office")
        at = time.time() - 60
        body = "市民反映路灯损坏，承办单位三日内修复。\n已回访，市民满意。"
        case_id = await publish_case(site, ticket_id, "凤台街路灯维修", body, at)
        hostile_ticket = (await _tickets(services, 1))[0]
        await publish_case(site, hostile_ticket, HOSTILE + " & \x01控制字符", "正文 <b>粗</b> & 更多", at + 30)
        listing = await (await http.get(f"{site.url}/cases")).text()
        page = await (await http.get(f"{site.url}/cases/{case_id}")).text()
        async with http.get(f"{site.url}/cases.atom") as response:
            assert response.content_type == "application/atom+xml"
            feed_bytes = await response.read()
    assert "凤台街路灯维修" in listing and "市民反映路灯损坏" in page and "<script>alert" not in listing
    assert "市民反映路灯损坏，承办单位三日内修复。\n已回访" in page
    feed: Any = feedparser.parse(feed_bytes)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title.endswith("典型案例") and feed.version == "atom10"
    titles = [entry.title for entry in feed.entries]
    assert titles == [HOSTILE + " & 控制字符", "凤台街路灯维修"]  # newest first, escaped and read back as typed
    entry = feed.entries[1]
    assert entry.link == entry.id == f"{base}/cases/{case_id}"
    assert entry.author == "城区住建局" and entry.tags[0].label == "求助" and entry.updated_parsed
    assert "市民反映路灯损坏" in entry.summary
    for shown in (listing, page, feed_bytes.decode()):
        assert "王秀英" not in shown and "13912345678" not in shown
