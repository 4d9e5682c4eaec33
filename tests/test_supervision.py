"""Never deaf in silence: a failure while handling an ARI event or while adopting calls
is logged with its traceback and reading goes on; a reader that cannot go on ends the
process with a one-line reason."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter import app, pbx
from callcenter.app import running_hotline
from callcenter.ari import AriClient, AriError
from callcenter.calls import machine as c
from callcenter.calls.repository import CallRepository
from callcenter.calls.runner import SEAT_POLL_SECONDS, Controller
from callcenter.errors import PbxError
from callcenter.seats.repository import SeatRepository
from callcenter.seats.roster import load_roster
from callcenter.store import Store, StoreError
from tests.conftest import RunningAsterisk
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import (
    SeatPhone,
    call_hotline,
    caller_argv,
    first,
    free_port,
    instance_env,
    parse_message_log,
    run_hotline,
    settings_for,
    sipp,
)
from tests.tcp_proxy import CuttableProxy


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

    def failing_on_event(self: Controller, event: dict[str, Any], node: str = "") -> None:
        if event.get("type") == "PlaybackStarted" and failures["event"]:
            failures["event"] -= 1
            raise RuntimeError("injected: handling PlaybackStarted")
        on_event(self, event, node)

    async def failing_adopt(self: Controller, node: str = "") -> None:
        if failures["adopt"]:
            failures["adopt"] -= 1
            raise AriError("injected: adoption failed", 500)
        await adopt(self, node)

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
@pytest.mark.parametrize("how", ["pbx stop/start", "SIGKILL"])
async def test_asterisk_stopped_or_killed_under_hotline_up_leaves_complete_rows_no_phantom_and_the_next_call_answered(
        asterisk_root: Path, tmp_path: Path, how: str) -> None:
    # Compression off: the test reads the talking call's WAV header (repaired after a kill),
    # and the 30 s compression pass of `hotline up` could turn it into an MP3 first.
    env = instance_env(tmp_path, **FAST, HOTLINE_CALLFLOW_MENU="false", HOTLINE_RECORDINGS_COMPRESS="off",
                       HOTLINE_WEB_PORT=str(free_port((socket.SOCK_STREAM,))))
    settings = settings_for(env)
    assert settings.recordings.compress == "off"
    # The seat on duty now by the roster (`hotline up` reads the real clock).
    on_duty = load_roster(settings.paths.roster).shifts_at(datetime.now(settings.zone))[0].seats[0]
    critical: list[asyncio.Task[None]] = []
    instance = pbx.Instance.of(settings)
    callers: list[subprocess.Popen[bytes]] = []
    async with running_hotline(settings, watch=critical.append) as controller:
        deadline = time.monotonic() + 90

        async def until(what: str, done: Any) -> None:
            while not done():
                assert time.monotonic() < deadline, f"waited too long for {what}"
                await asyncio.sleep(0.1)

        try:
            # In flight when Asterisk goes: one citizen talking with the seat, one in line.
            with SeatPhone(settings, on_duty, tmp_path, answer_after_ms=300):
                await until("the seat to register", lambda: controller.seats[on_duty].registered)
                for number in ("13900000011", "13900000012"):
                    argv, _ = caller_argv(settings, tmp_path, number, 0, "citizen_caller_waits.xml")
                    callers.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                    await until(f"{number} in the hotline", lambda n=number: any(
                        r.call.number == n and r.call.phase in (c.Phase.TALKING, c.Phase.QUEUED)
                        for r in controller.calls.values()))
                first_pid = instance.running_pid()
                assert first_pid is not None
                died_at, died = time.time(), time.monotonic()
                if how == "SIGKILL":
                    os.kill(first_pid, signal.SIGKILL)
                else:
                    stopped = await asyncio.to_thread(run_hotline, env, "pbx", "stop")
                    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
                    started = await asyncio.to_thread(run_hotline, env, "pbx", "start")
                    assert started.returncode == 0, started.stdout + started.stderr
                await until("Asterisk to be running again",
                            lambda: instance.running_pid() not in (None, first_pid))
                while not await app_connected(controller):
                    assert time.monotonic() < deadline, "the controller did not reconnect"
                    await asyncio.sleep(0.2)
                back_after = time.monotonic() - died
                # Reconciled: the controller's calls equal Asterisk's channels (none), and the
                # wallboard's floor has no phantom caller and no seat in a call.
                await until("the lost calls to be completed", lambda: not controller.calls)
            floor = controller.snapshot()
            assert floor["waiting"] == [] and floor["in_ivr"] == 0, floor
            assert all(seat["call"] is None for seat in floor["seats"]), floor["seats"]
            with SeatPhone(settings, on_duty, tmp_path, answer_after_ms=300):
                await until("the seat to register again", lambda: controller.seats[on_duty].registered)
                result, _ = await asyncio.to_thread(call_hotline, settings, tmp_path, "13900000013", 12000)
                assert result.returncode == 0, result.output
            # SIPp is done once its BYE is answered, a moment before Asterisk's hang-up reaches
            # the controller: the row is complete only after that.
            await until("the next call to end", lambda: not controller.calls)
            assert not [task for task in critical if task.done()]
        finally:
            for caller in callers:
                caller.kill()
                caller.wait()
    async with Store(settings.paths.database) as store:
        repository = CallRepository(store)
        rows = {str(r["caller_number"]): r for r in await repository.recent(limit=10)}
        events = await repository.events(str(rows["13900000013"]["call_id"]))
    assert set(rows) == {"13900000011", "13900000012", "13900000013"}
    assert all(r["state"] == "done" for r in rows.values()), rows
    assert rows["13900000011"]["outcome"] == "answered" and rows["13900000011"]["seat"] == on_duty
    assert rows["13900000011"]["ended"] and rows["13900000012"]["ended"]
    assert rows["13900000012"]["outcome"] == "abandoned_queue"
    assert rows["13900000013"]["outcome"] == "answered" and rows["13900000013"]["seat"] == on_duty
    at = {e["kind"]: float(str(e["at_epoch"])) for e in events}
    assert at["GREETING"] - at["ANSWERED"] > 3.0  # the prompts are mounted in the new Asterisk
    # The talking call's recording: its header tells its real length (repaired after a kill).
    with wave.open(str(rows["13900000011"]["recording_path"])) as recording:
        assert recording.getnframes() / recording.getframerate() > 1.0
    answered_after = datetime.fromisoformat(str(rows["13900000013"]["seat_answered"])).timestamp() - died_at
    print(f"Asterisk {how}: running and connected again after {back_after:.1f} s; the next call (placed "
          f"then, the seat's phone registering again first) answered by a seat {answered_after:.1f} s after")


async def app_connected(controller: Controller) -> bool:
    """Whether the new Asterisk knows the Stasis app: only once the controller's event
    stream has connected to it again (until then calls to 12345 would find no app)."""
    try:
        await controller.ari.request("GET", f"/applications/{controller.settings.asterisk.app}")
    except AriError:
        return False
    return True


# ----------------------------------------------------------------------------- failures inside one call

NO_MENU = {"HOTLINE_CALLFLOW_MENU": "false"}


async def _one_failing_call(hotline: Any, number: str) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """A citizen whom the hotline itself hangs up on; returns the row, its events and how
    long after the FAILED step the caller got the hotline's BYE (the apology plays first)."""
    log = hotline.workdir / f"caller-{number}.log"
    with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=300):
        await hotline.seat_registered("seat1")
        # A citizen who waits for the hotline to hang up (no menu: greeting, line, seat).
        result = await asyncio.to_thread(sipp, hotline.settings, "citizen_call_server_hangs_up.xml",
                                         "-s", hotline.settings.hotline.number, "-set", "caller", number,
                                         "-set", "caller_name", "Citizen", "-trace_msg", "-message_file", str(log),
                                         timeout=60)
        assert result.returncode == 0, result.output
        rows = await hotline.settled()
        await hotline.seats_free()
    row = next(r for r in rows if r["caller_number"] == number)
    events = await hotline.events(str(row["call_id"]))
    failed_at = next(float(e["at_epoch"]) for e in events if e["kind"] == "FAILED")
    bye = first(parse_message_log(log), "received", "BYE")
    return row, events, bye - failed_at


@pytest.mark.asterisk
async def test_an_ari_failure_while_bridging_ends_the_call_failed_with_an_apology_and_frees_the_seat(
        asterisk: RunningAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_to_bridge = AriClient.add_to_bridge
    failures = [1]

    async def failing_add_to_bridge(self: AriClient, bridge_id: str, channel_ids: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise AriError("ARI POST /bridges/x/addChannel: 500 injected", 500)
        await add_to_bridge(self, bridge_id, channel_ids)

    monkeypatch.setattr(AriClient, "add_to_bridge", failing_add_to_bridge)
    async with hotline_for(asterisk.env | FAST | NO_MENU, tmp_path) as hotline:
        row, _, bye_after = await _one_failing_call(hotline, "13900000011")
        seat = hotline.controller.seats["seat1"]
    assert row["outcome"] == "failed" and "bridge: ARI POST /bridges/x/addChannel: 500 injected" in row["hangup_cause"]
    assert row["seat"] == "seat1" and row["state"] == "done"
    assert seat.state.value == "idle"  # after its wrap-up
    assert bye_after > 2.0, bye_after  # the apology (about 4 s) played before the line was cleared


@pytest.mark.asterisk
async def test_a_store_failure_inside_a_call_ends_it_failed_with_the_cause(
        asterisk: RunningAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save = CallRepository.save
    failures = [1]

    def failing_save(self: CallRepository, call_id: str, **fields: object) -> None:
        if "queued" in fields and failures[0]:
            failures[0] -= 1
            raise ValueError("injected: the store refused the row")
        save(self, call_id, **fields)

    monkeypatch.setattr(CallRepository, "save", failing_save)
    async with hotline_for(asterisk.env | FAST | NO_MENU, tmp_path) as hotline:
        row, events, bye_after = await _one_failing_call(hotline, "13900000012")
        assert not hotline.controller.calls and len(hotline.controller.queue) == 0
    assert row["outcome"] == "failed"
    assert row["hangup_cause"] == "0 failed: controller error: ValueError: injected: the store refused the row"
    assert "FAILED" in [e["kind"] for e in events] and bye_after > 2.0


def _started(argv: list[str]) -> subprocess.Popen[bytes]:
    """A SIPp citizen started in the background, its output discarded."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.asterisk
async def test_a_no_answer_pause_the_store_refuses_holds_until_it_is_stored_and_is_not_undone_by_the_seat_poll(
        asterisk: RunningAsterisk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    update = SeatRepository.update
    disk_full = [True]

    async def refusing_update(self: SeatRepository, seat: str, **fields: object) -> None:
        if disk_full[0]:
            raise StoreError("injected: database or disk is full")
        await update(self, seat, **fields)

    monkeypatch.setattr(SeatRepository, "update", refusing_update)
    async with hotline_for(asterisk.env | FAST | NO_MENU, tmp_path) as hotline:
        controller = hotline.controller
        argv, _ = caller_argv(hotline.settings, hotline.workdir, "13900000024", 0, "citizen_caller_waits.xml")
        caller = _started(argv)
        try:
            with SeatPhone(hotline.settings, "seat1", hotline.workdir, answers=False):
                await hotline.seat_registered("seat1")

                async def paused() -> bool:
                    return controller.seats["seat1"].paused

                await hotline.wait_until(paused, 20, "seat1 paused after the ring time (4 s)")
            # Several seat polls read the table's "not paused" meanwhile.
            await asyncio.sleep(3 * SEAT_POLL_SECONDS + 2.5)
            assert controller.seats["seat1"].paused and controller.seats["seat1"].pause_reason == "no-answer"
            disk_full[0] = False

            async def stored() -> bool:
                row = (await controller.seat_service.rows()).get("seat1") or {}
                return bool(row.get("paused")) and row.get("pause_reason") == "no-answer"

            await hotline.wait_until(stored, 10, "the pause to be stored once the store takes writes")
            assert controller.seats["seat1"].paused
            call_id = next(iter(controller.calls))
            await controller.ari.hangup(call_id)
        finally:
            disk_full[0] = False
            if caller.poll() is None:
                caller.kill()
            caller.wait()


# ----------------------------------------------------------------------------- ARI cut


@asynccontextmanager
async def _behind_a_cuttable_proxy(asterisk: RunningAsterisk, tmp_path: Path) -> AsyncIterator[
        tuple[Hotline, CuttableProxy]]:
    """The hotline reaching ARI through a proxy the test can cut (the network dropping)."""
    proxy = CuttableProxy(asterisk.settings.asterisk.http_port)
    await proxy.start()
    env = asterisk.env | FAST | {"HOTLINE_ASTERISK_ARI_URL": f"http://127.0.0.1:{proxy.port}/ari"}
    try:
        async with hotline_for(env, tmp_path) as hotline:
            yield hotline, proxy
    finally:
        await proxy.stop()


@pytest.mark.asterisk
async def test_an_ari_cut_of_5_s_loses_no_caller_and_completes_the_one_who_hung_up_meanwhile(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with _behind_a_cuttable_proxy(asterisk, tmp_path) as (hotline, proxy):
        settings, controller = hotline.settings, hotline.controller
        stays, _ = caller_argv(settings, hotline.workdir, "13900000021", 0, "citizen_caller_waits.xml",
                               digit="0", digit_after_ms=600)
        leaves, _ = caller_argv(settings, hotline.workdir, "13900000022", 4500, "citizen_caller_dtmf.xml",
                                digit="0", digit_after_ms=600)
        waiting = [_started(argv) for argv in (stays, leaves)]
        try:
            async def both_in_line() -> bool:
                return len(controller.queue) == 2

            await hotline.wait_until(both_in_line, 20, "both callers in line (no seat yet)")
            # No events for 5 s; the second caller hangs up meanwhile.
            await proxy.cut(5.0)
            assert await asyncio.to_thread(waiting[1].wait, 30) == 0

            async def reconciled() -> bool:
                return await app_connected(controller) and len(controller.queue) == 1

            await hotline.wait_until(reconciled, 20, "the controller to reconnect and see the line as it is")
            channels = [ch for ch in await controller.ari.list_channels()
                        if (ch.get("dialplan") or {}).get("app_name") == "Stasis"]
            assert set(controller.calls) == {str(ch["id"]) for ch in channels}
            assert [w.call_id for w in controller.queue.ordered()] == list(controller.calls)
            with SeatPhone(settings, "seat1", hotline.workdir, answer_after_ms=300, hangs_up_after_ms=1500):
                await hotline.seat_registered("seat1")
                assert await asyncio.to_thread(waiting[0].wait, 30) == 0
            rows = {str(r["caller_number"]): r for r in await hotline.settled()}
        finally:
            for process in waiting:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    assert rows["13900000021"]["outcome"] == "answered" and rows["13900000021"]["seat"] == "seat1"
    assert rows["13900000022"]["outcome"] == "abandoned_queue"
    assert str(rows["13900000022"]["hangup_cause"]).endswith("lost while disconnected")


@pytest.mark.asterisk
async def test_a_ring_that_ends_during_an_ari_cut_frees_the_seat_unpaused_and_the_caller_keeps_its_place(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with _behind_a_cuttable_proxy(asterisk, tmp_path) as (hotline, proxy):
        settings, controller = hotline.settings, hotline.controller
        argv, _ = caller_argv(settings, hotline.workdir, "13900000023", 0, "citizen_caller_waits.xml",
                              digit="0", digit_after_ms=600)
        caller = _started(argv)
        try:
            with SeatPhone(settings, "seat1", hotline.workdir, answers=False):
                await hotline.seat_registered("seat1")

                async def ringing() -> bool:
                    return any(leg.seat == "seat1" for leg in controller.legs.values())

                await hotline.wait_until(ringing, 20, "seat1 to ring")
                call_id = next(iter(controller.calls))
                # The ring time (4 s) runs out while the controller hears nothing.
                await proxy.cut(7.0)

                async def kinds() -> list[str]:
                    return [str(e["kind"]) for e in await hotline.events(call_id)]

                async def ring_lost() -> bool:
                    return "RINGLOST" in await kinds()

                await hotline.wait_until(ring_lost, 20, "the lost ring to be told at the reconnection")
                seat = controller.seats["seat1"]
                steps = await kinds()
                assert not seat.paused, (seat.pause_reason, steps)  # no operator paused on a guess
                assert "RINGNOANSWER" not in steps and "RINGFAILED" not in steps, steps
                assert call_id in controller.calls and caller.poll() is None  # still on the line
                await controller.ari.hangup(call_id)  # SIPp killed would send no BYE
        finally:
            if caller.poll() is None:
                caller.kill()
            caller.wait()
        rows = await hotline.settled()
    assert len(rows) == 1 and rows[0]["outcome"] in ("abandoned_queue", "abandoned_ringing"), rows
