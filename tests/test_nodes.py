"""One controller, several Asterisk nodes: one line and one set of seats across them, each
call driven on its own node (a node that dies, and Kamailio in front: tests/test_cluster.py).

The nodes here are two real Asterisk 22 instances on loopback ports of their own (system
names node1 and node2), sharing their credentials and recordings folder as a cluster's
nodes do. Each seat's SIPp phone registers at both, standing in for the SIP proxy that
lets any node reach any seat (the Kamailio tests prove that part).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.ari import AriClient, AriConfig
from callcenter.errors import ConfigError
from callcenter.nodes import Nodes
from callcenter.settings import Settings
from tests.conftest import _prompts
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, caller_argv, instance_env, settings_for


def _client(name: str) -> AriClient:
    return AriClient(AriConfig(f"http://{name}/ari", "u", "p", "hotline"), None)  # type: ignore[arg-type]


def test_a_channel_is_on_the_node_its_id_names_and_anything_else_on_the_fallback_or_first() -> None:
    nodes = Nodes({"node1": _client("a"), "node2": _client("b")})
    assert nodes.node_of("node2-1733390000.17") == "node2"
    assert nodes.node_of("node2-1733390000.17-seat1-0a1b2c3d") == "node2"  # a seat leg: its call's node
    assert nodes.node_of("node1-1733390000.4-p3") == "node1"  # a playback
    assert nodes.node_of("listen-0a1b2c3d4e5f-phone", "node2") == "node2"
    assert nodes.node_of("callback-17-1-1733390000") == "node1"
    assert nodes.node_of("node3-1733390000.1") == "node1"  # no such node: the default
    assert nodes.clustered and len(nodes) == 2 and list(nodes) == ["node1", "node2"]


def test_the_node_list_is_read_in_order_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    assert settings_for(env).ari_nodes == {"hotline": settings_for(env).ari_url}
    listed = settings_for(env | {"HOTLINE_ASTERISK_NODES": "node2=http://127.0.0.12:8088/ari/ "
                                                          "node1=http://127.0.0.11:8088/ari"})
    assert listed.ari_nodes == {"node2": "http://127.0.0.12:8088/ari", "node1": "http://127.0.0.11:8088/ari"}
    for bad, message in [("node1=127.0.0.11:8088", "is not name=http"), ("no-de=http://h/ari", "is not name=http"),
                         ("a=http://h/ari a=http://i/ari", "names 'a' twice")]:
        with pytest.raises(ConfigError, match=message):
            settings_for(env | {"HOTLINE_ASTERISK_NODES": bad})
    with pytest.raises(ConfigError, match="system_name must be letters"):
        settings_for(env | {"HOTLINE_ASTERISK_SYSTEM_NAME": "node-1"})


@dataclass
class Node:
    name: str
    settings: Settings
    env: dict[str, str]
    pid: int

    def start(self) -> None:
        self.pid = pbx.start(self.settings, prompts_dir=_prompts(self.settings), progress=lambda line: None)


@pytest.fixture
def two_nodes(asterisk_root: Path, tmp_path: Path) -> Iterator[list[Node]]:
    shared = tmp_path / "recordings"
    nodes: list[Node] = []
    try:
        for name in ("node1", "node2"):
            env = instance_env(tmp_path / name, HOTLINE_ASTERISK_SYSTEM_NAME=name,
                               HOTLINE_PATHS_RECORDINGS_DIR=str(shared))
            settings = settings_for(env)
            if nodes:  # a cluster's nodes share their credentials (ARI, seats)
                settings.paths.state_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(nodes[0].settings.credentials_file, settings.credentials_file)
            node = Node(name, settings, env, 0)
            node.start()
            nodes.append(node)
        yield nodes
    finally:
        for node in nodes:
            pbx.stop(node.settings, progress=lambda line: None)


def _controller_env(nodes: list[Node]) -> dict[str, str]:
    listed = " ".join(f"{node.name}={node.settings.ari_url}" for node in nodes)
    return nodes[0].env | FAST | {"HOTLINE_ASTERISK_NODES": listed, "HOTLINE_CALLFLOW_MENU": "false"}


def _caller(node: Node, workdir: Path, number: str) -> subprocess.Popen[bytes]:
    argv, _ = caller_argv(node.settings, workdir, number, 0, "citizen_caller_waits.xml")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _arrived(hotline: Hotline, count: int, what: str) -> None:
    """`count` callers in line (past their greeting): each node plays its own greetings, and
    a loaded node may finish one later, so a caller is let in only after the one before."""
    async def enough() -> bool:
        await hotline.services.calls.flush()
        return len([r for r in await hotline.services.calls.recent(limit=100) if r.get("queued")]) >= count

    await hotline.wait_until(enough, 20, what)


def _reap(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@asynccontextmanager
async def _controller(nodes: list[Node], workdir: Path) -> AsyncIterator[
        tuple[Hotline, ExitStack, list[subprocess.Popen[bytes]]]]:
    """One controller over the nodes; the phones go on the ExitStack, the callers in the
    list (reaped before the phones stop)."""
    callers: list[subprocess.Popen[bytes]] = []
    async with hotline_for(_controller_env(nodes), workdir) as hotline:
        with ExitStack() as phones:
            phones.callback(_reap, callers)
            yield hotline, phones, callers


def _phones(stack: ExitStack, nodes: list[Node], seats: tuple[str, ...], workdir: Path, talk_ms: int) -> None:
    """Each seat's phone registered at every node (as the SIP proxy would make it reachable)."""
    for seat in seats:
        for node in nodes:
            stack.enter_context(SeatPhone(node.settings, seat, workdir, answer_after_ms=200, hangs_up_after_ms=talk_ms))


@pytest.mark.asterisk
async def test_one_line_and_one_set_of_seats_serve_callers_on_both_nodes_in_arrival_order(
        two_nodes: list[Node], tmp_path: Path) -> None:
    node1, node2 = two_nodes
    async with _controller(two_nodes, tmp_path) as (hotline, phones, callers):
        _phones(phones, two_nodes, ("seat1", "seat2"), tmp_path, 1500)
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        for index, node in enumerate([node1, node2, node2, node1]):
            callers.append(_caller(node, tmp_path, f"1390000000{index}"))
            await _arrived(hotline, index + 1, f"caller {index + 1} on {node.name}")
        codes = await asyncio.to_thread(lambda: [proc.wait(90) for proc in callers])
        assert codes == [0, 0, 0, 0]
        rows = sorted(await hotline.settled(), key=lambda r: int(str(r["queue_seq"])))
    assert [str(r["call_id"]).split("-")[0] for r in rows] == ["node1", "node2", "node2", "node1"], rows
    assert [r["node"] for r in rows] == ["node1", "node2", "node2", "node1"], rows  # each row names its node
    assert all(r["outcome"] == "answered" and r["state"] == "done" for r in rows), rows
    # One line across the nodes: seats taken in the order the callers queued, on either node.
    answered = [str(r["seat_answered"]) for r in rows]
    assert answered == sorted(answered), answered
    served: dict[str, set[str]] = {}
    for row in rows:
        served.setdefault(str(row["seat"]), set()).add(str(row["call_id"]).split("-")[0])
    assert set(served) == {"seat1", "seat2"} and any(nodes == {"node1", "node2"} for nodes in served.values()), served
    for row in rows:  # recorded on its node, in the shared folder, and measured
        assert row["recording_status"] == "ok" and float(str(row["recording_seconds"])) > 1, row


@pytest.mark.asterisk
async def test_a_caller_is_offered_a_seat_its_own_node_sees_even_when_the_longest_idle_is_seen_only_elsewhere(
        two_nodes: list[Node], tmp_path: Path) -> None:
    # seat1, the longest idle (both idle since start-up: ties go in seat order), has its
    # phone seen by node1 only, as when node2's qualify has not reached it yet; ringing it
    # from node2 would fail ("Allocation failed") and pause it.
    node1, node2 = two_nodes
    async with _controller(two_nodes, tmp_path) as (hotline, phones, callers):
        phones.enter_context(SeatPhone(node1.settings, "seat1", tmp_path, answer_after_ms=200,
                                       hangs_up_after_ms=1500))
        _phones(phones, two_nodes, ("seat2",), tmp_path, 1500)
        await hotline.seat_registered("seat1")
        await hotline.seat_registered("seat2")
        callers.append(_caller(node2, tmp_path, "13900000010"))
        assert await asyncio.to_thread(callers[-1].wait, 60) == 0
        await hotline.seats_free()
        callers.append(_caller(node1, tmp_path, "13900000011"))
        assert await asyncio.to_thread(callers[-1].wait, 60) == 0
        rows = sorted(await hotline.settled(), key=lambda r: int(str(r["queue_seq"])))
        steps = [str(e["kind"]) for row in rows for e in await hotline.events(str(row["call_id"]))]
        seat1 = hotline.controller.seats["seat1"]
    assert [(r["node"], r["seat"], r["outcome"]) for r in rows] == [
        ("node2", "seat2", "answered"), ("node1", "seat1", "answered")], rows
    assert "RINGFAILED" not in steps and "RINGNOANSWER" not in steps and not seat1.paused, steps
