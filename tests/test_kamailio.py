"""Kamailio's routing on its own: the real Kamailio 5.6 and PostgreSQL 15, fake Asterisk
nodes (tests/sip_peer.py) that answer, refuse or never answer. What gets through, what is
refused, and how a call finds a node when one fails. tests/test_cluster.py has the same
proxy in front of two real Asterisk nodes.

Kamailio on 127.0.0.40, the fake nodes on 127.0.0.41.. (ports picked at run time), the
citizens on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from callcenter.cluster import kamailio
from callcenter.cluster import repository as kamailio_tables
from tests.conftest import PostgresServer
from tests.harness import HOME, free_port
from tests.sip_peer import Behaviour, FakeNode, NoAnswer, ask, flood, register

PROXY_ADDRESS = "127.0.0.40"


@contextmanager
def _nodes(*behaviours: Behaviour) -> Iterator[list[FakeNode]]:
    nodes = [FakeNode(f"node{n}", f"127.0.0.{40 + n}", behaviour) for n, behaviour in enumerate(behaviours, 1)]
    try:
        yield nodes
    finally:
        for node in nodes:
            node.close()


@contextmanager
def _proxy(postgres: PostgresServer, nodes: list[FakeNode], probe_seconds: int = 2,
           flood_limit: int = kamailio.FLOOD_LIMIT) -> Iterator[kamailio.Proxy]:
    # A folder Kamailio (its own user under root) can reach: directly under /tmp.
    folder = Path(tempfile.mkdtemp(prefix="hotline-kamailio-"))
    os.chmod(folder, 0o755)
    db_url = postgres.fresh_database()
    kamailio.prepare_database(db_url, {"seat1": "seat1-secret", "seat2": "seat2-secret"})
    proxy = kamailio.Proxy(PROXY_ADDRESS, free_port(), db_url, [(n.name, n.target) for n in nodes], folder,
                           probe_seconds=probe_seconds, flood_limit=flood_limit)
    try:
        yield proxy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _running(proxy: kamailio.Proxy) -> Iterator[int]:
    pid = kamailio.start(proxy, HOME)
    try:
        yield pid
    finally:
        kamailio.stop(pid)


def _until(what: str, check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_only_the_hotline_number_is_routed_and_only_nodes_reach_the_phones(postgres: PostgresServer) -> None:
    with _nodes("answers") as nodes, _proxy(postgres, nodes) as proxy, _running(proxy):
        target = (proxy.address, proxy.port)
        assert ask(target, "INVITE", "12345").code == 200
        assert nodes[0].invites == 1
        # A citizen may call nothing else: no other number, no seat's phone, no message.
        for user in ("110", "seat1", "012345", "12345678"):
            assert ask(target, "INVITE", user).code == 404, user
        assert ask(target, "MESSAGE", "12345").code == 404
        assert nodes[0].invites == 1
        # Registering needs the phone's password; a keep-alive OPTIONS to the proxy is answered.
        assert ask(target, "REGISTER", "seat1", from_user="seat1").code == 401
        assert ask(target, "OPTIONS", None).code == 200
        # A node (known by its address) rings a phone through the proxy: seat1 is not
        # registered, so 480; the same INVITE from a citizen's address is refused outright.
        assert ask(target, "INVITE", "seat1", source=nodes[0].address, from_user="12345").code == 480
        assert ask(target, "INVITE", "seat1", from_user="12345").code == 404


def test_a_phone_registers_only_as_itself_with_its_password_and_no_password_is_stored(
        postgres: PostgresServer) -> None:
    with _nodes("answers") as nodes, _proxy(postgres, nodes) as proxy, _running(proxy):
        target = (proxy.address, proxy.port)
        contact = "sip:seat1@127.0.0.1:5999"
        assert register(target, "seat1", "not-the-secret", contact).code == 401  # challenged again
        assert register(target, "seat2", "seat1-secret", contact, auth_user="seat1").code == 403
        assert kamailio_tables.registered(proxy.db_url) == {}
        assert register(target, "seat1", "seat1-secret", contact).code == 200
        assert kamailio_tables.registered(proxy.db_url) == {"seat1": contact}  # written through
        with psycopg.connect(proxy.db_url) as conn:
            rows = conn.execute("SELECT * FROM subscriber ORDER BY username").fetchall()
        assert len(rows) == 2 and not any("secret" in str(value) for row in rows for value in row), rows


def test_a_restarted_kamailio_still_knows_where_the_phones_are(postgres: PostgresServer) -> None:
    with _nodes("answers") as nodes, _proxy(postgres, nodes) as proxy:
        target = (proxy.address, proxy.port)
        phone = FakeNode("seat1", "127.0.0.48")
        try:
            with _running(proxy):
                assert register(target, "seat1", "seat1-secret", f"sip:seat1@{phone.target}").code == 200
            # A new Kamailio reads the locations back from PostgreSQL (usrloc db_mode 1): a
            # node reaches seat1 without it registering again.
            with _running(proxy):
                assert ask(target, "OPTIONS", "seat1", source=nodes[0].address).code == 200
                assert phone.options == 1
        finally:
            phone.close()


def test_a_forged_dialog_is_not_relayed_anywhere_but_to_a_node(postgres: PostgresServer) -> None:
    with _nodes("answers") as nodes, _proxy(postgres, nodes) as proxy, _running(proxy):
        victim = FakeNode("victim", "127.0.0.49")
        try:
            target = (proxy.address, proxy.port)
            # A to-tag and a Route to Kamailio: "in a dialog", addressed to anyone at all.
            forged = ask(target, "BYE", None, uri=f"sip:x@{victim.target}", in_dialog=True)
            assert forged.code == 403 and victim.requests == 0, (forged, victim.requests)
            # To a node it goes through (the node answers what it thinks of it).
            assert ask(target, "BYE", None, uri=f"sip:x@{nodes[0].target}", in_dialog=True).code == 405
        finally:
            victim.close()


def test_a_dead_phone_gives_the_nodes_qualify_no_answer(postgres: PostgresServer) -> None:
    with _nodes("answers") as nodes, _proxy(postgres, nodes) as proxy, _running(proxy):
        target = (proxy.address, proxy.port)
        phone = FakeNode("seat1", "127.0.0.48")
        # seat1 registered (as a REGISTER would leave it), its phone alive: the node's
        # OPTIONS reaches it through Kamailio and is answered.
        assert register(target, "seat1", "seat1-secret", f"sip:seat1@{phone.target}").code == 200
        assert ask(target, "OPTIONS", "seat1", source=nodes[0].address).code == 200
        phone.silent = True  # the phone dies without unregistering
        with pytest.raises(NoAnswer):
            # Asterisk counts any answer as reachable, Kamailio's own 408 too: none must come.
            ask(target, "OPTIONS", "seat1", source=nodes[0].address, timeout=proxy.give_up_ms / 1000 + 2)
        assert phone.requests >= 2
        phone.close()


def test_a_node_that_refuses_or_never_answers_is_skipped_for_the_next_one(postgres: PostgresServer) -> None:
    with _nodes("refuses", "forbids", "hangs", "answers") as nodes, _proxy(postgres, nodes) as proxy, \
            _running(proxy):
        _until("the first probes", lambda: all(node.options for node in nodes), 10)
        answers = [ask((proxy.address, proxy.port), "INVITE", "12345", timeout=15) for _ in range(8)]
        refuses, forbids, hangs, answering = nodes
        # Every call answered, by the one node that answers; the 503, the 403 and the silence
        # were each met, and the call went on to the next node (failure_route).
        assert [a.code for a in answers] == [200] * 8, answers
        assert answering.invites == 8
        assert refuses.invites >= 1 and forbids.invites >= 1 and hangs.invites >= 1, nodes
        slowest = max(a.seconds for a in answers)
        # A node that never answers costs the call the proxy's give-up time (tm's fr_timer,
        # kept on a timer wheel: it may fire a tick early).
        assert 0.9 * proxy.give_up_ms / 1000 <= slowest < proxy.give_up_ms / 1000 + 2, answers
        print(f"8 calls, all answered: the 503 node tried {refuses.invites}x, the 403 one {forbids.invites}x, "
              f"the silent one {hangs.invites}x; slowest call {slowest:.1f} s")


def test_a_dead_node_is_taken_out_within_the_probe_interval_and_rejoins(postgres: PostgresServer) -> None:
    with _nodes("answers", "answers") as nodes, _proxy(postgres, nodes, probe_seconds=2) as proxy, _running(proxy):
        def state(name: str) -> str:
            return kamailio.node_states(proxy).get(name, "?")

        _until("both nodes probed", lambda: all(node.options for node in nodes), 10)
        assert state("node1").startswith("A") and state("node2").startswith("A")
        nodes[1].silent = True
        out = _until("node2 out", lambda: state("node2").startswith("I"), 15)
        assert state("node1").startswith("A")
        before = nodes[0].invites
        codes = [ask((proxy.address, proxy.port), "INVITE", "12345").code for _ in range(4)]
        assert codes == [200] * 4 and nodes[0].invites == before + 4  # all on the live node
        nodes[1].silent = False
        back = _until("node2 back", lambda: state("node2").startswith("A"), 15)
        codes = [ask((proxy.address, proxy.port), "INVITE", "12345").code for _ in range(2)]
        assert codes == [200, 200] and nodes[1].invites >= 1
        # An OPTIONS every 2 s times out after the give-up time (2 s): out within about 4 s.
        assert out < 2 * proxy.probe_seconds + proxy.give_up_ms / 1000 + 1, out
        print(f"silent node out of the set after {out:.1f} s, back {back:.1f} s after it answered again")
        # A node that answers the probes but refuses us (its ACL names another proxy, or it
        # sheds load) is out as well.
        nodes[1].options_answer = "403 Forbidden"
        _until("node2 out on 403", lambda: state("node2").startswith("I"), 10)


def test_a_flood_from_one_address_is_cut_off_and_others_still_get_through(postgres: PostgresServer) -> None:
    # A low limit, so that the whole flood fits in Kamailio's socket buffer (256 KB) even
    # when the machine is too busy to drain it at once: what is dropped is pike's doing.
    with _nodes("answers") as nodes, _proxy(postgres, nodes, flood_limit=50) as proxy, _running(proxy):
        target = (proxy.address, proxy.port)
        sent = 3 * proxy.flood_limit  # within well under pike's 2 s sampling unit
        answered = flood(target, "127.0.0.47", sent)
        assert answered < sent - proxy.flood_limit, answered  # most of the flood dropped unanswered
        assert "flood from 127.0.0.47" in proxy.log_file.read_text()  # by pike, not a full buffer
        assert ask(target, "INVITE", "12345").code == 200  # another address: served as ever
        print(f"{sent} OPTIONS from one address at once: {answered} answered")
