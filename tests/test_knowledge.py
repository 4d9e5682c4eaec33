"""The knowledge base (政务信息库): Chinese search (one- and two-character words, phrases,
synonyms, unit aliases, hostile queries), who may read and edit what, 「已据此答复」 stored
on the call and counted in the briefing, and import, edit and export giving back the same
articles. Against the real console and store (HTTP), and the `hotline knowledge` command."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter.knowledge.article import KnowledgeError, article_of
from callcenter.knowledge.csv_file import format_csv, parse_csv
from callcenter.knowledge.markdown_folder import LINES, format_markdown, parse_markdown, read_folder
from callcenter.knowledge.rendering import body_html
from callcenter.knowledge.search import characters, parse_query, snippet_html
from callcenter.knowledge.service import Editor, starter_folder
from callcenter.reports.figures import build_briefing
from callcenter.reports.html import format_html
from callcenter.reports.periods import parse_month
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user
from tests.harness import HOME, assert_one_line_error, instance_env, run_hotline, store_env
from tests.test_attachments import _answered_call
from tests.web_helpers import (
    Client,
    FakeFloor,
    RunningConsole,
    console_running,
    console_settings,
    http_session,
    log_in,
    page_csrf,
)

DIRECTORY = load_directory(HOME / "config" / "units.toml")
LANDINGS = {"supervisor": "/wallboard", "seat1": "/operator", "seat2": "/operator"}


def article_file(title: str, unit: str, kind: str, body: str, keywords: str = "", valid_until: str = "") -> str:
    return "\n".join(["---", f"title: {title}", f"unit: {unit}", f"kind: {kind}", f"keywords: {keywords}",
                      f"valid_until: {valid_until}", "owner: 示例科室", "---", body, ""])


ARTICLES = {
    "civil-affairs/low.md": article_file("最低生活保障申请条件", "市民政局", "policy",
                                         "家庭人均收入低于当地低保标准的，可以申请低保。\n\n向乡镇人民政府提出申请。",
                                         "低保, 社会救助"),
    "civil-affairs/old.md": article_file("2020年临时救助标准", "civil-affairs", "常见问题",
                                         "临时救助标准已调整：本条已过期。", valid_until="2021-01-01"),
    "water/stop.md": article_file("停水通知查询", "water", "faq",
                                  "计划停水提前24小时公告。水压低请报小区名称。"),
    "zezhou/hukou.md": article_file("户口迁移流程", "泽州县", "procedure",
                                    "携带户口簿到派出所办理迁移。"),
    "zezhou/html.md": article_file("网页代码示例", "zezhou", "faq",
                                   "正文含 <script>window.pwned = 1</script> 与 <img src=x onerror=\"window.pwned=2\">"
                                   " 以及低保二字"),
}


def write_articles(folder: Path, articles: dict[str, str] = ARTICLES) -> Path:
    for name, text in articles.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
async def console(tmp_path: Path, store_location: Path | str) -> AsyncIterator[RunningConsole]:
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    directory = load_directory(units_file(settings))
    add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou", directory)
    add_unit_user(settings.paths.state_dir, "water-office", "water", directory)
    async with Store(store_location) as store, \
            console_running(settings, FakeFloor(settings, store)) as running:
        for index, seat in enumerate(("seat1", "seat1", "seat2"), start=1):
            _answered_call(running.services.calls, f"call-{index}", seat, settings.zone, time.time() - 600 + index)
        await running.services.calls.flush()
        entries = list(read_folder(write_articles(tmp_path / "base")))
        await running.services.knowledge.import_articles(entries, "test")
        yield running


async def _as(console: RunningConsole, user: str) -> tuple[aiohttp.ClientSession, Client]:
    http = http_session()
    assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
    return http, Client(http, console.url, await page_csrf(http, console.url, LANDINGS.get(user, "/unit")))


async def _search(client: Client, query: str, **filters: str) -> dict[str, Any]:
    params = {"q": query, **filters}
    async with client.http.get(f"{client.url}/api/knowledge/search", params=params) as response:
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data


def _titles(found: dict[str, Any]) -> list[str]:
    return [r["title"] for r in found["results"]]


async def _id_of(client: Client, title: str) -> int:
    found = await _search(client, title)
    return next(int(r["id"]) for r in found["results"] if r["title"] == title)


# ------------------------------------------------------------------ pure


def test_a_query_becomes_quoted_terms_so_fts_syntax_is_only_text() -> None:
    query = parse_query('低保 "NEAR( x* AND', lambda word: ["最低生活保障"] if word == "低保" else [])
    assert query.terms[0] == ("低保", "最低生活保障")
    match = query.match(every=True)
    assert match is not None and '{title words} : "低保"' in match and '"near"' in match and '"x"' in match
    # A word jieba does not know, and a single character, are looked for as characters too.
    assert 'chars : "最 低 生 活 保 障"' in match
    assert parse_query("水", lambda word: []).match(every=True) == '({title words} : "水" OR chars : "水")'
    assert parse_query("x" * 10_000, lambda word: []).text == "x" * 100


def test_every_chinese_character_is_its_own_token_and_latin_runs_stay_whole() -> None:
    assert characters("办理ID卡，12345热线") == ["办", "理", "id", "卡", "12345", "热", "线"]


def test_a_snippet_is_escaped_and_marks_the_hits_only() -> None:
    html = snippet_html("申请<b>低保</b>需要户口簿 & 身份证", ["低保", "户口"])
    assert html == "申请&lt;b&gt;<mark>低保</mark>&lt;/b&gt;需要<mark>户口</mark>簿 &amp; 身份证"


def test_raw_html_in_a_body_is_shown_as_text_and_javascript_links_are_not_links() -> None:
    html = body_html("<script>alert(1)</script>\n\n[点此](javascript:alert(1)) **办理**")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and "<strong>办理</strong>" in html


def test_a_markdown_file_reads_back_as_it_was_written_and_a_bad_line_is_named() -> None:
    fields = parse_markdown(ARTICLES["civil-affairs/low.md"], "low.md")
    article = article_of(fields, DIRECTORY)
    assert article.unit == "civil-affairs" and article.keywords == ("低保", "社会救助")
    row = {"article_id": 7, **article.fields(), "version": 2, "updated_at": "2026-01-01T08:00:00+08:00"}
    again = article_of(parse_markdown(format_markdown(row), "7.md"), DIRECTORY)
    assert again == article.__class__(**{**article.__dict__, "article_id": 7})
    with pytest.raises(KnowledgeError, match=r"bad\.md: line 3: expected 'key: value'"):
        parse_markdown("---\ntitle: x\nno colon here\n---\nbody", "bad.md")
    with pytest.raises(KnowledgeError, match="unknown key 'colour'"):
        parse_markdown("---\ncolour: red\n---\nbody", "bad.md")
    lines = fields[LINES]
    assert isinstance(lines, dict) and lines["kind"] == 4


def test_a_csv_reads_back_the_same_and_guards_cells_excel_would_run() -> None:
    row = {"article_id": 3, "title": "=HYPERLINK(\"x\")", "unit": "water", "kind": "faq", "body": "-1 元，\n第二行",
           "keywords": "停水", "valid_from": None, "valid_until": "2030-01-01", "owner": ""}
    text = format_csv([row])
    assert "'=HYPERLINK" in text
    [(where, fields)] = list(parse_csv(text, "base.csv"))
    assert where == "base.csv: line 2" and fields["title"] == row["title"] and fields["body"] == row["body"]
    with pytest.raises(KnowledgeError, match=r"base\.csv: line 1: unknown column 'colour'"):
        list(parse_csv("title,unit,kind,body,colour\n", "base.csv"))


# ------------------------------------------------------------------ search over HTTP


async def test_a_two_character_word_a_one_character_word_and_a_phrase_find_the_right_articles_highlighted(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        found = await _search(operator, "低保")
        assert _titles(found)[0] == "最低生活保障申请条件"
        assert "<mark>低保</mark>" in found["results"][0]["snippet_html"]
        assert {"id", "title", "unit", "kind", "kind_label", "snippet_html", "updated_at"} <= set(found["results"][0])
        assert found["results"][0]["kind_label"] == "政策依据"
        phrase = await _search(operator, "携带户口簿")
        assert _titles(phrase) == ["户口迁移流程"]
        assert "<mark>携带户口簿</mark>" in phrase["results"][0]["snippet_html"]
        one = await _search(operator, "水")
        assert _titles(one) == ["停水通知查询"]
        assert "<mark>水</mark>" in one["results"][0]["snippet_html"]
        filtered = await _search(operator, "低保", unit="zezhou")
        assert _titles(filtered) == ["网页代码示例"]
        assert _titles(await _search(operator, "申请", kind="faq")) == []


async def test_unit_aliases_and_synonyms_find_articles_by_another_name(console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        assert set(_titles(await _search(operator, "泽州"))) == {"户口迁移流程", "网页代码示例"}
        assert "户口迁移流程" in _titles(await _search(operator, "户籍"))  # config/knowledge_synonyms.toml
        # A phrase with synonyms of its own stays whole: 最低生活保障 finds an article saying 低保 only.
        assert "网页代码示例" in _titles(await _search(operator, "最低生活保障"))


async def test_an_expired_article_is_hidden_from_operators_and_marked_for_supervisors(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        assert "2020年临时救助标准" not in _titles(await _search(operator, "临时救助"))
        old = await console.services.knowledge.search("临时救助", _supervisor_editor())
        await operator.get(f"/api/knowledge/articles/{old.hits[0].id}", status=404)
    http, supervisor = await _as(console, "supervisor")
    async with http:
        found = await _search(supervisor, "临时救助")
        assert _titles(found)[0] == "2020年临时救助标准" and found["results"][0]["validity"] == "expired"
        dated = {"unit": "civil-affairs", "kind": "policy", "body": "取暖补贴发放标准。"}
        await supervisor.post("/api/knowledge/articles", {**dated, "title": "取暖补贴（现行）",
                                                          "valid_from": "2020-01-01", "valid_until": "2099-12-31"},
                              status=201)
        await supervisor.post("/api/knowledge/articles", {**dated, "title": "取暖补贴（明年起）",
                                                          "valid_from": "2099-01-01"}, status=201)
        both = await _search(supervisor, "取暖补贴", unit="civil-affairs", kind="policy")
        assert sorted(r["validity"] for r in both["results"]) == ["pending", "valid"]
    http, operator = await _as(console, "seat1")
    async with http:
        assert _titles(await _search(operator, "取暖补贴", unit="civil-affairs", kind="policy")) == ["取暖补贴（现行）"]


def _supervisor_editor() -> Editor:
    return Editor("test", "supervisor")


async def test_hostile_queries_are_answered_not_errors(console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        for query in ("低" * 10_000, '"', '"低保', "*", "低保*", "NEAR(", "NEAR(低保 户口", "title:低保", "{", "^",
                      "AND", "OR NOT", "'; DROP TABLE knowledge_articles; --", "<script>alert(1)</script>", "\x00"):
            found = await _search(operator, query)
            assert isinstance(found["total"], int), query
        long = await _search(operator, "低保" * 5_000)
        assert long["truncated"] is True and len(long["query"]) == 100
        await operator.get("/api/knowledge/search?q=x&limit=0", status=400)
        await operator.get("/api/knowledge/search?q=x&unit=nowhere", status=400)
        await operator.get("/api/knowledge/search?q=x&kind=poem", status=400)


async def test_html_in_a_body_comes_back_escaped_in_the_snippet_and_as_text_in_the_article(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        found = await _search(operator, "网页代码")
        snippet = found["results"][0]["snippet_html"]
        assert "<script" not in snippet and "<img" not in snippet and "&lt;script&gt;" in snippet
        article = await operator.get(f"/api/knowledge/articles/{found['results'][0]['id']}")
        assert "<script" not in article["body_html"] and "<img" not in article["body_html"]


# ------------------------------------------------------------------ who edits


def _edit(article: dict[str, Any], **changes: object) -> dict[str, Any]:
    keys = ("title", "unit", "kind", "body", "keywords", "valid_from", "valid_until", "owner", "version")
    return {**{key: article[key] for key in keys}, **changes}


async def test_a_unit_edits_its_own_article_and_is_refused_another_units(console: RunningConsole) -> None:
    http, zezhou = await _as(console, "zezhou-office")
    async with http:
        own = await _id_of(zezhou, "户口迁移流程")
        article = await zezhou.get(f"/api/knowledge/articles/{own}")
        assert article["may_edit"] is True
        saved = await zezhou.send("PUT", f"/api/knowledge/articles/{own}",
                                  _edit(article, body="新的办理流程：网上预约。"))
        assert saved == {"id": own, "version": 2}
        # Another unit's article: not among its search results, not readable, not writable.
        assert _titles(await _search(zezhou, "停水")) == []
        water = (await console.services.knowledge.search("停水", _supervisor_editor())).hits[0].id
        await zezhou.get(f"/api/knowledge/articles/{water}", status=404)
        await zezhou.send("PUT", f"/api/knowledge/articles/{water}", _edit(article, unit="water", version=1),
                          status=403)
        # Nor may it move its own article to another unit, or add one for another unit.
        await zezhou.send("PUT", f"/api/knowledge/articles/{own}", _edit(article, unit="water", version=2),
                          status=403)
        await zezhou.post("/api/knowledge/articles", _edit(article, unit="water"), status=403)
        # An edit from an old version is refused, not silently lost.
        await zezhou.send("PUT", f"/api/knowledge/articles/{own}", _edit(article, body="旧版本上改"), status=409)
        history = (await zezhou.get(f"/api/knowledge/articles/{own}"))["versions"]
        assert [(v["version"], v["saved_by"]) for v in history] == [(2, "zezhou-office"), (1, "test")]
    http, operator = await _as(console, "seat1")
    async with http:
        await operator.send("PUT", f"/api/knowledge/articles/{own}", _edit(article, version=2), status=403)
        await operator.post("/api/knowledge/articles", _edit(article), status=403)
        assert _titles(await _search(operator, "网上预约")) == ["户口迁移流程"]


async def test_a_bad_article_is_refused_with_the_field_named(console: RunningConsole) -> None:
    http, supervisor = await _as(console, "supervisor")
    async with http:
        base = {"title": "标题", "unit": "water", "kind": "faq", "body": "正文"}
        for change, word in (({"kind": "poem"}, "kind"), ({"title": ""}, "title"), ({"unit": "火星"}, "unit"),
                             ({"valid_until": "2026-02-30"}, "valid_until"), ({"body": "字" * 50_001}, "body")):
            async with supervisor.http.post(f"{supervisor.url}/api/knowledge/articles", json={**base, **change},
                                            headers={"X-CSRF-Token": supervisor.csrf}) as response:
                assert response.status in (400, 413), (change, response.status)
                if response.status == 400:
                    assert word in (await response.json())["error"], change
        created = await supervisor.post("/api/knowledge/articles", base, status=201)
        assert created["version"] == 1


# ------------------------------------------------------------------ answered from the base


async def test_answered_from_the_base_is_stored_on_the_call_and_counted_in_the_monthly_json(
        console: RunningConsole) -> None:
    http, operator = await _as(console, "seat1")
    async with http:
        low = await _id_of(operator, "最低生活保障申请条件")
        water = await _id_of(operator, "停水通知查询")
        linked = await operator.post("/api/calls/call-1/knowledge", {"article_ids": [low, water]})
        assert linked == {"call_id": "call-1", "articles": [{"id": low, "title": "最低生活保障申请条件"},
                                                            {"id": water, "title": "停水通知查询"}]}
        await operator.post("/api/calls/call-2/knowledge", {"article_ids": [low]})
        await operator.post("/api/calls/call-2/knowledge", {"article_ids": [low]})  # twice: counted once
        # seat2's call, an unknown call or article, a bad body.
        await operator.post("/api/calls/call-3/knowledge", {"article_ids": [low]}, status=403)
        await operator.post("/api/calls/nope/knowledge", {"article_ids": [low]}, status=404)
        await operator.post("/api/calls/call-1/knowledge", {"article_ids": [999_999]}, status=404)
        bodies: tuple[dict[str, object], ...] = ({}, {"article_ids": []}, {"article_ids": ["1"]},
                                                 {"article_ids": [True]}, {"article_ids": 5})
        for body in bodies:
            await operator.post("/api/calls/call-1/knowledge", body, status=400)
        top = await operator.get("/api/knowledge/top?limit=5")
        assert [(t["id"], t["uses"]) for t in top] == [(low, 2), (water, 1)]
    http, supervisor = await _as(console, "supervisor")
    async with http:
        await supervisor.post("/api/calls/call-3/knowledge", {"article_ids": [water]})
    call = await console.services.calls.get("call-1")
    assert call is not None and call["answered_from_base"]
    # A call talking on seat2 now whose row does not name the seat yet: seat2's, not seat1's.
    console.services.calls.save("call-live", caller_number="13900000002", arrived_epoch=time.time() - 30,
                                state="talking")
    await console.services.calls.flush()
    assert isinstance(console.floor, FakeFloor)
    console.floor.seat_calls["seat2"] = {"call_id": "call-live"}
    await operator_of(console, "seat1", "/api/calls/call-live/knowledge", {"article_ids": [low]}, 403)
    await operator_of(console, "seat2", "/api/calls/call-live/knowledge", {"article_ids": [low]}, 200)
    unit_http, unit = await _as(console, "water-office")
    async with unit_http:
        await unit.post("/api/calls/call-1/knowledge", {"article_ids": [water]}, status=403)
        await unit.get("/api/knowledge/top", status=403)
    zone = console.settings.zone
    month = datetime.now(zone).strftime("%Y-%m")
    built = await build_briefing(console.services.store, parse_month(month, zone), zone=zone)
    page = format_html(built, "简报", DIRECTORY.names())
    assert "本期 4 件来电据政务信息库当场答复" in page
    assert "<td>最低生活保障申请条件</td><td>市民政局</td><td>3</td>" in page
    briefing = built.to_json()
    knowledge = briefing["knowledge"]
    assert isinstance(knowledge, dict)
    assert knowledge["answered_from_base"] == 4
    assert knowledge["by_unit"] == [{"unit": "civil-affairs", "calls": 3}, {"unit": "water", "calls": 2}]
    assert [(a["id"], a["calls"]) for a in knowledge["by_article"]] == [(low, 3), (water, 2)]


async def operator_of(console: RunningConsole, user: str, path: str, body: object, status: int) -> None:
    http, client = await _as(console, user)
    async with http:
        await client.post(path, body, status=status)


# ------------------------------------------------------------------ import and export


async def test_import_an_edit_by_the_unit_and_export_give_back_the_same_articles(
        console: RunningConsole, tmp_path: Path, store_location: Path | str) -> None:
    env = instance_env(console.settings.paths.state_dir) | store_env(store_location)
    folder = write_articles(tmp_path / "city-base", {
        "zezhou/a.md": article_file("老年人优待证办理（示例）", "zezhou", "procedure", "# 办理\n\n- 身份证\n- 照片",
                                    "优待证, 老年人"),
        "zezhou/b.md": article_file("泽州县机构设置", "泽州县", "organisation",
                                    "| 科室 | 电话 |\n| --- | --- |\n| 办公室 | 1 |"),
    })
    imported = run_hotline(env, "knowledge", "import", str(folder))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 articles" in imported.stdout and "2 new" in imported.stdout
    again = run_hotline(env, "knowledge", "import", str(folder))
    assert "2 unchanged" in again.stdout, again.stdout
    http, zezhou = await _as(console, "zezhou-office")
    async with http:
        edited_id = await _id_of(zezhou, "老年人优待证办理（示例）")
        article = await zezhou.get(f"/api/knowledge/articles/{edited_id}")
        await zezhou.send("PUT", f"/api/knowledge/articles/{edited_id}",
                          _edit(article, body="# 办理\n\n- 身份证\n- 户口簿"))
    exported = run_hotline(env, "knowledge", "export", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    back = {str(fields["title"]): article_of(fields, DIRECTORY) for _, fields in read_folder(tmp_path / "out")}
    originals = {str(fields["title"]): article_of(fields, DIRECTORY) for _, fields in read_folder(folder)}
    for title, original in originals.items():
        expected = original if title != "老年人优待证办理（示例）" else original.__class__(
            **{**original.__dict__, "body": "# 办理\n\n- 身份证\n- 户口簿"})
        assert back[title].__class__(**{**back[title].__dict__, "article_id": None}) == expected
    assert (tmp_path / "out" / "zezhou" / f"{edited_id}.md").exists()
    as_csv = run_hotline(env, "knowledge", "export", str(tmp_path / "base.csv"))
    assert as_csv.returncode == 0, as_csv.stderr
    reimported = run_hotline(env, "knowledge", "import", str(tmp_path / "base.csv"))
    assert "0 new, 0 changed" in reimported.stdout, reimported.stdout


def test_a_bad_file_is_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    env = instance_env(tmp_path / "state")
    folder = write_articles(tmp_path / "base", {"water/x.md": article_file("停水", "water", "poem", "正文")})
    out = run_hotline(env, "knowledge", "import", str(folder))
    assert_one_line_error(out, "x.md", "line 4", "kind must be one of")
    (tmp_path / "bad.csv").write_text("title,unit,kind,body\n停水,water,faq\n", encoding="utf-8")
    assert_one_line_error(run_hotline(env, "knowledge", "import", str(tmp_path / "bad.csv")), "bad.csv", "line 2")
    assert_one_line_error(run_hotline(env, "knowledge", "import", str(tmp_path / "none")), "no such file")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    assert_one_line_error(run_hotline(env, "knowledge", "export", str(tmp_path / "full")), "not an empty folder")


def test_every_starter_article_says_it_is_an_example_and_every_unit_has_some() -> None:
    entries = list(read_folder(HOME / "config" / "knowledge"))
    articles = [article_of(fields, DIRECTORY) for _, fields in entries]
    assert all("示例" in a.title and "示例" in a.body for a in articles)
    assert {a.unit for a in articles} == {u.code for u in DIRECTORY.units if u.active}
    assert all(a.valid_until is None for a in articles)


async def test_the_starter_base_is_loaded_into_an_empty_base_only(tmp_path: Path, store_location: Path | str) -> None:
    (tmp_path / "state").mkdir()
    settings = console_settings(tmp_path / "state")
    async with Store(store_location) as store:
        service = FakeFloor(settings, store).services.knowledge
        first = await service.load_starter(starter_folder(settings))
        assert first is not None and first.created == len(list(read_folder(starter_folder(settings))))
        assert await service.load_starter(starter_folder(settings)) is None  # not empty: left alone
