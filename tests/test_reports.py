"""The monthly briefing and the yearly summary: the seed's figures from stores shaped like
the seed, what each figure counts, and clear refusals."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from callcenter.calls.repository import CallRepository
from callcenter.demo import SHAPES, make_demo, write_demo
from callcenter.reports import (
    Briefing,
    ReportError,
    average,
    build_briefing,
    format_html,
    format_text,
    headline,
    largest_remainder,
    parse_month,
    parse_year,
    percent,
)
from callcenter.store import Store
from callcenter.tickets import Context, create_ticket, forward, load_directory, record_callback, reply
from callcenter.vocabulary import CallbackResult, Category, Satisfaction
from tests.conftest import PostgresServer
from tests.harness import HOME, instance_env
from tests.test_tickets import hotline, one_line_error

ZONE = ZoneInfo("Asia/Shanghai")
DIRECTORY = load_directory(HOME / "config" / "units.toml")
# The seed's first paragraph, as printed (its stray spaces before two "%" removed).
SEED_PARAGRAPH = (
    "受理来电5734件，其中，已办结来电5704件，占来电总件数的99.48%；处在办理中的来电为30件，占来电总件数的0.52%。"
    "月日均受理来电185件，留单受理61件，其中：求助类19件，占留单受理量的31.2%；投诉类21件，占留单受理量的34.4 %；"
    "咨询类6件，占留单受理量的9.8 %；建议类7件，占留单受理量的11.5%；其他8件，占留单受理量的13.1%。"
).replace(" %", "%")


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


Location = TypeVar("Location", Path, str)


def seeded(path: Location, shape: str, period_text: str) -> Location:
    shape_ = SHAPES[shape]
    period = parse_month(period_text, ZONE) if shape_.kind == "monthly" else parse_year(period_text, ZONE)
    data = make_demo(period, calls=shape_.calls, completed=shape_.completed, tickets=shape_.tickets, zone=ZONE,
                     directory=DIRECTORY)

    async def write() -> None:
        async with Store(path) as store:
            await write_demo(store, period, data)

    asyncio.run(write())
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def january_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path | str:
    """The seed's January, in an SQLite file and in a PostgreSQL database."""
    if request.param == "sqlite":
        return seeded(tmp_path_factory.mktemp("january") / "hotline.db", "jan-seed", "2009-01")
    server: PostgresServer = request.getfixturevalue("postgres")
    return seeded(server.fresh_database(), "jan-seed", "2009-01")


@pytest.fixture(scope="module")
def year_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded(tmp_path_factory.mktemp("year") / "hotline.db", "year-2008", "2008")


async def briefing_of(path: Path | str, kind: str, text: str, now: float | None = None) -> Briefing:
    period = parse_month(text, ZONE) if kind == "monthly" else parse_year(text, ZONE)
    async with Store(path) as store:
        return await build_briefing(store, period, zone=ZONE, now=now)


# ------------------------------------------------------------------------- rounding


def test_largest_remainder_gives_the_shares_the_seed_printed() -> None:
    # Rounded one by one, 19/61 = 31.15% would print 31.1% and the five would add up to 99.9.
    assert largest_remainder([19, 21, 6, 7, 8], 1) == [31.2, 34.4, 9.8, 11.5, 13.1]
    assert largest_remainder([5704, 30], 2) == [99.48, 0.52]
    assert largest_remainder([44551, 740], 2) == [98.37, 1.63]
    assert largest_remainder([0, 0], 2) is None


def test_averages_round_half_to_even_as_the_seed_prints_them() -> None:
    assert average(5734, 31) == 185  # 184.97
    assert average(1758, 12) == 146  # 146.5: the seed's "每月办理数达146个"
    assert average(5, 0) is None


def test_a_standalone_rate_rounds_half_up_and_is_none_of_nothing() -> None:
    assert percent(2, 3) == 66.67
    assert percent(1, 8, 1) == 12.5
    assert percent(1, 0) is None


def test_a_month_that_does_not_exist_is_refused_with_the_form_it_takes() -> None:
    for text in ("2009-13", "2009-00", "2009-1x", "January", "09-01", ""):
        with pytest.raises(ReportError, match=r"no such month; give YYYY-MM, e\.g\. 2009-01"):
            parse_month(text, ZONE)
    with pytest.raises(ReportError, match="no such year"):
        parse_year("20O8", ZONE)


def test_a_month_runs_from_local_midnight_to_local_midnight() -> None:
    period = parse_month("2009-01", ZONE)
    assert period.start.isoformat() == "2009-01-01T00:00:00+08:00"
    assert period.end.isoformat() == "2009-02-01T00:00:00+08:00"
    assert period.days == 31
    assert parse_month("2008-02", ZONE).days == 29


# --------------------------------------------------------------------- seed shapes


async def test_a_store_shaped_like_the_seeds_january_gives_every_figure_of_its_table(january_db: Path | str) -> None:
    b = await briefing_of(january_db, "monthly", "2009-01")
    c, t = b.calls, b.tickets
    assert (c.accepted, c.completed, c.completed_pct, c.in_progress, c.in_progress_pct) == (5734, 5704, 99.48, 30, 0.52)
    assert c.daily_average == 185 and c.daily_average_exact == 184.97
    assert t.total == 61
    assert [(x.category, x.count, x.pct) for x in t.by_category] == [
        ("help", 19, 31.2), ("complaint", 21, 34.4), ("consultation", 6, 9.8), ("suggestion", 7, 11.5),
        ("other", 8, 13.1)]
    assert headline(b) == SEED_PARAGRAPH
    assert SEED_PARAGRAPH in format_text(b, DIRECTORY.title)


async def test_the_january_service_figures_add_up(january_db: Path | str) -> None:
    b = await briefing_of(january_db, "monthly", "2009-01")
    s, q = b.service, b.satisfaction
    assert s.answered == 5734
    assert s.offered == s.answered + s.abandoned + s.failed
    assert s.abandoned == s.abandoned_ivr + s.abandoned_queue + s.abandoned_ringing > 0
    assert s.service_level_seconds == 15 and s.service_level_pct is not None and 50 < s.service_level_pct < 100
    assert s.average_wait_seconds is not None and s.average_wait_seconds > 0
    assert q.rated == q.satisfied + q.basically_satisfied + q.dissatisfied > 0
    assert q.satisfaction_pct == percent(q.satisfied + q.basically_satisfied, q.rated)
    assert sum(p.accepted for p in b.series) == 5734 and len(b.series) == 31
    assert sum(h.offered for h in b.hourly) == s.offered
    assert sum(b.tickets.by_state.values()) == 61


async def test_a_year_shaped_like_the_seeds_2008_gives_98_37_percent(year_db: Path) -> None:
    b = await briefing_of(year_db, "yearly", "2008")
    assert (b.calls.accepted, b.calls.completed, b.calls.completed_pct) == (45291, 44551, 98.37)
    assert b.tickets.total == 1758 and b.tickets.monthly_average == 146
    assert b.calls.monthly_average == 3774 and b.calls.days == 366
    assert "累计受理来电45291件，其中，办结的来电为44551件，办结率达98.37%" in headline(b)
    assert [p.key for p in b.series] == [f"2008-{m:02d}" for m in range(1, 13)]
    assert sum(p.accepted for p in b.series) == 45291
    assert sum(p.tickets for p in b.series) == 1758


async def test_a_month_of_the_seeded_year_reports_on_its_own(year_db: Path) -> None:
    b = await briefing_of(year_db, "monthly", "2008-03")
    assert 3000 < b.calls.accepted < 5000 and b.calls.days == 31


# -------------------------------------------------------------- what figures count


@pytest.fixture
async def small(store_location: Path | str) -> AsyncIterator[Store]:
    """Four calls in January 2009 (waits in line 5, 20, 21 s; answered 9, 15, 16 s after
    arriving), one abandoned, one in February."""
    async with Store(store_location) as store:
        calls = CallRepository(store)
        for n, (arrived, wait, answer) in enumerate((("2009-01-05T09:00:00+08:00", 5, 9),
                                                     ("2009-01-05T10:00:00+08:00", 20, 15),
                                                     ("2009-01-31T23:59:59+08:00", 21, 16)), 1):
            calls.save(f"c{n}", arrived=arrived, arrived_epoch=at(arrived), outcome="answered", seat="seat3",
                       seat_answered=arrived, wait_seconds=wait, answer_seconds=answer, talk_seconds=60 * n,
                       state="done")
        calls.save("gone", arrived="2009-01-06T09:00:00+08:00", arrived_epoch=at("2009-01-06T09:00:00+08:00"),
                   outcome="abandoned_queue", wait_seconds=40, state="done")
        calls.save("feb", arrived="2009-02-01T00:00:00+08:00", arrived_epoch=at("2009-02-01T00:00:00+08:00"),
                   outcome="answered", seat="seat1", seat_answered="2009-02-01T00:00:03+08:00", wait_seconds=3,
                   state="done")
        await store.flush()
        yield store


async def test_a_call_on_a_ticket_in_progress_is_in_progress_until_the_unit_replies(small: Store) -> None:
    period = parse_month("2009-01", ZONE)
    ctx = Context(DIRECTORY, ZONE, at("2009-01-05T09:30:00+08:00"))
    number = await create_ticket(small, ctx, calls=["c1"], category=Category.HELP, unit="沁水县", summary="吃水")
    b = await build_briefing(small, period, zone=ZONE, now=ctx.now)
    assert (b.calls.accepted, b.calls.completed, b.calls.in_progress) == (3, 2, 1)
    assert (b.tickets.total, b.tickets.in_progress) == (1, 1)
    await forward(small, ctx, number)
    await reply(small, Context(DIRECTORY, ZONE, at("2009-01-07T09:00:00+08:00")), number, text="已送水")
    await record_callback(small, Context(DIRECTORY, ZONE, at("2009-01-08T09:00:00+08:00")), number,
                          result=CallbackResult.REACHED, satisfaction=Satisfaction.BASICALLY_SATISFIED)
    b = await build_briefing(small, period, zone=ZONE, now=at("2009-02-05T09:00:00+08:00"))
    assert (b.calls.completed, b.calls.in_progress, b.calls.completed_pct) == (3, 0, 100.0)
    assert (b.satisfaction.rated, b.satisfaction.basically_satisfied, b.satisfaction.satisfaction_pct) == (1, 1, 100.0)
    assert b.tickets.by_state["closed"] == 1 and b.tickets.replied == 1 and b.tickets.replied_late == 0


async def test_service_figures_come_from_known_calls(small: Store) -> None:
    b = await build_briefing(small, parse_month("2009-01", ZONE), zone=ZONE, now=at("2009-02-05T09:00:00+08:00"))
    s = b.service
    # The call at 23:59:59 on 31 January is January's; the one at 00:00:00 on 1 February is not.
    assert (s.offered, s.answered, s.abandoned, s.abandoned_queue) == (4, 3, 1, 1)
    # Answered within 15 s of arrival: 9 and 15 of 9, 15, 16.
    assert s.answered_within_service_level == 2 and s.service_level_pct == 66.67
    assert s.average_wait_seconds == 15.3 and s.average_talk_seconds == 120.0
    assert s.abandon_rate_pct == 25.0
    assert b.calls.daily_average == 0 and b.calls.daily_average_exact == 0.1  # 3 calls / 31 days
    assert [h.offered for h in b.hourly if h.offered] == [2, 1, 1]  # 09h (two), 10h, 23h
    assert b.tickets.total == 0 and b.tickets.by_category[0].pct is None
    assert "留单受理0件。" in headline(b)


async def test_a_running_month_averages_over_the_days_begun_so_far(small: Store) -> None:
    b = await build_briefing(small, parse_month("2009-01", ZONE), zone=ZONE, now=at("2009-01-10T12:00:00+08:00"))
    assert b.calls.days == 10


# ----------------------------------------------------------------------- refusals


async def test_an_empty_store_says_so_and_how_to_fill_it(store_location: Path | str) -> None:
    async with Store(store_location) as store:
        with pytest.raises(ReportError, match=r"holds no calls yet: nothing to report .*hotline demo seed"):
            await build_briefing(store, parse_month("2009-01", ZONE), zone=ZONE)


async def test_a_month_without_calls_names_the_span_the_store_holds(small: Store) -> None:
    span = r"no calls arrived in 2010-05 \(.* holds calls from 2009-01-05 to 2009-02-01\)"
    with pytest.raises(ReportError, match=span):
        await build_briefing(small, parse_month("2010-05", ZONE), zone=ZONE)


# ------------------------------------------------------------------ JSON and HTML


def _leaves(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        out: set[str] = set()
        for key, item in value.items():
            name = "<category>" if prefix == "tickets.by_category" else key
            out |= _leaves(item, f"{prefix}.{name}" if prefix else name)
        return out
    if isinstance(value, list):
        return _leaves(value[0], prefix + "[]") if value else {prefix + "[]"}
    return {prefix}


def _documented() -> set[str]:
    keys: set[str] = set()
    readme = (HOME / "README.md").read_text(encoding="utf-8")
    text = readme.split("**JSON keys**", 1)[1].split("**HTML**", 1)[0]  # the README's table of them
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        tokens = re.findall(r"`([^`]+)`", line.split("|")[1])
        first = tokens[0]
        keys.add(first)
        for token in tokens[1:]:
            keys.add(first.rsplit(".", 1)[0] + token if token.startswith(".") else token)
    return keys


async def test_every_json_key_is_documented_and_every_documented_key_exists(january_db: Path | str) -> None:
    b = await briefing_of(january_db, "monthly", "2009-01")
    leaves, documented = _leaves(b.to_json()), _documented()
    assert leaves - documented == set()
    assert {k for k in documented if not any(leaf == k or leaf.startswith(k) for leaf in leaves)} == set()


async def test_the_html_page_has_charts_and_loads_nothing_from_outside(january_db: Path | str) -> None:
    b = await briefing_of(january_db, "monthly", "2009-01")
    page = format_html(b, DIRECTORY.title)
    assert page.count("<svg") >= 5
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", page)
    assert "default-src 'none'" in page
    assert "99.48%" in page and "31.2%" in page


# ------------------------------------------------------------------------------ CLI


def test_report_cli_prints_the_seed_figures_as_text_json_and_html(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    out = hotline(env, "demo", "seed", "--month", "2009-01", "--shape", "jan-seed")
    assert out.returncode == 0, out.stderr
    text = hotline(env, "report", "monthly", "--month", "2009-01")
    assert text.returncode == 0, text.stderr
    assert SEED_PARAGRAPH in text.stdout
    figures = json.loads(hotline(env, "report", "monthly", "--month", "2009-01", "--json").stdout)
    assert figures["calls"]["completed_pct"] == 99.48 and figures["calls"]["daily_average"] == 185
    assert figures["tickets"]["by_category"]["help"] == {"label": "求助", "count": 19, "pct": 31.2}
    page = tmp_path / "january.html"
    out = hotline(env, "report", "monthly", "--month", "2009-01", "--html", str(page))
    assert out.returncode == 0 and out.stdout.strip() == f"wrote {page}"
    assert "<svg" in page.read_text(encoding="utf-8")
    one_line_error(hotline(env, "report", "monthly", "--month", "2009-13"), "no such month")
    one_line_error(hotline(env, "report", "monthly", "--month", "2031-01"), "no calls arrived in 2031-01")
    one_line_error(hotline(env, "report", "monthly", "--month", "2009-01", "--html", str(tmp_path / "no" / "x.html")),
                   "cannot write the page")


def test_report_cli_on_a_store_that_does_not_exist_says_how_to_fill_one(tmp_path: Path) -> None:
    one_line_error(hotline(instance_env(tmp_path), "report", "yearly", "--year", "2008"),
                   "no database yet", "hotline demo seed")
