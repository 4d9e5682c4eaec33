"""Follow-up callbacks (回访) through ARI to a SIPp citizen's phone, for real."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter import callbacks
from callcenter.ari import AriClient
from callcenter.calls.repository import CallRepository
from callcenter.clock import iso_local
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets import (
    Context,
    TicketDetail,
    create_ticket,
    forward,
    get_ticket,
    load_directory,
    reply,
    units_file,
)
from callcenter.vocabulary import CallbackResult, Category
from tests.conftest import RunningAsterisk
from tests.flow import Hotline, hotline_for
from tests.harness import LOOPBACK, SIPP_DIR, free_media_port, instance_env, settings_for, voice_pcap

CALLBACK_FAST = {"HOTLINE_CALLBACKS_POLL_SECONDS": "0.5", "HOTLINE_CALLBACKS_RING_SECONDS": "3",
                 "HOTLINE_CALLBACKS_RETRY_MINUTES": "0.02", "HOTLINE_CALLBACKS_MAX_ATTEMPTS": "2",
                 "HOTLINE_CALLBACKS_ANSWER_TIMEOUT": "15"}


async def _replied_ticket(store: Store, settings: Settings, number: str) -> int:
    """A call from `number`, turned into a ticket, forwarded and replied by the unit."""
    now = datetime.now(settings.zone).timestamp() - 3600
    calls = CallRepository(store)
    calls.save(f"origin-{number}", caller_number=number, arrived_epoch=now, arrived=iso_local(now, settings.zone),
               seat_answered=iso_local(now + 20, settings.zone), outcome="answered", seat="seat3", state="done")
    await calls.flush()
    ctx = Context(load_directory(units_file(settings)), settings.zone)
    ticket = await create_ticket(store, ctx, calls=[f"origin-{number}"], category=Category.HELP, unit="泽州县",
                                 summary="路灯不亮")
    await forward(store, ctx, ticket)
    await reply(store, ctx, ticket, text="已修复")
    return ticket


def _citizen_phone(asterisk: RunningAsterisk, scenario: str, calls: int, workdir: Path) -> subprocess.Popen[bytes]:
    port = asterisk.env["HOTLINE_CALLBACKS_TRUNK"].rsplit(":", 1)[1]
    argv = ["sipp", "-sf", str(SIPP_DIR / scenario), "-i", LOOPBACK, "-p", port, "-m", str(calls),
            "-mp", str(free_media_port()), "-nostdin", "-timeout", "90s",
            "-timeout_error", "-trace_msg", "-message_file", str(workdir / f"{scenario}.log")]
    if scenario == "citizen_answers_callback.xml":
        argv += ["-set", "listen", "2000", "-key", "audio_pcap", str(voice_pcap()),
                 "-key", "dtmf_pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def _citizen_phone_running(asterisk: RunningAsterisk, scenario: str, calls: int,
                           workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    phone = _citizen_phone(asterisk, scenario, calls, workdir)
    try:
        yield phone
    finally:
        if phone.poll() is None:
            phone.kill()
        phone.wait()
        assert phone.stderr is not None
        phone.stderr.close()


async def _ticket(hotline: Hotline, ticket_id: int) -> TicketDetail:
    return await get_ticket(hotline.services.store, ticket_id)


def _runner(hotline: Hotline) -> callbacks.CallbackRunner:
    runner = hotline.controller.callbacks
    assert isinstance(runner, callbacks.CallbackRunner)
    return runner


@pytest.mark.asterisk
async def test_a_callback_answered_with_key_1_stores_satisfied_and_is_recorded(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with hotline_for(asterisk.env | CALLBACK_FAST, tmp_path, hhmm="10:00") as hotline:
        with _citizen_phone_running(asterisk, "citizen_answers_callback.xml", 1, tmp_path) as phone:
            ticket = await _replied_ticket(hotline.services.store, hotline.settings, "13700001234")

            async def answered() -> bool:
                return (await _ticket(hotline, ticket)).ticket["satisfaction"] is not None

            await hotline.wait_until(answered, 60, "the citizen's answer")
            assert await asyncio.to_thread(phone.wait, 30) == 0
        detail = await _ticket(hotline, ticket)
        assert detail.ticket["satisfaction"] == "satisfied" and detail.ticket["state"] == "closed"
        attempts = detail.callbacks
        assert [(a["result"], a["satisfaction"]) for a in attempts] == [("reached", "satisfied")]
        events = await hotline.events(str(attempts[0]["call_id"]))
        started = next(e for e in events if e["kind"] == "RECORDING_STARTED")["data"]
        assert isinstance(started, dict)
        recording = Path(str(started["path"]))

        def big_enough() -> bool:  # MixMonitor writes the file while the call lasts
            return recording.exists() and recording.stat().st_size > 8000

        async def recorded() -> bool:
            return await asyncio.to_thread(big_enough)

        await hotline.wait_until(recorded, 10, f"the callback's recording {recording}")


@pytest.mark.asterisk
async def test_a_callback_nobody_answers_is_retried_then_given_up(asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with hotline_for(asterisk.env | CALLBACK_FAST, tmp_path, hhmm="10:00") as hotline:
        with _citizen_phone_running(asterisk, "seat_never_answers.xml", 2, tmp_path):
            ticket = await _replied_ticket(hotline.services.store, hotline.settings, "13700005678")
            runner = _runner(hotline)

            async def given_up() -> bool:
                attempts = int(str((await _ticket(hotline, ticket)).ticket["callback_attempts"]))
                return attempts >= 2 and not runner.calls

            await hotline.wait_until(given_up, 60, "two unanswered attempts, the second one over")
            assert await runner.place_due() == []  # no third attempt comes
        detail = await _ticket(hotline, ticket)
        attempts = detail.callbacks
        assert [a["result"] for a in attempts] == ["no_answer", "no_answer"], attempts
        assert "given up" in str(attempts[-1]["note"])
        assert detail.ticket["state"] == "replied" and detail.ticket["satisfaction"] is None


def test_no_callback_is_placed_at_night_and_retries_wait_their_interval(tmp_path: Path) -> None:
    settings = settings_for(instance_env(tmp_path))
    rules = settings.callbacks
    zone = settings.zone
    ticket = {"state": "replied", "satisfaction": None, "caller_number": "13700001234", "callback_attempts": 0}
    day = datetime(2026, 11, 27, 10, 0, tzinfo=zone)
    night = datetime(2026, 11, 27, 22, 30, tzinfo=zone)
    early = datetime(2026, 11, 28, 7, 59, tzinfo=zone)
    assert callbacks.due(ticket, None, day.timestamp(), day, rules)
    assert not callbacks.due(ticket, None, night.timestamp(), night, rules)
    assert not callbacks.due(ticket, None, early.timestamp(), early, rules)
    now = day.timestamp()
    assert not callbacks.due(ticket, now - 60, now, day, rules)  # retried only after retry_minutes
    assert callbacks.due(ticket, now - rules.retry_minutes * 60 - 1, now, day, rules)
    assert not callbacks.due(ticket | {"callback_attempts": rules.max_attempts}, None, now, day, rules)
    assert not callbacks.due(ticket | {"satisfaction": "satisfied"}, None, now, day, rules)
    assert not callbacks.due(ticket | {"state": "forwarded"}, None, now, day, rules)


def test_only_cause_17_counts_as_busy_and_the_last_allowed_attempt_is_given_up(tmp_path: Path) -> None:
    rules = settings_for(instance_env(tmp_path, HOTLINE_CALLBACKS_MAX_ATTEMPTS="2")).callbacks
    assert callbacks.unanswered_result(17) is CallbackResult.BUSY
    assert callbacks.unanswered_result(19) is CallbackResult.NO_ANSWER  # no answer from the user
    assert callbacks.unanswered_result(0) is CallbackResult.NO_ANSWER
    assert callbacks.attempts_left(0, rules)  # the first of two failing: one more follows
    assert not callbacks.attempts_left(1, rules)  # the second of two failing: given up


# ----------------------------------------------------------------------------- toll-fraud guards


@pytest.mark.parametrize(("number", "allowed"), [
    ("13912345678", True), ("+8613912345678", True), ("0086 139-1234-5678", True),  # mobile
    ("03562345678", True), ("010-12345678", True), ("2345678", True),  # fixed line, with or without area code
    ("+88212345678", False), ("0088212345678", False),  # international networks
    ("001234567890", False), ("1" * 25, False), ("12345", False),  # international prefix, too long, too short
    ("anonymous", False), ("", False), ("1391234567８", False), ("139*1234#5678", False),
])
def test_only_numbers_in_the_plan_are_ever_dialled(tmp_path: Path, number: str, allowed: bool) -> None:
    rules = settings_for(instance_env(tmp_path)).callbacks
    reason = callbacks.policy.refusal(number, rules)
    assert (reason is None) is allowed, reason
    assert reason is None or reason.startswith("refused: ")


@pytest.mark.asterisk
async def test_a_number_outside_the_plan_is_never_dialled_and_the_refusal_is_stored_with_its_reason(
        asterisk: RunningAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    originated: list[str] = []
    original = AriClient.originate

    async def watched(self: AriClient, endpoint: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        originated.append(endpoint)
        return await original(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(AriClient, "originate", watched)
    async with hotline_for(asterisk.env | CALLBACK_FAST, tmp_path, hhmm="10:00") as hotline:
        ticket = await _replied_ticket(hotline.services.store, hotline.settings, "+88212345678")

        async def given_up() -> bool:
            return int(str((await _ticket(hotline, ticket)).ticket["callback_attempts"])) >= 2

        await hotline.wait_until(given_up, 20, "the refusal to be stored")
        # Several polls later (CALLBACK_FAST polls often) still the one refusal.
        await asyncio.sleep(4 * hotline.settings.callbacks.poll_seconds)
        detail = await _ticket(hotline, ticket)
    assert originated == []
    assert [(a["result"], a["call_id"], a["note"]) for a in detail.callbacks] == [
        ("failed", None, "refused: international number +88212345678; given up (never dialled)")]


@pytest.mark.asterisk
async def test_callbacks_are_placed_one_at_a_time_under_a_concurrency_cap_of_one(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    env = asterisk.env | CALLBACK_FAST | {"HOTLINE_CALLBACKS_MAX_CONCURRENT": "1",
                                          "HOTLINE_CALLBACKS_MAX_ATTEMPTS": "1"}
    async with hotline_for(env, tmp_path, hhmm="10:00") as hotline:
        with _citizen_phone_running(asterisk, "seat_never_answers.xml", 2, tmp_path):
            runner = _runner(hotline)
            tickets = [await _replied_ticket(hotline.services.store, hotline.settings, number)
                       for number in ("13700001111", "13700002222")]
            most = 0

            async def both_tried() -> bool:
                nonlocal most
                most = max(most, len(runner.calls))
                details = [await _ticket(hotline, t) for t in tickets]
                return all(int(str(d.ticket["callback_attempts"])) >= 1 for d in details) and not runner.calls

            await hotline.wait_until(both_tried, 60, "both callbacks, one after the other")
    assert most == 1
