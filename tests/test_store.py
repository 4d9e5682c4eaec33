from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path

import psycopg
import pytest
from sqlite_utils import Database

from callcenter.calls.formatting import format_calls_table
from callcenter.calls.repository import CallRepository
from callcenter.seats.repository import SeatRepository
from callcenter.store import SCHEMA_VERSION, THREAD_NAME, Store, StoreError
from callcenter.store.schema import (
    MIGRATIONS,
    _v6_answer_seconds,
    _v8_line_full_outcome,
    _v10_console_audit,
    _v11_recording_failed,
)
from callcenter.terminal import display_width, safe_json
from tests.small_disk import SmallDisk

HOME = Path(__file__).resolve().parent.parent
T0 = "2026-11-28T21:35:12+08:00"
E0 = 1795872912.0

HOSTILE_NUMBER = "'); DROP TABLE calls;--"
HOSTILE_NAME = (
    "O'Brien \"quoted\" '); DROP TABLE calls;-- "
    "\x00\x07\x08\t\r\n\x1b[31mRED\x1b[0m\x7f\x9b\u202eevil\u200b \ufffd\ufffd "
    "长名字" + "A" * 300
)


def peek(location: Path | str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read through a connection of its own, as another process would (SQLite or
    PostgreSQL; `?` placeholders)."""
    if isinstance(location, str):
        with psycopg.connect(location) as pg:
            return [tuple(row) for row in pg.execute(sql.replace("?", "%s"), params).fetchall()]
    with closing(sqlite3.connect(location)) as conn:
        return conn.execute(sql, params).fetchall()


def table_names(location: Path | str) -> set[str]:
    if isinstance(location, str):
        return {str(name) for (name,) in peek(location, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    return {str(name) for (name,) in peek(location, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def stored_text(location: Path | str, text: str) -> str:
    """`text` as the store gives it back: PostgreSQL's text cannot hold NUL (U+0000),
    which it keeps as U+FFFD."""
    return text.replace("\x00", "\ufffd") if isinstance(location, str) else text


def calls(store: Store) -> CallRepository:
    return CallRepository(store)


def seats(store: Store) -> SeatRepository:
    return SeatRepository(store)


def calls_json(rows: list[dict[str, object]]) -> str:
    return safe_json(rows)


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hotline.db"


@pytest.fixture
async def store(store_location: Path | str) -> AsyncIterator[Store]:
    async with Store(store_location) as opened:
        yield opened


async def test_a_call_row_round_trips_every_column(store: Store) -> None:
    fields: dict[str, object] = {
        "caller_number": "13800138000",
        "caller_name": "张三",
        "arrived": T0,
        "answered": "2026-11-28T21:35:13+08:00",
        "queued": "2026-11-28T21:35:30+08:00",
        "seat_answered": "2026-11-28T21:35:52+08:00",
        "ended": "2026-11-28T21:40:02+08:00",
        "arrived_epoch": E0,
        "wait_seconds": 22,
        "answer_seconds": 40,
        "talk_seconds": 250,
        "total_seconds": 290,
        "outcome": "answered",
        "hangup_cause": "16",
        "seat": "seat3",
        "shift": "08-16",
        "operator": "1003",
        "wrapup_seconds": 9,
        "node": "hotline",
        "category": "complaint",
        "nuisance": 0,
        "nuisance_rule": None,
        "recording_path": "recordings/20261128-213512-1764345600.12.wav",
        "recording_seconds": 289.5,
        "recording_pruned": "2027-05-27T03:00:00+08:00",
        "recording_status": "ok",
        "recording_wav_bytes": 4_632_044,
        "recording_bytes": 579_008,
        "recording_compress_failed": None,
        "answered_from_base": "2026-11-28T21:38:00+08:00",
        "queue_seq": 7,
        "priority": 1,
        "state": "done",
    }
    calls(store).save("1764345600.12", **fields)
    await store.flush()
    assert await calls(store).get("1764345600.12") == {"call_id": "1764345600.12", **fields}
    assert await calls(store).get("no.such") is None


async def test_put_call_changes_only_the_given_columns(store: Store) -> None:
    calls(store).save("1.1", caller_number="13800138000", arrived=T0, state="ivr")
    await store.flush()
    calls(store).save("1.1", state="queued", queue_seq=3)
    calls(store).save("1.1", category="consultation")
    await store.flush()
    row = await calls(store).get("1.1")
    assert row is not None
    assert (row["caller_number"], row["arrived"], row["state"], row["queue_seq"], row["category"]) == (
        "13800138000", T0, "queued", 3, "consultation")
    assert row["priority"] == 0


async def test_reads_see_writes_queued_before_them_without_a_flush(store_location: Path | str) -> None:
    async with Store(store_location, batch_interval=30) as store:
        calls(store).save("1.1", state="ivr")
        assert await asyncio.wait_for(calls(store).get("1.1"), 2) is not None


async def test_bad_writes_are_refused_when_put_not_later(store: Store) -> None:
    with pytest.raises(ValueError, match=r"unknown calls column.*colour"):
        calls(store).save("1.1", colour="red")
    with pytest.raises(ValueError, match="no UTC offset"):
        calls(store).save("1.1", arrived="2026-11-28T21:35:12")
    with pytest.raises(TypeError, match="wait_seconds"):
        calls(store).save("1.1", wait_seconds="12")
    with pytest.raises(ValueError, match="unknown seats column"):
        await seats(store).update("seat1", mood="tired")
    with pytest.raises(TypeError):
        calls(store).log("1.1", "MENU", E0, T0, data={"x": object()})


async def test_times_are_kept_to_the_second_with_offset(store: Store) -> None:
    # Asterisk's own timestamp format: milliseconds and a +0800 offset.
    calls(store).save("1.1", arrived_epoch=E0 + 0.345)
    calls(store).save("1.1", arrived="2026-11-28T21:35:12.345+0800", ended="2026-11-28T21:36:00.999+0800")
    calls(store).log("1.1", "ARRIVED", E0 + 0.345, "2026-11-28T21:35:12.345+0800")
    await store.flush()
    row = await calls(store).get("1.1")
    assert row is not None
    assert (row["arrived"], row["ended"], row["arrived_epoch"]) == (T0, "2026-11-28T21:36:00+08:00", E0 + 0.345)
    [event] = await calls(store).events("1.1")
    assert (event["at"], event["at_epoch"]) == (T0, E0 + 0.345)


async def test_events_keep_their_order_and_data(store: Store) -> None:
    kinds = ["ARRIVED", "ANSWERED", "GREETING", "MENU", "CATEGORY", "ENTERQUEUE", "POSITION", "RINGSEAT",
             "RINGNOANSWER", "RINGSEAT", "CONNECT", "COMPLETECALLER", "HANGUP", "RECORDING"]
    for n, kind in enumerate(kinds):
        # Same second for several steps: order must come from arrival, not from the time.
        seat = "seat2" if "RING" in kind else None
        calls(store).log("1.1", kind, E0 + n // 4, T0, seat=seat, data={"n": n, "字": "值"})
        calls(store).log("2.1", kind, E0, T0)
    await store.flush()
    events = await calls(store).events("1.1")
    assert [e["kind"] for e in events] == kinds
    assert [e["data"] for e in events] == [{"n": n, "字": "值"} for n in range(len(kinds))]
    assert events[7]["seat"] == "seat2"
    assert len(await calls(store).events("2.1")) == len(kinds)


async def test_writes_of_the_loop_and_of_another_thread_are_committed_in_the_order_queued(
        store_location: Path | str) -> None:
    # The loop's writes gather before they go to the store thread; a write from another
    # thread sends what gathered first, so no write overtakes one queued before it.
    async with Store(store_location) as store:
        calls(store).log("1.1", "FIRST", E0, T0)
        await asyncio.to_thread(calls(store).log, "1.1", "SECOND", E0 + 1, T0)
        calls(store).log("1.1", "THIRD", E0 + 2, T0)
        rows = await calls(store).events("1.1")  # a read comes after every write queued before it
        assert [row["kind"] for row in rows] == ["FIRST", "SECOND", "THIRD"]
        await store.flush()
        assert peek(store_location, "SELECT kind FROM call_events ORDER BY id") == [("FIRST",), ("SECOND",), ("THIRD",)]


async def test_a_hundred_writes_of_one_moment_reach_the_store_in_one_commit(db_path: Path) -> None:
    statements: list[str] = []
    async with Store(db_path, trace=statements.append) as store:
        statements.clear()
        for n in range(100):
            calls(store).log(f"1.{n}", "ARRIVED", E0 + n, T0)
        await store.flush()
        assert statements.count("COMMIT") == 1
        assert peek(db_path, "SELECT count(*) FROM call_events") == [(100,)]


# A batch ends when it is full or batch_interval after its first write: with the default
# 500 a burst of 10,000 takes 20 commits, plus a few partial ones if the loop puts slowly.
@pytest.mark.parametrize(
    ("batch_size", "batch_interval", "max_commits"), [(10_000, 5.0, 1), (500, 0.05, 40)]
)
async def test_10000_events_commit_in_few_transactions_and_flush_waits_for_them(
    db_path: Path, batch_size: int, batch_interval: float, max_commits: int
) -> None:
    statements: list[str] = []
    async with Store(db_path, batch_size=batch_size, batch_interval=batch_interval, trace=statements.append) as store:
        statements.clear()
        for n in range(10_000):
            calls(store).log("1.1", "POSITION", E0 + n, T0, data={"position": n})
        await store.flush()
        # Seen by another connection: committed, not merely visible to the store's own.
        assert peek(db_path, "SELECT count(*) FROM call_events") == [(10_000,)]
        commits = statements.count("COMMIT")
        assert 1 <= commits <= max_commits


async def test_hostile_caller_id_is_stored_exactly_and_cannot_inject_sql(
        store: Store, store_location: Path | str) -> None:
    assert len(HOSTILE_NAME) > 300
    calls(store).save(HOSTILE_NUMBER, caller_number=HOSTILE_NUMBER, caller_name=HOSTILE_NAME, arrived=T0)
    calls(store).log(HOSTILE_NUMBER, "ARRIVED", E0, T0, data={"name": HOSTILE_NAME})
    await store.flush()
    row = await calls(store).get(HOSTILE_NUMBER)
    assert row is not None
    assert (row["caller_number"], row["caller_name"]) == (HOSTILE_NUMBER, stored_text(store_location, HOSTILE_NAME))
    # JSON escapes the NUL ("\u0000"): the step's data comes back exactly on both.
    assert (await calls(store).events(HOSTILE_NUMBER))[0]["data"] == {"name": HOSTILE_NAME}
    assert [r["call_id"] for r in await calls(store).recent(number=HOSTILE_NUMBER)] == [HOSTILE_NUMBER]
    assert {"calls", "call_events", "seats"} <= table_names(store_location)


async def test_a_lone_surrogate_in_a_caller_name_is_stored_as_replacement_character(store: Store) -> None:
    # json.loads('"\\udcff"') gives one: SQLite cannot encode it, so it must not reach a batch.
    calls(store).save("1.1", caller_name="bad\udcffname")
    await store.flush()
    row = await calls(store).get("1.1")
    assert row is not None and row["caller_name"] == "bad\ufffdname"


def _hostile_rows() -> list[dict[str, object]]:
    return [
        {"call_id": "1.1", "arrived": T0, "caller_number": HOSTILE_NUMBER, "caller_name": HOSTILE_NAME,
         "outcome": "answered", "category": "complaint", "seat": "seat3", "wait_seconds": 22, "talk_seconds": 250,
         "recording_path": "/var/rec/20261128-213512-1.1.wav", "recording_seconds": 251.0},
        {"call_id": "1.2", "arrived": T0, "caller_number": "13800138000", "caller_name": "张三丰",
         "outcome": "abandoned_queue", "category": "咨询", "seat": None, "wait_seconds": 95, "talk_seconds": None,
         "recording_path": None, "recording_seconds": None},
        {"call_id": "1.3", "arrived": T0, "caller_number": "\x1b[31mRED\x07",
         "caller_name": "\u202e\x00" + "e\u0301" * 80,
         "outcome": "failed", "category": None, "seat": "seat1", "wait_seconds": 0, "talk_seconds": 0,
         "recording_path": None, "recording_seconds": None},
    ]


async def _stored(store: Store, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    for n, row in enumerate(rows):
        calls(store).save(str(row["call_id"]), **{k: v for k, v in row.items() if k != "call_id"}, arrived_epoch=E0 - n)
    return await calls(store).recent()


async def test_calls_table_shows_stored_hostile_caller_ids_escaped_on_one_line_with_aligned_columns(
    store: Store, store_location: Path | str,
) -> None:
    rows = await _stored(store, _hostile_rows())
    assert rows[0]["caller_name"] == stored_text(store_location, HOSTILE_NAME)
    lines = format_calls_table(rows).split("\n")
    assert len(lines) == 2 + len(rows)
    header, body = lines[0], lines[2:]
    for line in lines:
        assert all(unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in ("Zl", "Zp") for ch in line)
    assert "'); DROP TABLE" in body[0] and "O'Brien" in body[0] and "…" in body[0]
    assert "\\x1b[31mRED\\x07" in body[2] and "…" in body[2]
    assert ("\\u202e\\x00e\u0301" if isinstance(store_location, Path) else "\\u202e\ufffde\u0301") in body[2]
    # Every cell starts in the column its header does, wide characters counted as 2.
    for line, row in zip(body, rows, strict=True):
        for column, value in (("outcome", row["outcome"]), ("seat", row["seat"] or "-")):
            at = line.index(f"  {value}") + 2
            assert display_width(line[:at]) == header.index(column), (column, line)
    assert display_width(body[0]) <= display_width(lines[1])


def test_calls_table_says_so_when_there_are_no_calls() -> None:
    assert format_calls_table([]).split("\n")[2] == "(no calls)"


async def test_calls_json_round_trips_and_escapes_what_a_terminal_would_act_on(store: Store) -> None:
    rows = await _stored(store, _hostile_rows())
    text = calls_json(rows)
    assert json.loads(text) == rows
    assert "张三丰" in text
    assert all(ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in text)


async def test_the_sqlite_database_is_in_wal_mode(db_path: Path) -> None:
    async with Store(db_path) as store:
        assert peek(store.path, "PRAGMA journal_mode") == [("wal",)]


async def test_a_second_store_sees_committed_rows_and_updates_seats_while_the_first_is_open(
    store: Store, store_location: Path | str
) -> None:
    calls(store).save("1.1", caller_number="13800138000", arrived=T0, state="queued", queue_seq=1)
    await store.flush()
    async with Store(store_location) as cli:
        assert (await calls(cli).get("1.1") or {}).get("caller_number") == "13800138000"
        await seats(cli).update("seat2", logged_in=0, paused=1, pause_reason="meeting")
    seat = (await seats(store).rows())["seat2"]
    assert (seat["logged_in"], seat["paused"], seat["pause_reason"]) == (0, 1, "meeting")


async def test_update_seat_commits_at_once_without_waiting_for_a_batch(store_location: Path | str) -> None:
    async with Store(store_location, batch_interval=30) as store:
        calls(store).save("1.1", state="ringing", seat="seat4")
        await asyncio.wait_for(seats(store).update("seat4", state="ringing", state_since=T0, state_since_epoch=E0), 2)
        assert peek(store_location, "SELECT state, state_since, state_since_epoch FROM seats") == [("ringing", T0, E0)]
        assert peek(store_location, "SELECT seat FROM calls") == [("seat4",)]


async def test_open_calls_are_the_unfinished_ones_in_queue_order(store: Store) -> None:
    calls(store).save("a", arrived_epoch=E0 + 1, queue_seq=3, state="queued")
    calls(store).save("b", arrived_epoch=E0 + 2, queue_seq=1, state="ringing", priority=5)
    calls(store).save("c", arrived_epoch=E0 + 3, queue_seq=2, state="done")
    calls(store).save("d", arrived_epoch=E0 + 4, state="ivr")
    calls(store).save("e", arrived_epoch=E0 + 0, queue_seq=2, state="talking")
    await store.flush()
    assert [r["call_id"] for r in await calls(store).open_calls()] == ["b", "e", "a", "d"]
    assert await calls(store).next_queue_seq() == 4


async def test_next_queue_seq_starts_at_1(store: Store) -> None:
    assert await calls(store).next_queue_seq() == 1


async def test_list_calls_filters_by_number_and_time_newest_first(store: Store) -> None:
    for n in range(10):
        calls(store).save(f"c{n}", caller_number="110" if n % 2 else "120", arrived_epoch=E0 + n)
    await store.flush()
    assert [r["call_id"] for r in await calls(store).recent(limit=3)] == ["c9", "c8", "c7"]
    assert [r["call_id"] for r in await calls(store).recent(number="110")] == ["c9", "c7", "c5", "c3", "c1"]
    found = await calls(store).recent(since_epoch=E0 + 2, until_epoch=E0 + 6, number="120")
    assert [r["call_id"] for r in found] == ["c4", "c2"]


async def test_answered_per_seat_counts_the_calls_each_seat_answered_and_zero_for_the_others(store: Store) -> None:
    calls(store).save("old", seat="seat1", seat_answered=T0, arrived_epoch=E0 - 100)
    calls(store).save("a", seat="seat1", seat_answered=T0, arrived_epoch=E0)
    calls(store).save("b", seat="seat1", seat_answered=T0, arrived_epoch=E0 + 1)
    calls(store).save("c", seat="seat2", seat_answered=T0, arrived_epoch=E0 + 2)
    calls(store).save("d", seat="seat2", arrived_epoch=E0 + 3, outcome="abandoned_ringing")
    await store.flush()
    assert await calls(store).answered_per_seat_since(E0, ["seat1", "seat2", "seat6"]) == {
        "seat1": 2, "seat2": 1, "seat6": 0}


async def test_a_fresh_database_is_migrated_to_the_current_version(store: Store, store_location: Path | str) -> None:
    if isinstance(store_location, str):
        assert peek(store_location, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    else:
        assert peek(store_location, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_reopening_a_current_database_changes_no_schema(db_path: Path) -> None:
    async with Store(db_path) as store:
        calls(store).save("1.1", state="done")
    statements: list[str] = []
    async with Store(db_path, trace=statements.append) as store:
        assert await calls(store).get("1.1") is not None
    assert not [s for s in statements if s.split()[0].upper() in ("CREATE", "ALTER", "DROP", "BEGIN")]
    assert not [s for s in statements if "user_version =" in s]
    assert peek(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


async def test_a_database_newer_than_the_code_is_refused_clearly(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=rf"{db_path}: database schema version 99 is newer .*\({SCHEMA_VERSION}\)"):
        await Store(db_path).start()
    assert store_threads() == []
    assert peek(db_path, "SELECT name FROM sqlite_master") == []
    assert peek(db_path, "PRAGMA journal_mode") == [("delete",)]  # left as found


async def test_a_file_that_is_not_a_database_is_refused_naming_it(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"not a database, just words " * 100)
    with pytest.raises(StoreError, match=str(db_path)):
        await Store(db_path).start()
    assert store_threads() == []


async def test_stop_commits_what_is_queued_and_ends_the_store_thread(store_location: Path | str) -> None:
    store = Store(store_location, batch_interval=30)
    await store.start()
    assert len(store_threads()) == 1
    calls(store).save("1.1", state="done")
    await store.stop()
    assert store_threads() == []
    assert peek(store_location, "SELECT call_id FROM calls") == [("1.1",)]
    with pytest.raises(RuntimeError, match="not running"):
        calls(store).save("1.2", state="done")
    await store.stop()  # a second stop is harmless


async def test_sql_never_runs_on_the_event_loop_thread(db_path: Path) -> None:
    seen: set[int] = set()
    async with Store(db_path, trace=lambda sql: seen.add(threading.get_ident())) as store:
        [store_thread] = store_threads()
        calls(store).save("1.1", state="queued", queue_seq=1)
        calls(store).log("1.1", "ENTERQUEUE", E0, T0)
        await store.flush()
        await calls(store).get("1.1")
        await calls(store).recent(number="1")
        await calls(store).events("1.1")
        await calls(store).open_calls()
        await calls(store).next_queue_seq()
        await seats(store).update("seat1", state="idle")
        await seats(store).rows()
        await calls(store).answered_per_seat_since(E0, ["seat1"])
    assert seen == {store_thread.ident}
    assert threading.get_ident() not in seen


async def test_a_bad_write_is_logged_and_the_rest_of_its_batch_is_committed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="callcenter.store")
    calls(store).save("good.1", state="done")
    calls(store).save("bad.1", outcome="bogus")  # refused by the outcome CHECK constraint
    calls(store).log("good.1", "HANGUP", E0, T0)
    calls(store).save("good.2", state="done")
    await store.flush()
    assert await calls(store).get("bad.1") is None
    assert [r["call_id"] for r in await calls(store).recent()] == ["good.2", "good.1"]
    assert len(await calls(store).events("good.1")) == 1
    assert any("dropped write" in r.message and "bogus" in r.message for r in caplog.records)
    calls(store).save("good.3", state="done")  # the store thread carries on
    await store.flush()
    assert await calls(store).get("good.3") is not None


async def test_writes_wait_out_a_locked_database_and_flush_says_so(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="callcenter.store")
    async with Store(db_path, busy_timeout=0.2) as store:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            calls(store).save("1.1", state="done")
            with pytest.raises(StoreError, match="cannot commit 1 writes"):
                await store.flush()
            other.execute("ROLLBACK")
        await store.flush()
        assert await calls(store).get("1.1") is not None


_KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from callcenter.calls.repository import CallRepository
    from callcenter.store import Store

    async def main() -> None:
        store = Store(Path(sys.argv[1]), batch_interval=0.005, batch_size=200)
        await store.start()
        calls = CallRepository(store)
        for n in range(1000):
            calls.save(f"flushed.{n}", caller_number="13800138000", state="done", queue_seq=n)
            calls.log(f"flushed.{n}", "HANGUP", 1.0 + n, "2026-11-28T21:35:12+08:00", data={"n": n})
        await store.flush()
        print("flushed", flush=True)
        n = 0
        while True:
            calls.save(f"more.{n}", caller_name="x" * 200, state="talking")
            calls.log(f"more.{n}", "POSITION", 1.0 + n, "2026-11-28T21:35:12+08:00", data={"n": n})
            n += 1
            if n % 50 == 0:
                await asyncio.sleep(0.001)  # a busy loop, but one that waits on I/O now and then

    asyncio.run(main())
    """
)


async def test_a_writer_killed_mid_batch_leaves_a_sound_database_with_every_flushed_row(db_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(db_path)], cwd=HOME, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(writer.stdout.readline), 30) == "flushed\n"
        more = "SELECT count(*) FROM calls WHERE call_id LIKE 'more.%'"
        deadline = time.monotonic() + 30
        # Kill once batches after the flush are landing: the writer is mid-stream.
        while await asyncio.to_thread(peek, db_path, more) == [(0,)] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        await asyncio.to_thread(writer.wait)
        assert writer.stdout is not None
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    assert peek(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert peek(db_path, "SELECT count(*) FROM calls WHERE call_id LIKE 'flushed.%'") == [(1000,)]
    assert peek(db_path, "SELECT count(*) FROM call_events WHERE call_id LIKE 'flushed.%'") == [(1000,)]
    assert peek(db_path, "SELECT count(*) > 0 FROM calls WHERE call_id LIKE 'more.%'") == [(1,)]
    async with Store(db_path) as store:
        assert len(await calls(store).recent(number="13800138000", limit=2000)) == 1000



def _database_before(db_path: Path, migration: Callable[[Database], None]) -> Database:
    """A database as it was just before `migration` was released."""
    db_path.parent.mkdir(parents=True)
    before = MIGRATIONS.index(migration)
    db = Database(db_path)
    for earlier in MIGRATIONS[:before]:
        earlier(db)
    db.execute(f"PRAGMA user_version = {before}")
    return db


async def test_calls_stored_before_answer_seconds_existed_get_it_from_their_times(db_path: Path) -> None:
    db = _database_before(db_path, _v6_answer_seconds)
    for call_id, arrived, seat_answered in (
            ("answered", "2026-11-28T23:59:50+08:00", "2026-11-29T00:00:07+08:00"),
            ("abandoned", "2026-11-28T21:35:12+08:00", None)):
        db.execute("INSERT INTO calls (call_id, arrived, seat_answered) VALUES (?, ?, ?)",
                   [call_id, arrived, seat_answered])
    db.conn.commit()
    db.close()
    async with Store(db_path) as store:
        assert (await calls(store).get("answered") or {})["answer_seconds"] == 17  # across midnight
        assert (await calls(store).get("abandoned") or {})["answer_seconds"] is None


async def test_a_database_whose_check_predates_line_full_is_rebuilt_keeping_rows_and_indexes(db_path: Path) -> None:
    db = _database_before(db_path, _v8_line_full_outcome)
    # The calls table as databases made before the word existed have it: five outcomes.
    old = "'answered', 'abandoned_ivr', 'abandoned_queue', 'abandoned_ringing', 'failed'"
    create = db.execute("SELECT sql FROM sqlite_master WHERE name = 'calls'").fetchone()[0]
    indexes = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                        "AND tbl_name = 'calls' AND sql IS NOT NULL")]
    db.execute("DROP TABLE calls")
    db.execute(re.sub(r"CHECK \(outcome IN \([^)]*\)\)", f"CHECK (outcome IN ({old}))", create))
    for index in indexes:
        db.execute(index)
    db.execute("INSERT INTO calls (call_id, outcome, caller_number) VALUES ('kept', 'answered', '13800000001')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO calls (call_id, outcome) VALUES ('new', 'line_full')")
    db.conn.commit()
    db.close()
    async with Store(db_path) as store:
        calls(store).save("new", outcome="line_full", state="done")
        await store.flush()
        assert (await calls(store).get("kept") or {})["caller_number"] == "13800000001"
        assert (await calls(store).get("new") or {})["outcome"] == "line_full"
    after = peek(db_path, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' "
                          "AND sql IS NOT NULL")
    # Every index kept (later migrations may add their own).
    assert set(indexes) <= {str(r[0]) for r in after}


async def test_a_database_of_version_9_keeps_its_calls_recordings_and_gains_the_audit_tables(db_path: Path) -> None:
    db = _database_before(db_path, _v10_console_audit)
    db.execute("INSERT INTO calls (call_id, recording_path) VALUES ('kept', '/rec/20261128-213512_kept.wav')")
    db.conn.commit()
    db.close()
    async with Store(db_path) as store:
        row = await calls(store).get("kept") or {}
        assert row["recording_path"] == "/rec/20261128-213512_kept.wav" and row["recording_pruned"] is None
    tables = {str(r[0]) for r in peek(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"login_failures", "recording_access"} <= tables
    # The access kinds come from the vocabulary.
    with pytest.raises(sqlite3.IntegrityError), closing(sqlite3.connect(db_path)) as conn:
        conn.execute("INSERT INTO recording_access (at, at_epoch, user, role, call_id, recording, kind)"
                     " VALUES ('x', 0, 'u', 'supervisor', 'kept', 'r.wav', 'listen')")


async def test_calls_stored_before_the_recording_status_existed_get_it_from_their_measured_length(
        db_path: Path) -> None:
    db = _database_before(db_path, _v11_recording_failed)
    for call_id, seconds in (("recorded", 12.5), ("header only", 0.0), ("never measured", None)):
        db.execute("INSERT INTO calls (call_id, recording_path, recording_seconds) VALUES (?, ?, ?)",
                   [call_id, f"/rec/{call_id}.wav", seconds])
    db.conn.commit()
    db.close()
    async with Store(db_path) as store:
        found = {key: (await calls(store).get(key) or {}).get("recording_status")
                 for key in ("recorded", "header only", "never measured")}
        assert found == {"recorded": "ok", "header only": "empty", "never measured": None}
        with pytest.raises(StoreError):  # the words are checked
            await store.transaction(lambda db: db.execute(
                "UPDATE calls SET recording_status = 'lost' WHERE call_id = 'recorded'"))


# ----------------------------------------------------------------------------- commits that fail


def _n(event: dict[str, object]) -> int:
    data = event["data"]
    assert isinstance(data, dict) and isinstance(data["n"], int)
    return data["n"]


async def _failing(store: Store) -> None:
    """Make sure the store has met a refused commit (it holds writes merged from then on)."""
    calls(store).save("first", state="ivr")
    with pytest.raises(StoreError, match="cannot commit"):
        await store.flush()
    assert store.commit_error is not None and store.failed_commits >= 1


async def test_while_commits_fail_a_rows_many_writes_wait_as_one_and_all_commit_once_when_they_succeed(
        db_path: Path) -> None:
    async with Store(db_path, busy_timeout=0.05) as store:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock, for long
            await _failing(store)
            keys, peak = [f"call.{k}" for k in range(3)], 0
            for key in keys:
                calls(store).save(key, caller_number="13800138000", arrived=T0)  # written once, kept
            for n in range(200_000):
                calls(store).save(keys[n % 3], state="talking", wait_seconds=n, seat=f"seat{n % 6 + 1}")
                if n % 200 == 0:
                    calls(store).log(keys[n % 3], "POSITION", E0 + n, T0, data={"n": n})
                if n % 2_000 == 0:
                    await calls(store).get(keys[0])  # every write queued so far is held now
                    peak = max(peak, store.pending_writes)
            await calls(store).get(keys[0])
            peak = max(peak, store.pending_writes)
            other.execute("ROLLBACK")
        started = time.monotonic()
        await store.flush()
        caught_up = time.monotonic() - started
        rows = {key: await calls(store).get(key) or {} for key in keys}
        events = [e for key in keys for e in await calls(store).events(key)]
        assert (store.commit_error, store.pending_writes, store.dropped_writes) == (None, 0, 0)
    # The rows and the 1,000 events wait, each row once: not 200,000 writes.
    assert peak <= 1 + len(keys) + 1_000, peak
    for k, key in enumerate(keys):
        last = max(n for n in range(200_000) if n % 3 == k)
        assert (rows[key]["caller_number"], rows[key]["arrived"], rows[key]["wait_seconds"],
                rows[key]["seat"]) == ("13800138000", T0, last, f"seat{last % 6 + 1}")
    assert sorted(_n(e) for e in events) == list(range(0, 200_000, 200))  # each once
    assert peek(db_path, "SELECT count(*) FROM call_events") == [(1_000,)]
    print(f"200,000 writes to 3 rows and 1,000 events during the fault: at most {peak} waiting; "
          f"committed {caught_up * 1000:.0f} ms after the lock was released")


async def test_a_transaction_after_a_refused_commit_never_overtakes_the_writes_queued_before_it(
        db_path: Path) -> None:
    async with Store(db_path, busy_timeout=0.05) as store:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            await _failing(store)
            calls(store).save("first", state="done")
            other.execute("ROLLBACK")
        # The next retry is a second away; the transaction commits what waits before it runs.
        state = await asyncio.wait_for(store.transaction(
            lambda db: db.execute("SELECT state FROM calls WHERE call_id = 'first'").fetchone()), 0.5)
        assert state == ("done",) and store.commit_error is None


async def test_past_the_limit_the_oldest_events_are_dropped_counted_and_logged_once(
        db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="callcenter.store")
    async with Store(db_path, busy_timeout=0.05, max_pending=100) as store:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            await _failing(store)
            for n in range(150):
                calls(store).log("1.1", "POSITION", E0 + n, T0, data={"n": n})
            await calls(store).get("1.1")
            assert (store.pending_writes, store.dropped_writes) == (100, 51)  # the row "first" holds a place
            assert store.dropped_age is not None
            other.execute("ROLLBACK")
        await store.flush()
        kept = [_n(e) for e in await calls(store).events("1.1")]
        assert await calls(store).get("first") is not None
    assert kept == list(range(51, 150))  # the newest, in order
    assert len([r for r in caplog.records if "dropping the oldest (call events first)" in r.getMessage()]) == 1


@asynccontextmanager
async def store_on_a_full_disk(tmp_path: Path) -> AsyncIterator[tuple[SmallDisk, Store]]:
    """A store on a 16 MB tmpfs with call 1.1 committed, then the disk filled."""
    with SmallDisk(tmp_path / "small", 16) as disk:
        async with Store(disk.path / "hotline.db", batch_size=5_000, batch_interval=5) as store:
            calls(store).save("1.1", state="talking")
            await store.flush()
            disk.fill()
            yield disk, store


async def test_a_full_disk_keeps_every_write_is_named_as_the_cause_and_all_commit_once_space_returns(
        tmp_path: Path) -> None:
    async with store_on_a_full_disk(tmp_path) as (disk, store):
        # More than SQLite's page cache: the transaction spills to the WAL midway and
        # meets the full disk there, not only at COMMIT.
        for n in range(3_000):
            calls(store).log("1.1", "POSITION", E0 + n, T0, data={"n": n, "pad": "x" * 1_000})
        with pytest.raises(StoreError, match="cannot commit 3000 writes: database or disk is full"):
            await store.flush()
        assert store.commit_error == "database or disk is full"  # what the health report shows
        disk.empty()
        await store.flush()
        events = await calls(store).events("1.1")
    assert [_n(e) for e in events] == list(range(3_000))


# ----------------------------------------------------------------------------- reads inside a batch


async def test_reads_inside_a_batch_see_its_writes_without_committing_it_and_the_batch_commits_once(
        db_path: Path) -> None:
    statements: list[str] = []
    async with Store(db_path, batch_interval=2.0, trace=statements.append) as store:
        opened = len(statements)  # the schema's migration commits too
        for n in range(20):
            calls(store).save(f"1.{n}", caller_number="13800138000", state="ivr")
            calls(store).log(f"1.{n}", "ARRIVED", E0 + n, T0, data={"n": n})
            row = await calls(store).get(f"1.{n}")  # the nuisance check's kind of read, mid-call
            assert row is not None and row["state"] == "ivr"
        # Read in the batch's open transaction: another connection sees nothing committed yet.
        assert peek(db_path, "SELECT count(*) FROM calls") == [(0,)]
        await store.flush()
        assert peek(db_path, "SELECT count(*) FROM calls") == [(20,)]
        assert peek(db_path, "SELECT count(*) FROM call_events") == [(20,)]
    commits = [s for s in statements[opened:] if s.strip().upper() == "COMMIT"]
    assert len(commits) == 1, statements[opened:]  # 20 reads, one commit (the flush's)


async def test_a_full_disk_at_the_commit_after_reads_in_the_batch_keeps_the_writes_those_reads_saw(
        tmp_path: Path) -> None:
    async with store_on_a_full_disk(tmp_path) as (disk, store):
        for n in range(600):  # some 600 KB: fits SQLite's page cache, not the full disk's WAL
            calls(store).log("1.1", "POSITION", E0 + n, T0, data={"n": n, "pad": "x" * 1_000})
            if n == 299:
                # Applied in the open transaction; the read sees them.
                assert len(await calls(store).events("1.1")) == 300
        with pytest.raises(StoreError, match="cannot commit 600 writes: database or disk is full"):
            await store.flush()
        # Refused: the read now sees only what was committed, and every write waits.
        assert await calls(store).events("1.1") == [] and store.pending_writes == 600
        disk.empty()
        await store.flush()
        events = await calls(store).events("1.1")
    assert [_n(e) for e in events] == list(range(600))  # each once, in order


async def test_a_read_while_another_process_holds_the_lock_waits_once_and_sees_what_is_committed(
        db_path: Path) -> None:
    async with Store(db_path, busy_timeout=0.3, batch_interval=5) as store:
        calls(store).save("1.1", state="done")
        await store.flush()
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            calls(store).save("1.2", state="ivr")
            started = time.monotonic()
            assert await calls(store).get("1.2") is None and await calls(store).get("1.1") is not None
            waited = time.monotonic() - started
            assert store.commit_error is not None and store.pending_writes == 1
            other.execute("ROLLBACK")
        await store.flush()
        assert await calls(store).get("1.2") is not None
    assert waited < 0.3 * 2, waited  # one busy time-out, not one for the read and one more for a commit
