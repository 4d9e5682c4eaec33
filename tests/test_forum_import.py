"""The city forum's feed taken in: RSS from a file and Atom over loopback HTTP; each post
becomes one forum ticket with its link, never twice however often the feed is imported;
a post's HTML is kept as text; a source that is not a feed is a clear error that stores
nothing; the CLI says how many were new; a supervisor marks a result to post back, and the
marked results are exported as text once."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.forum.feed import FeedError
from callcenter.forum.importer import import_feed
from callcenter.forum.repository import ForumRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from tests.harness import free_port, instance_env, run_hotline
from tests.web_helpers import console_settings

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>凤城论坛 · 民生</title><link>https://bbs.example.cn/</link>
<item><title>凤台街路灯坏了一个月</title><link>https://bbs.example.cn/t/101</link><guid>bbs-101</guid>
<author>老王</author><pubDate>Thu, 03 Dec 2026 20:15:00 +0800</pubDate>
<description><![CDATA[<p>凤台街32号楼前的路灯坏了<b>一个月</b>。</p><script>alert(1)</script><p>请尽快修好。</p>]]></description>
</item>
<item><title>公交站牌字看不清</title><link>https://bbs.example.cn/t/102</link>
<description>泽州路站牌褪色</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>凤城论坛</title><id>tag:bbs.example.cn,2026:feed</id>
<updated>2026-12-04T08:00:00+08:00</updated>
<entry><title>垃圾站夜里清运噪音大</title><id>tag:bbs.example.cn,2026:t/201</id>
<link href="https://bbs.example.cn/t/201"/><updated>2026-12-04T07:00:00+08:00</updated>
<author><name>小李</name></author>
<content type="html">&lt;p&gt;每天凌晨三点清运，吵得睡不着。&lt;/p&gt;</content></entry>
</feed>"""


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings: Settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        yield Services.on(settings, store)


async def _forum_tickets(services: Services) -> list[dict[str, object]]:
    rows, _ = await services.tickets.listing(channel="forum")
    return sorted(rows, key=lambda r: str(r["source_ref"]))


async def test_importing_the_same_rss_file_twice_makes_each_post_a_ticket_once(services: Services,
                                                                              tmp_path: Path) -> None:
    feed = tmp_path / "forum.xml"
    feed.write_text(RSS, encoding="utf-8")
    repository = ForumRepository(services.store)
    first = await import_feed(str(feed), services.tickets, repository)
    second = await import_feed(str(feed), services.tickets, repository)
    assert (first.new, first.known, second.new, second.known) == (2, 0, 0, 2)
    rows = await _forum_tickets(services)
    assert [(r["source_ref"], r["source_link"], r["unit"]) for r in rows] == [
        ("bbs-101", "https://bbs.example.cn/t/101", "hotline-office"),
        ("https://bbs.example.cn/t/102", "https://bbs.example.cn/t/102", "hotline-office")]
    detail = await services.tickets.detail(int(str(rows[0]["ticket_id"])))
    [message] = detail.messages
    assert message["body"] == "凤台街32号楼前的路灯坏了一个月。\n请尽快修好。"  # text: no tag, no script
    assert detail.ticket["citizen_name"] == "老王"
    assert str(detail.ticket["summary"]).startswith("凤台街路灯坏了一个月：")
    assert detail.ticket["response_due_epoch"] is not None


async def test_an_atom_feed_over_http_is_taken_in_and_two_imports_at_once_still_make_one_ticket(
        services: Services) -> None:
    async def serve(request: web.Request) -> web.StreamResponse:
        # A comment of 300 KB before the entry, sent in pieces: the entry is read only if
        # the importer reads on to the end, not just what arrived first.
        head, entry = ATOM.split("<entry>", 1)
        body = (head + "<!--" + "x" * 300_000 + "--><entry>" + entry).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/atom+xml"})
        await response.prepare(request)
        for start in range(0, len(body), 50_000):
            await response.write(body[start:start + 50_000])
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/feed.atom", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port((socket.SOCK_STREAM,))
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/feed.atom"
        repository = ForumRepository(services.store)
        both = await asyncio.gather(import_feed(url, services.tickets, repository),
                                    import_feed(url, services.tickets, repository))
        assert sorted(done.new for done in both) == [0, 1]
        with pytest.raises(FeedError, match="HTTP 404"):
            await import_feed(f"http://127.0.0.1:{port}/missing", services.tickets, repository)
    finally:
        await runner.cleanup()
    [row] = await _forum_tickets(services)
    assert row["source_link"] == "https://bbs.example.cn/t/201" and row["citizen_name"] == "小李"


@pytest.mark.parametrize(("content", "reason"), [
    ("", "empty"), ("<html><body><p>论坛维护中</p></body></html>", "not an RSS or Atom feed"),
    ("这不是XML", "not an RSS or Atom feed"), ("{\"items\": []}", "not an RSS or Atom feed"),
])
async def test_a_source_that_is_not_a_feed_is_a_clear_error_and_stores_nothing(
        services: Services, tmp_path: Path, content: str, reason: str) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(FeedError, match=reason) as refused:
        await import_feed(str(bad), services.tickets, ForumRepository(services.store))
    assert str(bad) in str(refused.value)
    assert await _forum_tickets(services) == []


async def test_a_missing_file_and_another_scheme_are_refused(services: Services, tmp_path: Path) -> None:
    repository = ForumRepository(services.store)
    with pytest.raises(FeedError, match="cannot read"):
        await import_feed(str(tmp_path / "nowhere.xml"), services.tickets, repository)
    with pytest.raises(FeedError, match="only http"):
        await import_feed("ftp://bbs.example.cn/feed", services.tickets, repository)


def test_the_cli_imports_once_reports_a_bad_feed_and_exports_the_results(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    feed = tmp_path / "forum.xml"
    feed.write_text(RSS, encoding="utf-8")
    first = run_hotline(env, "forum", "import", str(feed))
    assert first.returncode == 0 and first.stdout.strip().endswith("2 new, 0 already taken in"), first
    again = run_hotline(env, "forum", "import", str(feed))
    assert again.stdout.strip().endswith("0 new, 2 already taken in"), again
    (tmp_path / "bad.xml").write_text("<html>not a feed</html>", encoding="utf-8")
    bad = run_hotline(env, "forum", "import", str(tmp_path / "bad.xml"))
    assert bad.returncode == 2 and "not an RSS or Atom feed" in bad.stderr, bad
    assert "no result is marked" in run_hotline(env, "forum", "results").stdout
    forwarded = run_hotline(env, "tickets", "forward", "1", "--unit", "城区")
    assert forwarded.returncode == 0, forwarded.stderr
    replied = run_hotline(env, "tickets", "reply", "1", "--text", "路灯已修复。")
    assert replied.returncode == 0, replied.stderr
    assert "no result is marked" in run_hotline(env, "forum", "results").stdout  # replied, not yet marked
    unanswered = run_hotline(env, "forum", "mark", "2")
    assert unanswered.returncode == 2 and "no reply yet" in unanswered.stderr, unanswered
    marked = run_hotline(env, "forum", "mark", "1", "--by", "supervisor")
    assert marked.returncode == 0, marked.stderr
    results = run_hotline(env, "forum", "results").stdout
    assert "https://bbs.example.cn/t/101" in results and "办理结果：路灯已修复。" in results, results
    assert "t/102" not in results
    assert "no result is marked" in run_hotline(env, "forum", "results").stdout  # exported once
    assert "路灯已修复" in run_hotline(env, "forum", "results", "--all").stdout
