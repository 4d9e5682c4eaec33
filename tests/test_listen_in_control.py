"""Live supervision without Asterisk: the runner (`callcenter.listen_in.runner`) against a
scripted ARI that records every request, and the console's routes over HTTP with it.
What each snoop does to the audio is proven against the real Asterisk in
tests/test_listen_in_audio.py; here: which requests, in which order, which log lines,
who may, and the refusals."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from callcenter.ari import AriClient, AriConfig, AriNotFound
from callcenter.listen_in.repository import ListenInRepository
from callcenter.listen_in.runner import ListenIn, ListenInRefused, TalkingLeg
from callcenter.listen_in.vocabulary import Mode, Refusal
from callcenter.nodes import Nodes
from callcenter.services import Services
from callcenter.settings import ListenInSection, Settings
from callcenter.store import Row, Store
from tests.test_threeway_api import _client
from tests.web_helpers import FakeFloor, RunningConsole, console_running, console_settings, http_session

SEAT_CHANNEL = "call-1-seat1-0000"

Request = tuple[str, str, dict[str, str]]


class ScriptedAri(AriClient):
    """An ARI that answers every request at once, records it, says whether the
    supervisor's phone is registered, and refuses the paths it is told to (404). As
    Asterisk does, a new snoop enters Stasis just after its request was answered (its
    StasisStart goes to `on_event`, unless `snoops_enter` is off)."""

    def __init__(self) -> None:
        super().__init__(AriConfig("http://ari.invalid/ari", "hotline", "unused", "hotline"), None)  # type: ignore[arg-type]
        self.requests: list[Request] = []
        self.phone_state = "online"
        self.missing: set[str] = set()
        self.channels: list[dict[str, Any]] = []  # what GET /channels and /bridges answer
        self.bridges: list[dict[str, Any]] = []
        self.on_event: Callable[[Mapping[str, Any]], None] | None = None
        self.snoops_enter = True

    async def request(self, method: str, path: str, params: Mapping[str, str | int | float | bool] | None = None,
                      body: Mapping[str, Any] | None = None) -> Any:
        self.requests.append((method, path, {k: str(v) for k, v in (params or {}).items()}))
        if path in self.missing:
            raise AriNotFound(f"ARI {method} {path}: not found", 404)
        if method == "GET" and path in ("/channels", "/bridges", "/endpoints/PJSIP"):
            return {"/channels": self.channels, "/bridges": self.bridges}.get(path, [])
        if path.startswith("/endpoints/"):
            return {"resource": path.rsplit("/", 1)[1], "state": self.phone_state}
        if method == "POST" and "/snoop/" in path and self.snoops_enter and self.on_event is not None:
            asyncio.get_running_loop().call_soon(self.on_event, _event("StasisStart", path.rsplit("/", 1)[1]))
        return {}

    def changes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.requests if method != "GET"]


def _event(kind: str, channel_id: str) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": channel_id}, "args": ["listen_in"]}


async def _until(what: str, check: Callable[[], bool]) -> None:
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never: {what}")


async def _log(store: Store) -> list[Row]:
    return await store.reading(lambda db: list(db.query(
        "SELECT period_id, supervisor, call_id, seat, mode, started, ended, end_reason FROM listen_in_log"
        " ORDER BY period_id")))


class Supervising:
    """A ListenIn over the scripted ARI, with seat1 talking in call-1."""

    def __init__(self, settings: Settings, store: Store, ringing_grace: float = 5.0,
                 snoop_entry_seconds: float = 5.0) -> None:
        self.ari = ScriptedAri()
        self.talking: dict[str, TalkingLeg] = {"seat1": TalkingLeg("call-1", SEAT_CHANNEL)}
        self.listen_in = ListenIn(settings, Nodes({"hotline": self.ari}), ListenInRepository(store), self.talking.get,
                                  lambda: None,
                                  ringing_grace, snoop_entry_seconds)
        self.ari.on_event = self.listen_in.on_event


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "hotline.db") as opened:
        yield opened


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return console_settings(tmp_path)


async def test_given_a_talking_seat_when_the_supervisor_listens_then_whispers_then_the_call_ends_then_all_is_torn_down(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    ari, listen_in = running.ari, running.listen_in
    session = await listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    phone, bridge = session.phone_channel, session.bridge_id
    await _until("the phone rung", lambda: ("POST", f"/channels/{phone}") in ari.changes())
    originate = next(p for m, path, p in ari.requests if path == f"/channels/{phone}")
    assert originate["endpoint"] == "PJSIP/supervisor" and originate["appArgs"] == f"listen_in,{session.session_id}"
    assert originate["timeout"] == "20"  # listen_in.answer_seconds
    listen_in.on_event(_event("StasisStart", phone))
    first = f"{bridge}-snoop-1"
    await _until("the snoop bridged", lambda: ("POST", f"/bridges/{bridge}/addChannel") in ari.changes())
    snoop = next(p for m, path, p in ari.requests if path == f"/channels/{SEAT_CHANNEL}/snoop/{first}")
    assert (snoop["spy"], snoop["whisper"], snoop["app"]) == ("both", "none", "hotline")
    assert listen_in.owns(phone) and listen_in.owns(first)
    await store.flush()  # each step of a log line committed on its own (upserts of part of a row)

    await listen_in.choose("supervisor", "seat1", Mode.WHISPER)  # the same seat: switched, not rung again
    second = f"{bridge}-snoop-2"
    await _until("the second snoop", lambda: ("POST", f"/channels/{SEAT_CHANNEL}/snoop/{second}") in ari.changes())
    changes = ari.changes()
    assert changes.index(("DELETE", f"/channels/{first}")) < changes.index(
        ("POST", f"/channels/{SEAT_CHANNEL}/snoop/{second}")), changes  # never two modes at once
    whisper = next(p for m, path, p in ari.requests if path.endswith(f"/snoop/{second}"))
    assert (whisper["spy"], whisper["whisper"]) == ("both", "out")
    assert [path for m, path in changes if m == "POST" and path.startswith("/channels/listen-")] == [
        f"/channels/{phone}"]  # the phone was called once
    listen_in.on_event(_event("ChannelDestroyed", first))  # the replaced snoop goes: nothing ends

    listen_in.seat_gone(SEAT_CHANNEL)
    await _until("the supervision ended", lambda: not listen_in.running)
    assert {("DELETE", f"/channels/{phone}"), ("DELETE", f"/channels/{second}"),
            ("DELETE", f"/bridges/{bridge}")} <= set(ari.changes())
    assert not listen_in.owns(phone) and not listen_in.owns(second)
    await store.flush()
    rows = await _log(store)
    assert [(r["mode"], r["end_reason"], r["supervisor"], r["call_id"], r["seat"]) for r in rows] == [
        ("listen", "switched", "supervisor", "call-1", "seat1"), ("whisper", "call_ended", "supervisor", "call-1",
                                                                  "seat1")]
    assert all(r["started"] and r["ended"] for r in rows), rows


async def test_a_phone_that_never_answers_ends_the_supervision_without_touching_the_seat(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    session = await running.listen_in.choose("supervisor", "seat1", Mode.BARGE)
    await _until("the phone rung", lambda: len(running.ari.changes()) == 1)
    running.listen_in.on_event(_event("ChannelDestroyed", session.phone_channel))  # Asterisk gave up ringing
    await _until("ended", lambda: not running.listen_in.running)
    assert not any("snoop" in path or SEAT_CHANNEL in path for _, path in running.ari.changes())
    await store.flush()
    [row] = await _log(store)
    assert (row["mode"], row["started"], row["end_reason"]) == ("barge", None, "no_answer")


async def test_a_phone_whose_end_is_never_heard_is_given_up_after_the_answer_time(
        settings: Settings, store: Store) -> None:
    quick = dataclasses.replace(settings, listen_in=ListenInSection("supervisor", 0.2))
    running = Supervising(quick, store, ringing_grace=0.1)
    session = await running.listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    await _until("given up", lambda: not running.listen_in.running)
    assert ("DELETE", f"/channels/{session.phone_channel}") in running.ari.changes()  # its ringing stopped
    await store.flush()
    assert [r["end_reason"] for r in await _log(store)] == ["no_answer"]


async def test_a_seat_whose_channel_is_already_gone_ends_the_supervision_as_the_call_ended(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    session = await running.listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    running.ari.missing.add(f"/channels/{SEAT_CHANNEL}/snoop/{session.bridge_id}-snoop-1")
    running.listen_in.on_event(_event("StasisStart", session.phone_channel))
    await _until("ended", lambda: not running.listen_in.running)
    assert ("DELETE", f"/channels/{session.phone_channel}") in running.ari.changes()  # the supervisor is hung up
    await store.flush()
    assert [r["end_reason"] for r in await _log(store)] == ["call_ended"]


async def test_a_snoop_is_bridged_only_once_it_entered_stasis_and_one_that_never_does_ends_the_supervision(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store, snoop_entry_seconds=0.2)
    running.ari.snoops_enter = False  # Asterisk answered the snoop request; its StasisStart never comes
    session = await running.listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    running.listen_in.on_event(_event("StasisStart", session.phone_channel))
    snoop = f"/channels/{SEAT_CHANNEL}/snoop/{session.bridge_id}-snoop-1"
    await _until("snooped", lambda: ("POST", snoop) in running.ari.changes())
    await asyncio.sleep(0.05)
    assert ("POST", f"/bridges/{session.bridge_id}/addChannel") not in running.ari.changes()  # not before
    await _until("ended", lambda: not running.listen_in.running)
    assert ("POST", f"/bridges/{session.bridge_id}/addChannel") not in running.ari.changes()
    assert ("DELETE", f"/channels/{session.phone_channel}") in running.ari.changes()
    assert not any(path.startswith(f"/channels/{SEAT_CHANNEL}") and method == "DELETE"
                   for method, path in running.ari.changes())  # the seat's call untouched
    await store.flush()
    assert [r["end_reason"] for r in await _log(store)] == ["failed"]


async def test_refusals_a_seat_not_talking_an_account_without_phone_and_a_phone_not_registered(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    listen_in = running.listen_in
    for supervisor, seat, reason in (("supervisor", "seat2", Refusal.NOT_TALKING),
                                     ("boss", "seat1", Refusal.NO_PHONE)):
        with pytest.raises(ListenInRefused) as refused:
            await listen_in.choose(supervisor, seat, Mode.LISTEN)
        assert refused.value.reason is reason
    running.ari.phone_state = "offline"
    with pytest.raises(ListenInRefused) as offline:
        await listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    assert offline.value.reason is Refusal.PHONE_OFFLINE
    with pytest.raises(ListenInRefused) as nothing:
        await listen_in.stop("supervisor", "seat1")
    assert nothing.value.reason is Refusal.NOT_SUPERVISING
    assert running.ari.changes() == [] and not listen_in.running


async def test_closing_hangs_up_every_supervision(settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    session = await running.listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    running.listen_in.on_event(_event("StasisStart", session.phone_channel))
    await _until("connected", lambda: ("POST", f"/bridges/{session.bridge_id}/addChannel") in running.ari.changes())
    await running.listen_in.close()
    assert not running.listen_in.running
    assert ("DELETE", f"/bridges/{session.bridge_id}") in running.ari.changes()
    assert [r["end_reason"] for r in await _log(store)] == ["stopped"]


async def test_after_a_reconnect_a_supervision_whose_phone_went_meanwhile_is_ended_and_a_live_one_kept(
        settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    session = await running.listen_in.choose("supervisor", "seat1", Mode.LISTEN)
    running.listen_in.on_event(_event("StasisStart", session.phone_channel))
    snoop = f"{session.bridge_id}-snoop-1"
    await _until("connected", lambda: ("POST", f"/bridges/{session.bridge_id}/addChannel") in running.ari.changes())
    assert running.listen_in.owns(session.bridge_id)  # the controller's adoption leaves its bridge alone
    running.listen_in.reconcile({SEAT_CHANNEL, session.phone_channel, snoop})
    await asyncio.sleep(0.05)
    assert running.listen_in.running
    running.listen_in.reconcile({SEAT_CHANNEL, snoop})  # the phone hung up while no events came
    await _until("ended", lambda: not running.listen_in.running)
    await store.flush()
    assert [r["end_reason"] for r in await _log(store)] == ["supervisor_hung_up"]


async def test_two_quick_requests_ring_the_supervisors_phone_once(settings: Settings, store: Store) -> None:
    running = Supervising(settings, store)
    await asyncio.gather(running.listen_in.choose("supervisor", "seat1", Mode.LISTEN),
                         running.listen_in.choose("supervisor", "seat1", Mode.BARGE))
    await _until("rung", lambda: len(running.ari.changes()) >= 1)
    await asyncio.sleep(0.05)
    assert len(running.listen_in.running) == 1
    [going_on] = running.listen_in.running.values()
    assert [path for _, path in running.ari.changes()] == [f"/channels/{going_on.session.phone_channel}"]
    assert going_on.session.mode is Mode.BARGE  # the second click chose the mode, while it rang
    await running.listen_in.close()


async def test_a_restarted_controller_hangs_up_a_supervision_it_finds_and_removes_its_bridge(
        settings: Settings, store: Store) -> None:
    from callcenter.calls.runner import Controller

    services = Services.on(settings, store)
    ari = ScriptedAri()
    stasis = {"app_name": "Stasis", "app_data": "hotline,listen_in,old"}
    ari.channels = [{"id": "listen-old-phone", "name": "PJSIP/supervisor-00000001", "dialplan": stasis},
                    {"id": "listen-old-snoop-1", "name": "Snoop/x-00000002", "dialplan": {}}]
    ari.bridges = [{"id": "listen-old", "channels": ["listen-old-phone", "listen-old-snoop-1"]}]
    controller = Controller(settings, ari, services.calls, services.seats, services.nuisance,
                            listen_in_log=services.listen_in)
    await controller.adopt()
    controller.on_event({"type": "StasisStart", "channel": {"id": "listen-late-phone"}, "args": ["listen_in", "late"]})
    await controller.after_work_done()
    assert {("DELETE", "/bridges/listen-old"), ("DELETE", "/channels/listen-old-phone"),
            ("DELETE", "/channels/listen-old-snoop-1"), ("DELETE", "/channels/listen-late-phone")} <= set(ari.changes())
    assert not controller.calls  # none of them was taken for a citizen's call
    await controller.stop()


# ----------------------------------------------------------------------------- the console


class ListenFloor(FakeFloor):
    """A fake floor with the real listen-in runner over the scripted ARI; a seat talks
    when the test puts a call on it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        super().__init__(settings, store)
        self.ari = ScriptedAri()
        self.listen_in = ListenIn(settings, Nodes({"hotline": self.ari}), self.services.listen_in, self._talking_leg,
                                  self.changed)
        self.ari.on_event = self.listen_in.on_event

    def _talking_leg(self, seat: str) -> TalkingLeg | None:
        call = self.seat_calls.get(seat)
        return TalkingLeg(call["call_id"], f"{call['call_id']}-{seat}-0000") if call else None


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[RunningConsole]:
    async with Store(settings.paths.database) as store:
        floor = ListenFloor(settings, store)
        floor.seat_calls["seat1"] = {"call_id": "live1", "number": "13911112222", "name": "", "category": "",
                                     "phase": "talking", "three_way": None}
        async with console_running(settings, floor) as running:
            yield running
        await floor.listen_in.close()


def _floor(console: RunningConsole) -> ListenFloor:
    assert isinstance(console.floor, ListenFloor)
    return console.floor


async def test_the_supervisor_listens_switches_and_ends_from_the_console_and_reads_the_log(
        console: RunningConsole) -> None:
    floor = _floor(console)
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        state = await supervisor.get("/api/listen-in")
        assert state["phone"] == "supervisor" and state["sessions"] == []
        assert state["labels"]["modes"] == {"listen": "监听", "whisper": "密语", "barge": "强插"}
        asked = await supervisor.post("/api/seats/seat1/listen-in", {"mode": "listen"})
        assert asked == {"seat": "seat1", "call_id": "live1", "mode": "listen", "phase": "ringing"}
        [going_on] = (await supervisor.get("/api/listen-in"))["sessions"]
        assert (going_on["supervisor"], going_on["seat"], going_on["mode"]) == ("supervisor", "seat1", "listen")
        [running] = floor.listen_in.running.values()
        floor.listen_in.on_event(_event("StasisStart", running.session.phone_channel))
        await _until("connected", lambda: running.session.snoops == 1)
        await supervisor.post("/api/seats/seat1/listen-in", {"mode": "barge"})
        await _until("switched", lambda: running.session.snoops == 2)
        assert await supervisor.send("DELETE", "/api/seats/seat1/listen-in") == {"seat": "seat1", "state": "ended"}
        assert (await supervisor.get("/api/listen-in"))["sessions"] == []
        again = await supervisor.send("DELETE", "/api/seats/seat1/listen-in", status=409)
        assert "没有在监听" in again["error"]
        log = await supervisor.get("/api/listen-in/log")
        assert log["total"] == 2
        assert [(e["mode"], e["end_reason"], e["call_id"], e["seat"]) for e in log["entries"]] == [
            ("barge", "stopped", "live1", "seat1"), ("listen", "switched", "live1", "seat1")]
        assert all(e["started"] and e["ended"] for e in log["entries"])
        assert (await supervisor.get("/api/listen-in/log?supervisor=nobody"))["total"] == 0
        assert (await supervisor.get("/api/listen-in/log?call_id=live1"))["total"] == 2
        async with http.get(f"{console.url}/listen-in") as page:
            assert page.status == 200 and "监听记录" in await page.text()
        async with http.get(f"{console.url}/wallboard") as page:
            assert "/static/listen_in.js" in await page.text()


async def test_bad_input_gets_clear_errors_and_a_seat_not_talking_a_409_in_chinese(console: RunningConsole) -> None:
    async with http_session() as http:
        supervisor = await _client(http, console, "supervisor")
        not_talking = await supervisor.post("/api/seats/seat2/listen-in", {"mode": "listen"}, status=409)
        assert not_talking["error"] == "该坐席当前不在通话中，不能监听、密语或强插"
        for body in ({"mode": "spy"}, {"mode": None}, {}, {"mode": ["listen"]}):
            bad = await supervisor.post("/api/seats/seat1/listen-in", body, status=400)
            assert "mode 须为" in bad["error"]
        await supervisor.post("/api/seats/seat99/listen-in", {"mode": "listen"}, status=404)
        await supervisor.post("/api/seats/..%2Fx/listen-in", {"mode": "listen"}, status=404)
        async with http.post(f"{console.url}/api/seats/seat1/listen-in", data="mode=listen",
                             headers={"X-CSRF-Token": supervisor.csrf}) as response:
            assert response.status == 415
        await supervisor.get("/api/listen-in/log?from=yesterday", status=400)
        await supervisor.get("/api/listen-in/log?supervisor=" + "x" * 65, status=400)
        _floor(console).ari.phone_state = "offline"
        offline = await supervisor.post("/api/seats/seat1/listen-in", {"mode": "listen"}, status=409)
        assert "未注册" in offline["error"]
    assert _floor(console).ari.changes() == []  # nothing was rung


async def test_operators_are_refused_with_403_and_without_a_csrf_token_nothing_happens(
        console: RunningConsole) -> None:
    async with http_session() as http:
        operator = await _client(http, console, "seat1")
        await operator.post("/api/seats/seat1/listen-in", {"mode": "listen"}, status=403)
        await operator.send("DELETE", "/api/seats/seat1/listen-in", status=403)
        await operator.get("/api/listen-in", status=403)
        await operator.get("/api/listen-in/log", status=403)
        async with http.get(f"{console.url}/listen-in", allow_redirects=False) as page:
            assert page.status == 403
    async with http_session() as http:
        await _client(http, console, "supervisor")
        async with http.post(f"{console.url}/api/seats/seat1/listen-in", json={"mode": "listen"}) as response:
            assert response.status == 403
    assert _floor(console).ari.changes() == [] and not _floor(console).listen_in.running


async def test_without_the_controller_the_console_says_listening_is_unavailable(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store:
        floor = FakeFloor(settings, store)
        async with console_running(settings, floor) as running, http_session() as http:
            supervisor = await _client(http, running, "supervisor")
            refused = await supervisor.post("/api/seats/seat1/listen-in", {"mode": "listen"}, status=503)
            assert "控制器" in refused["error"]
            assert (await supervisor.get("/api/listen-in"))["sessions"] == []
