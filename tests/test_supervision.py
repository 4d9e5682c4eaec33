"""Never deaf in silence: a failure while handling an ARI event or while adopting calls
is logged with its traceback and reading goes on; a reader that cannot go on ends the
process with a one-line reason."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter import app, pbx
from callcenter.app import running_hotline
from callcenter.ari import AriError
from callcenter.calls.repository import CallRepository
from callcenter.calls.runner import Controller
from callcenter.errors import PbxError
from callcenter.seats.roster import load_roster
from callcenter.store import Store
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import SeatPhone, call_hotline, free_port, instance_env, settings_for


async def test_a_critical_task_that_ends_stops_the_process_with_its_reason() -> None:
    async def reader() -> None:
        await asyncio.sleep(0.05)
        raise AriError("ARI refused user 'hotline' (401)", 401)

    task = asyncio.create_task(reader(), name="ari-events")
    with pytest.raises(PbxError, match=r"^ari-events stopped: ARI refused user 'hotline' \(401\)$"):
        await asyncio.wait_for(app._until_signalled([task]), 5)


@pytest.mark.asterisk
async def test_a_failing_event_handler_and_a_failing_adoption_are_logged_and_the_next_call_is_answered(
        asterisk: RunningAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    failures = {"event": 1, "adopt": 1}
    on_event, adopt = Controller.on_event, Controller.adopt

    def failing_on_event(self: Controller, event: dict[str, Any]) -> None:
        if event.get("type") == "PlaybackStarted" and failures["event"]:
            failures["event"] -= 1
            raise RuntimeError("injected: handling PlaybackStarted")
        on_event(self, event)

    async def failing_adopt(self: Controller) -> None:
        if failures["adopt"]:
            failures["adopt"] -= 1
            raise AriError("injected: adoption failed", 500)
        await adopt(self)

    monkeypatch.setattr(Controller, "on_event", failing_on_event)
    monkeypatch.setattr(Controller, "adopt", failing_adopt)
    caplog.set_level(logging.INFO, logger="callcenter.ari")
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        assert failures == {"event": 1, "adopt": 0}  # connected after the failed adoption
        with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=300):
            await hotline.seat_registered("seat1")
            # The greeting's PlaybackStarted fails in the handler; the next events still come.
            served, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, "13900000002",
                                                3000, digit="0")
            assert served.returncode == 0, served.output
            rows = await hotline.settled()
    answered = [r for r in rows if r["caller_number"] == "13900000002"]
    assert len(answered) == 1 and answered[0]["outcome"] == "answered"
    messages = [(r.levelno, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert failures["event"] == 0
    assert (logging.ERROR, "ARI events: handling PlaybackStarted failed", True) in messages
    assert any(level == logging.ERROR and text.startswith("ARI events: reading failed; reconnecting") and trace
               for level, text, trace in messages)


@pytest.mark.asterisk
async def test_hotline_up_starts_a_killed_asterisk_again_and_the_next_citizen_is_greeted_and_answered(
        asterisk_root: Path, tmp_path: Path) -> None:
    env = instance_env(tmp_path, **FAST, HOTLINE_CALLFLOW_MENU="false",
                       HOTLINE_WEB_PORT=str(free_port((socket.SOCK_STREAM,))))
    settings = settings_for(env)
    # The seat on duty now by the roster (`hotline up` reads the real clock).
    on_duty = load_roster(settings.paths.roster).shifts_at(datetime.now(settings.zone))[0].seats[0]
    critical: list[asyncio.Task[None]] = []
    instance = pbx.Instance.of(settings)
    async with running_hotline(settings, watch=critical.append) as controller:
        first = instance.running_pid()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        killed, killed_at = time.monotonic(), time.time()
        deadline = killed + 60
        while (instance.running_pid() in (None, first) or not await app_connected(controller)) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        second = instance.running_pid()
        assert second not in (None, first)
        back_after = time.monotonic() - killed
        with SeatPhone(settings, on_duty, tmp_path, answer_after_ms=300):
            while not controller.seats[on_duty].registered and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            result, _ = await asyncio.to_thread(call_hotline, settings, tmp_path, "13900000003", 12000, digit=None)
            assert result.returncode == 0, result.output
        assert not [task for task in critical if task.done()]
    async with Store(settings.paths.database) as store:
        rows = await CallRepository(store).recent(limit=10)
        events = await CallRepository(store).events(str(rows[0]["call_id"]))
    assert len(rows) == 1 and rows[0]["outcome"] == "answered" and rows[0]["seat"] == on_duty
    at = {e["kind"]: float(str(e["at_epoch"])) for e in events}
    assert at["GREETING"] - at["ANSWERED"] > 3.0  # the prompts are mounted in the new Asterisk
    answered_after = datetime.fromisoformat(str(rows[0]["seat_answered"])).timestamp() - killed_at
    print(f"Asterisk SIGKILLed: started again and connected after {back_after:.1f} s; "
          f"the next call (placed then) answered by a seat {answered_after:.1f} s after the kill")


async def app_connected(controller: Controller) -> bool:
    """Whether the new Asterisk knows the Stasis app: only once the controller's event
    stream has connected to it again (until then calls to 12345 would find no app)."""
    try:
        await controller.ari.request("GET", f"/applications/{controller.settings.asterisk.app}")
    except AriError:
        return False
    return True
