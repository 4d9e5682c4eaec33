"""The cluster for real: Kamailio 5.6 in front of two Asterisk 22 nodes, the phones'
locations in PostgreSQL 15, one controller driving both nodes, SIPp phones and citizens.

Each piece on its own loopback address: Kamailio 127.0.0.10, node1 127.0.0.11, node2
127.0.0.12 (PostgreSQL and the phones on 127.0.0.1), ports picked free at run time.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.cluster import kamailio
from callcenter.cluster import nodes as cluster_nodes
from callcenter.cluster import repository as kamailio_tables
from callcenter.settings import Settings
from tests.conftest import PostgresServer, _prompts
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, caller_argv, free_port, instance_env, settings_for, sipp
from tests.sip_peer import ask

pytestmark = pytest.mark.asterisk

PROXY_ADDRESS = "127.0.0.10"


@dataclass
class Node:
    name: str
    settings: Settings
    env: dict[str, str]
    pid: int = 0

    def start(self) -> None:
        self.pid = pbx.start(self.settings, prompts_dir=_prompts(self.settings), progress=lambda line: None)

    def stop(self) -> None:
        pbx.stop(self.settings, progress=lambda line: None)


@dataclass
class Cluster:
    proxy: kamailio.Proxy
    proxy_pid: int
    nodes: list[Node]
    db_url: str
    folder: Path

    @property
    def target(self) -> str:
        return f"{self.proxy.address}:{self.proxy.port}"

    def controller_env(self) -> dict[str, str]:
        listed = " ".join(f"{node.name}={node.settings.ari_url}" for node in self.nodes)
        return self.nodes[0].env | FAST | {"HOTLINE_ASTERISK_NODES": listed, "HOTLINE_CALLFLOW_MENU": "false"}

    def phone(self, seat: str, workdir: Path, talk_ms: int) -> SeatPhone:
        return SeatPhone(self.nodes[0].settings, seat, workdir, answer_after_ms=200, hangs_up_after_ms=talk_ms,
                         target=self.target)

    def caller(self, workdir: Path, number: str) -> subprocess.Popen[bytes]:
        argv, _ = caller_argv(self.nodes[0].settings, workdir, number, 0, "citizen_caller_waits.xml",
                              target=self.target)
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def cluster(asterisk_root: Path, postgres: PostgresServer) -> Iterator[Cluster]:
    # Folders Kamailio (its own user) can reach: directly under /tmp, not pytest's 0700 one.
    folder = Path(tempfile.mkdtemp(prefix="hotline-cluster-"))
    os.chmod(folder, 0o755)
    db_url = postgres.fresh_database()
    proxy_port = free_port()
    nodes: list[Node] = []
    proxy_pid = 0
    proxy_target = f"{PROXY_ADDRESS}:{proxy_port}"
    try:
        for index in (1, 2):
            spec = cluster_nodes.Node(f"node{index}", f"127.0.0.1{index}")
            env = instance_env(folder / spec.name, HOTLINE_ASTERISK_QUALIFY_SECONDS="2")
            env |= spec.overrides(proxy_target, folder / spec.name, folder / "recordings")
            nodes.append(Node(spec.name, settings_for(env), env))
        cluster_nodes.share_credentials([n.settings for n in nodes])
        kamailio.prepare_database(db_url, cluster_nodes.phone_accounts(nodes[0].settings))
        proxy = kamailio.Proxy(PROXY_ADDRESS, proxy_port, db_url,
                               cluster_nodes.dispatcher_targets({n.name: n.settings for n in nodes}),
                               folder / "kamailio")
        proxy_pid = kamailio.start(proxy, nodes[0].settings.home)
        for node in nodes:
            node.start()
        yield Cluster(proxy, proxy_pid, nodes, db_url, folder)
    finally:
        for node in nodes:
            node.stop()
        if proxy_pid:
            kamailio.stop(proxy_pid)
        shutil.rmtree(folder, ignore_errors=True)


async def _until(what: str, check: object, timeout: float = 20.0) -> float:
    """Poll `check` (a function, maybe async) until true; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _reap(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def test_phones_register_at_kamailio_into_postgresql_and_a_wrong_password_or_number_is_refused(
        cluster: Cluster, tmp_path: Path) -> None:
    settings = cluster.nodes[0].settings
    with cluster.phone("seat3", tmp_path, 1000):
        await _until("seat3's location in PostgreSQL", lambda: "seat3" in kamailio_tables.registered(cluster.db_url))
        contact = kamailio_tables.registered(cluster.db_url)["seat3"]
        assert contact.startswith("sip:seat3@127.0.0.1:"), contact
    await _until("seat3's location removed", lambda: "seat3" not in kamailio_tables.registered(cluster.db_url))
    # A supervisor's phone too: registered at Kamailio, and both nodes reach it through it
    # (their qualify), so any node can put it on a supervision.
    with cluster.phone("supervisor", tmp_path, 1000):
        await _until("the supervisor's phone online on both nodes",
                     functools.partial(_online_everywhere, cluster, "supervisor"), 15)
        assert "supervisor" in kamailio_tables.registered(cluster.db_url)
    refused = await asyncio.to_thread(sipp, settings, "register_refused.xml", "-set", "user", "seat4", "-au", "seat4",
                                      "-ap", "not-the-password", target=cluster.target)
    assert refused.returncode == 0, refused.output
    assert "seat4" not in kamailio_tables.registered(cluster.db_url)
    elsewhere = await asyncio.to_thread(sipp, settings, "call_refused.xml", "-s", "110", target=cluster.target)
    assert elsewhere.returncode == 0, elsewhere.output  # 404: only the hotline's number is routed
    # The nodes hold no registrations and hear only Kamailio (the endpoints' ACL): a phone
    # registering at a node is refused even with its right password, and a citizen calling
    # a node directly is refused too. Asterisk answers an ACL's refusal with a challenge
    # nobody can meet (its "artificial" endpoint), and logs it as a FailedACL.
    node = cluster.nodes[0].settings
    at_node = (node.asterisk.sip_bind, node.asterisk.sip_port)
    direct = await asyncio.to_thread(sipp, settings, "register_refused.xml", "-set", "user", "seat4", "-au", "seat4",
                                     "-ap", settings.credentials().sip_password("seat4"),
                                     target=f"{at_node[0]}:{at_node[1]}")
    assert direct.returncode == 0, direct.output
    bypass = await asyncio.to_thread(ask, at_node, "INVITE", "12345")
    assert bypass.code == 401, bypass
    log = node.paths.state_dir / "asterisk" / "log" / "messages.log"
    assert 'SecurityEvent="FailedACL"' in log.read_text(), "the refusals are security events"


async def test_citizens_are_spread_over_both_nodes_and_one_seat_answers_both(
        cluster: Cluster, tmp_path: Path) -> None:
    callers: list[subprocess.Popen[bytes]] = []
    # One seat: it must answer the calls of both nodes (which seat a call gets with several
    # is longest-idle's choice, proven across nodes in tests/test_nodes.py).
    async with hotline_for(cluster.controller_env(), tmp_path) as hotline:
        with ExitStack() as stack:
            stack.callback(_reap, callers)
            stack.enter_context(cluster.phone("seat1", tmp_path, 1000))
            await hotline.seat_registered("seat1", 15)
            # No wait for both nodes to see the phone: the controller counts a seat
            # registered once any node sees it, and offers it a call only from a node that
            # does (each learns it from its own qualify; one that has not yet cannot ring it).
            lagged = not _online_everywhere(cluster, "seat1")
            for index in range(6):
                callers.append(cluster.caller(tmp_path, f"1370000000{index}"))
                await _arrived(hotline, index + 1)
            codes = await asyncio.to_thread(lambda: [proc.wait(120) for proc in callers])
            assert codes == [0] * 6
        rows = sorted(await hotline.settled(), key=lambda r: int(str(r["queue_seq"])))
    assert len(rows) == 6 and all(r["outcome"] == "answered" for r in rows), \
        [(r["node"], r["outcome"], r["seat"], r["hangup_cause"]) for r in rows]
    nodes = [str(r["node"]) for r in rows]
    # Round robin over the two: 3 and 3 on a quiet machine. On a loaded one a probe that
    # times out takes a node out for a moment, and its turn goes to the other.
    assert nodes.count("node1") >= 1 and nodes.count("node2") >= 1, nodes
    assert all(str(r["call_id"]).startswith(f"{r['node']}-") for r in rows), rows
    assert {str(r["seat"]) for r in rows} == {"seat1"}  # any node reaches the seat (Kamailio)
    answered = [str(r["seat_answered"]) for r in rows]
    assert answered == sorted(answered), answered  # one line across the nodes, in arrival order
    # Both nodes record into the one shared folder, each file named by its node's call id.
    shared = cluster.folder / "recordings"
    assert all(r["recording_status"] == "ok" and Path(str(r["recording_path"])).parent == shared
               and Path(str(r["recording_path"])).is_file() for r in rows), rows
    print(f"6 citizens through Kamailio: node1 {nodes.count('node1')}, node2 {nodes.count('node2')}; "
          f"a node had not yet seen the seat when the first came: {lagged}")


async def test_any_node_rings_any_seat_through_kamailio(cluster: Cluster, tmp_path: Path) -> None:
    seats = ("seat2", "seat3")  # seat1: the test above
    roster = _all_day(tmp_path, *seats)
    async with hotline_for(cluster.controller_env() | {"HOTLINE_PATHS_ROSTER": str(roster)}, tmp_path) as hotline:
        # A phone of an earlier test stays online on a node until its next qualify fails;
        # rung meanwhile, the seat would be paused (no answer) for the rest of the test.
        await hotline.wait_until(_not_registered(hotline, *seats), 20, "the earlier tests' phones to be gone")
        for index, seat in enumerate(seats):
            # One phone at a time and two citizens at once: round robin puts one on each
            # node, so both nodes ring this seat (at Kamailio, the only place it registered).
            with ExitStack() as stack:
                pair: list[subprocess.Popen[bytes]] = []
                stack.callback(_reap, pair)
                stack.enter_context(cluster.phone(seat, tmp_path, 500))
                await hotline.seat_registered(seat, 15)
                pair += [cluster.caller(tmp_path, f"138{index}000000{n}") for n in range(2)]
                assert await asyncio.to_thread(_wait_all, pair) == [0, 0]
            # Gone from Kamailio, then unreachable for the nodes (their qualify through it).
            await hotline.wait_until(_not_registered(hotline, seat), 20, f"{seat} to be unregistered")
        rows = await hotline.settled()
    assert len(rows) == 2 * len(seats) and all(r["outcome"] == "answered" for r in rows), rows
    served: dict[str, set[str]] = {}
    for row in rows:
        served.setdefault(str(row["seat"]), set()).add(str(row["node"]))
    assert served == {seat: {"node1", "node2"} for seat in seats}, served


def _wait_all(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    return [proc.wait(120) for proc in procs]


def _online_everywhere(cluster: Cluster, seat: str) -> bool:
    """Whether every node sees the seat's phone: each learns it from its own qualify
    through Kamailio (every 2 s here), and a node that has not yet cannot ring it
    (ARI: "Allocation failed"; Asterisk: "Could not create dialog to invalid URI")."""
    for node in cluster.nodes:
        creds = node.settings.credentials()
        request = urllib.request.Request(f"{node.settings.ari_url}/endpoints/PJSIP/{seat}", headers={
            "Authorization": "Basic " + base64.b64encode(f"{creds.ari_user}:{creds.ari_password}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=5) as reply:
            if json.load(reply).get("state") != "online":
                return False
    return True


def _all_day(folder: Path, *seats: str) -> Path:
    """A roster with these seats on duty all day."""
    roster = folder / "roster.toml"
    listed = ", ".join(f'"{seat}"' for seat in seats)
    roster.write_text(f'[[shift]]\nname = "all-day"\nstart = "00:00"\nend = "24:00"\nseats = [{listed}]\n')
    return roster


def _not_registered(hotline: Hotline, *seats: str) -> Callable[[], Awaitable[bool]]:
    async def gone() -> bool:
        return not any(hotline.controller.seats[seat].registered for seat in seats)

    return gone


async def _arrived(hotline: Hotline, count: int) -> None:
    """`count` callers in line (past their greeting, which each node plays itself: a loaded
    node may finish one later), so that the line's order is the order they were let in."""
    async def enough() -> bool:
        await hotline.services.calls.flush()
        return len([r for r in await hotline.services.calls.recent(limit=100) if r.get("queued")]) >= count

    await hotline.wait_until(enough, 20, f"caller {count} in line")


async def test_a_killed_node_loses_only_its_calls_is_taken_out_by_kamailio_and_rejoins(
        cluster: Cluster, tmp_path: Path) -> None:
    from callcenter.calls.runner import NODE_LOST_SECONDS

    node2 = cluster.nodes[1]
    callers: list[subprocess.Popen[bytes]] = []
    async with hotline_for(cluster.controller_env(), tmp_path) as hotline:
        with ExitStack() as stack:
            stack.callback(_reap, callers)
            stack.enter_context(cluster.phone("seat1", tmp_path, 8000))
            await hotline.seat_registered("seat1", 15)
            # Round robin: of two callers one is on each node; one talks with seat1, one waits.
            for index in range(2):
                callers.append(cluster.caller(tmp_path, f"1360000000{index}"))
                await _arrived(hotline, index + 1)
            await _until("seat1 to talk", lambda: hotline.controller.seats["seat1"].state.value == "talking", 30)
            os.kill(node2.pid, 9)
            killed = time.monotonic()
            out = await _until("Kamailio to take node2 out",
                               lambda: kamailio.node_states(cluster.proxy).get("node2", "A")[0] != "A", 15)
            assert kamailio.node_states(cluster.proxy)["node1"].startswith("A")

            async def lost_call_done() -> bool:
                await hotline.services.calls.flush()
                return any(str(r["node"]) == "node2" and r["state"] == "done"
                           for r in await hotline.services.calls.recent(limit=20))

            await _until("the dead node's call completed", lost_call_done, NODE_LOST_SECONDS + 10)
            lost_after = time.monotonic() - killed
            node2.stop()  # reaps it and clears its pid file
            # The caller on node1 is served to its end (the seat freed if it was the other's).
            on_node1_numbers = {str(r["caller_number"]) for r in await hotline.services.calls.recent(limit=20)
                                if r["node"] == "node1"}
            on_node1 = next(proc for proc, number in zip(callers, ("13600000000", "13600000001"), strict=True)
                            if number in on_node1_numbers)
            assert await asyncio.to_thread(on_node1.wait, 60) == 0
        # New calls after that: all on node1, zero failures.
        with ExitStack() as stack:
            fresh: list[subprocess.Popen[bytes]] = []
            stack.callback(_reap, fresh)
            stack.enter_context(cluster.phone("seat1", tmp_path, 500))
            await hotline.seats_free(20)
            await hotline.seat_registered("seat1", 15)
            for index in range(4):
                fresh.append(cluster.caller(tmp_path, f"1361000000{index}"))
            assert await asyncio.to_thread(lambda: [proc.wait(120) for proc in fresh]) == [0] * 4
            # The node brought back rejoins: Kamailio sends it calls again, and the controller drives them.
            node2.start()
            back = await _until("Kamailio to take node2 back",
                                lambda: kamailio.node_states(cluster.proxy).get("node2", "I")[0] == "A", 20)
            await _until("the controller to adopt node2", lambda: hotline.controller.health()["nodes"]["node2"], 20)
            again = [cluster.caller(tmp_path, f"1362000000{index}") for index in range(2)]
            fresh += again
            assert await asyncio.to_thread(lambda: [proc.wait(120) for proc in again]) == [0, 0]
        rows = await hotline.settled()
    lost = [r for r in rows if str(r["node"]) == "node2" and str(r["caller_number"]).startswith("13600")]
    assert any(r["outcome"] == "failed" and "node lost: node2" in str(r["hangup_cause"]) for r in lost), lost
    after = [r for r in rows if str(r["caller_number"]).startswith("13610")]
    assert len(after) == 4 and all(r["outcome"] == "answered" and r["node"] == "node1" for r in after), after
    rejoined = [r for r in rows if str(r["caller_number"]).startswith("13620")]
    assert {str(r["node"]) for r in rejoined} == {"node1", "node2"}, rejoined
    assert all(r["outcome"] == "answered" for r in rejoined), rejoined
    print(f"node2 killed: out of Kamailio's set after {out:.1f} s, its call completed after {lost_after:.1f} s,"
          f" back in the set {back:.1f} s after its start")


def _controller(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    import sys

    from tests.harness import HOME

    full = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "callcenter.cli", "controller"], env=full, cwd=HOME,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


async def test_the_standby_takes_over_the_line_of_both_nodes_in_order_and_postgresql_restarts_lose_nothing(
        cluster: Cluster, tmp_path: Path) -> None:
    import psycopg

    from callcenter.postgres import server as pg

    # A PostgreSQL of this test's own, to restart under load.
    folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    os.chmod(folder, 0o755)
    database = pg.Server(folder / "data", free_port(), secrets.token_hex(8))
    pg_pid = database.start()
    store_url = database.create_database("hotline")
    roster = tmp_path / "roster.toml"  # the controllers read the wall clock: every seat on duty all day
    roster.write_text('[[shift]]\nname = "all-day"\nstart = "00:00"\nend = "24:00"\nseats = ["seat1", "seat2"]\n')
    env = cluster.controller_env() | {"HOTLINE_STORE_URL": store_url, "HOTLINE_PATHS_ROSTER": str(roster),
                                      "HOTLINE_PATHS_DATABASE": str(tmp_path / "unused.db")}
    logs = [tmp_path / "active.log", tmp_path / "standby.log"]
    active = _controller(env, logs[0])
    controllers = [active]
    callers: list[subprocess.Popen[bytes]] = []

    def rows(prefix: str) -> list[tuple[object, ...]]:
        with psycopg.connect(store_url, connect_timeout=3) as conn:
            return list(conn.execute(
                "SELECT caller_number, node, state, outcome, seat, seat_answered, queue_seq, call_id FROM calls"
                " WHERE caller_number LIKE %s ORDER BY queue_seq", [f"{prefix}%"]).fetchall())

    def kinds(call_id: object) -> list[str]:
        with psycopg.connect(store_url) as conn:
            return [str(r[0]) for r in conn.execute("SELECT kind FROM call_events WHERE call_id = %s ORDER BY id",
                                                    [call_id]).fetchall()]

    def seat1_registered() -> bool:
        with psycopg.connect(store_url) as conn:
            row = conn.execute("SELECT registered FROM seats WHERE seat = 'seat1'").fetchone()
        return bool(row and row[0])

    try:
        await _until("the active controller", lambda: "controller connected" in logs[0].read_text(), 30)
        # The nodes' qualify may still see an earlier test's phone for a few seconds.
        await _until("seat1 seen offline", lambda: not seat1_registered(), 20)
        controllers.append(_controller(env, logs[1]))
        await _until("the standby", lambda: "standby: another controller is active" in logs[1].read_text(), 30)
        # No seat registered: four callers wait, spread over both nodes, in this order.
        for index in range(4):
            callers.append(cluster.caller(tmp_path, f"1390000100{index}"))
            await _until(f"caller {index + 1} in line",
                         lambda n=index: len([r for r in rows("13900001") if r[2] == "queued"]) > n, 20)
        assert {str(r[1]) for r in rows("13900001")} == {"node1", "node2"}
        killed = time.monotonic()
        active.kill()
        active.wait()

        def all_readopted() -> bool:
            return all("READOPTED" in kinds(r[7]) for r in rows("13900001"))

        await _until("the standby to re-adopt the line", all_readopted, 10)
        takeover = time.monotonic() - killed
        assert takeover < 5.0, takeover
        assert all(proc.poll() is None for proc in callers), "every caller must still be on the line"
        with ExitStack() as stack:
            stack.callback(_reap, callers)
            stack.enter_context(cluster.phone("seat1", tmp_path, 1000))
            await _until("seat1 registered", seat1_registered, 20)
            # PostgreSQL restarted while the line is being served: the writes wait, nothing is lost.
            await _until("the first caller answered", lambda: any(r[5] for r in rows("13900001")), 30)
            pg.stop(pg_pid)
            await asyncio.sleep(1.0)
            pg_pid = database.start()
            codes = await asyncio.to_thread(lambda: [proc.wait(120) for proc in callers])
            assert codes == [0, 0, 0, 0]
        await _until("every row completed", lambda: all(r[2] == "done" for r in rows("13900001")), 30)
        served = rows("13900001")
        steps_of = {str(r[7]): kinds(r[7]) for r in served}
    finally:
        _reap(callers)
        for proc in controllers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        pg.stop(pg_pid)
        shutil.rmtree(folder, ignore_errors=True)
    assert [str(r[0]) for r in served] == [f"1390000100{i}" for i in range(4)], served  # one row each
    assert all(r[3] == "answered" and r[4] == "seat1" for r in served), served
    answered = [str(r[5]) for r in served]
    assert answered == sorted(answered), served  # in the order of the line, across the takeover
    for row in served:
        steps = steps_of[str(row[7])]
        assert steps.count("ARRIVED") == 1 and steps.count("READOPTED") == 1 and steps.count("HANGUP") == 1, steps
    print(f"standby took over both nodes' line {takeover:.2f} s after the active was killed")
