"""Never deaf in silence: a failure while handling an ARI event or while adopting calls
is logged with its traceback and reading goes on; a reader that cannot go on ends the
process with a one-line reason."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from callcenter import app
from callcenter.ari import AriError
from callcenter.calls.runner import Controller
from callcenter.errors import PbxError
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import SeatPhone, call_hotline


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
