"""Console accounts of the responsible units: added by the admin (`hotline users`), a
password printed once, the hash only in the private users file; and the unit's page."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from callcenter.errors import ConfigError, HotlineError
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets.directory import Directory, load_directory, units_file
from callcenter.users import (
    ConsoleUsers,
    add_unit_user,
    credentials_path,
    hash_password,
    list_users,
    load_or_create_users,
    read_generated_passwords,
    reset_password,
    users_path,
    verify_password,
)
from callcenter.web.sessions import LoginThrottle
from tests.harness import HOME, assert_one_line_error, instance_env, run_hotline
from tests.web_helpers import (
    FakeFloor,
    RunningConsole,
    chromium,
    console_running,
    console_settings,
    http_session,
    log_in,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return console_settings(tmp_path)


@pytest.fixture
def directory(settings: Settings) -> Directory:
    return load_directory(units_file(settings))


def test_a_unit_account_gets_a_working_password_whose_hash_alone_is_kept_in_the_private_users_file(
        tmp_path: Path, directory: Directory) -> None:
    load_or_create_users(tmp_path, ("seat1", "seat2"))
    password = add_unit_user(tmp_path, "zezhou-office", "zezhou", directory)
    user = ConsoleUsers(list_users(tmp_path)).check("zezhou-office", password)
    assert user is not None and (user.role, user.unit, user.seat) == ("unit", "zezhou", None)
    assert verify_password(password, user.password_hash) and len(password) >= 16
    assert password not in users_path(tmp_path).read_text()
    assert read_generated_passwords(tmp_path)["zezhou-office"] == password
    assert "zezhou-office  unit:zezhou  " in credentials_path(tmp_path).read_text()
    for path in (users_path(tmp_path), credentials_path(tmp_path)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # The generated accounts are still there, with their passwords.
    earlier = read_generated_passwords(tmp_path)
    assert ConsoleUsers(list_users(tmp_path)).check("seat1", earlier["seat1"]) is not None


def test_an_unknown_or_retired_unit_code_is_refused_naming_the_known_codes(tmp_path: Path,
                                                                           directory: Directory) -> None:
    with pytest.raises(HotlineError) as unknown:
        add_unit_user(tmp_path, "somebody", "atlantis", directory)
    assert "'atlantis'" in str(unknown.value) and "zezhou" in str(unknown.value) and "chengqu" in str(unknown.value)
    retired = Directory(directory.source, tuple(
        unit if unit.code != "zezhou" else type(unit)(unit.code, unit.name, unit.kind, unit.aliases, False)
        for unit in directory.units))
    with pytest.raises(HotlineError, match="retired") as refused:
        add_unit_user(tmp_path, "somebody", "zezhou", retired)
    assert "zezhou" not in str(refused.value).split("known codes:")[1]
    assert not users_path(tmp_path).exists()


@pytest.mark.parametrize("name", ["A-upper", "x", "-dash-first", "has space", "zh中文", "a" * 33, "semi;colon", ""])
def test_a_user_name_outside_the_allowed_pattern_is_refused(tmp_path: Path, directory: Directory, name: str) -> None:
    with pytest.raises(HotlineError, match="bad user name"):
        add_unit_user(tmp_path, name, "zezhou", directory)


def test_a_taken_name_or_one_kept_for_a_seat_is_refused_and_changes_nothing(tmp_path: Path,
                                                                            directory: Directory) -> None:
    load_or_create_users(tmp_path, ("seat1",))
    add_unit_user(tmp_path, "zezhou", "zezhou", directory)
    before = users_path(tmp_path).read_text()
    for name in ("zezhou", "seat1", "supervisor", "seat9"):
        with pytest.raises(HotlineError, match="taken"):
            add_unit_user(tmp_path, name, "chengqu", directory, reserved=("seat9",))
    assert users_path(tmp_path).read_text() == before


def test_a_reset_password_replaces_the_old_one_and_keeps_the_unit(tmp_path: Path, directory: Directory) -> None:
    old = add_unit_user(tmp_path, "zezhou-office", "zezhou", directory)
    new = reset_password(tmp_path, "zezhou-office")
    users = ConsoleUsers(list_users(tmp_path))
    assert users.check("zezhou-office", old) is None
    reset = users.check("zezhou-office", new)
    assert reset is not None and reset.unit == "zezhou"
    with pytest.raises(HotlineError, match="no console user 'ghost'"):
        reset_password(tmp_path, "ghost")


def test_an_old_users_file_without_unit_fields_still_loads(tmp_path: Path) -> None:
    old = [{"name": "supervisor", "role": "supervisor", "seat": None, "hash": hash_password("s3cret-one")},
           {"name": "seat1", "role": "operator", "seat": "seat1", "hash": hash_password("s3cret-two")}]
    users_path(tmp_path).write_text(json.dumps({"users": old}))
    users = load_or_create_users(tmp_path, ("seat1",))
    assert [(u.name, u.role, u.seat, u.unit) for u in users.all()] == [
        ("supervisor", "supervisor", None, None), ("seat1", "operator", "seat1", None)]
    assert users.check("seat1", "s3cret-two") is not None


def test_a_unit_account_without_its_unit_code_is_a_damaged_file(tmp_path: Path) -> None:
    bad = [{"name": "zezhou", "role": "unit", "seat": None, "hash": hash_password("x")}]
    users_path(tmp_path).write_text(json.dumps({"users": bad}))
    with pytest.raises(ConfigError, match="damaged"):
        list_users(tmp_path)


def test_a_running_console_sees_an_account_added_after_it_started(tmp_path: Path, directory: Directory) -> None:
    users = load_or_create_users(tmp_path, ("seat1",))
    assert users.get("zezhou-office") is None
    password = add_unit_user(tmp_path, "zezhou-office", "zezhou", directory)
    assert users.check("zezhou-office", password) is not None
    new = reset_password(tmp_path, "zezhou-office")
    assert users.check("zezhou-office", password) is None and users.check("zezhou-office", new) is not None


def test_the_users_commands_add_list_and_reset_printing_each_password_once(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    added = run_hotline(env, "users", "add", "zezhou-office", "--unit", "zezhou")
    assert added.returncode == 0, added.stderr
    password = read_generated_passwords(tmp_path)["zezhou-office"]
    assert added.stdout.count(password) == 1 and str(credentials_path(tmp_path)) in added.stdout
    listed = run_hotline(env, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert "zezhou-office" in listed.stdout and "zezhou 泽州县人民政府" in listed.stdout
    assert password not in listed.stdout and "scrypt" not in listed.stdout
    reset = run_hotline(env, "users", "reset", "zezhou-office")
    new = read_generated_passwords(tmp_path)["zezhou-office"]
    assert reset.returncode == 0 and new != password and reset.stdout.count(new) == 1


def test_the_users_commands_report_a_wrong_request_in_one_line(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    assert_one_line_error(run_hotline(env, "users", "add", "someone", "--unit", "atlantis"),
                          "'atlantis'", "known codes:", "zezhou")
    assert_one_line_error(run_hotline(env, "users", "add", "Bad Name", "--unit", "zezhou"), "bad user name")
    assert run_hotline(env, "users", "add", "zezhou-office", "--unit", "zezhou").returncode == 0
    assert_one_line_error(run_hotline(env, "users", "add", "zezhou-office", "--unit", "chengqu"), "taken")
    assert_one_line_error(run_hotline(env, "users", "add", "seat1", "--unit", "chengqu"), "taken")
    assert_one_line_error(run_hotline(env, "users", "reset", "ghost"), "no console user 'ghost'")


async def test_the_unit_page_lists_the_units_tickets_says_when_there_are_none_and_shows_a_failure(
        settings: Settings) -> None:
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as console, chromium() as browser:
        password = add_unit_user(settings.paths.state_dir, "zezhou-office", "zezhou",
                                 load_directory(units_file(settings)))
        context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        replies: list[dict[str, object]] = [
            {"status": 200, "body": json.dumps({"tickets": []})},
            {"status": 200, "body": json.dumps({"tickets": [{
                "ticket_id": 7, "created": "2026-11-28T21:40:00+08:00", "category": "complaint",
                "summary": "<b>路灯</b>不亮", "state": "forwarded", "deadline": "2026-12-08T17:30:00+08:00",
                "overdue": False}]})},
            {"status": 500, "body": json.dumps({"error": "数据库忙"})},
        ]

        async def answer(route: Any) -> None:
            served = replies.pop(0) if replies else {"status": 500, "body": "{}"}
            await route.fulfill(content_type="application/json", **served)

        await context.route("**/api/unit/tickets", answer)
        page = await context.new_page()
        await page.goto(f"{console.url}/login")
        await page.fill("#username", "zezhou-office")
        await page.fill("#password", password)
        await page.click("#login-button")
        await page.wait_for_url("**/unit")
        assert "泽州县人民政府" in await page.inner_text("#unit h2")
        menu = [await a.inner_text() for a in await page.query_selector_all("header nav a")]
        assert menu == ["本单位工单", "政务信息库"]
        await page.wait_for_selector("#tickets-empty:not([hidden])")
        assert await page.inner_text("#tickets-empty") == "暂无工单"
        await page.reload()
        await page.wait_for_selector('#tickets tr[data-ticket-id="7"]')
        assert await page.inner_text('#tickets tr[data-ticket-id="7"] td:nth-child(4)') == "<b>路灯</b>不亮"
        assert await page.is_hidden("#tickets-empty")
        await page.reload()
        await page.wait_for_selector("#tickets-status.error")
        assert await page.inner_text("#tickets-status") == "工单加载失败：数据库忙"
        await context.close()


# ----------------------------------------------------------------------------- disable, passwd


@asynccontextmanager
async def _logged_in(tmp_path: Path, user: str) -> AsyncIterator[tuple[RunningConsole, aiohttp.ClientSession,
                                                                        dict[str, str]]]:
    """A running console, a browser-like session logged in as `user`, and the env of the
    `hotline` command for the same state folder."""
    settings = console_settings(tmp_path)
    env = instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(settings.paths.roster))
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as console, http_session() as http:
        assert (await log_in(http, console.url, user, console.passwords[user])).status == 303
        async with http.get(f"{console.url}/api/me") as response:
            assert response.status == 200
        yield console, http, env


async def test_disabling_an_account_ends_its_live_session_and_refuses_its_log_in(tmp_path: Path) -> None:
    async with _logged_in(tmp_path, "seat1") as (console, http, env):
        password = console.passwords["seat1"]
        out = await asyncio.to_thread(run_hotline, env, "users", "disable", "seat1")
        assert out.returncode == 0, out.stderr
        async with http.get(f"{console.url}/api/me") as response:
            assert response.status == 401  # at once, without a restart
        assert (await log_in(http, console.url, "seat1", password)).status == 401
        listed = await asyncio.to_thread(run_hotline, env, "users", "list")
        assert any(line.startswith("seat1 ") and "(disabled)" in line for line in listed.stdout.splitlines())
        assert (await asyncio.to_thread(run_hotline, env, "users", "enable", "seat1")).returncode == 0
        assert (await log_in(http, console.url, "seat1", password)).status == 303


async def test_a_password_set_with_passwd_replaces_the_old_one_and_ends_its_sessions(tmp_path: Path) -> None:
    async with _logged_in(tmp_path, "seat2") as (console, http, env):
        old = console.passwords["seat2"]
        short = await asyncio.to_thread(_passwd, env, "seat2", "short")
        assert short.returncode == 2 and "at least 10 characters" in short.stderr
        out = await asyncio.to_thread(_passwd, env, "seat2", "坐席二的新密码-2026")
        assert out.returncode == 0, out.stderr
        async with http.get(f"{console.url}/api/me") as response:
            assert response.status == 401
        assert (await log_in(http, console.url, "seat2", old)).status == 401
        assert (await log_in(http, console.url, "seat2", "坐席二的新密码-2026")).status == 303


def _passwd(env: dict[str, str], name: str, password: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    return subprocess.run([sys.executable, "-m", "callcenter.cli", "users", "passwd", name], input=password + "\n",
                          capture_output=True, text=True, env=full, cwd=HOME, timeout=60)


def test_failures_as_the_supervisor_from_one_address_do_not_lock_it_out_from_another() -> None:
    now = [1000.0]
    throttle = LoginThrottle(lambda: now[0])
    for _ in range(10):
        throttle.failed("198.51.100.7", "supervisor")
    assert throttle.retry_after("198.51.100.7", "supervisor") > 0
    assert throttle.retry_after("192.0.2.10", "supervisor") == 0


async def test_a_session_survives_a_restart_of_the_console_and_the_store_keeps_no_token(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, http_session() as http:
        floor = FakeFloor(settings, store)
        async with console_running(settings, floor) as console:
            assert (await log_in(http, console.url, "seat3", console.passwords["seat3"])).status == 303
            async with http.get(f"{console.url}/api/me") as response:
                csrf = (await response.json())["csrf_token"]
            url = console.url
        token = next(c.value for c in http.cookie_jar if c.key == "hotline_session")
        # The same console started again (another port): the cookie and its CSRF token still work.
        async with console_running(settings, floor) as again:
            for cookie in list(http.cookie_jar):
                http.cookie_jar.update_cookies({cookie.key: cookie.value}, URL(again.url))
            async with http.get(f"{again.url}/api/me") as response:
                assert response.status == 200 and (await response.json())["user"] == "seat3"
            async with http.post(f"{again.url}/api/operator/pause", json={"paused": True, "reason": "培训"},
                                 headers={"X-CSRF-Token": csrf}) as response:
                assert response.status == 200, await response.text()
        assert url != again.url
        stored = await store.reading(lambda db: [dict(r) for r in db.query("SELECT * FROM console_sessions")])
        assert len(stored) == 1 and token not in json.dumps(stored)
