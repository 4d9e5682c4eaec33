"""Hostile SIP against the real Asterisk: a corpus of malformed messages over UDP and TCP,
a REGISTER brute force on seat1, INVITEs posing as a seat, out-of-dialog method probes.
Asterisk keeps running, only 12345 is reachable, a good call placed meanwhile is
answered, and the security log is written so that Debian's fail2ban `asterisk` filter
matches the brute force."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from callcenter import pbx
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import SeatPhone, call_hotline
from tests.hostile_sip import SDP, brute_force_register, corpus, probe, send_tcp, send_udp

pytestmark = pytest.mark.asterisk

ATTEMPTS = 1000


def test_the_corpus_holds_at_least_fifty_hostile_messages() -> None:
    messages = corpus(5060)
    assert len(messages) >= 50 and len(set(messages)) == len(messages)


async def test_hostile_sip_leaves_asterisk_running_only_12345_reachable_and_a_good_call_answered(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    settings = asterisk.settings
    port = settings.asterisk.sip_port
    pid = pbx.Instance.of(settings).running_pid()
    log = pbx.Instance.of(settings).output_log.parent / "messages.log"
    offset = log.stat().st_size if log.exists() else 0
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        with SeatPhone(hotline.settings, "seat1", hotline.workdir, answer_after_ms=300):
            await hotline.seat_registered("seat1")
            good = asyncio.create_task(asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir,
                                                         "13912340077", 6000, digit="0", digit_after_ms=800))
            messages = corpus(port)
            await asyncio.to_thread(send_udp, port, messages)
            await asyncio.to_thread(send_tcp, port, messages)
            statuses = await asyncio.to_thread(brute_force_register, port, "seat1", ATTEMPTS)
            probes = {
                method: await asyncio.to_thread(probe, port, method, target, extra, body)
                for method, target, extra, body in (
                    ("MESSAGE", "12345", "Content-Type: text/plain\r\n", "hello"),
                    ("SUBSCRIBE", "12345", "Event: presence\r\nExpires: 60\r\n", ""),
                    ("REFER", "12345", "Refer-To: <sip:9999@127.0.0.1>\r\n", ""),
                    ("OPTIONS", "12345", "", ""),
                )
            }
            elsewhere = await asyncio.to_thread(probe, port, "INVITE", "9999", "Content-Type: application/sdp\r\n",
                                                SDP)
            posing = await asyncio.to_thread(_invite_as_seat, port)
            result, _ = await good
            assert result.returncode == 0, result.output
            # Parseable hostile INVITEs to 12345 are calls like any other (from addresses
            # that never answer): the hotline clears them, so no channel outlives the test.
            for call_id in list(hotline.controller.calls):
                await hotline.controller.ari.hangup(call_id)
            rows = await hotline.settled()
            assert not hotline.controller.calls
    assert pbx.Instance.of(settings).running_pid() == pid  # the same Asterisk, still running
    answered = [r for r in rows if r["caller_number"] == "13912340077"]
    assert len(answered) == 1 and answered[0]["outcome"] == "answered"
    assert len(statuses) == ATTEMPTS and 200 not in statuses and set(statuses) <= {401, 403}, set(statuses)
    assert not 200 <= probes["MESSAGE"] < 300 and not 200 <= probes["SUBSCRIBE"] < 300, probes
    assert not 200 <= probes["REFER"] < 300 and probes["OPTIONS"] in (200, 404, 405), probes
    assert elsewhere == 404 and posing == 401
    # Every call the hostile messages made is complete: nothing stuck, no phantom in line.
    assert all(r["state"] == "done" and r["outcome"] for r in rows), [r for r in rows if r["state"] != "done"]
    # Debian's fail2ban reads the security log as it is written.
    fresh = tmp_path / "messages.log"
    with log.open("rb") as source:
        source.seek(offset)
        fresh.write_bytes(source.read())
    assert shutil.which("fail2ban-regex"), "fail2ban is missing: the README's test command installs it"
    out = subprocess.run(["fail2ban-regex", str(fresh), "/etc/fail2ban/filter.d/asterisk.conf"],
                         capture_output=True, text=True, timeout=300)
    matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out.stdout)
    assert matched and int(matched.group(1)) >= ATTEMPTS, out.stdout[-2000:]


def _invite_as_seat(port: int) -> int:
    """An INVITE claiming to come from seat1, with no credentials: challenged, never let in."""
    return probe(port, "INVITE", "12345", "Content-Type: application/sdp\r\n", SDP, from_user="seat1")
