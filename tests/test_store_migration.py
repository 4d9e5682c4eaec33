"""`hotline store migrate`: an SQLite store with calls, tickets and knowledge articles
copied into an empty PostgreSQL database gives the same counts, the same searches and the
same briefing there; a filled target, a bad URL and an unreachable server are refused."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg

from callcenter.knowledge.markdown_folder import read_folder
from callcenter.knowledge.service import Editor
from callcenter.reports.figures import build_briefing
from callcenter.reports.periods import parse_month
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets.service import TicketService
from tests.conftest import PostgresServer
from tests.harness import HOME, assert_one_line_error, free_port, instance_env, run_hotline, settings_for
from tests.test_reports import ZONE, at, seeded

COPIED_TABLES = ("calls", "call_events", "tickets", "ticket_calls", "ticket_events", "knowledge_articles",
                 "knowledge_versions", "knowledge_search", "ticket_search")


async def _with_knowledge(settings: Settings, path: Path) -> int:
    async with Store(path) as store:
        report = await Services.on(settings, store).knowledge.import_articles(
            list(read_folder(HOME / "config" / "knowledge")), "test")
        return report.created


async def _what_the_store_answers(settings: Settings, location: Path | str, editor: Editor) -> dict[str, object]:
    async with Store(location) as store:
        services = Services.on(settings, store)
        knowledge = await services.knowledge.search("低保", editor)
        water = await services.knowledge.search("停水", editor)
        tickets: TicketService = services.tickets
        similar = await tickets.similar("", "路灯不亮", now=at("2009-01-31T12:00:00+08:00"))
        briefing = await build_briefing(store, parse_month("2009-01", ZONE), zone=ZONE,
                                        now=at("2009-02-05T09:00:00+08:00"))
        return {"knowledge": [hit.id for hit in knowledge.hits], "water": [hit.id for hit in water.hits],
                "similar": [row["ticket_id"] for row in similar], "briefing": briefing.to_json()}


def _counts(location: Path | str, tables: tuple[str, ...]) -> dict[str, int]:
    if isinstance(location, str):
        with psycopg.connect(location) as conn:
            return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # type: ignore[index]
    with closing(sqlite3.connect(location)) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


async def test_an_sqlite_store_copied_into_postgres_counts_searches_and_reports_the_same(
        tmp_path: Path, postgres: PostgresServer) -> None:
    env = instance_env(tmp_path / "state")
    settings = settings_for(env)
    source = await asyncio.to_thread(seeded, tmp_path / "hotline.db", "jan-seed", "2009-01")
    assert await _with_knowledge(settings, source) > 0
    url = postgres.fresh_database()
    out = await asyncio.to_thread(run_hotline, env | {"HOTLINE_STORE_URL": url}, "store", "migrate", "--from",
                                  str(source))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert postgres.server.password not in out.stdout
    for table in COPIED_TABLES:
        assert any(line.strip().startswith(f"{table}: ") for line in lines), (table, out.stdout)
    assert "every table's count checked" in lines[-1]
    assert _counts(url, COPIED_TABLES) == _counts(source, COPIED_TABLES)
    editor = Editor("test", "supervisor")
    before = await _what_the_store_answers(settings, source, editor)
    after = await _what_the_store_answers(settings, url, editor)
    assert before["knowledge"] and before["similar"]
    assert after == before
    # The copy numbers on: a new ticket gets the next number, not one already copied.
    async with Store(url) as store:
        with psycopg.connect(url) as conn:
            last = conn.execute("SELECT max(ticket_id) FROM tickets").fetchone()
        identity = await store.transaction(lambda db: db.table("ticket_events").insert({
            "ticket_id": 1, "at": "2009-02-01T09:00:00+08:00", "at_epoch": 0.0, "kind": "note", "state": "open"}
        ).last_pk)
        assert isinstance(identity, int) and identity > _counts(url, ("ticket_events",))["ticket_events"] - 1
    assert last is not None and last[0] is not None

    again = run_hotline(env | {"HOTLINE_STORE_URL": url}, "store", "migrate", "--from", str(source))
    assert_one_line_error(again, "the database is not empty", "migrate into a new, empty database")
    assert postgres.server.password not in again.stderr


def test_a_bad_or_unreachable_target_is_one_clear_line(tmp_path: Path) -> None:
    env = instance_env(tmp_path / "state")
    (tmp_path / "hotline.db").write_bytes(b"")
    bad = run_hotline(env, "store", "migrate", "--to", "mysql://u:secret@db/hotline", "--from",
                      str(tmp_path / "hotline.db"))
    assert_one_line_error(bad, "store migrate: --to must be empty", "postgresql://")
    assert "secret" not in bad.stderr
    down = run_hotline(env, "store", "migrate", "--to", f"postgresql://u:secret@127.0.0.1:{free_port()}/hotline",
                       "--from", str(tmp_path / "hotline.db"))
    assert_one_line_error(down, "cannot reach the PostgreSQL database", "postgresql://u:***@127.0.0.1")
    assert "secret" not in down.stderr
    missing = run_hotline(env, "store", "migrate", "--to", "postgresql://u@127.0.0.1/hotline", "--from",
                          str(tmp_path / "nothing.db"))
    assert_one_line_error(missing, "nothing.db: no such SQLite store to copy")
    unnamed = run_hotline(env, "store", "migrate", "--from", str(tmp_path / "hotline.db"))
    assert_one_line_error(unnamed, "--to postgresql://")
