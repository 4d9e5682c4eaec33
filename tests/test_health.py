"""Health: /healthz (this machine only, no log-in), `hotline status` and the wallboard's
alarm say whether Asterisk runs, the controller hears it, the store keeps up and seat
phones are there."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from callcenter.free_space import FreeSpace
from callcenter.health import DROPPED_WRITES_ALARM_SECONDS, MAX_WRITE_LAG_SECONDS, low_space, problems, report_of
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import SeatPhone, free_port, run_hotline
from tests.tcp_proxy import CuttableProxy

HEALTHY: dict[str, Any] = {"ari_connected": True, "last_event_age": 1.0, "seats_registered": 2, "seats": 6,
                           "callers_waiting": 0, "recordings_failing": 0}
MB = 1024 * 1024


def _disk(free: int, total: int, *what: str) -> dict[str, Any]:
    return {"what": list(what or ["recordings"]), "path": "/srv", "free_bytes": free, "total_bytes": total}


def test_a_healthy_hotline_has_no_problem_and_each_fault_is_named() -> None:
    assert report_of(True, HEALTHY, 0.1, None)["ok"] is True
    faults = {
        "Asterisk is not running": report_of(False, HEALTHY, 0.0, None),
        "ARI events not connected": report_of(True, HEALTHY | {"ari_connected": False}, 0.0, None),
        "no seat phone is registered": report_of(True, HEALTHY | {"seats_registered": 0}, 0.0, None),
        "store write lag": report_of(True, HEALTHY, MAX_WRITE_LAG_SECONDS + 1, None),
        "the store cannot commit": report_of(True, HEALTHY, 0.0, "database or disk is full"),
        "the controller is not running": report_of(True, None, 0.0, None),
        "the last 2 recordings failed": report_of(True, HEALTHY | {"recordings_failing": 2}, 0.0, None),
        "the store dropped 7 writes": report_of(True, HEALTHY, 0.0, None, dropped_writes=7, dropped_age=30.0),
        "recordings disk nearly full: 0.0 MB free": report_of(True, HEALTHY, 0.0, None, disks=[_disk(0, 8 * MB)]),
        "recordings and database disk nearly full: 150.0 MB free": report_of(
            True, HEALTHY, 0.0, None, disks=[_disk(150 * MB, 10**12, "recordings", "database")]),
    }
    for named, report in faults.items():
        assert report["ok"] is False and len(report["problems"]) == 1, report
        assert named in report["problems"][0]
    assert problems(report_of(None, HEALTHY, 0.0, None)) == []  # an external Asterisk is not watched
    # Writes dropped an hour ago are in /metrics and the log, no longer an alarm.
    assert report_of(True, HEALTHY, 0.0, None, dropped_writes=7, dropped_age=DROPPED_WRITES_ALARM_SECONDS)["ok"]


def test_a_disk_is_nearly_full_under_200_mb_or_under_1_percent_of_a_small_one() -> None:
    assert [low_space(_disk(free * MB, 10**12)) for free in (199, 201)] == [True, False]
    assert [low_space(_disk(free * MB, 4 * 1024 * MB)) for free in (40, 41)] == [True, False]
    assert low_space({"what": ["recordings"], "path": "/srv"}) is False  # not measured: no alarm


def test_free_space_groups_the_folders_of_one_disk_and_looks_at_most_every_few_seconds(tmp_path: Path) -> None:
    now = [0.0]
    recordings, database = tmp_path / "recordings", tmp_path / "state"
    recordings.mkdir()
    database.mkdir()
    space = FreeSpace({"recordings": recordings, "database": database, "nowhere": tmp_path / "missing"},
                      clock=lambda: now[0], every=5.0)
    [disk] = space.now()
    stats = os.statvfs(tmp_path)
    assert disk["what"] == ["recordings", "database"] and disk["total_bytes"] == stats.f_blocks * stats.f_frsize
    assert abs(disk["free_bytes"] - stats.f_bavail * stats.f_frsize) < 64 * MB
    recordings.rmdir()
    now[0] = 4.9
    assert space.now() == [disk]  # not looked at again yet
    now[0] = 5.0
    assert [found["what"] for found in space.now()] == [["database"]]


async def _health(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        return response.status, await response.json()


async def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics parsed with prometheus-client's own parser: {(sample name, labels): value}."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.asterisk
async def test_healthz_and_hotline_status_follow_the_ari_connection_and_the_seats(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    proxy = CuttableProxy(asterisk.settings.asterisk.http_port)
    await proxy.start()
    port = free_port((socket.SOCK_STREAM,))
    env = asterisk.env | FAST | {"HOTLINE_ASTERISK_ARI_URL": f"http://127.0.0.1:{proxy.port}/ari",
                                 "HOTLINE_WEB_PORT": str(port)}
    try:
        async with hotline_for(env, tmp_path) as hotline, \
                web_running(hotline.settings, hotline.services, hotline.controller, bind="127.0.0.1",
                            port=port) as url:
            status, report = await _health(url)
            assert status == 503 and report["problems"] == ["没有已注册的坐席话机 (no seat phone is registered)"]
            with SeatPhone(hotline.settings, "seat1", hotline.workdir):
                await hotline.seat_registered("seat1")
                status, report = await _health(url)
                assert (status, report["ok"], report["asterisk_up"]) == (200, True, True)
                assert report["controller"]["seats_registered"] == 1
                out = await asyncio.to_thread(run_hotline, env, "status")
                assert out.returncode == 0 and "ARI events:      connected" in out.stdout, out.stdout + out.stderr
                values = await _metrics(url)
                assert values[("hotline_ari_connected", ())] == 1.0 and values[("hotline_healthy", ())] == 1.0
                assert values[("hotline_seats_registered", ())] == 1.0
                assert values[("hotline_ari_connections_total", ())] == 1.0
                assert values[("hotline_seats", (("state", "idle"),))] == 6.0
                cut = asyncio.create_task(proxy.cut(4.0))

                async def deaf() -> bool:
                    return (await _health(url))[0] == 503

                await hotline.wait_until(deaf, 5, "the health to notice the cut")
                status, report = await _health(url)
                assert "控制器未连接 Asterisk (ARI events not connected)" in report["problems"]
                out = await asyncio.to_thread(run_hotline, env, "status")
                assert out.returncode == 1 and "PROBLEM: 控制器未连接 Asterisk" in out.stdout, out.stdout
                await cut

                async def healthy() -> bool:
                    return (await _health(url))[0] == 200

                await hotline.wait_until(healthy, 20, "the controller to reconnect")
                values = await _metrics(url)
                assert values[("hotline_ari_connections_total", ())] == 2.0  # the reconnect counted
    finally:
        await proxy.stop()


def test_hotline_status_without_a_running_hotline_is_a_one_line_error(tmp_path: Path) -> None:
    env = {"HOTLINE_WEB_PORT": str(free_port((socket.SOCK_STREAM,))),
           "HOTLINE_PATHS_STATE_DIR": str(tmp_path)}
    out = run_hotline(env, "status")
    assert out.returncode == 2 and "does not answer" in out.stderr and len(out.stderr.strip().splitlines()) == 1
