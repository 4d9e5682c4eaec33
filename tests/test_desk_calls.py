"""The tickets desk with real calls: SIPp citizens through the real Asterisk and
controller, a SIPp seat phone answering. The operator writes a ticket from the live
call on their seat; the same citizen's second call is offered that ticket and linked;
the supervisor forwards it; the unit's account replies; the ticket holds both calls,
and both recordings play."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import wave
from io import BytesIO
from pathlib import Path

import aiohttp
import pytest

from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user, read_generated_passwords
from callcenter.vocabulary import SeatState
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, caller_argv, free_port
from tests.web_helpers import Client as WebClient
from tests.web_helpers import http_session, log_in, page_csrf

pytestmark = pytest.mark.asterisk

CITIZEN = "13987654321"


class Client(WebClient):
    """The console's client, and a recording's length as served."""

    async def wav_seconds(self, path: str) -> float:
        async with self.http.get(self.url + path) as response:
            assert response.status == 200 and response.content_type == "audio/wav", (path, response.status)
            data = await response.read()
        with wave.open(BytesIO(data), "rb") as wav:
            frames, rate = int(wav.getnframes()), int(wav.getframerate())
        return frames / rate


async def _logged_in(url: str, user: str, password: str, landing: str) -> tuple[aiohttp.ClientSession, Client]:
    http = http_session()
    assert (await log_in(http, url, user, password)).status == 303
    return http, Client(http, url, await page_csrf(http, url, landing))


async def _live_call_on(hotline: Hotline, seat: str) -> str:
    """The call id once the seat is talking with a caller."""
    async def talking() -> bool:
        return hotline.controller.seats[seat].state is SeatState.TALKING

    await hotline.wait_until(talking, 30, f"{seat} to be talking")
    snapshot = hotline.controller.snapshot()
    call = next(s["call"] for s in snapshot["seats"] if s["seat"] == seat)
    assert call is not None
    return str(call["call_id"])


def _citizen_call(hotline: Hotline, hold_ms: int) -> subprocess.Popen[bytes]:
    argv, _ = caller_argv(hotline.settings, hotline.workdir, CITIZEN, hold_ms, "citizen_caller_dtmf.xml", digit="0",
                          digit_after_ms=500)
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_an_operator_writes_a_ticket_from_a_live_call_links_the_second_call_and_the_unit_replies(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        settings = hotline.settings
        add_unit_user(settings.paths.state_dir, "zezhou-calls", "zezhou", load_directory(units_file(settings)))
        port = free_port((socket.SOCK_STREAM,))
        async with web_running(settings, hotline.services, hotline.controller, bind="127.0.0.1", port=port) as url:
            passwords = read_generated_passwords(settings.paths.state_dir)
            http, operator = await _logged_in(url, "seat1", passwords["seat1"], "/operator")
            async with http:
                with SeatPhone(settings, "seat1", hotline.workdir, answer_after_ms=200):
                    await hotline.seat_registered("seat1")
                    first_call = _citizen_call(hotline, 6000)
                    try:
                        first_id = await _live_call_on(hotline, "seat1")
                        created = await operator.post(f"/api/calls/{first_id}/ticket", {
                            "category": "complaint", "summary": "小区路灯不亮三天了", "unit": "泽州县",
                            "citizen_name": "李女士", "address": "泽州县金村镇"}, status=201)
                        ticket_id = created["ticket_id"]
                        assert await asyncio.to_thread(first_call.wait, 60) == 0
                    finally:
                        if first_call.poll() is None:
                            first_call.kill()
                            first_call.wait()
                    await hotline.seats_free()
                    second_call = _citizen_call(hotline, 5000)
                    try:
                        second_id = await _live_call_on(hotline, "seat1")
                        offered = await operator.get(f"/api/tickets/similar?number={CITIZEN}&summary=路灯还是不亮")
                        assert [t["ticket_id"] for t in offered["tickets"]] == [ticket_id]
                        assert offered["tickets"][0]["reason"] == "same number"
                        await operator.post(f"/api/tickets/{ticket_id}/calls", {"call_id": second_id})
                        assert await asyncio.to_thread(second_call.wait, 60) == 0
                    finally:
                        if second_call.poll() is None:
                            second_call.kill()
                            second_call.wait()
            await hotline.settled()  # both recordings closed and measured

            http, supervisor = await _logged_in(url, "supervisor", passwords["supervisor"], "/wallboard")
            async with http:
                await supervisor.post(f"/api/tickets/{ticket_id}/forward", {"note": "请核实处理"})
                unit_password = read_generated_passwords(settings.paths.state_dir)["zezhou-calls"]
                unit_http, unit = await _logged_in(url, "zezhou-calls", unit_password, "/unit")
                async with unit_http:
                    mine = await unit.get("/api/unit/tickets")
                    assert [t["ticket_id"] for t in mine["tickets"]] == [ticket_id]
                    assert mine["tickets"][0]["contact_number"] == CITIZEN
                    assert mine["tickets"][0]["working_days_left"] == 7
                    await unit.get(f"/api/calls/{first_id}/recording", status=403)  # never a recording
                    await unit.post(f"/api/unit/tickets/{ticket_id}/reply", {"text": "已修复路灯。"})
                detail = await supervisor.get(f"/api/tickets/{ticket_id}")
                assert detail["ticket"]["state"] == "replied" and detail["ticket"]["reply"] == "已修复路灯。"
                assert sorted(c["call_id"] for c in detail["calls"]) == sorted([first_id, second_id])
                kinds = [e["kind"] for e in detail["events"]]
                assert kinds[0] == "created" and "forwarded" in kinds and kinds[-1] == "replied"
                for call in detail["calls"]:
                    assert call["has_recording"], call
                    seconds = await supervisor.wav_seconds(f"/api/calls/{call['call_id']}/recording")
                    assert abs(seconds - float(call["recording_seconds"])) < 0.2 and seconds > 3, call
